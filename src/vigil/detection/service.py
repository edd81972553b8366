"""The detection service: each pass reads every watched series and log since the last
pass, runs the detectors, sends what they found through the pipeline as Events and saves
the detectors' state; `run` repeats that on the schedule. Only the holder of the tenant's
detection lease runs a pass (`lease.py`), so several processes on one database do not
detect twice or overwrite each other's state."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol, TypeVar

from vigil.analysis.forecast import CapacityForecast
from vigil.detection.alarms import EventContext
from vigil.detection.forecasting import CapacityForecaster
from vigil.detection.lease import LeaseKeeper, LeaseLostError, process_holder
from vigil.detection.log_watch import RETIRED, LogWatcher, log_tombstone, retired_log_events
from vigil.detection.metric_watch import MetricWatcher, SeriesMiss, retired_metric_events
from vigil.detection.state import StateRow, delete_states, load_states, save_states
from vigil.events import Event
from vigil.platform.clock import Clock
from vigil.platform.db import Database
from vigil.platform.detection_settings import DetectionSettings
from vigil.platform.settings import Settings
from vigil.telemetry.logfiles import FileCursor, first_cursor, join_continuations, read_on
from vigil.telemetry.loki import LokiClient
from vigil.telemetry.prometheus import PrometheusClient, PromSeries

__all__ = ["DetectionService", "EventSink", "PassReport", "TelemetryClients"]

log = logging.getLogger(__name__)

_W = TypeVar("_W", MetricWatcher, LogWatcher)


class EventSink(Protocol):
    """Where found events go: the runtime's intake (`DetectorIntake`, the path every alert
    takes) or the pipeline's processor itself. Returns once the events are durable; must
    be idempotent on `ingest_id`, so a pass repeated after a crash adds nothing."""

    async def process_events(self, events: list[Event]) -> object: ...


@dataclass(frozen=True, slots=True)
class TelemetryClients:
    """The stores the watches read (either may be absent when no watch needs it)."""

    prometheus: PrometheusClient | None = None
    loki: LokiClient | None = None

    async def aclose(self) -> None:
        for client in (self.prometheus, self.loki):
            if client is not None:
                await client.aclose()


@dataclass
class PassReport:
    """What one pass did: events sent, reads that failed (with the exact query) or warned,
    anomalies a gate held back, why forecasting was skipped if it was, and why the pass
    did not run (`skipped`: another process holds the detection lease) or was not saved."""

    at: datetime
    events: list[Event] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # the stores' (partial answers)
    # What a watch's read says of its data: no series matched (a typo in the query
    # looks just like health otherwise), points that are not numbers.
    notes: list[str] = field(default_factory=list)
    held_back: list[SeriesMiss] = field(default_factory=list)
    forecast_skipped: str | None = None
    skipped: str | None = None


class DetectionService:
    """Runs the configured watches; one instance per process (it keeps state in memory
    between passes and saves it after each, while it holds the lease)."""

    def __init__(
        self,
        settings: DetectionSettings,
        *,
        db: Database,
        clock: Clock,
        sink: EventSink,
        clients: TelemetryClients,
        holder: str | None = None,
    ) -> None:
        self.settings = settings
        self.tenant_id = settings.tenant or "default"
        self._db, self._clock, self._sink, self._clients = db, clock, sink, clients
        self._metrics: list[MetricWatcher] = []
        self._logs: list[LogWatcher] = []
        self._retired: dict[str, StateRow] = {}  # saved rows no watch takes any more
        self._loaded = False
        self._reset()
        self._forecaster = CapacityForecaster()
        self._lock = asyncio.Lock()
        ttl = timedelta(seconds=settings.lease_ttl_seconds)
        self.lease = LeaseKeeper(db, self.tenant_id, holder or process_holder(), ttl)
        self._skipping = False
        self._noted: set[str] = set()  # notes already logged (a typo warns once)

    @classmethod
    def build(
        cls, settings: Settings, *, db: Database, clock: Clock, sink: EventSink
    ) -> DetectionService | None:
        """The service for `settings.detection` with its HTTP clients (tenant: the default
        one unless it names its own), or None when nothing is watched."""
        detection = settings.detection
        if not detection.enabled:
            return None
        timeout = detection.timeout_seconds
        prometheus, loki = detection.prometheus_url, detection.loki_url
        clients = TelemetryClients(
            PrometheusClient(prometheus, timeout=timeout) if prometheus else None,
            LokiClient(loki, timeout=timeout) if loki else None,
        )
        tenant = detection.tenant or settings.default_tenant
        resolved = detection.model_copy(update={"tenant": tenant})
        return cls(resolved, db=db, clock=clock, sink=sink, clients=clients)

    async def aclose(self) -> None:
        """Release the lease (another process takes over at once) and close the clients."""
        async with self._lock:
            try:
                await self.lease.release(self._clock.now())
            except Exception as exc:  # it expires on its own; stopping must go on
                log.warning("releasing the detection lease failed: %r", exc)
        await self._clients.aclose()

    async def run(self, stop: asyncio.Event) -> None:
        """A pass every `interval_seconds` until `stop` is set; a failed pass is logged
        and the next one tried (the state of the last good pass is kept)."""
        while not stop.is_set():
            try:
                report = await self.run_once(self._clock.now())
                for failure in report.failures:
                    log.warning("detection read failed: %s", failure)
                for warning in report.warnings:
                    log.warning("detection read warned: %s", warning)
                self._log_notes(report.notes)
            except Exception:
                log.exception("detection pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.settings.interval_seconds)

    async def run_once(self, now: datetime) -> PassReport:
        """One pass at `now`: take or renew the lease, read, detect, send the events, save
        the state. Without the lease nothing is read: the report says who holds it."""
        async with self._lock:
            skipped = await self._hold_lease()
            if skipped is not None:
                return PassReport(at=now, skipped=skipped)
            if not self._loaded:
                await self._load()
            report = PassReport(at=now)
            ctx = EventContext(self.tenant_id, now)
            try:
                report.events.extend(self._retired_events(ctx))
                await self._watch_passes(ctx, report)
                report.forecast_skipped = self._forecaster.unavailable
                if report.events:
                    await self._sink.process_events(report.events)
                await self._save(now)
            except LeaseLostError as exc:
                # Another process took over mid-pass: its state wins; what this pass sent
                # is folded in by ingest id and fingerprint like any repeat.
                self._reset()
                log.warning("detection pass not saved: %s", exc)
                report.skipped = str(exc)
            except BaseException:
                # Forget this pass: the next one reloads the saved state, reads the same
                # stretch again and finds the same events (same ingest ids).
                self._reset()
                raise
            return report

    def _log_notes(self, notes: list[str]) -> None:
        """Log a note when it first appears (then once more if it comes back later)."""
        for note in notes:
            if note not in self._noted:
                log.warning("detection: %s", note)
        self._noted = set(notes)

    async def _watch_passes(self, ctx: EventContext, report: PassReport) -> None:
        """Every watch's read and detection. A watch that fails (an answer of a shape no
        client foresaw, a detector error) is reported and put back as it was saved, so
        that its half-done pass is neither sent nor saved, and the other watches go on:
        one bad series must not blind the rest."""
        for index, watcher in enumerate(self._metrics):
            found = await self._guarded(
                watcher.watch.name, report, self._metric_passes, watcher, ctx
            )
            if found is None:
                self._metrics[index] = await self._as_saved(
                    MetricWatcher(watcher.watch, self.settings)
                )
            else:
                report.events.extend(found)
        for index, log_watcher in enumerate(self._logs):
            found = await self._guarded(
                log_watcher.watch.key, report, self._log_pass, log_watcher, ctx
            )
            if found is None:
                self._logs[index] = await self._as_saved(
                    LogWatcher(log_watcher.watch, self.settings)
                )
            else:
                report.events.extend(found)

    async def _guarded(
        self,
        name: str,
        report: PassReport,
        run: Callable[[_W, EventContext, PassReport], Awaitable[list[Event]]],
        watcher: _W,
        ctx: EventContext,
    ) -> list[Event] | None:
        """One watch's pass; None when it failed (then reported)."""
        try:
            return await run(watcher, ctx, report)
        except Exception as exc:
            log.warning("detection watch %s failed; it is retried next pass", name, exc_info=exc)
            report.failures.append(f"watch {name}: {type(exc).__name__}: {exc}")
            return None

    async def _metric_passes(
        self, watcher: MetricWatcher, ctx: EventContext, report: PassReport
    ) -> list[Event]:
        events = await self._metric_pass(watcher, ctx, report)
        return events + await self._forecast_pass(watcher, ctx, report)

    async def _saved_rows(self) -> dict[str, StateRow]:
        async with self._db.session() as session:
            return await load_states(session, self.tenant_id)

    async def _as_saved(self, watcher: _W) -> _W:
        """``watcher`` (fresh) restored from the saved state of its watch."""
        watcher.restore(await self._saved_rows())
        return watcher

    async def _hold_lease(self) -> str | None:
        """Take or renew the lease; why not, when another process holds it. Taking it
        over (again) reloads the saved state, which the other holder moved on."""
        lease, fresh = await self.lease.acquire(self._clock.now())
        if lease.holder != self.lease.holder:
            self._reset()
            reason = (
                f"detection lease of tenant {self.tenant_id!r} is held by {lease.holder}"
                f" until {lease.expires_at:%Y-%m-%d %H:%M:%S}Z"
            )
            if not self._skipping:
                log.info("%s; this process skips its passes until then", reason)
            self._skipping = True
            return reason
        if fresh:
            self._reset()
            log.info("detection lease of tenant %r taken by %s", self.tenant_id, lease.holder)
        self._skipping = False
        return None

    def _reset(self) -> None:
        self._metrics = [MetricWatcher(w, self.settings) for w in self.settings.metrics]
        self._logs = [LogWatcher(w, self.settings) for w in self.settings.logs]
        self._retired = {}
        self._loaded = False

    async def _load(self) -> None:
        rows = await self._saved_rows()
        taken: set[str] = set()
        for metric in self._metrics:
            taken |= metric.restore(rows)
        for logs in self._logs:
            taken |= logs.restore(rows)
        self._retired = {
            key: row for key, row in rows.items() if key not in taken and not row.state.get(RETIRED)
        }
        self._loaded = True

    def _retired_events(self, ctx: EventContext) -> list[Event]:
        """Close what the rows no watch takes had raised (their watch was removed or
        renamed, or its `max_series` lowered): nothing else would ever resolve it. The
        rows are deleted when the pass is saved; of a log watch's, the count of its raises
        is kept (`log_tombstone`)."""
        limits = {w.watch.name: w.watch.max_series for w in self._metrics}
        events: list[Event] = []
        for row in sorted(self._retired.values(), key=lambda r: r.key):
            if row.kind == "metric" and row.watch in limits:
                reason = f"beyond max_series={limits[row.watch]}"
            else:
                reason = "its watch is no longer configured"
            events.extend(retired_metric_events(row, ctx, reason))
            events.extend(retired_log_events(row, ctx, reason))
        if self._retired:
            log.info(
                "detection: %d saved state row(s) no watch takes; closed and deleted",
                len(self._retired),
            )
        return events

    async def _save(self, now: datetime) -> None:
        rows: list[StateRow] = [row for w in self._metrics for row in w.rows()]
        rows.extend(w.row() for w in self._logs)
        gone = [key for w in self._metrics for key in w.forgotten()]
        for key, retired in self._retired.items():
            tombstone = log_tombstone(retired)
            if tombstone is None:
                gone.append(key)
            else:
                rows.append(tombstone)
        async with self._db.writing() as session:
            await self.lease.confirm(session, self._clock.now())
            await save_states(session, self.tenant_id, rows, now)
            await delete_states(session, self.tenant_id, gone)
            await session.commit()
        self._retired = {}

    async def _metric_pass(
        self, watcher: MetricWatcher, ctx: EventContext, report: PassReport
    ) -> list[Event]:
        window = watcher.window(ctx.now)
        prometheus = self._clients.prometheus
        if window is None or prometheus is None:
            return []
        query = watcher.watch.query
        result = await prometheus.query_range(query, window.start, window.end, window.step)
        if result.failure is not None:
            report.failures.append(result.failure.message())
            return []
        # A partial answer (Thanos, Mimir) says so in its warnings: shown, and its points
        # used (points read again later are skipped by time, so nothing counts twice).
        report.warnings.extend(f"{query!r}: {warning}" for warning in result.warnings)
        report.notes.extend(_data_notes(watcher.watch.name, query, result.series))
        # Detection is CPU work: off the event loop, which serves the API meanwhile.
        events = await asyncio.to_thread(watcher.take, result.series, window, ctx)
        report.held_back.extend(watcher.misses())
        return events

    async def _forecast_pass(
        self, watcher: MetricWatcher, ctx: EventContext, report: PassReport
    ) -> list[Event]:
        window = watcher.forecast_window(ctx.now)
        prometheus = self._clients.prometheus
        if window is None or prometheus is None or self._forecaster.unavailable:
            return []
        query = watcher.watch.query
        result = await prometheus.query_range(query, window.start, window.end, window.step)
        if result.failure is not None:
            report.failures.append(result.failure.message())
            return []
        forecasts: list[tuple[dict[str, str], CapacityForecast]] = []
        last_seen = {
            watcher.forecast_key(series.labels): series.points[-1][0]
            for series in result.series
            if series.points
        }
        for series in result.series[: watcher.watch.max_series]:
            last = last_seen.get(watcher.forecast_key(series.labels))
            if not watcher.fresh(last, ctx.now.timestamp()):
                continue  # stopped reporting: its old points say nothing of what comes
            series_id = f"{watcher.watch.name}{series.labels}"
            found = await self._forecaster.forecast(series_id, series.points, watcher.watch)
            if found is not None:
                forecasts.append((series.labels, found))
        return watcher.take_forecasts(forecasts, ctx, last_seen)

    async def _log_pass(
        self, watcher: LogWatcher, ctx: EventContext, report: PassReport
    ) -> list[Event]:
        if watcher.watch.path is not None:
            return await self._file_pass(watcher, watcher.watch.path, ctx, report)
        selector, loki = watcher.watch.loki_selector, self._clients.loki
        if selector is None or loki is None:
            return []
        start, end = watcher.loki_window(ctx.now)
        settings = self.settings
        result = await loki.query_range(
            selector, start, end, limit=settings.loki_page_lines, max_pages=settings.loki_max_pages
        )
        if result.failure is not None:
            report.failures.append(result.failure.message())
        watcher.loki_start_ns = result.next_start_ns
        # Rates are judged where the lines are complete: the end of the window (the delay
        # is left out), or where a read cut short stopped.
        caught_up = result.ok and result.complete
        return await asyncio.to_thread(
            watcher.take, result.lines, ctx, caught_up=caught_up, until=result.read_until
        )

    async def _file_pass(
        self, watcher: LogWatcher, path: Path, ctx: EventContext, report: PassReport
    ) -> list[Event]:
        zone = watcher.watch.zone
        if watcher.file_cursor == FileCursor():  # a new watch: where to start
            since = ctx.now - timedelta(seconds=self.settings.initial_lookback_seconds)
            watcher.file_cursor = await asyncio.to_thread(first_cursor, path, zone, since)
        budget = self.settings.log_file_read_bytes
        chunk, caught_up = await asyncio.to_thread(read_on, path, watcher.file_cursor, budget, zone)
        if chunk.failure is not None:
            report.failures.append(chunk.failure)
            return []
        watcher.file_cursor = chunk.cursor
        # A read that stopped short of a backlog is judged where its lines end.
        stamps = [line.ts for line in chunk.lines if line.ts is not None]
        until = None if caught_up or not stamps else max(stamps)
        lines = join_continuations(chunk.lines)  # a stack trace is one record
        return await asyncio.to_thread(watcher.take, lines, ctx, caught_up=caught_up, until=until)

    def watch_names(self) -> Sequence[str]:
        """The configured watches, for status output."""
        return [w.watch.name for w in self._metrics] + [w.watch.key for w in self._logs]


def _data_notes(watch: str, query: str, found: Sequence[PromSeries]) -> list[str]:
    """What a read's answer says of the watch's data, when something is off."""
    if not found:
        return [f"watch {watch}: {query!r} matched no series"]
    total = sum(len(series.points) for series in found)
    odd = sum(1 for series in found for _, value in series.points if not math.isfinite(value))
    if odd:
        return [f"watch {watch}: {odd} of {total} points not a number (NaN or ±Inf), skipped"]
    return []
