"""Times given on the command line."""

from __future__ import annotations

from datetime import UTC, datetime

import typer

__all__ = ["as_utc"]


def as_utc(value: datetime | None, option: str) -> datetime | None:
    """``value`` in UTC (UTC when it names no zone); a usage error naming ``option`` when
    it has no UTC equivalent (year 1 at +01:00, year 9999 at -01:00)."""
    if value is None:
        return None
    try:
        return value.replace(tzinfo=value.tzinfo or UTC).astimezone(UTC)
    except OverflowError:
        raise typer.BadParameter("out of range once in UTC", param_hint=option) from None
