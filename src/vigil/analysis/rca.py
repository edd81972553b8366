"""One call from a telemetry bundle and an anomaly boundary to ranked root causes."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict

from vigil.analysis.evidence import Evidence, RobustScale
from vigil.analysis.log_evidence import log_evidence
from vigil.analysis.metric_evidence import metric_evidence
from vigil.analysis.ranking import RankedCause, RankingOptions, rank_services
from vigil.analysis.trace_evidence import enriched, trace_evidence
from vigil.telemetry.bundle import TelemetryBundle

__all__ = ["EmptyWindowError", "RcaResult", "analyze_bundle", "check_window"]


class RcaResult(BaseModel):
    """Ranked causes plus all the evidence they cite."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    causes: list[RankedCause]
    evidence: list[Evidence]


class EmptyWindowError(ValueError):
    """The bundle holds no row at or after the anomaly boundary: nothing to analyse."""


def check_window(bundle: TelemetryBundle, boundary: datetime) -> None:
    """Raise :class:`EmptyWindowError` when no row of ``bundle`` is at or after
    ``boundary``: an answer of "no cause" would hide that the window holds no data."""
    latest, boundary = bundle.latest(), boundary.astimezone(UTC)
    if latest is None or latest < boundary:
        held = f"its last row is at {latest:%Y-%m-%d %H:%M:%S}Z" if latest else "it is empty"
        raise EmptyWindowError(
            f"no telemetry at or after the start {boundary:%Y-%m-%d %H:%M:%S}Z ({held})"
        )


def analyze_bundle(
    bundle: TelemetryBundle,
    boundary: datetime,
    ranking: RankingOptions | None = None,
    floors: RobustScale | None = None,
) -> RcaResult:
    """Extract metric, trace and log evidence around ``boundary`` and rank services.

    Data before ``boundary`` (and the bundle's ``reference``) is the baseline; data from
    ``boundary`` on is the incident window. Missing modalities simply yield no evidence
    (nothing at all: no causes; :func:`check_window` tells a caller beforehand).
    """
    reference = bundle.reference
    found = metric_evidence(bundle.metrics, boundary, floors)
    # Self time, callers and requests are worked out once for the trace and log evidence.
    spans = enriched(bundle.spans)
    spans_ref = enriched(reference.spans) if reference is not None else None
    trace_found, learned = trace_evidence(spans, spans_ref, boundary, floors)
    logs_ref = reference.logs if reference is not None else None
    found += trace_found + log_evidence(bundle.logs, logs_ref, spans, boundary, spans_ref)
    edges = set(bundle.edges) | learned
    found = [e for e in found if e.service]  # rows without a service blame no one
    causes = rank_services(found, edges, ranking)
    cited = {i for cause in causes for i in cause.evidence_ids}
    return RcaResult(causes=causes, evidence=[e for e in found if e.id in cited])
