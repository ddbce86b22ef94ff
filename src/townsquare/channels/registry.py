"""Finds connectors through the `townsquare.channels` entry point group: the built-in ones are
registered exactly like a third-party package's."""

from __future__ import annotations

import logging
from functools import cache
from importlib.metadata import entry_points

from townsquare.channels.base import Connector

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "townsquare.channels"


class UnknownChannel(KeyError):
    pass


_registered: dict[str, type[Connector]] = {}


def register(cls: type[Connector]) -> None:
    """Register a connector class directly (embedding applications, tests); entry points are
    the usual way."""
    _registered[cls.name] = cls


def unregister(name: str) -> None:
    _registered.pop(name, None)


def connector_classes() -> dict[str, type[Connector]]:
    return dict(sorted({**_from_entry_points(), **_registered}.items()))


@cache
def _from_entry_points() -> dict[str, type[Connector]]:
    found: dict[str, type[Connector]] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            cls = entry.load()
        except Exception:
            log.exception("connector %s could not be loaded", entry.name)
            continue
        if not (isinstance(cls, type) and issubclass(cls, Connector)):
            log.error("entry point %s is not a Connector subclass", entry.name)
            continue
        found[cls.name] = cls
    return found


def connector_class(name: str) -> type[Connector]:
    try:
        return connector_classes()[name]
    except KeyError:
        raise UnknownChannel(name) from None
