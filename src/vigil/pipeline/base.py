"""The Stage protocol, the Item a batch is made of, and the context stages receive."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from vigil.events import Event

__all__ = ["Batch", "Item", "Stage", "StageContext", "StageFailure", "StoredRef"]


@dataclass(frozen=True, slots=True)
class StageFailure:
    """Why a stage refused an item; the item goes to the dead letters with this."""

    stage: str
    field: str
    reason: str


@dataclass(frozen=True, slots=True)
class StoredRef:
    """The stored event a new one folds into (found by the dedup stage)."""

    id: str
    row: dict[str, Any]


@dataclass(slots=True)
class Item:
    """One event on its way through the pipeline, with what the stages learned of it.

    Stages annotate items in place (the event itself is frozen) and return the batch."""

    event: Event
    intake_id: str | None = None
    existing: StoredRef | None = None
    enrichment: dict[str, Any] = field(default_factory=dict)
    priority: str | None = None
    silenced_by: str | None = None
    event_id: str | None = None
    # The stored event's status once this item is applied (a late repeat may not change it).
    status: str | None = None
    folded: bool = False
    dropped: str | None = None
    failure: StageFailure | None = None

    @property
    def live(self) -> bool:
        return self.dropped is None and self.failure is None


Batch = list[Item]


@dataclass(frozen=True, slots=True)
class StageContext:
    """What a stage may use: the unit of work's session and the time of this run."""

    session: AsyncSession
    now: datetime


class Stage(Protocol):
    """One step of the pipeline.

    Receives only live items and returns every item it was given, each either unchanged,
    annotated, dropped (`dropped=reason`) or failed (`failure=StageFailure`). It must not
    commit. A stage with `transactional = True` writes to the database: its exceptions
    abort the unit of work instead of being isolated item by item.
    """

    name: str
    transactional: bool

    async def __call__(self, batch: Batch, ctx: StageContext) -> Batch: ...
