"""Silence stage: silences (config or stored) with expiry, and recurring maintenance windows.
Silenced events are stored all the same, marked with what muted them."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from tests.conftest import MakeRuntime
from tests.ingestion import ingest, runtime_metric, stored_events
from tests.payloads import am_alert, am_body
from vigil.pipeline.repository import StoredSilence, insert_silence
from vigil.pipeline.silence import in_window
from vigil.platform.settings import MaintenanceWindow, Matcher, SilenceRule
from vigil.testing.clock import FakeClock

BATCH = [Matcher(name="alertname", value="BatchJobSlow")]


def window(**changes: object) -> MaintenanceWindow:
    fields: dict[str, object] = {
        "name": "nightly",
        "matchers": BATCH,
        "start": time(22, 0),
        "end": time(2, 0),
        "days": ["fri"],
    }
    return MaintenanceWindow.model_validate({**fields, **changes})


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# 2026-11-20 is a Friday, 2026-11-21 a Saturday.
@pytest.mark.parametrize(
    ("at", "inside"),
    [
        ("2026-11-20 21:59:59", False),  # Friday, just before
        ("2026-11-20 22:00:00", True),  # Friday, start is inclusive
        ("2026-11-20 23:30:00", True),
        ("2026-11-21 01:59:59", True),  # after midnight: still Friday's window
        ("2026-11-21 02:00:00", False),  # end is exclusive
        ("2026-11-21 22:30:00", False),  # Saturday evening: not a window day
        ("2026-11-20 01:00:00", False),  # early Friday belongs to Thursday's window
        ("2026-11-13 23:00:00", True),  # the Friday before
    ],
)
def test_overnight_window_wraps_into_next_day(at: str, inside: bool) -> None:
    assert in_window(window(), utc(at)) is inside


@pytest.mark.parametrize(
    ("at", "inside"),
    [
        ("2026-11-23 09:00:00", True),  # Monday
        ("2026-11-27 16:59:59", True),  # Friday
        ("2026-11-27 17:00:00", False),
        ("2026-11-23 08:59:59", False),
        ("2026-11-21 12:00:00", False),  # Saturday
        ("2026-11-22 12:00:00", False),  # Sunday
    ],
)
def test_daytime_window_on_weekdays(at: str, inside: bool) -> None:
    weekdays = window(start=time(9, 0), end=time(17, 0), days=["mon", "tue", "wed", "thu", "fri"])
    assert in_window(weekdays, utc(at)) is inside


@pytest.mark.parametrize(
    ("at", "inside"),
    [
        ("2026-11-23 08:30:00", True),  # 09:30 in Berlin (UTC+1 in winter)
        ("2026-11-23 09:30:00", False),  # 10:30 in Berlin
        ("2026-07-06 07:30:00", True),  # 09:30 in Berlin (UTC+2 in summer)
        ("2026-07-06 08:30:00", False),
    ],
)
def test_window_in_its_own_timezone(at: str, inside: bool) -> None:
    berlin = window(start=time(9, 0), end=time(10, 0), days=["mon"], timezone="Europe/Berlin")
    assert in_window(berlin, utc(at)) is inside


def test_expired_window_never_matches() -> None:
    expiring = window(expires_at=utc("2026-11-21 00:00:00"))
    assert in_window(expiring, utc("2026-11-20 23:00:00"))
    assert not in_window(expiring, utc("2026-11-27 23:00:00"))


async def test_config_silence_mutes_what_arrives_while_it_runs(
    make_runtime: MakeRuntime, clock: FakeClock
) -> None:
    start = clock.now()
    rule = SilenceRule(
        id="payments-deploy",
        matchers=[Matcher(name="service", value="payments")],
        starts_at=start + timedelta(minutes=5),
        ends_at=start + timedelta(minutes=30),
        comment="deploy in progress",
    )
    runtime = await make_runtime(silences=[rule])
    before = am_alert({"alertname": "Before", "service": "payments"}, start)
    await ingest(runtime, "alertmanager", am_body(before))  # arrives before the silence
    clock.advance(timedelta(minutes=10))
    # Started before the silence, but arrives while it runs (Alertmanager's group_wait).
    early = am_alert({"alertname": "Early", "service": "payments"}, start)
    during = am_alert({"alertname": "During", "service": "payments"}, clock.now())
    elsewhere = am_alert({"alertname": "During", "service": "cart"}, clock.now())
    await ingest(runtime, "alertmanager", am_body(early, during, elsewhere))
    clock.advance(timedelta(minutes=30))
    after = am_alert({"alertname": "After", "service": "payments"}, clock.now())
    await ingest(runtime, "alertmanager", am_body(after))

    got = {(e.labels["alertname"], e.service): e.silenced_by for e in await stored_events(runtime)}
    assert got == {
        ("Before", "payments"): None,
        ("Early", "payments"): "silence:config:payments-deploy",
        ("During", "payments"): "silence:config:payments-deploy",
        ("During", "cart"): None,
        ("After", "payments"): None,
    }
    assert runtime_metric(runtime, "vigil_events_silenced_total") == 2


async def test_refire_after_expiry_is_no_longer_silenced(
    make_runtime: MakeRuntime, clock: FakeClock
) -> None:
    rule = SilenceRule(
        id="short",
        matchers=[Matcher(name="service", value="payments")],
        ends_at=clock.now() + timedelta(minutes=5),
    )
    runtime = await make_runtime(silences=[rule])
    labels = {"alertname": "Latency", "service": "payments"}
    await ingest(runtime, "alertmanager", am_body(am_alert(labels, clock.now())))
    assert [e.silenced_by for e in await stored_events(runtime)] == ["silence:config:short"]
    clock.advance(timedelta(minutes=10))
    await ingest(runtime, "alertmanager", am_body(am_alert(labels, clock.now())))
    (event,) = await stored_events(runtime)
    assert event.occurrences == 2
    assert event.silenced_by is None


async def test_maintenance_window_mutes_what_arrives_in_it(
    make_runtime: MakeRuntime, clock: FakeClock
) -> None:
    nightly = window(timezone="Europe/Berlin")
    runtime = await make_runtime(maintenance_windows=[nightly])
    # Friday 23:30 UTC is Saturday 00:30 in Berlin: inside Friday's overnight window.
    night = utc("2026-11-20 23:30:00")
    clock.set(night)
    alerts = [
        am_alert({"alertname": "BatchJobSlow", "service": "batch"}, night),
        am_alert({"alertname": "DiskFull", "service": "batch"}, night),
    ]
    await ingest(runtime, "alertmanager", am_body(*alerts))
    clock.set(utc("2026-11-21 12:00:00"))  # Saturday noon: outside the window
    late = am_alert({"alertname": "BatchJobSlow", "service": "reports"}, night)
    await ingest(runtime, "alertmanager", am_body(late))
    got = {(e.labels["alertname"], e.service): e.silenced_by for e in await stored_events(runtime)}
    assert got == {
        ("BatchJobSlow", "batch"): "maintenance:nightly",
        ("DiskFull", "batch"): None,
        # Raised during the night, but it reached Vigil after the window: it pages.
        ("BatchJobSlow", "reports"): None,
    }


async def test_stored_silences_apply_per_tenant_until_expiry(
    make_runtime: MakeRuntime, clock: FakeClock
) -> None:
    runtime = await make_runtime()
    now = clock.now()
    silences = [
        StoredSilence(
            id="01SILENCEACME000000000000A",
            tenant_id="acme",
            matchers=[Matcher(name="service", value="pay.*", op="=~")],
            starts_at=now - timedelta(minutes=1),
            ends_at=now + timedelta(hours=1),
            created_by="ada",
            comment="known issue",
        ),
        StoredSilence(
            id="01SILENCEOLD0000000000000A",
            tenant_id="acme",
            matchers=[Matcher(name="service", value="cart")],
            starts_at=now - timedelta(hours=2),
            ends_at=now - timedelta(hours=1),
            created_by="ada",
            comment="expired",
        ),
    ]
    async with runtime.db.writing() as session:
        for silence in silences:
            await insert_silence(session, silence, now)
        await session.commit()
    body = am_body(
        am_alert({"alertname": "Latency", "service": "payments"}, now),
        am_alert({"alertname": "Latency", "service": "cart"}, now),
    )
    await ingest(runtime, "alertmanager", body, tenant="acme")
    await ingest(runtime, "alertmanager", body, tenant="globex")
    acme = {e.service: e.silenced_by for e in await stored_events(runtime, "acme")}
    globex = {e.service: e.silenced_by for e in await stored_events(runtime, "globex")}
    assert acme == {"payments": "silence:01SILENCEACME000000000000A", "cart": None}
    assert globex == {"payments": None, "cart": None}
