"""Reading the Mastodon streaming API (server-sent events) without blocking the listener.

A reader thread owns the HTTP connection and puts events on a queue; the connector's `stream`
generator takes them off with a short timeout, so it notices the runtime's stop signal within
half a second even while the network is quiet (Mastodon sends a heartbeat only every 15 s).
On close the socket is shut down, which wakes the reader at once.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from townsquare.channels.mastodon.sse import ServerEvent, parse_events

log = logging.getLogger(__name__)

QUEUE_SIZE = 10_000


@dataclass(frozen=True)
class Opened:
    """The server answered 200: events follow."""


@dataclass(frozen=True)
class Ended:
    """The stream is over: refused (`response` set), broken (`error` set) or closed."""

    response: httpx.Response | None = None
    error: Exception | None = None


StreamItem = Opened | Ended | ServerEvent


class StreamReader:
    def __init__(self, client: Callable[[], httpx.Client], path: str, *, timeout: httpx.Timeout, name: str) -> None:
        self._client = client
        self._path = path
        self._timeout = timeout
        self.items: queue.Queue[StreamItem] = queue.Queue(QUEUE_SIZE)
        self._closing = threading.Event()
        self._socket: socket.socket | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _put(self, item: StreamItem) -> None:
        while not self._closing.is_set():
            try:
                self.items.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def _run(self) -> None:
        try:
            with self._client() as client, client.stream("GET", self._path, timeout=self._timeout) as response:
                if response.status_code != 200:
                    response.read()
                    self._put(Ended(response=response))
                    return
                self._socket = _socket_of(response)
                if self._closing.is_set():
                    return
                self._put(Opened())
                for event in parse_events(response.iter_lines()):
                    if self._closing.is_set():
                        return
                    self._put(event)
            self._put(Ended())
        except Exception as error:
            if not self._closing.is_set():
                self._put(Ended(error=error))

    def close(self) -> None:
        self._closing.set()
        sock = self._socket
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(0.5)  # a reader without a socket to shut (tests) ends on its own


def _socket_of(response: httpx.Response) -> socket.socket | None:
    """The connection's socket, so `close` can wake a reader blocked on a quiet stream."""
    stream = response.extensions.get("network_stream")
    try:
        sock = stream.get_extra_info("socket") if stream is not None else None
    except Exception:
        return None
    return sock if isinstance(sock, socket.socket) else None
