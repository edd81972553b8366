"""One log watch: where to read next (file offset or Loki time), its log pattern detector,
the patterns currently raised, and the state row to save. No I/O.

New templates and rate increases are raised; a raised pattern that no longer signals is
resolved. Rate decreases are not raised (a quiet template is rarely a problem alone).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from vigil.analysis.log_patterns import DetectorState, LogPatternDetector, LogSignal
from vigil.detection.alarms import EventContext, log_event
from vigil.detection.state import StateRow
from vigil.events import Event
from vigil.platform.detection_settings import DetectionSettings, LogWatch
from vigil.telemetry.logfiles import FileCursor, LogLine
from vigil.telemetry.loki import to_ns

__all__ = ["LogWatcher"]

_RAISED = frozenset({"new_template", "rate_increase"})


@dataclass
class LogWatcher:
    """State of one :class:`LogWatch` between passes."""

    watch: LogWatch
    settings: DetectionSettings
    detector: LogPatternDetector = field(default_factory=LogPatternDetector)
    file_cursor: FileCursor = field(default_factory=FileCursor)
    loki_start_ns: int | None = None
    raised: dict[str, dict[str, Any]] = field(default_factory=dict)  # template key -> signal

    @property
    def key(self) -> str:
        return f"log:{self.watch.key}"[:255]

    def loki_window(self, now: datetime) -> tuple[int, int]:
        """Nanosecond range to read next from Loki: after the last read, up to `now`."""
        end = to_ns(now - timedelta(seconds=self.settings.query_delay_seconds))
        lookback = timedelta(seconds=self.settings.initial_lookback_seconds)
        start = self.loki_start_ns if self.loki_start_ns is not None else to_ns(now - lookback)
        return start, max(start, end)

    def take(self, lines: list[LogLine], ctx: EventContext) -> list[Event]:
        """Observe the new lines, then raise and resolve patterns as of `ctx.now`."""
        for line in lines:
            text = line.line.replace("\x00", "")  # Postgres JSON refuses NUL characters
            self.detector.observe(line.ts or ctx.now, text, self.watch.service)
        signals = {s.template_key: s for s in self.detector.signals(ctx.now) if s.kind in _RAISED}
        events: list[Event] = []
        for key, signal in signals.items():
            if key not in self.raised:
                self.raised[key] = signal.model_dump(mode="json")
                events.append(log_event(self.watch.key, signal, ctx, firing=True))
        for key in sorted(set(self.raised) - set(signals)):
            signal = LogSignal.model_validate(self.raised.pop(key))
            events.append(log_event(self.watch.key, signal, ctx, firing=False))
        return events

    def row(self) -> StateRow:
        state = {
            "detector": self.detector.snapshot().model_dump(mode="json"),
            "file_cursor": {"inode": self.file_cursor.inode, "offset": self.file_cursor.offset},
            "loki_start_ns": self.loki_start_ns,
            "raised": self.raised,
        }
        return StateRow(self.key, "log", self.watch.service, {"service": self.watch.service}, state)

    def restore(self, rows: dict[str, StateRow]) -> None:
        saved = rows.get(self.key)
        if saved is None:
            return
        state = saved.state
        self.detector = LogPatternDetector.restore(DetectorState.model_validate(state["detector"]))
        self.file_cursor = FileCursor(**state.get("file_cursor", {}))
        self.loki_start_ns = state.get("loki_start_ns")
        self.raised = dict(state.get("raised") or {})
