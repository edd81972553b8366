"""Correlation: does a new alert belong to an incident already open, and why?

An alert joins an incident when it belongs to the same failure, judged by the strongest of
these, in order: the same Alertmanager group key, the same alert family (its identity
labels without instance-level ones), the same service, a shared change or trace id, or a
service next to one of the incident's in the dependency graph; always within the time
window of the incident's latest activity (repeats keep a long failure active). A resolved
incident may be matched (and is then reopened) within the flap window after it resolved,
by the three strongest reasons only.
Pure: the stage feeds it what the database holds.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import IntEnum

import networkx as nx

from vigil.incidents.lifecycle import ACTIVE_STATES, IncidentState

__all__ = [
    "INSTANCE_LABELS",
    "CorrelationWindow",
    "IncidentView",
    "Match",
    "MemberView",
    "ReasonKind",
    "ServiceGraph",
    "Signal",
    "alert_family",
    "best_match",
]

# Labels that tell instances of one alert apart; the family is what is left.
INSTANCE_LABELS = frozenset(
    {"instance", "pod", "pod_name", "container", "host", "hostname", "node", "replica",
     "endpoint", "ip", "uid", "id", "job_id", "device", "mountpoint", "fstype"}
)  # fmt: skip


class ReasonKind(IntEnum):
    """Why an alert was grouped; lower is stronger evidence of the same failure."""

    GROUP_KEY = 0
    FAMILY = 1
    SERVICE = 2
    CHANGE = 3
    DEPENDENCY = 4

    @property
    def label(self) -> str:
        return self.name.lower()


def alert_family(labels: Mapping[str, str], service: str | None, title: str) -> str:
    """A stable id of the alert without its instance: same rule on another pod, same family."""
    kept = sorted((k, v) for k, v in labels.items() if k not in INSTANCE_LABELS)
    if not kept:
        kept = [("title", title), ("service", service or "")]
    text = "\n".join(f"{k}={v}" for k, v in kept)
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


@dataclass(frozen=True, slots=True)
class Signal:
    """What correlation needs to know of one stored alert."""

    event_id: str
    fingerprint: str
    family: str
    service: str | None
    group_key: str | None
    change_keys: frozenset[str]
    ts: datetime
    firing: bool
    title: str


@dataclass(slots=True)
class MemberView:
    """One alert of an incident, with the attributes the incident's matching uses."""

    event_id: str
    fingerprint: str
    family: str
    service: str | None
    group_key: str | None
    change_keys: frozenset[str]
    severity: str
    priority: str
    firing: bool
    attached_at: datetime
    reason_kind: str
    reason: str


@dataclass(slots=True)
class IncidentView:
    """An incident as correlation sees it: state, activity and members."""

    id: str
    state: IncidentState
    last_activity: datetime
    resolved_at: datetime | None
    opener: str
    members: dict[str, MemberView] = field(default_factory=dict)

    @property
    def services(self) -> set[str]:
        return {m.service for m in self.members.values() if m.service}

    def has(self, attribute: str, value: object) -> bool:
        return any(getattr(m, attribute) == value for m in self.members.values())

    @property
    def change_keys(self) -> frozenset[str]:
        return frozenset().union(*(m.change_keys for m in self.members.values()))


@dataclass(frozen=True, slots=True)
class Match:
    incident: IncidentView
    kind: ReasonKind
    detail: str


@dataclass(frozen=True, slots=True)
class CorrelationWindow:
    """How far in time the weaker reasons reach, and how long a resolve may flap back."""

    window: timedelta
    flap_window: timedelta
    max_hops: int = 1


class ServiceGraph:
    """Who calls whom, from the service catalogue (later also learned from traces)."""

    def __init__(self, calls: Iterable[tuple[str, str]] = ()) -> None:
        self._graph: nx.DiGraph[str] = nx.DiGraph()
        self._graph.add_edges_from(calls)

    def path(self, a: str, b: str, max_hops: int) -> list[str] | None:
        """The shortest call path between two services, either direction, within hops."""
        if a not in self._graph or b not in self._graph:
            return None
        try:
            path: list[str] = nx.shortest_path(self._graph.to_undirected(as_view=True), a, b)
        except nx.NetworkXNoPath:
            return None
        return path if len(path) - 1 <= max_hops else None

    def describe(self, path: list[str]) -> str:
        steps = []
        for a, b in itertools.pairwise(path):
            steps.append(f"{a} calls {b}" if self._graph.has_edge(a, b) else f"{b} calls {a}")
        return "; ".join(steps)


def _reason(
    signal: Signal, incident: IncidentView, graph: ServiceGraph, limits: CorrelationWindow
) -> tuple[ReasonKind, str] | None:
    # A resolved incident is only a candidate within its flap window (see _eligible).
    resolved = incident.state is IncidentState.RESOLVED
    if not resolved and abs(signal.ts - incident.last_activity) > limits.window:
        return None
    if signal.group_key and incident.has("group_key", signal.group_key):
        return ReasonKind.GROUP_KEY, "same Alertmanager group"
    if incident.has("family", signal.family):
        return ReasonKind.FAMILY, "same alert on another instance"
    if signal.service and signal.service in incident.services:
        return ReasonKind.SERVICE, f"same service {signal.service}"
    if resolved:
        return None
    shared = signal.change_keys & incident.change_keys
    if shared:
        return ReasonKind.CHANGE, f"same {min(shared).replace(':', ' ', 1)}"
    if signal.service:
        paths = (graph.path(signal.service, s, limits.max_hops) for s in incident.services)
        found = min((p for p in paths if p), key=len, default=None)
        if found:
            return ReasonKind.DEPENDENCY, graph.describe(found)
    return None


def _eligible(incident: IncidentView, signal: Signal, limits: CorrelationWindow) -> bool:
    if incident.state in ACTIVE_STATES:
        return True
    if incident.state is IncidentState.RESOLVED and incident.resolved_at is not None:
        return timedelta(0) <= signal.ts - incident.resolved_at <= limits.flap_window
    return False


def best_match(
    signal: Signal,
    incidents: Iterable[IncidentView],
    graph: ServiceGraph,
    limits: CorrelationWindow,
) -> Match | None:
    """The incident `signal` belongs to, by the strongest reason (then the most recently
    active incident); None means it starts a new one."""
    best: tuple[tuple[int, float], Match] | None = None
    for incident in incidents:
        if not _eligible(incident, signal, limits):
            continue
        found = _reason(signal, incident, graph, limits)
        if found is None:
            continue
        gap = abs((signal.ts - incident.last_activity).total_seconds())
        rank = (int(found[0]), gap)
        if best is None or rank < best[0]:
            best = (rank, Match(incident, found[0], found[1]))
    return best[1] if best else None
