"""Server-sent events as the Mastodon streaming API sends them (`event:` and `data:` lines, a
blank line ends an event, lines starting with `:` are heartbeats)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

MAX_EVENT_CHARS = 2_000_000
"""A server that never ends an event must not fill memory: longer events are dropped."""


@dataclass(frozen=True)
class ServerEvent:
    name: str
    data: str


def parse_events(lines: Iterable[str]) -> Iterator[ServerEvent]:
    name, data, size = "message", list[str](), 0
    for line in lines:
        if line == "":
            if data and size <= MAX_EVENT_CHARS:
                yield ServerEvent(name, "\n".join(data))
            name, data, size = "message", [], 0
            continue
        if line.startswith(":"):
            continue  # a comment: Mastodon's `:thump` heartbeat
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            name = value
        elif field == "data":
            size += len(value)
            if size <= MAX_EVENT_CHARS:
                data.append(value)
