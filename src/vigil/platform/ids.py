"""Sortable identifiers (ULIDs): time-ordered, unique without coordination."""

from __future__ import annotations

from datetime import datetime

from ulid import ULID

from vigil.platform.clock import Clock

__all__ = ["IdFactory", "id_floor"]


class IdFactory:
    """Makes 26-character ULIDs whose order follows the clock."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def new(self) -> str:
        return str(ULID.from_datetime(self._clock.now()))


def id_floor(moment: datetime) -> str:
    """The smallest id made at ``moment``: ids below it were all made before it (no id is
    older than 1970, so any earlier moment has the smallest id of all)."""
    if moment.timestamp() < 0:
        return "0" * 26
    return str(ULID.from_datetime(moment))[:10] + "0" * 16
