"""Merges and splits: the incident that results goes on like any other."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import T0
from tests.incidents.conftest import detail, fire, incidents
from vigil.incidents.lifecycle import Trigger
from vigil.interfaces.runtime import Runtime

MINUTE = timedelta(minutes=1)


async def test_a_merged_incident_resolves_when_its_alerts_do(runtime: Runtime) -> None:
    """payments fires, resolves, fires again past the flap window (a second incident for
    the same alert), and search's incident, older, is merged into that second one: the
    alerts' resolves must reach the merged incident, not payments' first one."""
    await fire(runtime, "IndexLag", "search", T0)
    await fire(runtime, "HighLatencyP99", "payments", T0 + 5 * MINUTE)
    await fire(runtime, "HighLatencyP99", "payments", T0 + 10 * MINUTE, status="resolved")
    await fire(runtime, "HighLatencyP99", "payments", T0 + 60 * MINUTE)
    found = await incidents(runtime)
    search = next(i.id for i in found if i.services == ["search"])
    again = max(i.id for i in found if i.services == ["payments"])
    await runtime.incidents.merge("default", again, [search], actor="ana", reason="one")
    await fire(runtime, "IndexLag", "search", T0 + 65 * MINUTE, status="resolved")
    await fire(runtime, "HighLatencyP99", "payments", T0 + 70 * MINUTE, status="resolved")
    merged = await detail(runtime, again)
    assert merged.state.value == "resolved"
    assert merged.detected_at == T0  # detected when search's was


async def test_a_split_off_incident_is_never_acknowledged_before_it_was_detected(
    runtime: Runtime,
) -> None:
    await fire(runtime, "HighLatencyP99", "payments", T0)
    (incident,) = await incidents(runtime)
    runtime.clock.set(T0 + 30 * timedelta(seconds=1))  # type: ignore[attr-defined]
    await runtime.incidents.transition("default", incident.id, Trigger.ACKNOWLEDGE, actor="ana")
    await fire(runtime, "HighErrorRatio", "checkout", T0 + MINUTE)
    checkout = next(
        m.event_id for m in (await detail(runtime, incident.id)).members if m.service == "checkout"
    )
    new_id = await runtime.incidents.split(
        "default", incident.id, [checkout], actor="bo", reason="apart"
    )
    new = await detail(runtime, new_id)
    assert new.state.value == "acknowledged"
    assert new.mtta_seconds == 0.0  # answered already when it was detected
