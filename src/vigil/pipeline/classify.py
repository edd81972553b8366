"""Classify stage: severity and service tier (or a configured rule) give the priority P0-P3."""

from __future__ import annotations

from collections.abc import Sequence

from vigil.events import Severity
from vigil.pipeline.base import Batch, Item, StageContext
from vigil.pipeline.matchers import event_labels, matches
from vigil.platform.settings import PriorityRule

__all__ = ["ClassifyStage", "default_priority"]

# Rows: tier 1 (most critical) to 3 (default for unknown services); columns: severity.
_MATRIX: dict[int, dict[Severity, str]] = {
    1: {Severity.CRITICAL: "P0", Severity.ERROR: "P1", Severity.WARNING: "P2", Severity.INFO: "P3"},
    2: {Severity.CRITICAL: "P1", Severity.ERROR: "P1", Severity.WARNING: "P2", Severity.INFO: "P3"},
    3: {Severity.CRITICAL: "P1", Severity.ERROR: "P2", Severity.WARNING: "P3", Severity.INFO: "P3"},
}


def default_priority(severity: Severity, tier: int | None) -> str:
    """The priority matrix: a critical alert on a tier-1 service is P0."""
    return _MATRIX.get(tier or 3, _MATRIX[3])[severity]


class ClassifyStage:
    """First matching priority rule wins; otherwise the severity x tier matrix."""

    name = "classify"
    transactional = False

    def __init__(self, rules: Sequence[PriorityRule]) -> None:
        self._rules = list(rules)

    async def __call__(self, batch: Batch, ctx: StageContext) -> Batch:
        return [self._classify(item) for item in batch]

    def _classify(self, item: Item) -> Item:
        if self._rules:
            labels = event_labels(item.event)
            for rule in self._rules:
                if matches(rule.matchers, labels):
                    item.priority = rule.priority
                    return item
        item.priority = default_priority(item.event.severity, item.enrichment.get("tier"))
        return item
