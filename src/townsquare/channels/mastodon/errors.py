"""What Mastodon's HTTP answers mean for Townsquare: rate limits, revoked tokens, retryable
server trouble and refusals that will not heal."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from pydantic import ValidationError

from townsquare.channels.base import DeliveryError, RateLimited, ReconnectRequired
from townsquare.channels.mastodon.payloads import ApiError

DEFAULT_RATE_LIMIT_SECONDS = 300.0
"""Mastodon's limits run in 5-minute windows; used when a 429 carries no usable reset time."""


def _seconds_until(value: str, now: datetime) -> float | None:
    value = value.strip()
    try:
        number = float(value)
    except ValueError:
        pass
    else:
        # Not Mastodon's ISO time but seen on compatible servers: epoch seconds, or a delay.
        return max(0.0, number - now.timestamp()) if number > 1e9 else max(0.0, number)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now).total_seconds())


def retry_after_seconds(response: httpx.Response, now: datetime | None = None) -> float | None:
    """Seconds to wait: `X-RateLimit-Reset` (an ISO time on Mastodon), else `Retry-After`."""
    now = now or datetime.now(UTC)
    for header in ("x-ratelimit-reset", "retry-after"):
        value = response.headers.get(header)
        if value:
            seconds = _seconds_until(value, now)
            if seconds is not None:
                return seconds
    return None


def error_message(response: httpx.Response) -> str:
    """Mastodon's own reason (`{"error": ...}`), cut short; never the whole body."""
    try:
        reason = ApiError.model_validate_json(response.content).error
    except (ValidationError, ValueError):
        reason = ""
    return (reason or response.reason_phrase or "no reason given")[:200]


def raise_for_status(response: httpx.Response, what: str) -> None:
    status = response.status_code
    if status < 400:
        return
    if status == 429:
        seconds = retry_after_seconds(response)
        raise RateLimited(DEFAULT_RATE_LIMIT_SECONDS if seconds is None else seconds)
    if status in (401, 403):
        raise ReconnectRequired(
            f"Mastodon refused the access token ({status}: {error_message(response)}); reconnect the account"
        )
    if status >= 500:
        raise DeliveryError(f"Mastodon server error {status} on {what}", retry_after=retry_after_seconds(response))
    raise DeliveryError(f"Mastodon refused {what} ({status}: {error_message(response)})", retryable=False)


def transport_error(error: httpx.HTTPError, what: str) -> DeliveryError:
    kind = "timed out" if isinstance(error, httpx.TimeoutException) else "unreachable"
    return DeliveryError(f"Mastodon {kind} on {what}: {type(error).__name__}")
