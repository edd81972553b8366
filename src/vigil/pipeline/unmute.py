"""When a silence or maintenance window ends, the alerts it muted that still fire page.

Alertmanager notifies an alert whose silence is over at its next evaluation; Vigil's own
silences must do the same, or an alert that fired during a deploy's silence and never
stopped would stay out of every incident (a sender's repeats of it are redeliveries, and
the body of a repeated notification is often byte for byte the first one). So, every few
seconds, the processor asks :class:`MuteLifter` to look over the firing events that were
muted by something no longer in force: each is judged again at that moment, and one that
nothing mutes any more is marked unmuted and handed to the stages after the store stage
(correlation), as if it had just arrived. One that another silence now covers keeps
being muted, under that silence's name. An event older than the intake's age limit is
left alone (as intake would refuse it).

Several workers may lift at once: the marker is changed only where it is still the one
read, so an event is handed on by one of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from vigil.events import Event
from vigil.pipeline import repository
from vigil.pipeline.base import Item, Stage, StageContext
from vigil.pipeline.sequence import Outcome, Sequence
from vigil.pipeline.silence import SilenceStage

__all__ = ["MuteLifter"]


class MuteLifter:
    """Correlates the muted alerts still firing once nothing mutes them (see module)."""

    def __init__(
        self,
        silence: SilenceStage,
        then: Iterable[Stage],
        max_age: timedelta,
        batch: int = 500,
    ) -> None:
        self._silence, self._then = silence, Sequence(then)
        self._max_age, self._batch = max_age, batch

    @classmethod
    def after_store(cls, sequence: Sequence, max_age: timedelta) -> MuteLifter | None:
        """For a pipeline with a silence stage: what follows its store stage gets the
        lifted alerts. None when the pipeline mutes nothing."""
        names = [stage.name for stage in sequence.stages]
        silence = next((s for s in sequence.stages if isinstance(s, SilenceStage)), None)
        if silence is None or "store" not in names:
            return None
        return cls(silence, sequence.stages[names.index("store") + 1 :], max_age)

    async def __call__(self, ctx: StageContext) -> Outcome:
        """Lift what no longer is muted at `ctx.now`; no commit (the caller's)."""
        now = ctx.now
        silences = await self._silence.silences(ctx.session, now)
        in_force = self._silence.in_force(silences, now)
        rows = await repository.muted_firing(
            ctx.session, in_force, now - self._max_age, self._batch
        )
        changes: list[tuple[dict[str, Any], str | None]] = []
        items: dict[str, Item] = {}
        for row in rows:
            item = _item(row, now)
            muter = self._silence.muter(item.event, silences, now)
            changes.append((row, muter))
            if muter is None:
                items[row["id"]] = item
        changed = await repository.remark_muted(ctx.session, changes)
        lifted = [item for event_id, item in items.items() if event_id in changed]
        return await self._then(lifted, ctx)


def _item(row: dict[str, Any], now: datetime) -> Item:
    """The stored alert as an item past the store stage, stamped `now`: it pages now."""
    event = Event(
        tenant_id=row["tenant_id"],
        source=row["source"],
        event_type=row["event_type"],
        ts=max(row["ts"], now),
        received_at=row["received_at"],
        entity=row["entity"],
        severity=row["severity"],
        status=row["status"],
        title=row["title"],
        description=row["description"],
        labels=row["labels"],
        correlation_ids=row["correlation_ids"],
        fingerprint=row["fingerprint"],
        ingest_id=row["last_ingest_id"],
        schema_version=row["schema_version"],
        raw=row["raw"],
    )
    return Item(
        event=event,
        enrichment=row["enrichment"],
        priority=row["priority"],
        event_id=row["id"],
        status=row["status"],
        folded=True,
    )
