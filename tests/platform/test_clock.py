"""The system clock: timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from vigil.platform.clock import SystemClock


def test_system_clock_is_aware_utc() -> None:
    now = SystemClock().now()
    assert now.tzinfo is not None
    assert now.utcoffset() == timedelta(0)
    assert abs(now - datetime.now(UTC)) < timedelta(minutes=1)
