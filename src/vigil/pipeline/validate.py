"""Validate stage: semantic checks the schema cannot make (clock skew, age, storability)."""

from __future__ import annotations

from datetime import timedelta

import orjson

from vigil.events import Event
from vigil.pipeline.base import Batch, Item, StageContext, StageFailure

__all__ = ["ValidateStage"]

# Longest entity value the events table stores (`service` is VARCHAR(255)).
MAX_ENTITY_VALUE = 255


def _storable(event: Event) -> tuple[str, str] | None:
    """What no backend can store faithfully: NUL characters (Postgres refuses them in text
    and JSON) and over-long entity values. Checked here so SQLite and Postgres agree."""
    for name, value in (("title", event.title), ("description", event.description)):
        if "\x00" in value:
            return name, "contains a NUL character"
    for key, value in event.labels.items():
        if not key or len(key) > MAX_ENTITY_VALUE:
            return "labels", f"label name {key[:40]!r} must be 1-255 characters"
        if "\x00" in key or "\x00" in value:
            return f"labels.{key.replace(chr(0), '')}", "contains a NUL character"
    for field, value in event.entity.model_dump(exclude_none=True).items():
        if len(value) > MAX_ENTITY_VALUE or "\x00" in value:
            return f"entity.{field}", "must be at most 255 characters without NUL"
    if b"\\u0000" in orjson.dumps(event.raw):
        return "raw", "the vendor payload contains a NUL character"
    return None


class ValidateStage:
    """Refuses events from the future (beyond skew), too old to matter, without a title, or
    that could not be stored the same way on every backend."""

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
        else:
            problem = _storable(event)
        if problem is not None:
            item.failure = StageFailure(self.name, *problem)
        return item
