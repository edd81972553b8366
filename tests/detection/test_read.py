"""The anomalies read model: detector events only, within the window, newest first."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import T0
from tests.detection.signals import anomaly
from vigil.detection.read import list_anomalies, parse_window
from vigil.interfaces.runtime import Runtime
from vigil.testing.clock import FakeClock


def test_parse_window() -> None:
    assert parse_window("1h") == timedelta(hours=1)
    assert parse_window(" 90s ") == timedelta(seconds=90)
    assert parse_window("1.5d") == timedelta(hours=36)
    assert parse_window("2w") == timedelta(days=14)
    assert parse_window("3660d") == timedelta(days=3660)
    for bad in ("", "1", "h", "1y", "0m", "-1h", "3661d", "1000000d", "99999999999w", "1e9s"):
        with pytest.raises(ValueError, match="window"):
            parse_window(bad)


async def test_lists_detector_anomalies_newest_first(runtime: Runtime, clock: FakeClock) -> None:
    alert = anomaly("checkout", 1).model_copy(
        update={"source": "generic", "fingerprint": "f1", "ingest_id": "i1"}
    )
    for event in (anomaly("search", 120), anomaly("payments", 30), anomaly("checkout", 5), alert):
        clock.set(event.received_at)
        await runtime.processor.process_events([event])
    clock.set(T0)
    async with runtime.db.session() as session:
        recent = await list_anomalies(session, "default", T0 - timedelta(hours=1))
        checkout = await list_anomalies(
            session, "default", T0 - timedelta(hours=1), service="checkout"
        )
        other = await list_anomalies(session, "other", T0 - timedelta(days=1))
    assert [(a.service, a.detector) for a in recent] == [
        ("checkout", "metric_anomaly"),
        ("payments", "metric_anomaly"),
    ]
    assert recent[0].evidence["value"] == 140.0
    assert recent[0].evidence["band"] == [91.0, 109.0]
    assert [a.service for a in checkout] == ["checkout"]
    assert other == []
