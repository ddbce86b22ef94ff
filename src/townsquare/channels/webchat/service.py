"""`WebchatService`: serves the widget and the visitor endpoints under `/webchat/` inside
Townsquare's own web server (pass it to `create_app(runtime, services=[...])`).

It holds what the endpoints share: the token signer, the rate limits, and the open live streams
of this server (ended when it stops, so a shutdown never waits for idle visitors).
"""

from __future__ import annotations

import logging
import threading

from fastapi import FastAPI

from townsquare.channels.hub import AccountNotConnected
from townsquare.channels.registry import UnknownChannel
from townsquare.channels.webchat.connector import WebchatConnector, WebchatSettings
from townsquare.channels.webchat.inbound import CHANNEL
from townsquare.channels.webchat.live import Subscription, VisitorHub, VisitorKey, current_hub
from townsquare.channels.webchat.ratelimit import TokenBuckets
from townsquare.channels.webchat.tokens import DEFAULT_MAX_AGE_SECONDS, VisitorTokens
from townsquare.runtime import Runtime

log = logging.getLogger(__name__)


class WebchatService:
    def __init__(
        self,
        runtime: Runtime,
        *,
        token_max_age_seconds: int = DEFAULT_MAX_AGE_SECONDS,
        message_burst: int = 10,
        messages_per_minute: float = 30.0,
        new_visitor_burst: int = 30,
        new_visitors_per_minute: float = 10.0,
        stream_seconds: float = 600.0,
        keepalive_seconds: float = 15.0,
    ) -> None:
        """`message_*`: per visitor. `new_visitor_*`: per client address, so nobody gets around
        the visitor limit by asking for a new identity for every message. `stream_seconds`: a
        live stream ends after this long and the widget reconnects (proxies drop long idle
        connections anyway, and a reconnect re-reads the transcript)."""
        self.runtime = runtime
        self.tokens = VisitorTokens(runtime.secret_key, max_age_seconds=token_max_age_seconds)
        self.message_limits = TokenBuckets(capacity=message_burst, rate=messages_per_minute / 60.0)
        self.new_visitor_limits = TokenBuckets(capacity=new_visitor_burst, rate=new_visitors_per_minute / 60.0)
        self.stream_seconds = stream_seconds
        self.keepalive_seconds = keepalive_seconds
        self._lock = threading.Lock()
        self._streams: set[Subscription] = set()
        self.stopping = threading.Event()

    @property
    def hub(self) -> VisitorHub:
        return current_hub()

    def mount(self, app: FastAPI) -> None:
        from townsquare.channels.webchat.routes import build_router

        app.include_router(build_router(self))

    def start(self) -> None:
        self.stopping.clear()

    def stop(self) -> None:
        self.stopping.set()
        with self._lock:
            streams, self._streams = list(self._streams), set()
        for subscription in streams:
            self.hub.end(subscription)

    def open_stream(self, key: VisitorKey) -> Subscription:
        subscription = self.hub.subscribe(key)
        with self._lock:
            self._streams.add(subscription)
        return subscription

    def close_stream(self, subscription: Subscription) -> None:
        with self._lock:
            self._streams.discard(subscription)
        self.hub.unsubscribe(subscription)

    def account_settings(self, account: str) -> WebchatSettings | None:
        """The connected account's settings, None when no web chat account has that name.
        Blocking (the first call for an account reads the database)."""
        try:
            connector = self.runtime.hub.get(CHANNEL, account)
        except (AccountNotConnected, UnknownChannel):
            return None
        if not isinstance(connector, WebchatConnector):
            return None
        return connector.settings
