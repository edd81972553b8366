"""Push a labelled alert-storm corpus through Vigil's real pipeline and score the incidents."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import orjson
import sqlalchemy as sa
import yaml

from vigil.incidents.tables import incident_members, incidents
from vigil.interfaces.evaluation.correlation import (
    GroupingReport,
    alertmanager_groups,
    score_grouping,
)
from vigil.interfaces.runtime import Runtime, RuntimeFactory
from vigil.platform import Settings
from vigil.testing.alert_corpus import AlertCorpus
from vigil.testing.clock import FakeClock

__all__ = ["CorrelationRun", "evaluate_correlation", "predicted_groups", "replay_corpus"]

_TENANT = "eval"


async def replay_corpus(corpus: AlertCorpus, runtime: Runtime, clock: FakeClock) -> None:
    """Each request through the intake, at its send time, processed before the next."""
    for request in corpus.requests:
        clock.set(corpus.sent_at(request))
        await runtime.intake.accept(
            request.source, orjson.dumps(request.body), tenant_id=_TENANT, headers={}
        )
        await runtime.processor.drain()


async def predicted_groups(runtime: Runtime, tenant: str = _TENANT) -> dict[str, str]:
    """Fingerprint -> the first incident its alert joined."""
    query = (
        sa.select(incident_members.c.fingerprint, incident_members.c.incident_id)
        .join(incidents, incidents.c.id == incident_members.c.incident_id)
        .where(incident_members.c.tenant_id == tenant)
        .order_by(incident_members.c.attached_at, incidents.c.id)
    )
    found: dict[str, str] = {}
    async with runtime.db.session() as session:
        for fingerprint, incident_id in (await session.execute(query)).all():
            found.setdefault(fingerprint, incident_id)
    return found


@dataclass(frozen=True, slots=True)
class CorrelationRun:
    reports: list[GroupingReport]  # the Alertmanager baseline, then Vigil
    incidents: int
    seconds: float


async def evaluate_correlation(
    corpus: AlertCorpus, factory: RuntimeFactory, settings: Settings
) -> CorrelationRun:
    """Replay `corpus` into a fresh SQLite database (settings' other knobs apply) and
    score the incidents next to Alertmanager's own grouping."""
    with tempfile.TemporaryDirectory(prefix="vigil-eval-") as folder:
        catalog = Path(folder) / "catalog.yaml"
        catalog.write_text(yaml.safe_dump(corpus.catalog.model_dump(mode="json")))
        overrides = {"database_url": f"sqlite:///{Path(folder) / 'eval.db'}",
                     "catalog_path": catalog, "default_tenant": _TENANT}  # fmt: skip
        clock = FakeClock(corpus.start)
        runtime = factory(settings.model_copy(update=overrides), clock=clock)
        await runtime.start(background=False)
        try:
            started = time.perf_counter()
            await replay_corpus(corpus, runtime, clock)
            seconds = time.perf_counter() - started
            predicted = await predicted_groups(runtime)
        finally:
            await runtime.stop()
    reports = [
        score_grouping(corpus, alertmanager_groups(corpus), name="alertmanager group_by"),
        score_grouping(corpus, predicted, name="vigil"),
    ]
    return CorrelationRun(reports, len(set(predicted.values())), seconds)
