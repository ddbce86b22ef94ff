"""One conditional GET of a feed: validators sent, redirects followed (a few), the body read up
to a byte cap, and the server's answer mapped to the connector contract's errors."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from itertools import pairwise
from urllib.parse import urlsplit

import httpx

from townsquare.channels.base import DeliveryError, RateLimited, ReconnectRequired

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
PERMANENT_REDIRECTS = frozenset({301, 308})
ACCEPT = (
    "application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.1"
)
USER_AGENT = "Townsquare-Feeds/0.1 (feed listener)"


@dataclass(frozen=True)
class Fetched:
    not_modified: bool
    body: bytes
    url: str
    """Where the document came from, after redirects (relative links resolve against it)."""
    moved_to: str | None
    """The feed's new address when every redirect on the way was permanent (301/308)."""
    etag: str | None
    last_modified: str | None
    content_type: str | None
    truncated: bool


def safe_url(url: str) -> str:
    """A URL for log lines: no credentials, query or fragment (feed URLs sometimes carry tokens)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def retry_after_seconds(response: httpx.Response) -> float | None:
    """Retry-After as seconds: both the delta-seconds and the HTTP-date forms."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _permanent_target(response: httpx.Response) -> str | None:
    """Follow the chain of redirects from the start while they are permanent."""
    target: str | None = None
    hops = [*response.history, response]
    for hop, following in pairwise(hops):
        if hop.status_code not in PERMANENT_REDIRECTS:
            break
        target = str(following.request.url)
    return target


def _raise_for_status(response: httpx.Response, url: str) -> None:
    status = response.status_code
    where = safe_url(url)
    if status == 410:
        raise ReconnectRequired(
            f"the feed at {where} is gone (410 Gone): the publisher removed it; "
            "connect its new address or remove this account"
        )
    if status in (401, 403):
        raise ReconnectRequired(
            f"the feed at {where} refused access ({status}): set or correct the username and password of this account"
        )
    if status == 429 or (status == 503 and "retry-after" in response.headers):
        raise RateLimited(retry_after_seconds(response))
    if status >= 500:
        raise DeliveryError(f"the feed server answered {status} for {where}")
    if status >= 400:
        raise DeliveryError(f"the feed server answered {status} for {where}", retryable=False)
    if status >= 300:
        raise DeliveryError(f"the feed server answered {status} without a usable redirect for {where}")


def fetch_feed(
    client: httpx.Client,
    url: str,
    *,
    etag: str | None,
    last_modified: str | None,
    auth: httpx.Auth | None,
    max_bytes: int,
) -> Fetched:
    headers = {"Accept": ACCEPT, "User-Agent": USER_AGENT}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        with client.stream("GET", url, headers=headers, auth=auth, follow_redirects=True) as response:
            moved_to = _permanent_target(response)
            if response.status_code == 304:
                # A 304 may carry fresher validators; otherwise the ones sent stay valid.
                return Fetched(
                    not_modified=True,
                    body=b"",
                    url=str(response.url),
                    moved_to=moved_to,
                    etag=response.headers.get("etag") or etag,
                    last_modified=response.headers.get("last-modified") or last_modified,
                    content_type=None,
                    truncated=False,
                )
            _raise_for_status(response, str(response.url))
            body, truncated = _read_capped(response, max_bytes)
    except httpx.TooManyRedirects as error:
        raise DeliveryError(f"the feed at {safe_url(url)} redirects more than {MAX_REDIRECTS} times") from error
    except httpx.TimeoutException as error:
        raise DeliveryError(f"the feed at {safe_url(url)} timed out") from error
    except httpx.HTTPError as error:
        raise DeliveryError(f"the feed at {safe_url(url)} is unreachable: {type(error).__name__}") from error
    if truncated:
        log.warning("feed %s is larger than %d bytes; reading only its beginning", safe_url(url), max_bytes)
    return Fetched(
        not_modified=False,
        body=body,
        url=str(response.url),
        moved_to=moved_to,
        etag=response.headers.get("etag"),
        last_modified=response.headers.get("last-modified"),
        content_type=response.headers.get("content-type"),
        truncated=truncated,
    )


def _read_capped(response: httpx.Response, max_bytes: int) -> tuple[bytes, bool]:
    """At most `max_bytes` of the decoded body: a compressed bomb is cut like a huge file."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            return b"".join(chunks)[:max_bytes], True
    return b"".join(chunks), False
