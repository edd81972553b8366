"""Validate stage: semantic checks the schema cannot make (clock skew, age, empty title)."""

from __future__ import annotations

from datetime import timedelta

from vigil.pipeline.base import Batch, Item, StageContext, StageFailure

__all__ = ["ValidateStage"]


class ValidateStage:
    """Refuses events from the future (beyond skew), too old to matter, or without a title."""

    name = "validate"
    transactional = False

    def __init__(self, *, max_future_skew: timedelta, max_age: timedelta) -> None:
        self._skew = max_future_skew
        self._max_age = max_age

    async def __call__(self, batch: Batch, ctx: StageContext) -> Batch:
        return [self._check(item, ctx) for item in batch]

    def _check(self, item: Item, ctx: StageContext) -> Item:
        event = item.event
        problem: tuple[str, str] | None = None
        if not event.title.strip():
            problem = ("title", "is empty")
        elif event.ts > ctx.now + self._skew:
            problem = ("ts", f"{event.ts.isoformat()} is more than {self._skew} in the future")
        elif event.ts < ctx.now - self._max_age:
            problem = ("ts", f"{event.ts.isoformat()} is older than {self._max_age}")
        elif any(not key or len(key) > 255 for key in event.labels):
            problem = ("labels", "label names must be 1-255 characters")
        if problem is not None:
            item.failure = StageFailure(self.name, *problem)
        return item
