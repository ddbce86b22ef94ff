"""The runtime's view of connected accounts: one connector instance per (network, account),
built from the settings stored for that account."""

from __future__ import annotations

import threading
from collections.abc import Callable

import httpx

from townsquare.channels.base import Connector
from townsquare.channels.registry import connector_class
from townsquare.store import accounts
from townsquare.store.db import Database

TransportFactory = Callable[[str], httpx.BaseTransport | None]


class AccountNotConnected(LookupError):
    pass


class ConnectorHub:
    def __init__(self, db: Database, transport_for: TransportFactory | None = None) -> None:
        self.db = db
        self._transport_for = transport_for or (lambda _channel: None)
        self._connectors: dict[tuple[str, str], Connector] = {}
        self._lock = threading.Lock()

    def get(self, channel: str, account: str) -> Connector:
        key = (channel, account)
        with self._lock:
            connector = self._connectors.get(key)
            if connector is None:
                connector = self._build(channel, account)
                self._connectors[key] = connector
            return connector

    def _build(self, channel: str, account: str) -> Connector:
        with self.db.read() as conn:
            row = accounts.get_account(conn, channel, account)
        if row is None:
            raise AccountNotConnected(f"no {channel} account named {account!r} is connected")
        cls = connector_class(channel)
        settings = cls.settings_model.model_validate(row["settings"])
        return cls(account, settings, transport=self._transport_for(channel))

    def forget(self, channel: str, account: str) -> None:
        """Drop a cached connector (its settings changed)."""
        with self._lock:
            connector = self._connectors.pop((channel, account), None)
        if connector is not None:
            connector.close()

    def close(self) -> None:
        with self._lock:
            connectors, self._connectors = list(self._connectors.values()), {}
        for connector in connectors:
            connector.close()
