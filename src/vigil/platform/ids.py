"""Sortable identifiers (ULIDs): time-ordered, unique without coordination."""

from __future__ import annotations

from ulid import ULID

from vigil.platform.clock import Clock

__all__ = ["IdFactory"]


class IdFactory:
    """Makes 26-character ULIDs whose order follows the clock."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def new(self) -> str:
        return str(ULID.from_datetime(self._clock.now()))
