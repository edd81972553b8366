"""One metric watch: which stretch of its series to read next, a tracker per series (label
set, bounded), the capacity-forecast alarms, and the state rows to save. No I/O."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from vigil.analysis.forecast import CapacityForecast
from vigil.detection.alarms import (
    EventContext,
    RetiredAlarm,
    forecast_event,
    gone_event,
    metric_event,
    retired_event,
    series_fingerprint,
)
from vigil.detection.series import GateMiss, SeriesTracker, gates_for
from vigil.detection.state import StateRow
from vigil.events import Event
from vigil.platform.detection_settings import DetectionSettings, MetricWatch
from vigil.telemetry.prometheus import PromSeries

__all__ = ["MetricWatcher", "ReadWindow", "SeriesMiss", "retired_metric_events"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReadWindow:
    """The grid to read next: first and last evaluation time, and the step."""

    start: datetime
    end: datetime
    step: timedelta


@dataclass(frozen=True, slots=True)
class SeriesMiss:
    """A series whose anomaly a gate held back (the reasons say which)."""

    watch: str
    labels: dict[str, str]
    miss: GateMiss


@dataclass
class _Tracked:
    labels: dict[str, str]
    tracker: SeriesTracker


@dataclass
class MetricWatcher:
    """State of one :class:`MetricWatch` between passes."""

    watch: MetricWatch
    settings: DetectionSettings
    series: dict[str, _Tracked] = field(default_factory=dict)
    cursor: float | None = None  # last evaluation time read, unix seconds
    forecast_at: float | None = None
    forecasting: dict[str, dict[str, str]] = field(default_factory=dict)  # key -> labels
    dirty: set[str] = field(default_factory=set)
    gone: set[str] = field(default_factory=set)  # state keys to delete
    skipped: int = 0  # series beyond max_series in the last read

    def window(self, now: datetime) -> ReadWindow | None:
        """The evaluation grid after the cursor up to `now` (less the query delay), at most
        `max_points_per_pass` steps of it (after a long stop, the rest comes next pass)."""
        step = self.watch.step_seconds
        last = math.floor((now.timestamp() - self.settings.query_delay_seconds) / step)
        if self.cursor is None:
            first = last - math.floor(self.settings.initial_lookback_seconds / step)
        else:
            first = round(self.cursor / step) + 1
        if first > last:
            return None
        last = min(last, first + self.settings.max_points_per_pass - 1)  # catch up in steps
        return ReadWindow(_at(first * step), _at(last * step), timedelta(seconds=step))

    def take(self, found: list[PromSeries], window: ReadWindow, ctx: EventContext) -> list[Event]:
        """Feed every series' points to its tracker; the events of what changed."""
        gates = gates_for(self.watch.gates, self.watch.slo_relevant)
        events: list[Event] = []
        self.skipped = 0
        for known in self.series.values():
            known.tracker.misses = []
        fed: set[str] = set()
        for one in found:
            tracked = self._tracked(one.labels)
            if tracked is None:
                self.skipped += 1
                continue
            findings = tracked.tracker.feed(one.points, gates, self.watch.gates.recover_points)
            events.extend(metric_event(self.watch, one.labels, f, ctx) for f in findings)
            key = self._key("metric", one.labels)
            self.dirty.add(key)
            fed.add(key)
        self.cursor = window.end.timestamp()
        self.dirty.add(self._cursor_key())
        events.extend(self._forget_idle(fed, ctx))
        if self.skipped:
            log.warning(
                "watch %s: %d series beyond max_series=%d ignored",
                self.watch.name, self.skipped, self.watch.max_series,
            )  # fmt: skip
        return events

    def _forget_idle(self, fed: set[str], ctx: EventContext) -> list[Event]:
        """Stop watching series without a point for `series_idle_seconds` before the
        cursor (closing what was raised on them); their saved rows go too."""
        idle = self.settings.series_idle_seconds
        events = []
        for key, tracked in list(self.series.items()):
            last = tracked.tracker.last_ts
            if self.fresh(last, self.cursor or 0.0) or (last is None and key in fed):
                continue
            if tracked.tracker.raised:
                events.append(
                    gone_event(self.watch, tracked.labels, "metric_anomaly", last, ctx, idle=idle)
                )
            del self.series[key]
            self.dirty.discard(key)
            self.gone.add(key)
        return events

    def misses(self) -> list[SeriesMiss]:
        """The gate refusals of the last read."""
        return [
            SeriesMiss(self.watch.name, t.labels, miss)
            for t in self.series.values()
            for miss in t.tracker.misses
        ]

    def _tracked(self, labels: dict[str, str]) -> _Tracked | None:
        key = self._key("metric", labels)
        tracked = self.series.get(key)
        if tracked is None:
            if len(self.series) >= self.watch.max_series:
                return None
            tracked = self.series[key] = _Tracked(labels, SeriesTracker.new())
        return tracked

    def forecast_window(self, now: datetime) -> ReadWindow | None:
        """The history to forecast from, when a forecast is due (or None)."""
        if self.watch.capacity_threshold is None:
            return None
        due = self.forecast_at is None
        due = (
            due
            or now.timestamp() - (self.forecast_at or 0) >= self.settings.forecast_interval_seconds
        )
        if not due:
            return None
        history = self.settings.forecast_history_seconds
        step = max(self.watch.step_seconds, history / 10_000)
        return ReadWindow(now - timedelta(seconds=history), now, timedelta(seconds=step))

    def take_forecasts(
        self,
        forecasts: list[tuple[dict[str, str], CapacityForecast]],
        ctx: EventContext,
        last_seen: dict[str, float] | None = None,
    ) -> list[Event]:
        """Warnings that started, and all-clears of warnings that ended. ``last_seen``:
        the last point of each series read (by forecast key); a warned series without a
        point for `series_idle_seconds` (or no longer returned) is closed as gone."""
        self.forecast_at = ctx.now.timestamp()
        self.dirty.add(self._cursor_key())
        events: list[Event] = []
        idle = self.settings.series_idle_seconds
        seen = last_seen or {}
        for key, labels in list(self.forecasting.items()):
            last = seen.get(key)
            if not self.fresh(last, self.forecast_at):
                del self.forecasting[key]
                events.append(
                    gone_event(self.watch, labels, "capacity_forecast", last, ctx, idle=idle)
                )
        for labels, forecast in forecasts:
            key = self.forecast_key(labels)
            if forecast.warning and key not in self.forecasting:
                self.forecasting[key] = labels
                events.append(forecast_event(self.watch, labels, forecast, ctx))
            elif not forecast.warning and key in self.forecasting:
                del self.forecasting[key]
                events.append(forecast_event(self.watch, labels, forecast, ctx))
        return events

    def fresh(self, last: float | None, at: float) -> bool:
        """Whether a series whose last point was at ``last`` still reports at ``at``
        (epoch seconds): a point within `series_idle_seconds`."""
        return last is not None and last >= at - self.settings.series_idle_seconds

    def forecast_key(self, labels: dict[str, str]) -> str:
        """Identity of one series' capacity forecast under this watch."""
        return self._key("forecast", labels)

    def _key(self, kind: str, labels: dict[str, str]) -> str:
        return f"{kind}:{self.watch.name}:{series_fingerprint(kind, self.watch.name, labels)}"

    def _cursor_key(self) -> str:
        return f"cursor:metric:{self.watch.name}"

    def rows(self) -> list[StateRow]:
        """The state rows changed since the last call (then forgets they changed)."""
        rows: list[StateRow] = []
        for key in sorted(self.dirty):
            if key == self._cursor_key():
                state = {
                    "cursor": self.cursor,
                    "forecast_at": self.forecast_at,
                    "forecasting": self.forecasting,
                    # To name the service of a warning closed once the watch is gone.
                    "service": self.watch.service,
                    "service_label": self.watch.service_label,
                }
                rows.append(StateRow(key, "cursor", self.watch.name, {}, state))
            elif (tracked := self.series.get(key)) is not None:
                service = tracked.labels.get(self.watch.service_label) or self.watch.service
                state = {**tracked.tracker.state(), "service": service}
                rows.append(StateRow(key, "metric", self.watch.name, tracked.labels, state))
        self.dirty.clear()
        return rows

    def forgotten(self) -> list[str]:
        """State keys of series no longer watched, to delete (then forgets them)."""
        keys = sorted(self.gone)
        self.gone.clear()
        return keys

    def restore(self, rows: dict[str, StateRow]) -> set[str]:
        """Continue from saved rows of this watch; the keys of the rows it took. Beyond
        `max_series` (lowered since), the raised series are kept first, then by key: the
        rows not taken are for the service to close and delete."""
        taken = {self._cursor_key()}
        saved = rows.get(self._cursor_key())
        if saved is not None:
            self.cursor = saved.state.get("cursor")
            self.forecast_at = saved.state.get("forecast_at")
            self.forecasting = dict(saved.state.get("forecasting") or {})
        mine = [r for r in rows.values() if r.kind == "metric" and r.watch == self.watch.name]
        mine.sort(key=lambda r: (r.state.get("raised_at") is None, r.key))
        for row in mine[: self.watch.max_series]:
            tracker = SeriesTracker.from_state(row.state)
            self.series[row.key] = _Tracked(dict(row.labels), tracker)
            taken.add(row.key)
        return taken


def retired_metric_events(row: StateRow, ctx: EventContext, reason: str) -> list[Event]:
    """The ends of what a metric watch's saved row had raised, once no watch takes the row
    (``reason`` says why): its series' anomaly, or its capacity warnings (a cursor row)."""
    state = row.state
    if row.kind == "metric":
        raised_at = state.get("raised_at")
        if raised_at is None:
            return []
        service = state.get("service") or row.labels.get("service")
        alarm = RetiredAlarm(
            "metric_anomaly", row.watch, dict(row.labels), service, f"retired-{raised_at}"
        )
        return [retired_event(ctx, alarm, reason)]
    if row.kind != "cursor":
        return []
    label = state.get("service_label") or "service"
    occurrence = f"retired-{state.get('forecast_at')}"
    return [
        retired_event(
            ctx,
            RetiredAlarm(
                "capacity_forecast",
                row.watch,
                dict(labels),
                labels.get(label) or state.get("service"),
                occurrence,
            ),
            reason,
        )
        for _, labels in sorted((state.get("forecasting") or {}).items())
    ]


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)
