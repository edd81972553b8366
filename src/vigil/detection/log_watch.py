"""One log watch: where to read next (file offset or Loki time), its log pattern detector,
the patterns currently raised, and the state row to save. No I/O.

New templates and rate increases are raised; a raised one that no longer signals is
resolved. A fall of a steady template's rate (the rule is in `analysis/log_rates.py`) is
raised too, unless the template is an error (by category, level or shape: fewer errors is
a recovery), and
only when the read reached the end of what was written (a read that stopped short would
look like lines going quiet). A raised fall stays raised while the template stays below
half its rate before the fall, even once the quiet stretch becomes its baseline. It is
resolved when the template is back to at least half that rate; when it has been silent
so long that it is no longer counted; or when, a whole horizon (window and baseline) after
it was raised, the lower rate no longer signals (it is then the new normal, as a metric's
level shift is). Right after a template came back, its return is not raised as a rise
against the quiet stretch in its baseline.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from vigil.analysis.log_patterns import DetectorState, LogPatternDetector, LogSignal
from vigil.detection.alarms import (
    RECOVERED_SHARE,
    EventContext,
    RetiredAlarm,
    log_event,
    log_labels,
    retired_event,
)
from vigil.detection.state import StateRow
from vigil.events import Event
from vigil.platform.detection_settings import DetectionSettings, LogWatch
from vigil.telemetry.logfiles import FileCursor, LogLine
from vigil.telemetry.loki import to_ns

__all__ = ["RETIRED", "LogWatcher", "log_tombstone", "retired_log_events"]

log = logging.getLogger(__name__)

RETIRED = "retired"  # a saved row's mark: its watch was removed (see `log_tombstone`)
_MAX_KEY = 255  # state keys are cut to this

_DROP = "rate_decrease"
_RAISE = "raise"  # key of a raised signal's number in `raised`
_CLOCK_SKEW = timedelta(minutes=5)  # a line's time may be this far ahead of the pass


def _is_drop(saved: dict[str, Any]) -> bool:
    return saved.get("kind") == _DROP


def _signal(saved: dict[str, Any]) -> LogSignal:
    return LogSignal.model_validate({k: v for k, v in saved.items() if k != _RAISE})


def _occurrence(saved: dict[str, Any]) -> str | None:
    number = saved.get(_RAISE)  # None in states saved before raises were numbered
    return f"raise-{number}" if number is not None else None


@dataclass
class LogWatcher:
    """State of one :class:`LogWatch` between passes."""

    watch: LogWatch
    settings: DetectionSettings
    detector: LogPatternDetector = field(default_factory=LogPatternDetector)
    file_cursor: FileCursor = field(default_factory=FileCursor)
    loki_start_ns: int | None = None
    raised: dict[str, dict[str, Any]] = field(default_factory=dict)  # template key -> signal
    # Templates back from a fall: key -> [rate before the fall, until when (epoch s)].
    recovered: dict[str, list[float]] = field(default_factory=dict)
    raises: int = 0  # raises so far: numbers each one, for its events' ingest ids
    last_read: float | None = None  # when the last lines were taken (epoch s)

    @property
    def key(self) -> str:
        return f"log:{self.watch.key}"[:_MAX_KEY]

    def loki_window(self, now: datetime) -> tuple[int, int]:
        """Nanosecond range to read next from Loki: after the last read, up to `now` less
        the Loki delay (lines arrive late)."""
        settings = self.settings
        delay = max(settings.query_delay_seconds, settings.loki_delay_seconds)
        end = to_ns(now - timedelta(seconds=delay))
        lookback = timedelta(seconds=settings.initial_lookback_seconds)
        start = self.loki_start_ns if self.loki_start_ns is not None else to_ns(now - lookback)
        return start, max(start, end)

    def take(
        self,
        lines: list[LogLine],
        ctx: EventContext,
        *,
        caught_up: bool = True,
        until: datetime | None = None,
    ) -> list[Event]:
        """Observe the new lines, then raise and resolve patterns as of `until` (the time up
        to which the store is complete; default the pass). `caught_up`: the read reached
        the end of what was written, so silence in it means silence."""
        for line, ts in zip(lines, self._times(lines, ctx.now), strict=True):
            text = line.line.replace("\x00", "")  # Postgres JSON refuses NUL characters
            self.detector.observe(ts, text, self.watch.service)
        self.last_read = ctx.now.timestamp()
        at = min(until or ctx.now, ctx.now)
        self._forget_recoveries(at)
        signals = {
            s.template_key: s
            for s in self.detector.signals(at, raised=self.raised.keys())
            if s.kind != _DROP or (caught_up and not s.erroneous)
        }
        events: list[Event] = []
        for key, signal in signals.items():
            saved = self.raised.get(key)
            if saved is not None and _is_drop(saved) and signal.kind != _DROP:
                # A raised drop whose template rises again: that is its return under way,
                # judged like any end of a drop (and the rise is not raised on its own).
                events.extend(self._calmed(key, ctx, at, caught_up))
                if key in self.raised:
                    continue
            events.extend(self._signalled(key, signal, ctx))
        for key in sorted(set(self.raised) - set(signals)):
            events.extend(self._calmed(key, ctx, at, caught_up))
        return events

    def _times(self, lines: list[LogLine], now: datetime) -> list[datetime]:
        """When each line happened: its own time, unless that is ahead of the pass (a
        wrong clock or zone: then now); a line that does not say was written since the
        last read, so such lines are spread evenly over that stretch in their order (a
        backlog after a stop is not one burst at the pass's time)."""
        latest = now + _CLOCK_SKEW
        untimed = sum(line.ts is None for line in lines)
        since = self.last_read or 0.0
        step = (now.timestamp() - since) / untimed if untimed and self.last_read else 0.0
        times, j = [], 0
        for line in lines:
            if line.ts is not None:
                times.append(line.ts if line.ts <= latest else now)
            elif step > 0:
                j += 1
                times.append(datetime.fromtimestamp(since + step * j, tz=UTC))
            else:
                times.append(now)
        return times

    def _signalled(self, key: str, signal: LogSignal, ctx: EventContext) -> list[Event]:
        """Raise `signal` unless already raised; a raised rise that now falls ends first."""
        saved = self.raised.get(key)
        falling = signal.kind == _DROP
        if saved is not None and _is_drop(saved) == falling:
            return []
        events = []
        if saved is not None:
            events.append(self._resolve(key, ctx, ctx.now, None))
        if signal.kind == "rate_increase" and self._returning(key, signal):
            return events
        self.raises += 1
        self.raised[key] = {**signal.model_dump(mode="json"), _RAISE: self.raises}
        occurrence = _occurrence(self.raised[key])
        events.append(log_event(self.watch.key, signal, ctx, firing=True, occurrence=occurrence))
        return events

    def _returning(self, key: str, signal: LogSignal) -> bool:
        """Back from a fall: a rise against the quiet stretch is the return, not a surge,
        unless it goes beyond what was normal before the fall."""
        back = self.recovered.get(key)
        limit = self.detector.settings.rates.min_ratio
        return back is not None and signal.window_rate <= back[0] * limit

    def _calmed(self, key: str, ctx: EventContext, at: datetime, caught_up: bool) -> list[Event]:
        """A raised pattern that no longer signals: resolved, unless a fall is still quiet."""
        if not _is_drop(self.raised[key]):
            return [self._resolve(key, ctx, at, None)]
        if not caught_up:
            return []
        saved = _signal(self.raised[key])
        rate = self.detector.window_rate(self.watch.service, key, at)
        low = rate is not None and rate < RECOVERED_SHARE * saved.baseline_rate
        if low and not self._settled(saved, at):
            return []
        return [self._resolve(key, ctx, at, rate)]

    def _horizon(self) -> timedelta:
        rates = self.detector.settings.rates
        return timedelta(
            seconds=(rates.window_buckets + rates.baseline_buckets) * rates.bucket_seconds
        )

    def _settled(self, saved: LogSignal, at: datetime) -> bool:
        """A whole horizon after it was raised, the baseline is all after the fall: a lower
        rate that no longer signals is the new normal."""
        return saved.as_of is not None and at - saved.as_of >= self._horizon()

    def _resolve(self, key: str, ctx: EventContext, at: datetime, rate: float | None) -> Event:
        """The resolved event of a raised pattern (for a fall, `rate` says how it ended)."""
        saved = self.raised.pop(key)
        signal, occurrence = _signal(saved), _occurrence(saved)
        if signal.kind != _DROP:
            return log_event(self.watch.key, signal, ctx, firing=False, occurrence=occurrence)
        if rate is not None and rate >= RECOVERED_SHARE * signal.baseline_rate:
            until = at + self._horizon()
            self.recovered[key] = [signal.baseline_rate, until.timestamp()]
        return log_event(
            self.watch.key, signal, ctx, firing=False, current_rate=rate, occurrence=occurrence
        )

    def _forget_recoveries(self, at: datetime) -> None:
        """Once the quiet stretch has left the baseline, a rise is a rise again."""
        moment = at.timestamp()
        self.recovered = {k: v for k, v in self.recovered.items() if v[1] > moment}

    def row(self) -> StateRow:
        state = {
            "detector": self.detector.snapshot().model_dump(mode="json"),
            "file_cursor": dataclasses.asdict(self.file_cursor),
            "loki_start_ns": self.loki_start_ns,
            "raised": self.raised,
            "recovered": self.recovered,
            "raises": self.raises,
            "last_read": self.last_read,
            "watch_key": self.watch.key,  # to close what it raised once the watch is gone
        }
        return StateRow(self.key, "log", self.watch.service, {"service": self.watch.service}, state)

    def restore(self, rows: dict[str, StateRow]) -> set[str]:
        """Continue from the saved row of this watch; the key of the row it takes."""
        saved = rows.get(self.key)
        if saved is None:
            return {self.key}
        state = saved.state
        self.raises = int(state.get("raises", 0))
        if state.get(RETIRED):  # the watch was removed once: its raises go on counting
            return {self.key}
        self.detector = LogPatternDetector.restore(DetectorState.model_validate(state["detector"]))
        self.file_cursor = FileCursor(**state.get("file_cursor", {}))
        self.loki_start_ns = state.get("loki_start_ns")
        self.raised = dict(state.get("raised") or {})
        recovered = state.get("recovered") or {}
        self.recovered = {k: [float(v[0]), float(v[1])] for k, v in recovered.items()}
        self.last_read = state.get("last_read")
        return {self.key}


def retired_log_events(row: StateRow, ctx: EventContext, reason: str) -> list[Event]:
    """The ends of the patterns a log watch's saved row had raised, once no watch takes
    the row (``reason`` says why)."""
    if row.kind != "log" or row.state.get(RETIRED):
        return []
    watch_key = row.state.get("watch_key")
    if watch_key is None:  # saved before rows named their watch: the key may be cut short
        watch_key = row.key.removeprefix("log:")
        if len(row.key) >= _MAX_KEY and row.state.get("raised"):
            log.warning("log watch row %r: its watch is unknown, what it raised stays", row.key)
            return []
    events = []
    for _, saved in sorted((row.state.get("raised") or {}).items()):
        signal = _signal(saved)
        alarm = RetiredAlarm(
            "log_pattern", watch_key, log_labels(signal), signal.service, _occurrence(saved)
        )
        events.append(retired_event(ctx, alarm, reason))
    return events


def log_tombstone(row: StateRow) -> StateRow | None:
    """What is kept of a retired log watch's row: the count of its raises, which name
    their events (were the watch added again and counted from 1, its first alarms would
    be taken for ones already received and dropped). None: nothing to keep or already
    kept."""
    if row.kind != "log" or row.state.get(RETIRED):
        return None
    state = {RETIRED: True, "raises": int(row.state.get("raises", 0))}
    return StateRow(row.key, "log", row.watch, dict(row.labels), state)
