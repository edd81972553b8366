"""Novelty of a metric's values: new all-time extremes and never-seen value transitions.

Two cheap, label-free signals that complement the residual of a forecast:

* **range novelty** -- the value leaves the range seen so far by more than a small
  fraction of that range (HTM's "spatial anomaly");
* **transition novelty** -- the value's level (the range cut into equal bins) follows the
  previous level in a way never seen before, both point to point and between the means of
  consecutive blocks of points (a slower pattern), like the contexts of CAD OSE.

Memory is bounded: at most ``(levels + 2)^2 + (block_levels + 2)^2`` counters.
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


class NoveltyTracker:
    """Range and transition novelty of one series, one value at a time."""

    __slots__ = ("block_n", "block_sum", "cells", "hmax", "hmin", "prev_b", "prev_q", "seen")

    def __init__(self) -> None:
        self.seen = 0
        self.hmin = 0.0
        self.hmax = 0.0
        self.cells: dict[int, int] = {}
        self.prev_q = 0
        self.prev_b = 0
        self.block_sum = 0.0
        self.block_n = 0

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
        span = self.hmax - self.hmin
        if span > 0:
            if self._transition(value, span, o) and deviation >= o.novel_min_z:
                surprise = o.novel_base
            over = max(value - self.hmax, self.hmin - value) / span
            if over > o.range_tol:
                surprise, extreme = max(surprise, o.range_base + o.range_gain * over), True
        self.hmin, self.hmax = min(self.hmin, value), max(self.hmax, value)
        return surprise, extreme

    def _level(self, value: float, span: float, levels: int) -> int:
        return min(max(int(levels * (value - self.hmin) / span), -1), levels)

    def _count(self, key: int) -> int:
        count = self.cells.get(key, 0)
        self.cells[key] = count + 1
        return count

    def _transition(self, value: float, span: float, o: NoveltyOptions) -> bool:
        """Count this point's transitions; true when one of them was never seen."""
        ready = self.seen > o.novel_after
        q = self._level(value, span, o.levels)
        novel = self._count(self.prev_q * (o.levels + 2) + q) == 0 and ready
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
        self.prev_b = b
        return (self._count(key) == 0 and ready) or novel

    def state(self) -> dict[str, Any]:
        """JSON-serialisable snapshot (counter keys become strings)."""
        state: dict[str, Any] = {name: getattr(self, name) for name in self.__slots__}
        state["cells"] = {str(k): v for k, v in self.cells.items()}
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> NoveltyTracker:
        """Rebuild from :meth:`state`."""
        tracker = cls()
        for name in cls.__slots__:
            setattr(tracker, name, state[name])
        tracker.cells = {int(k): int(v) for k, v in state["cells"].items()}
        return tracker
