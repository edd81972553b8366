"""Correlation: does a new alert belong to an incident already open, and why?

An alert joins an incident when it belongs to the same failure, judged by the strongest of
these, in order: the same Alertmanager group key, the same alert family (its identity
labels without instance-level ones), the same service, a shared change or trace id, or a
service next to one of the incident's in the dependency graph. Each is judged against
one member alert and the time that alert started: the weaker three only within the time
window of it (a cascade reaches the next service within minutes), group key and family
also while that alert is still firing. A resolved incident may be matched (and is then
reopened) within the flap window after it resolved, by the three strongest reasons only.
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

    def calls(self, caller: str, callee: str, max_hops: int) -> list[str] | None:
        """The shortest call path from `caller` down to `callee`, within hops."""
        if caller not in self._graph or callee not in self._graph:
            return None
        try:
            path: list[str] = nx.shortest_path(self._graph, caller, callee)
        except nx.NetworkXNoPath:
            return None
        return path if len(path) - 1 <= max_hops else None

    def describe(self, path: list[str]) -> str:
        steps = []
        for a, b in itertools.pairwise(path):
            steps.append(f"{a} calls {b}" if self._graph.has_edge(a, b) else f"{b} calls {a}")
        return "; ".join(steps)


def _member_reason(
    signal: Signal, member: MemberView, graph: ServiceGraph, limits: CorrelationWindow
) -> tuple[ReasonKind, str] | None:
    """Why `signal` is the same failure as `member`, judged against that alert's own start:
    a symptom follows its cause by minutes, so an alert that has been firing for hours does
    not pull in whatever starts next to it."""
    near = abs(signal.ts - member.attached_at) <= limits.window
    if signal.group_key and signal.group_key == member.group_key and (near or member.firing):
        return ReasonKind.GROUP_KEY, "same Alertmanager group"
    if signal.family == member.family and (near or member.firing):
        return ReasonKind.FAMILY, "same alert on another instance"
    if not near:
        return None
    if signal.service and signal.service == member.service:
        return ReasonKind.SERVICE, f"same service {signal.service}"
    shared = signal.change_keys & member.change_keys
    if shared:
        return ReasonKind.CHANGE, f"same {min(shared).replace(':', ' ', 1)}"
    # A symptom shows up on the callers of what failed, so only an alert on a service that
    # (transitively) calls the member's joins it by the graph.
    if signal.service and member.service and signal.ts >= member.attached_at:
        path = graph.calls(signal.service, member.service, limits.max_hops)
        if path:
            return ReasonKind.DEPENDENCY, graph.describe(path)
    return None


# How much each reason says "same failure" when the two alerts start together; the
# evidence fades with the time between their starts (half of it per half window).
_WEIGHT = {
    ReasonKind.GROUP_KEY: 1.0,
    ReasonKind.FAMILY: 0.9,
    ReasonKind.SERVICE: 0.8,
    ReasonKind.CHANGE: 0.75,
    ReasonKind.DEPENDENCY: 0.7,
}


_CAUSAL_WEIGHT = {"warning": 0.5, "info": 0.3}


def _reason(
    signal: Signal, incident: IncidentView, graph: ServiceGraph, limits: CorrelationWindow
) -> tuple[ReasonKind, str, float] | None:
    """The best-supported reason over the incident's alerts, with its score."""
    best: tuple[ReasonKind, str, float] | None = None
    half = limits.window.total_seconds() / 2 or 1.0
    for member in incident.members.values():
        found = _member_reason(signal, member, graph, limits)
        if found is None:
            continue
        gap = abs((signal.ts - member.attached_at).total_seconds())
        score = _WEIGHT[found[0]] * 0.5 ** (gap / half)
        if found[0] is ReasonKind.DEPENDENCY:
            # A warning on a dependency explains a caller's trouble less than an outage.
            score *= _CAUSAL_WEIGHT.get(member.severity, 1.0)
        if best is None or score > best[2]:
            best = (found[0], found[1], score)
    # A resolved incident comes back only for the same alerts or service (the flap guard).
    if best and incident.state is IncidentState.RESOLVED and best[0] > ReasonKind.SERVICE:
        return None
    return best


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
    best: tuple[float, Match] | None = None
    for incident in incidents:
        if not _eligible(incident, signal, limits):
            continue
        found = _reason(signal, incident, graph, limits)
        if found is not None and (best is None or found[2] > best[0]):
            best = (found[2], Match(incident, found[0], found[1]))
    return best[1] if best else None
