"""DetectionService on the test database against a loopback Prometheus API: passes read
each series since the last one, raise and resolve through the pipeline, save state a
restarted service continues from, and report failed reads with the exact query."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import T0, DbTarget, MakeRuntime
from tests.detection.signals import ANOMALY_AT, noisy_series
from vigil.detection import DetectionService, PassReport
from vigil.detection.metric_watch import MetricWatcher
from vigil.detection.tables import detector_states
from vigil.events import Event
from vigil.incidents.read import list_summaries
from vigil.incidents.repository import IncidentQuery
from vigil.interfaces.runtime import Runtime
from vigil.pipeline.repository import EventQuery, list_events
from vigil.platform import load_settings
from vigil.telemetry.loki import to_ns
from vigil.testing.clock import FakeClock
from vigil.testing.promstack import eventually
from vigil.testing.telemetry_server import FakeTelemetryServer
from vigil.wiring import build_runtime

STEP = 10.0
START = T0 - timedelta(hours=2)  # first sample
POINTS = 300


@pytest.fixture
def prometheus() -> Iterator[FakeTelemetryServer]:
    with FakeTelemetryServer() as server:
        for service, kind in (("checkout", "spike"), ("search", "clean")):
            values = noisy_series(kind, POINTS)
            points = [(START.timestamp() + STEP * k, v) for k, v in enumerate(values)]
            server.add_samples("shop_latency_ms", {"service": service}, points)
        yield server


def _settings(url: str, lookback: float = 600) -> dict[str, Any]:
    watch = {
        "name": "latency", "query": "shop_latency_ms", "step_seconds": STEP,
        "slo_relevant": True, "gates": {"min_history": 120, "threshold": 0.8},
    }  # fmt: skip
    return {"prometheus_url": url, "metrics": [watch], "initial_lookback_seconds": lookback}


def _at(k: int) -> datetime:
    return START + timedelta(seconds=STEP * k)


async def _passes(runtime: Runtime, clock: FakeClock, until: int) -> list[PassReport]:
    """Passes every 7 points of series time from point 60 to `until`."""
    detection = runtime.detection
    assert detection is not None
    reports = []
    for k in range(60, until, 7):
        clock.set(_at(k))
        reports.append(await detection.run_once(clock.now()))
    # Events go through the intake; this runtime runs no background processing loop.
    await runtime.processor.drain()
    return reports


def _events(reports: list[PassReport]) -> list[Event]:
    return [e for r in reports for e in r.events]


async def test_passes_raise_and_resolve_through_the_pipeline(
    make_runtime: MakeRuntime, clock: FakeClock, prometheus: FakeTelemetryServer
) -> None:
    clock.set(_at(60))
    runtime = await make_runtime(detection=_settings(prometheus.url))
    reports = await _passes(runtime, clock, POINTS)
    assert all(not r.failures for r in reports)
    raised, resolved = _events(reports)
    assert (raised.service, raised.status.value, raised.ts) == (
        "checkout",
        "firing",
        _at(ANOMALY_AT),
    )
    assert (resolved.service, resolved.status.value) == ("checkout", "resolved")
    assert resolved.ts - raised.ts <= timedelta(seconds=STEP * 12)
    # Reads continue where the last one stopped: no point is read twice.
    ranges = [p for path, p in prometheus.requests if path == "/api/v1/query_range"]
    for before, after in itertools.pairwise(ranges):
        assert float(after["start"]) == pytest.approx(float(before["end"]) + STEP)

    async with runtime.db.session() as session:
        (stored,) = await list_events(session, EventQuery(tenant_id="default"))
        saved = (await session.execute(sa.select(detector_states.c.kind))).scalars().all()
    assert (stored.service, stored.status, stored.occurrences) == ("checkout", "resolved", 2)
    assert stored.raw["detector"] == "metric_anomaly"
    assert sorted(saved) == ["cursor", "metric", "metric"]
    # Like any alert, it was correlated: one incident on checkout, resolved with it.
    async with runtime.db.session() as session:
        (incident,) = await list_summaries(session, IncidentQuery(tenant_id="default"))
    assert (incident.services, incident.state.value) == (["checkout"], "resolved")


async def test_a_restarted_service_continues_from_the_saved_state(
    make_runtime: MakeRuntime, clock: FakeClock, prometheus: FakeTelemetryServer
) -> None:
    clock.set(_at(60))
    first = await make_runtime(detection=_settings(prometheus.url))
    before = _events(await _passes(first, clock, ANOMALY_AT - 5))
    assert before == []
    second = await make_runtime(detection=_settings(prometheus.url))
    assert second.detection is not None
    after: list[Event] = []
    for k in range(ANOMALY_AT - 5, POINTS, 7):
        clock.set(_at(k))
        after.extend((await second.detection.run_once(clock.now())).events)
    assert [(e.status.value, e.ts) for e in after][:1] == [("firing", _at(ANOMALY_AT))]
    assert [e.status.value for e in after] == ["firing", "resolved"]


async def test_failed_read_is_reported_and_caught_up_later(
    make_runtime: MakeRuntime, clock: FakeClock, prometheus: FakeTelemetryServer
) -> None:
    clock.set(_at(150))
    runtime = await make_runtime(detection=_settings(prometheus.url, lookback=3600))
    detection = runtime.detection
    assert isinstance(detection, DetectionService)
    assert (await detection.run_once(clock.now())).events == []
    clock.set(_at(180))
    prometheus.fail_next(503, '{"status":"error","errorType":"unavailable","error":"tsdb busy"}')
    (failure,) = (await detection.run_once(clock.now())).failures
    assert failure.startswith("upstream_error: 'shop_latency_ms' over ")
    assert "upstream 503: unavailable: tsdb busy" in failure
    clock.set(_at(ANOMALY_AT + 20))
    report = await detection.run_once(clock.now())
    assert report.failures == []
    assert [e.status.value for e in report.events] == ["firing", "resolved"]
    # A partial answer (a Thanos store down) is used, and its warning shown.
    partial = {
        "status": "success",
        "data": {"resultType": "matrix", "result": []},
        "warnings": ["partial response: store eu-2 unavailable"],
    }
    prometheus.fail_next(200, json.dumps(partial))
    clock.set(_at(ANOMALY_AT + 30))
    report = await detection.run_once(clock.now())
    assert report.warnings == ["'shop_latency_ms': partial response: store eu-2 unavailable"]
    # An answer with no series says so: a typo in a query must not look like health.
    assert report.notes == ["watch latency: 'shop_latency_ms' matched no series"]


async def test_points_that_are_not_numbers_are_noted(
    make_runtime: MakeRuntime, clock: FakeClock, prometheus: FakeTelemetryServer
) -> None:
    odd = [(_at(k).timestamp(), math.nan if k % 2 else math.inf) for k in range(POINTS)]
    prometheus.add_samples("shop_latency_ms", {"service": "cart"}, odd)
    clock.set(_at(150))
    runtime = await make_runtime(detection=_settings(prometheus.url, lookback=100 * STEP))
    assert runtime.detection is not None
    report = await runtime.detection.run_once(clock.now())
    assert report.notes == ["watch latency: 101 of 303 points not a number (NaN or ±Inf), skipped"]


async def test_a_failing_watch_neither_blinds_the_others_nor_loses_its_events(
    make_runtime: MakeRuntime,
    clock: FakeClock,
    prometheus: FakeTelemetryServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    values = noisy_series("spike", POINTS, seed=5)
    prometheus.add_samples(
        "shop_errors", {"service": "cart"}, [(_at(k).timestamp(), v) for k, v in enumerate(values)]
    )
    settings = _settings(prometheus.url)
    settings["metrics"].append({**settings["metrics"][0], "name": "errors", "query": "shop_errors"})
    clock.set(_at(60))
    runtime = await make_runtime(detection=settings)
    detection = runtime.detection
    assert detection is not None
    # A fault nobody foresaw, in the errors watch's detection, on the pass of the spike.
    failing = {"armed": False}
    take = MetricWatcher.take

    def flaky(self: MetricWatcher, *args: Any) -> list[Event]:
        if self.watch.name == "errors" and failing["armed"]:
            raise RuntimeError("detector fault")
        return take(self, *args)

    monkeypatch.setattr(MetricWatcher, "take", flaky)
    seen: list[tuple[str, str, datetime]] = []
    for k in range(60, POINTS, 7):
        clock.set(_at(k))
        failing["armed"] = k <= ANOMALY_AT + 3 < k + 7
        report = await detection.run_once(clock.now())
        seen += [(e.service or "", e.status.value, e.ts) for e in report.events]
        if failing["armed"]:
            assert report.failures == ["watch errors: RuntimeError: detector fault"]
            # The other watch's raise went out in the same pass.
            assert [(s, st) for s, st, _ in seen] == [("checkout", "firing")]
    # The failed pass was redone from the saved state: the errors watch raised its
    # anomaly one pass late, at the right time, once, and resolved it.
    cart = [(status, ts) for service, status, ts in seen if service == "cart"]
    assert [status for status, _ in cart] == ["firing", "resolved"]
    assert cart[0][1] == _at(ANOMALY_AT)


async def test_a_raised_series_that_vanishes_is_closed_and_forgotten(
    make_runtime: MakeRuntime, clock: FakeClock
) -> None:
    """A pod that goes away mid-incident: no point will ever bring its anomaly back to
    normal, so it is closed as gone once idle, and its saved state is deleted."""
    values = noisy_series("spike", ANOMALY_AT + 2)  # the last points are the spike
    with FakeTelemetryServer() as server:
        points = [(_at(k).timestamp(), v) for k, v in enumerate(values)]
        labels = {"service": "checkout", "pod": "co-1"}
        server.add_samples("shop_latency_ms", labels, points)
        server.mark_stale("shop_latency_ms", labels, _at(ANOMALY_AT + 2).timestamp())
        settings = {**_settings(server.url), "series_idle_seconds": 600}
        clock.set(_at(60))
        runtime = await make_runtime(detection=settings)
        reports = await _passes(runtime, clock, ANOMALY_AT + 150)
    raised, closed = _events(reports)
    assert (raised.status.value, raised.ts) == ("firing", _at(ANOMALY_AT))
    assert (closed.status.value, closed.raw["gone"]) == ("resolved", True)
    assert closed.ts == _at(ANOMALY_AT + 1) + timedelta(seconds=600)
    assert closed.fingerprint == raised.fingerprint
    async with runtime.db.session() as session:
        kinds = (await session.execute(sa.select(detector_states.c.kind))).scalars().all()
        (stored,) = await list_events(session, EventQuery(tenant_id="default"))
    assert kinds == ["cursor"]
    assert stored.status == "resolved"


async def _states(runtime: Runtime) -> list[tuple[str, str]]:
    async with runtime.db.session() as session:
        query = sa.select(detector_states.c.kind, detector_states.c.watch)
        return sorted((kind, watch) for kind, watch in (await session.execute(query)).all())


async def test_a_removed_watch_closes_what_it_raised_and_its_state_goes(
    make_runtime: MakeRuntime, clock: FakeClock, prometheus: FakeTelemetryServer
) -> None:
    """A watch renamed (or removed) while its anomaly is raised: no pass of it will ever
    bring the anomaly back to normal, so the next pass closes it and deletes its rows."""
    clock.set(_at(60))
    first = await make_runtime(detection=_settings(prometheus.url))
    (raised,) = _events(await _passes(first, clock, ANOMALY_AT + 10))
    assert raised.status.value == "firing"
    assert first.detection is not None
    await first.detection.aclose()  # a restart: the lease goes with the old process
    renamed = _settings(prometheus.url)
    renamed["metrics"][0]["name"] = "checkout-latency"
    second = await make_runtime(detection=renamed)
    assert second.detection is not None
    report = await second.detection.run_once(clock.now())
    await second.processor.drain()
    (closed,) = [e for e in report.events if e.raw.get("retired")]
    assert closed.fingerprint == raised.fingerprint
    assert closed.status.value == "resolved"
    assert closed.entity.service == "checkout"
    assert closed.title == (
        "latency on checkout: no longer watched (its watch is no longer configured); closed"
    )
    assert {watch for _, watch in await _states(second)} == {"checkout-latency"}
    async with second.db.session() as session:
        (incident,) = await list_summaries(session, IncidentQuery(tenant_id="default"))
    assert incident.state.value == "resolved"


async def test_series_beyond_a_lowered_max_series_are_closed_in_a_fixed_order(
    make_runtime: MakeRuntime, clock: FakeClock, prometheus: FakeTelemetryServer
) -> None:
    values = noisy_series("spike", POINTS, seed=5)
    points = [(_at(k).timestamp(), v) for k, v in enumerate(values)]
    prometheus.add_samples("shop_latency_ms", {"service": "cart"}, points)
    clock.set(_at(60))
    first = await make_runtime(detection=_settings(prometheus.url))
    raised = _events(await _passes(first, clock, ANOMALY_AT + 10))
    assert sorted(e.service or "" for e in raised) == ["cart", "checkout"]
    assert first.detection is not None
    await first.detection.aclose()
    lowered = _settings(prometheus.url)
    lowered["metrics"][0]["max_series"] = 1
    second = await make_runtime(detection=lowered)
    assert second.detection is not None
    report = await second.detection.run_once(clock.now())
    closed = [e for e in report.events if e.raw.get("retired")]
    # The raised series are kept first (then by key): of the two raised, one stays
    # watched; the other is closed; the clean one (search) is dropped without an event.
    (watcher,) = second.detection._metrics
    (kept,) = [t.labels["service"] for t in watcher.series.values()]
    assert kept in {"cart", "checkout"}
    other = ({"cart", "checkout"} - {kept}).pop()
    assert [(e.service, e.raw["retired"]) for e in closed] == [(other, "beyond max_series=1")]
    assert await _states(second) == [("cursor", "latency"), ("metric", "latency")]


async def test_no_watches_no_service(make_runtime: MakeRuntime) -> None:
    runtime = await make_runtime()
    assert runtime.detection is None


async def test_runtime_runs_the_schedule_in_the_background(
    database: DbTarget, clock: FakeClock, prometheus: FakeTelemetryServer
) -> None:
    clock.set(_at(POINTS))
    settings = load_settings(**database.overrides(), detection=_settings(prometheus.url))
    runtime = build_runtime(settings, clock=clock)
    await runtime.start()
    try:

        async def saved() -> list[str] | None:
            async with runtime.db.session() as session:
                query = sa.select(detector_states.c.kind)
                kinds = list((await session.execute(query)).scalars())
            return kinds or None

        assert "cursor" in await eventually(saved, "a detection pass", within=20)
    finally:
        await runtime.stop()


async def test_capacity_forecast_warns_before_the_disk_fills(
    make_runtime: MakeRuntime, clock: FakeClock
) -> None:
    pytest.importorskip("statsforecast")
    end = T0.timestamp()
    points = [
        (end - 300 * (143 - i), 40.0 + 0.32 * i + (0.4 if i % 2 else -0.4)) for i in range(144)
    ]
    watch = {
        "name": "disk", "query": "disk_used_percent", "step_seconds": 300,
        "capacity_threshold": 90.0, "service": "db",
    }  # fmt: skip
    with FakeTelemetryServer() as server:
        server.add_samples("disk_used_percent", {"instance": "db-1"}, points)
        detection = {"prometheus_url": server.url, "metrics": [watch]}
        runtime = await make_runtime(detection=detection)
        assert runtime.detection is not None
        report = await runtime.detection.run_once(clock.now())
        again = await runtime.detection.run_once(clock.now() + timedelta(minutes=1))
    assert report.forecast_skipped is None
    (warning,) = [e for e in report.events if e.raw["detector"] == "capacity_forecast"]
    assert warning.entity.service == "db"
    assert warning.title.startswith("disk on db: forecast above 90 by ")
    assert warning.raw["crossing_at"] > warning.raw["as_of"]
    assert again.events == []  # not due again for forecast_interval_seconds


async def test_a_busy_loki_stream_catches_up_and_its_new_errors_are_raised(
    make_runtime: MakeRuntime, clock: FakeClock
) -> None:
    """A backlog bigger than a pass may read (pages of 100, two a pass) is caught up pass
    by pass; rates are judged where the lines read so far end, so an error pattern in the
    backlog is raised when it is read (judged at "now", it would fall outside the window)."""
    start = T0 - timedelta(minutes=30)
    busy = [(to_ns(start) + i * 500_000_000, f"GET /api/items/{i % 40} 200") for i in range(9000)]
    errors_at = T0 - timedelta(minutes=10)  # read while the reads are still behind
    failing = [
        (to_ns(errors_at) + i * 2_000_000_000 + 1, "ERROR connection refused to db-1:5432")
        for i in range(600)
    ]
    with FakeTelemetryServer() as loki:
        loki.add_lines('{app="api"}', busy + failing, app="api")
        detection = {
            "loki_url": loki.url, "logs": [{"service": "api", "loki_selector": '{app="api"}'}],
            "initial_lookback_seconds": 1800, "loki_page_lines": 200, "loki_max_pages": 2,
        }  # fmt: skip
        clock.set(T0)
        runtime = await make_runtime(detection=detection)
        assert runtime.detection is not None
        raised: list[tuple[int, Event]] = []
        behind: list[float] = []
        for minute in range(0, 25):
            clock.set(T0 + timedelta(minutes=minute))
            report = await runtime.detection.run_once(clock.now())
            raised += [(minute, e) for e in report.events if e.status.value == "firing"]
            (watcher,) = runtime.detection._logs
            assert watcher.loki_start_ns is not None
            behind.append((to_ns(clock.now()) - watcher.loki_start_ns) / 1e9)
    assert behind[0] > 1500  # 400 of some 3,900 lines read
    assert behind[-1] == 30  # caught up to the Loki delay
    ((minute, event),) = [(m, e) for m, e in raised if "connection refused" in e.title]
    assert minute <= 8  # about when the reads reach it
    assert event.ts == errors_at


def _history(log: Path, line: str) -> None:
    stamps = [T0 - timedelta(minutes=20) + timedelta(seconds=15 * i) for i in range(80)]
    log.write_text("".join(f"{at.isoformat()} {line}\n" for at in stamps))


async def _watching(
    make_runtime: MakeRuntime, clock: FakeClock, log: Path, service: str, line: str
) -> DetectionService:
    """A log file watch on twenty minutes of `line`, after its first pass (no events)."""
    _history(log, line)
    runtime = await make_runtime(detection={"logs": [{"service": service, "path": str(log)}]})
    detection = runtime.detection
    assert detection is not None
    assert (await detection.run_once(clock.now())).events == []
    return detection


async def test_log_file_watch_reads_from_its_offset(
    make_runtime: MakeRuntime, clock: FakeClock, tmp_path: Path
) -> None:
    log = tmp_path / "checkout.log"
    detection = await _watching(make_runtime, clock, log, "checkout", "GET /cart 200")
    with log.open("a") as handle:
        for i in range(12):
            handle.write(f"{T0.isoformat()} ERROR payment gateway timeout order={i}\n")
    clock.advance(timedelta(seconds=30))
    (raised,) = (await detection.run_once(clock.now())).events
    assert raised.raw["detector"] == "log_pattern"
    assert raised.raw["kind"] == "new_template"
    assert raised.entity.service == "checkout"
    log.unlink()
    clock.advance(timedelta(seconds=30))
    (failure,) = (await detection.run_once(clock.now())).failures
    assert "checkout.log" in failure


async def test_a_removed_log_watch_closes_the_patterns_it_raised(
    make_runtime: MakeRuntime, clock: FakeClock, tmp_path: Path
) -> None:
    log = tmp_path / "checkout.log"
    detection = await _watching(make_runtime, clock, log, "checkout", "GET /cart 200")
    with log.open("a") as handle:
        handle.writelines(f"{T0.isoformat()} ERROR gateway timeout order={i}\n" for i in range(9))
    clock.advance(timedelta(seconds=30))
    (raised,) = (await detection.run_once(clock.now())).events
    await detection.aclose()
    other = tmp_path / "search.log"
    _history(other, "GET /search 200")
    runtime = await make_runtime(detection={"logs": [{"service": "search", "path": str(other)}]})
    assert runtime.detection is not None
    (closed,) = (await runtime.detection.run_once(clock.now())).events
    await runtime.processor.drain()
    assert (closed.fingerprint, closed.status.value) == (raised.fingerprint, "resolved")
    assert closed.raw["retired"] == "its watch is no longer configured"
    # Of the removed watch, only the count of its raises is kept.
    assert await _states(runtime) == [("log", "checkout"), ("log", "search")]
    await runtime.detection.aclose()

    # Added again a day later, the same error again: a new alarm, not taken for the old.
    clock.advance(timedelta(days=1))
    now = clock.now()
    stamps = [now - timedelta(minutes=20) + timedelta(seconds=15 * i) for i in range(80)]
    log.write_text("".join(f"{at.isoformat()} GET /cart 200\n" for at in stamps))
    again = await make_runtime(detection={"logs": [{"service": "checkout", "path": str(log)}]})
    assert again.detection is not None
    assert (await again.detection.run_once(clock.now())).events == []
    with log.open("a") as handle:
        handle.writelines(f"{now.isoformat()} ERROR gateway timeout order={i}\n" for i in range(9))
    clock.advance(timedelta(seconds=30))
    (reraised,) = (await again.detection.run_once(clock.now())).events
    await again.processor.drain()
    assert reraised.fingerprint == raised.fingerprint
    assert reraised.ingest_id != raised.ingest_id
    async with again.db.session() as session:
        stored = await list_events(session, EventQuery(tenant_id="default"))
    assert next(e.status for e in stored if e.fingerprint == raised.fingerprint) == "firing"


async def test_a_stack_trace_in_a_log_file_is_one_alarm_with_its_root_cause(
    make_runtime: MakeRuntime, clock: FakeClock, tmp_path: Path
) -> None:
    log = tmp_path / "orders.log"
    detection = await _watching(make_runtime, clock, log, "orders", "INFO order ok")
    with log.open("a") as handle:
        for i in range(3):
            handle.write(
                f"{T0.isoformat()} ERROR request {i} failed\n"
                "org.springframework.dao.DataAccessResourceFailureException: no connection\n"
                "\tat com.example.orders.OrderService.create(OrderService.java:57)\n"
                "Caused by: org.postgresql.util.PSQLException: Connection to db:5432 refused.\n"
                "\t... 64 common frames omitted\n"
            )
    clock.advance(timedelta(seconds=30))
    (raised,) = (await detection.run_once(clock.now())).events
    assert raised.raw["category"] == "connection"
    assert raised.severity.value == "error"
    assert raised.title.endswith(
        "failed | Caused by: org.postgresql.util.PSQLException: Connection to db:<*> refused."
    )


async def test_a_log_file_backlog_is_caught_up_and_judged_where_its_lines_end(
    make_runtime: MakeRuntime, clock: FakeClock, tmp_path: Path
) -> None:
    """More backlog than a pass may read (log_file_read_bytes): read on over the next
    passes, each judged at its newest line, so errors in the backlog are raised when read
    (judged at "now", the window would hold none of the lines read)."""
    log = tmp_path / "api.log"
    start = T0 - timedelta(minutes=40)
    with log.open("w") as handle:
        for i in range(40 * 60):
            at = start + timedelta(seconds=i)
            handle.write(f"{at.isoformat()} INFO GET /api/items/{i % 50} 200\n")
            if i >= 20 * 60 and i % 10 == 0:  # from 20 minutes in, an error every 10 s
                handle.write(f"{at.isoformat()} ERROR dial tcp 10.0.0.7:5432: refused\n")
    detection = {"logs": [{"service": "api", "path": str(log)}], "log_file_read_bytes": 20_000}
    runtime = await make_runtime(detection=detection)
    assert runtime.detection is not None
    raised: list[tuple[int, Event]] = []
    caught_up_at = None
    for minute in range(12):
        clock.set(T0 + timedelta(minutes=minute))
        report = await runtime.detection.run_once(clock.now())
        assert report.failures == []
        raised += [(minute, e) for e in report.events if e.status.value == "firing"]
        (watcher,) = runtime.detection._logs
        if caught_up_at is None and watcher.file_cursor.offset == log.stat().st_size:
            caught_up_at = minute
    assert caught_up_at is not None
    assert caught_up_at >= 3  # the backlog took several passes
    ((minute, event),) = [(m, e) for m, e in raised if "refused" in e.title]
    assert minute < caught_up_at  # raised while the reads were still behind
    assert event.ts == start + timedelta(minutes=20)


def _query_starts(prometheus: FakeTelemetryServer) -> list[float]:
    return [float(p["start"]) for path, p in prometheus.requests if path == "/api/v1/query_range"]


async def _two_processes(
    make_runtime: MakeRuntime, prometheus: FakeTelemetryServer
) -> tuple[DetectionService, DetectionService]:
    """Two runtimes on one database, as two processes would be."""
    found = []
    for _ in range(2):
        runtime = await make_runtime(detection=_settings(prometheus.url))
        assert runtime.detection is not None
        found.append(runtime.detection)
    return found[0], found[1]


async def test_only_the_lease_holder_runs_passes_and_a_successor_continues(
    make_runtime: MakeRuntime, clock: FakeClock, prometheus: FakeTelemetryServer
) -> None:
    clock.set(_at(60))
    first, second = await _two_processes(make_runtime, prometheus)
    assert (await first.run_once(clock.now())).skipped is None
    reads = len(_query_starts(prometheus))
    skipped = await second.run_once(clock.now())
    holder = first.lease.holder
    assert skipped.skipped == (
        f"detection lease of tenant 'default' is held by {holder}"
        f" until {clock.now() + timedelta(seconds=180):%Y-%m-%d %H:%M:%S}Z"
    )
    assert (skipped.events, len(_query_starts(prometheus))) == ([], reads)  # nothing read
    # The holder stops cleanly (releases): the other takes over at once, from the saved
    # cursor, and raises what the first would have raised, once.
    clock.set(_at(67))
    await first.lease.release(clock.now())
    reports = []
    for k in range(67, POINTS, 7):
        clock.set(_at(k))
        reports.append(await second.run_once(clock.now()))
        assert (await first.run_once(clock.now())).skipped is not None
    assert all(r.skipped is None for r in reports)
    assert _query_starts(prometheus)[reads] == pytest.approx(_at(60).timestamp() + STEP)
    assert [(e.status.value, e.ts) for e in _events(reports)][:1] == [("firing", _at(ANOMALY_AT))]


async def test_a_holder_gone_silent_is_taken_over_after_expiry(
    make_runtime: MakeRuntime, clock: FakeClock, prometheus: FakeTelemetryServer
) -> None:
    clock.set(_at(60))
    first, second = await _two_processes(make_runtime, prometheus)
    await first.run_once(clock.now())
    clock.set(_at(60) + timedelta(seconds=179))
    assert (await second.run_once(clock.now())).skipped is not None
    clock.set(_at(60) + timedelta(seconds=180))
    assert (await second.run_once(clock.now())).skipped is None
    assert (await first.run_once(clock.now())).skipped is not None


class _SlowSink:
    """A sink during whose call another process takes the lease (the holder paused)."""

    def __init__(self, runtime: Runtime, clock: FakeClock, rival: DetectionService) -> None:
        self.runtime, self.clock, self.rival = runtime, clock, rival

    async def process_events(self, events: list[Event]) -> object:
        self.clock.advance(timedelta(seconds=200))
        assert (await self.rival.run_once(self.clock.now())).skipped is None
        return await self.runtime.processor.process_events(events)


async def test_a_pass_that_lost_the_lease_midway_is_not_saved(
    make_runtime: MakeRuntime, clock: FakeClock, prometheus: FakeTelemetryServer
) -> None:
    clock.set(_at(ANOMALY_AT + 1))
    runtime = await make_runtime(detection=_settings(prometheus.url, lookback=1800))
    rival = await make_runtime(detection=_settings(prometheus.url, lookback=1800))
    assert rival.detection is not None
    slow = DetectionService.build(
        runtime.settings,
        db=runtime.db,
        clock=clock,
        sink=_SlowSink(runtime, clock, rival.detection),
    )
    assert slow is not None
    try:
        report = await slow.run_once(clock.now())
    finally:
        await slow.aclose()
    assert [e.status.value for e in report.events] == ["firing"]
    assert report.skipped is not None
    assert "was taken by another process" in report.skipped
    async with runtime.db.session() as session:
        query = sa.select(detector_states.c.updated_at).where(detector_states.c.kind == "cursor")
        (saved_at,) = (await session.execute(query)).scalars()
    assert saved_at == clock.now()  # the rival's pass, not the slow one's
