"""Enrich stage: attach owner team, tier, dependencies, runbook and repository."""

from __future__ import annotations

from typing import Any

from vigil.pipeline.base import Batch, Item, StageContext
from vigil.pipeline.catalog import ServiceCatalog

__all__ = ["EnrichStage"]


class EnrichStage:
    """Looks the event's service up in the catalogue; unknown services are marked so.

    A service named by one of its aliases is stored, filtered and correlated under the
    catalogue's name (the alias stays in the event's labels): `pg-main` and
    `postgres-main` are one service, or aliases would be for nothing."""

    name = "enrich"
    transactional = False

    def __init__(self, catalog: ServiceCatalog) -> None:
        self._catalog = catalog

    async def __call__(self, batch: Batch, ctx: StageContext) -> Batch:
        return [self._enrich(item) for item in batch]

    def _enrich(self, item: Item) -> Item:
        event = item.event
        info = self._catalog.get(event.entity.service)
        enrichment: dict[str, Any] = {"known_service": info is not None}
        if info is not None and info.name != event.entity.service:
            entity = event.entity.model_copy(update={"service": info.name})
            event = item.event = event.model_copy(update={"entity": entity})
        if info is not None:
            enrichment.update(
                service=info.name,
                team=info.team,
                tier=info.tier,
                dependencies=list(info.dependencies),
                runbook_url=info.runbook_url,
                repository=info.repository,
            )
        # A runbook named by the alert itself beats the catalogue's default.
        annotations = event.raw.get("annotations")
        if isinstance(annotations, dict) and isinstance(annotations.get("runbook_url"), str):
            enrichment["runbook_url"] = annotations["runbook_url"]
        item.enrichment = enrichment
        return item
