"""Dedup stage: drop redeliveries and find the stored event a repeat folds into."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from vigil.pipeline import repository
from vigil.pipeline.base import Batch, Item, StageContext, StoredRef

__all__ = ["DedupStage"]


class DedupStage:
    """Same ingest id: a redelivery, dropped. Same fingerprint seen within `window` of its
    last sighting: a repeat, which the store stage folds into the stored event
    (occurrences, last seen, status) instead of adding a row. So does any occurrence of
    a fingerprint whose newest stored event still fires, however long ago it was seen."""

    name = "dedup"
    # It takes locks and reads what the store stage will write: a failure here is a
    # database failure of the whole unit of work.
    transactional = True

    def __init__(self, window: timedelta) -> None:
        self._window = window

    async def __call__(self, batch: Batch, ctx: StageContext) -> Batch:
        by_tenant: dict[str, list[int]] = defaultdict(list)
        for index, item in enumerate(batch):
            by_tenant[item.event.tenant_id].append(index)
        out = list(batch)
        for tenant_id, indexes in by_tenant.items():
            await self._tenant(tenant_id, indexes, out, ctx)
        return out

    async def _tenant(
        self, tenant_id: str, indexes: list[int], out: list[Item], ctx: StageContext
    ) -> None:
        # Lock first: the receipts and stored rows read below must not change under us.
        locked = sorted({out[i].event.fingerprint for i in indexes})
        await repository.lock_fingerprints(ctx.session, tenant_id, locked)
        ids = [out[i].event.ingest_id for i in indexes]
        known = await repository.known_receipts(ctx.session, tenant_id, ids)
        seen: set[str] = set()
        live: list[int] = []
        for i in indexes:
            ingest_id = out[i].event.ingest_id
            if ingest_id in known or ingest_id in seen:
                out[i].dropped = "redelivered"
            else:
                seen.add(ingest_id)
                live.append(i)
        fingerprints = sorted({out[i].event.fingerprint for i in live})
        since = ctx.now - self._window
        stored = await repository.latest_by_fingerprint(ctx.session, tenant_id, fingerprints, since)
        # An alert that still fires is the same alert however long ago it was last seen (a
        # sender's repeats of it are redeliveries and never refresh its sighting): a resolve
        # or a repeat folds into it, so one alert never has two firing rows.
        unmatched = sorted({fp for i in live if (fp := out[i].event.fingerprint) not in stored})
        if unmatched:
            stored |= await repository.latest_firing(ctx.session, tenant_id, unmatched)
        for i in live:
            row = stored.get(out[i].event.fingerprint)
            if row is not None:
                out[i].existing = StoredRef(id=row["id"], row=dict(row))
