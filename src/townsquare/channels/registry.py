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


@cache
def connector_classes() -> dict[str, type[Connector]]:
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
    return dict(sorted(found.items()))


def connector_class(name: str) -> type[Connector]:
    try:
        return connector_classes()[name]
    except KeyError:
        raise UnknownChannel(name) from None
