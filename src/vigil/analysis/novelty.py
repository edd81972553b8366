"""Novelty of a metric's values: new all-time extremes, never-seen value transitions, and
values never seen at this time of the week.

Three cheap, label-free signals that complement the residual of a forecast:

* **range novelty** -- the value leaves the range seen so far by more than a small
  fraction of that range (HTM's "spatial anomaly");
* **transition novelty** -- the value's level (the range cut into equal bins) follows the
  previous level in a way never seen before, both point to point and between the means of
  consecutive blocks of points (a slower pattern), like the contexts of CAD OSE;
* **context novelty** -- the value leaves the range seen so far in its time-of-week slot
  (the baseline's weekly bin) by more than ``context_tol`` of the whole range: a quiet
  Monday morning that is normal on Sundays, a daily peak that did not come. Like the
  transitions, it counts only when the forecast missed the value too.

Memory is bounded: at most ``(levels + 2)^2 + (block_levels + 2)^2`` counters and one
``[low, high, count]`` triple per weekly slot (at most 336).
"""

from __future__ import annotations

from typing import Any

__all__ = ["NoveltyOptions", "NoveltyTracker"]

from pydantic import BaseModel, ConfigDict

_BLOCK_KEYS = 1_000_000  # block transitions live above this key offset


class NoveltyOptions(BaseModel):
    """Sizes and strengths of the novelty signals (surprise units, see the detector)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    range_tol: float = 0.005
    range_base: float = 15.0
    range_gain: float = 10.0
    levels: int = 20
    block: int = 12
    block_levels: int = 30
    novel_base: float = 3.0
    novel_after: int = 50
    novel_min_z: float = 4.0
    # Context novelty: 10x the range tolerance, because a slot holds far fewer values than
    # the whole history; a slot is known once it holds a handful of values. NAB is lumpy
    # here: tolerances of 0.03 or 0.08 score ~2-3 points lower (standard) than 0.05.
    context_tol: float = 0.05
    context_min_seen: int = 4
    context_base: float = 3.0


class NoveltyTracker:
    """Range, transition and context novelty of one series, one value at a time."""

    __slots__ = (
        "block_n", "block_sum", "cells", "hmax", "hmin", "prev_b", "prev_q", "seen", "slots",
    )  # fmt: skip

    def __init__(self) -> None:
        self.seen = 0
        self.hmin = 0.0
        self.hmax = 0.0
        self.cells: dict[int, int] = {}
        self.prev_q = 0
        self.prev_b = 0
        self.block_sum = 0.0
        self.block_n = 0
        self.slots: dict[int, list[float]] = {}  # weekly slot -> [low, high, count]

    def observe(self, value: float, deviation: float, o: NoveltyOptions) -> tuple[float, bool]:
        """Surprise of ``value`` (0 when nothing is new) and whether it is a new extreme.

        ``deviation`` is the point's absolute residual in robust sigmas: a never-seen
        transition is surprising only when the forecast missed it too (``novel_min_z``).
        """
        self.seen += 1
        if self.seen == 1:
            self.hmin = self.hmax = value
            return 0.0, False
        surprise, extreme = 0.0, False
        low, high = self.hmin, self.hmax
        span = high - low
        if span > 0:
            if self._transition(value, span, o) and deviation >= o.novel_min_z:
                surprise = o.novel_base
            over = (value - high if value - high >= low - value else low - value) / span
            if over > o.range_tol:
                surprise, extreme = max(surprise, o.range_base + o.range_gain * over), True
        if value < low:
            self.hmin = value
        elif value > high:
            self.hmax = value
        return surprise, extreme

    def context(self, value: float, deviation: float, slot: int, o: NoveltyOptions) -> float:
        """Surprise of ``value`` in its time-of-week ``slot`` (-1: no slots yet), then learn it.

        Call before :meth:`observe` for the same point: the whole range it compares with is
        the one seen before this value.
        """
        if slot < 0:
            return 0.0
        cell = self.slots.get(slot)
        if cell is None:
            self.slots[slot] = [value, value, 1.0]
            return 0.0
        low, high, count = cell
        surprise = 0.0
        if count >= o.context_min_seen and deviation >= o.novel_min_z:
            span = self.hmax - self.hmin
            if span > 0 and max(value - high, low - value) > o.context_tol * span:
                surprise = o.context_base
        cell[0], cell[1], cell[2] = min(low, value), max(high, value), count + 1.0
        return surprise

    def _level(self, value: float, span: float, levels: int) -> int:
        x = levels * (value - self.hmin) / span  # clamped before int(): may be infinite
        return -1 if x < -1 else (levels if x > levels else int(x))

    def _transition(self, value: float, span: float, o: NoveltyOptions) -> bool:
        """Count this point's transitions; true when one of them was never seen."""
        ready = self.seen > o.novel_after
        cells = self.cells
        q = self._level(value, span, o.levels)
        key = self.prev_q * (o.levels + 2) + q
        count = cells.get(key, 0)
        cells[key] = count + 1
        novel = count == 0 and ready
        self.prev_q = q
        if o.block <= 0:
            return novel
        self.block_sum += value
        self.block_n += 1
        if self.block_n < o.block:
            return novel
        b = self._level(self.block_sum / o.block, span, o.block_levels)
        self.block_sum, self.block_n = 0.0, 0
        key = _BLOCK_KEYS + self.prev_b * (o.block_levels + 2) + b
        count = cells.get(key, 0)
        cells[key] = count + 1
        self.prev_b = b
        return (count == 0 and ready) or novel

    def state(self) -> dict[str, Any]:
        """JSON-serialisable snapshot (counter keys become strings)."""
        state: dict[str, Any] = {name: getattr(self, name) for name in self.__slots__}
        state["cells"] = {str(k): v for k, v in self.cells.items()}
        state["slots"] = {str(k): list(v) for k, v in self.slots.items()}
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> NoveltyTracker:
        """Rebuild from :meth:`state`."""
        tracker = cls()
        for name in cls.__slots__:
            if name in state:  # states saved before context novelty have no slots
                setattr(tracker, name, state[name])
        tracker.cells = {int(k): int(v) for k, v in state["cells"].items()}
        tracker.slots = {int(k): [float(x) for x in v] for k, v in state.get("slots", {}).items()}
        return tracker
