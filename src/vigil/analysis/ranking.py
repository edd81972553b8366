"""Rank candidate root-cause services from evidence, discounting explained symptoms.

Scoring, step by step (all constants are the documented defaults of
:class:`RankingOptions`; none is fitted to labelled data):

1. **Families.** Each evidence item falls into a family (see :mod:`fault_kind`): local
   ones that point at the service itself (``cpu``, ``memory``, ``network``, ``latency`` =
   self time, ``error``, ``code``, ``log``) and ``symptom`` (latency percentiles,
   throughput, syscalls, ...), which every caller of a faulty service shows too.
   Per service and family only the strongest item counts, squashed as
   ``log1p(max(strength - threshold, 0))`` so one extreme value cannot dominate alone,
   then weighted per family (direct fault signals 1.0, indirect ones less).
   Resource families (``cpu``, ``memory``) are then multiplied by the share of headroom
   the rise consumed when a percentage-of-limit metric says so (``headroom_used``, see
   :mod:`metric_evidence`): a resource fault starves the service, so a rise from 1 % to
   8 % CPU, however many sigmas, is weak evidence next to one that reaches the limit.
   Without a percentage metric the factor is 1.
   The ``network`` family is special: a delay at a service slows every call *into* it,
   so its network score is the strongest incoming link times the share of its
   incoming links that are anomalous (links that did not slow down, ``down`` items,
   count in that share too).
   Then each family's median over all services is subtracted ("the weather"): a shift
   that most services show at once (load change, noisy percentiles) points at none.
   (Only with at least ``WEATHER_MIN_SERVICES`` services; with fewer, the median is one
   of the suspects itself.)
2. **Counterfactual discount along the call graph.** A caller's symptoms are what we
   would expect if a service it calls were faulty. For each service ``s`` we take the
   strongest total score ``T_d`` among its direct callees and discount the symptom part
   of ``s`` by ``min(1, T_d / T_s)``: if a dependency alone shows as much as ``s``,
   ``s``'s symptoms no longer count and only its local evidence remains. (Direct callees
   only: in a large graph some distant service is always noisy, and self-time and
   callee-attributed network evidence already keep local blame where it belongs.)
   (Discounting a caller's changed code path by its callees' defects was tried and
   dropped: a caller's wrong value also changes what its callees are asked, so defects
   travel down the graph as well as up, and the discount cost as many cases as it won.)
3. **Score** = local part + discounted symptom part; ties are broken by name.
"""

from __future__ import annotations

import math
from collections import defaultdict

import networkx as nx
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from vigil.analysis.evidence import Evidence
from vigil.analysis.fault_kind import SYMPTOM, FaultKind, classify, family_of, headroom

__all__ = ["RankedCause", "RankingOptions", "rank_services"]

# Families a caller shows when its callee fails; everything else is treated as local.
PROPAGATING = frozenset({SYMPTOM})
# With fewer services, the median of a family is one of the suspects itself.
WEATHER_MIN_SERVICES = 5


class RankingOptions(BaseModel):
    """Documented defaults of the ranking."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    threshold: float = 3.0
    """Robust sigmas below which evidence is treated as noise."""
    weights: dict[str, float] = Field(
        default_factory=lambda: {
            "cpu": 1.0,
            "memory": 1.0,
            "network": 1.0,
            "error": 1.0,
            "code": 1.0,
            "log": 0.5,
            "latency": 0.5,
            SYMPTOM: 0.25,
        }
    )
    """Weight per family: direct fault signals count fully, indirect ones less."""
    top: int = 10
    """How many causes to return."""


class RankedCause(BaseModel):
    """A candidate root cause with its fault kind, score, evidence and explanation."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    service: str
    kind: FaultKind
    score: float
    evidence_ids: list[str]
    explanation: str


def _squash(strength: float, threshold: float) -> float:
    return math.log1p(max(strength - threshold, 0.0))


def _family_scores(
    evidence: list[Evidence], options: RankingOptions, used: dict[str, dict[str, float]]
) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, Evidence]]]:
    best: dict[str, dict[str, Evidence]] = defaultdict(dict)
    links: dict[str, list[float]] = defaultdict(list)
    for item in evidence:
        family = family_of(item)
        if item.kind == "network_latency":
            # Every incoming link counts in the share; only slower ones add to it.
            slower = family == "network"
            links[item.service].append(_squash(item.strength, options.threshold) * slower)
        current = best[item.service].get(family)
        if current is None or item.strength > current.strength:
            best[item.service][family] = item
    scores: dict[str, dict[str, float]] = defaultdict(dict)
    for service, families in best.items():
        for family, item in families.items():
            scores[service][family] = _squash(item.strength, options.threshold)
    for service, shares in used.items():
        for family, share in shares.items():
            if family in scores[service]:
                scores[service][family] *= share
    for service, values in links.items():
        share = sum(1 for v in values if v > 0) / len(values)
        if max(values) > 0:
            scores[service]["network"] = max(values) * share
    _remove_weather(scores)
    for weighted in scores.values():
        for family in weighted:
            weighted[family] *= options.weights.get(family, 1.0)
    return scores, best


def _by_service(evidence: list[Evidence]) -> dict[str, list[Evidence]]:
    grouped: dict[str, list[Evidence]] = defaultdict(list)
    for item in evidence:
        grouped[item.service].append(item)
    return grouped


def _remove_weather(scores: dict[str, dict[str, float]]) -> None:
    """Subtract each family's median over all services: what everyone shows is not a cause."""
    if len(scores) < WEATHER_MIN_SERVICES:
        return
    families = {f for values in scores.values() for f in values}
    for family in families:
        level = float(np.median([values.get(family, 0.0) for values in scores.values()]))
        for values in scores.values():
            if family in values:
                values[family] = max(values[family] - level, 0.0)


def _part(families: dict[str, float], chosen: frozenset[str]) -> float:
    return sum(v for f, v in families.items() if f in chosen)


def _discounts(
    scores: dict[str, dict[str, float]], edges: set[tuple[str, str]]
) -> dict[str, float]:
    """Per service: ``min(1, strongest direct callee's total / own total)``."""
    graph: nx.DiGraph = nx.DiGraph()
    graph.add_edges_from(edges)
    total = {s: sum(f.values()) for s, f in scores.items()}
    discounts: dict[str, float] = {}
    for service in scores:
        below = set(graph.successors(service)) if service in graph else set()
        strongest = max((total.get(d, 0.0) for d in below), default=0.0)
        own = total[service]
        if strongest <= 0:
            discounts[service] = 0.0
        else:
            discounts[service] = 1.0 if own <= 0 else min(1.0, strongest / own)
    return discounts


def _explain(service: str, kind: str, items: list[Evidence], discount: float) -> str:
    """``items``: strongest first."""
    parts = [f"{e.kind} on {e.signal} ({e.direction} {e.strength:.1f} sigma)" for e in items[:4]]
    text = f"{service} is a likely {kind} fault: " + "; ".join(parts) + "."
    if discount > 0:
        text += (
            f" Its symptoms were discounted by {discount:.0%} because services it depends"
            " on show comparable local anomalies."
        )
    return text


def rank_services(
    evidence: list[Evidence],
    edges: set[tuple[str, str]],
    options: RankingOptions | None = None,
) -> list[RankedCause]:
    """Rank services by combined, propagation-discounted evidence, best first."""
    opts = options or RankingOptions()
    by_service = _by_service(evidence)
    used = {service: headroom(items) for service, items in by_service.items()}
    scores, best = _family_scores(evidence, opts, used)
    discounts = _discounts(scores, edges)
    causes = []
    for service, families in scores.items():
        local = sum(v for f, v in families.items() if f not in PROPAGATING)
        score = local + _part(families, PROPAGATING) * (1.0 - discounts[service])
        items = sorted(best[service].values(), key=lambda e: -e.strength)
        # Cited: what stood out (a link that did not slow down is counted, not cited).
        items = [e for e in items if e.strength > opts.threshold] or items
        kind = classify(by_service.get(service, []), families, used.get(service, {}))
        causes.append(
            RankedCause(
                service=service,
                kind=kind,
                score=round(score, 6),
                evidence_ids=[e.id for e in items],
                explanation=_explain(service, kind, items, discounts[service]),
            )
        )
    causes.sort(key=lambda c: (-c.score, c.service))
    return causes[: opts.top]
