"""Which sites may call the visitor endpoints from a browser.

The widget runs on the company's site, so its requests are cross-origin: they get CORS headers
when their Origin is one of the account's `allowed_origins` (or Townsquare's own public_url), and
are refused with 403 otherwise. Requests without an Origin header come from no browser page
(curl, server-side integrations) and need no CORS; the visitor token still guards them. No
cookies are involved (the token travels in the Authorization header), so credentials are never
allowed.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from townsquare.channels.webchat.connector import ANY_ORIGIN, WebchatSettings, normalize_origin

ALLOWED_METHODS = "GET, POST, OPTIONS"
ALLOWED_HEADERS = "Authorization, Content-Type"
PREFLIGHT_MAX_AGE = "600"


def origin_allowed(origin: str | None, settings: WebchatSettings, public_url: str) -> bool:
    if origin is None:
        return True
    if ANY_ORIGIN in settings.allowed_origins:
        return True
    try:
        normalized = normalize_origin(origin)
    except ValueError:
        return False  # "null" (sandboxed frames, file://) and anything else that is no origin
    return normalized in settings.allowed_origins or normalized == origin_of(public_url)


def origin_of(url: str) -> str | None:
    """The origin of a full URL (Townsquare's public_url has a path at times)."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.hostname:
        return None
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname.lower()}{port}"


def cors_headers(origin: str | None) -> dict[str, str]:
    """Headers for an allowed request: the origin echoed (never '*', so caches keep them apart)."""
    headers = {"Vary": "Origin"}
    if origin is not None:
        headers["Access-Control-Allow-Origin"] = origin
    return headers


def preflight_headers(origin: str | None) -> dict[str, str]:
    return {
        **cors_headers(origin),
        "Access-Control-Allow-Methods": ALLOWED_METHODS,
        "Access-Control-Allow-Headers": ALLOWED_HEADERS,
        "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
    }
