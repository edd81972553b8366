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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum

import networkx as nx

from vigil.incidents.lifecycle import ACTIVE_STATES, IncidentState
from vigil.incidents.view import IncidentView, MemberView

__all__ = [
    "INSTANCE_LABELS",
    "CorrelationWindow",
    "Match",
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
    severity: str = "error"


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
        self._paths: dict[tuple[str, str, int], list[str] | None] = {}
        self._reached: dict[tuple[str, int, bool], frozenset[str]] = {}

    def calls(self, caller: str, callee: str, max_hops: int) -> list[str] | None:
        """The shortest call path from `caller` down to `callee`, within hops."""
        key = (caller, callee, max_hops)
        if key not in self._paths:
            self._paths[key] = self._calls(caller, callee, max_hops)
        return self._paths[key]

    def callees(self, service: str, max_hops: int) -> frozenset[str]:
        """The services `service` calls, directly or within hops."""
        return self._reach(service, max_hops, downstream=True)

    def callers(self, service: str, max_hops: int) -> frozenset[str]:
        """The services that call `service`, directly or within hops."""
        return self._reach(service, max_hops, downstream=False)

    def _reach(self, service: str, max_hops: int, *, downstream: bool) -> frozenset[str]:
        key = (service, max_hops, downstream)
        if key not in self._reached:
            found: frozenset[str] = frozenset()
            if service in self._graph:
                graph = self._graph if downstream else self._graph.reverse(copy=False)
                reach = nx.single_source_shortest_path_length(graph, service, max_hops)
                found = frozenset(reach) - {service}
            self._reached[key] = found
        return self._reached[key]

    def signal_keys(self, signal: Signal, max_hops: int) -> set[tuple[str, str]]:
        """The keys an incident must hold for `signal` to have a reason to join it."""
        keys = {("family", signal.family), *(("change", c) for c in signal.change_keys)}
        if signal.group_key:
            keys.add(("group", signal.group_key))
        if signal.service:
            keys.add(("service", signal.service))
            keys.update(("service", s) for s in self.callees(signal.service, max_hops))
            keys.update(("service", s) for s in self.callers(signal.service, max_hops))
        return keys

    def _calls(self, caller: str, callee: str, max_hops: int) -> list[str] | None:
        if caller == callee or caller not in self._graph or callee not in self._graph:
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
_LATE_CAUSE = 0.6
_TOGETHER_SECONDS = 30.0
_SEVERE = frozenset({"critical", "error"})


def _reason(
    signal: Signal, incident: IncidentView, graph: ServiceGraph, limits: CorrelationWindow
) -> tuple[ReasonKind, str, float] | None:
    """The best-supported reason to put `signal` in `incident`, with its score. Each reason
    is judged against the member alert whose start is nearest: a symptom follows its
    cause by minutes, so an alert firing for hours does not pull in whatever starts next
    to it (except alerts of its own group or family while it still fires)."""
    half = limits.window.total_seconds() / 2 or 1.0
    found: list[tuple[ReasonKind, str, float]] = []

    def weigh(kind: ReasonKind, detail: str, gap: float, factor: float = 1.0) -> None:
        found.append((kind, detail, _WEIGHT[kind] * factor * 0.5 ** (gap / half)))

    def near(kind: ReasonKind, detail: str, member: MemberView | None) -> None:
        if member is not None:
            gap = abs((signal.ts - member.attached_at).total_seconds())
            if gap <= limits.window.total_seconds():
                weigh(kind, detail, gap)

    for kind, key, detail in _same_keys(signal):
        stat = incident.firing_keys.get(key)
        fired = incident.ended_keys.get(key)
        if stat is not None:  # still firing, loaded or not
            weigh(kind, detail, abs((signal.ts - stat.latest).total_seconds()))
        elif fired is not None and fired[0] <= signal.ts <= fired[1]:
            # Started while its group or family still fired here, arrived after the end.
            weigh(kind, detail, (fired[1] - signal.ts).total_seconds())
        near(kind, detail, incident.nearest(key, signal.ts))
    if signal.service:
        detail = f"same service {signal.service}"
        near(ReasonKind.SERVICE, detail, incident.nearest(("service", signal.service), signal.ts))
    for change in sorted(signal.change_keys):
        detail = f"same {change.replace(':', ' ', 1)}"
        near(ReasonKind.CHANGE, detail, incident.nearest(("change", change), signal.ts))
    _dependencies(signal, incident, graph, limits, weigh)
    best = max(found, key=lambda f: f[2], default=None)
    # A resolved incident comes back only for the same alerts or service (the flap guard).
    if best and incident.state is IncidentState.RESOLVED and best[0] > ReasonKind.SERVICE:
        return None
    return best


def _same_keys(signal: Signal) -> list[tuple[ReasonKind, tuple[str, str], str]]:
    keys = [(ReasonKind.FAMILY, ("family", signal.family), "same alert on another instance")]
    if signal.group_key:
        keys.append((ReasonKind.GROUP_KEY, ("group", signal.group_key), "same Alertmanager group"))
    return keys


def _dependencies(
    signal: Signal,
    incident: IncidentView,
    graph: ServiceGraph,
    limits: CorrelationWindow,
    weigh: Callable[[ReasonKind, str, float, float], None],
) -> None:
    """A symptom shows up on the callers of what failed: an alert on a service that
    (transitively) calls one of the incident's, after that one's alert started."""
    if not signal.service:
        return
    for service in graph.callees(signal.service, limits.max_hops):
        if not incident.has_key(("service", service)):
            continue
        path = graph.calls(signal.service, service, limits.max_hops)
        member = incident.nearest(("service", service), signal.ts, before=True)
        if not path or member is None:
            continue
        gap = (signal.ts - member.attached_at).total_seconds()
        if gap <= limits.window.total_seconds():
            # A warning on a dependency explains a caller's trouble less than an outage.
            factor = _CAUSAL_WEIGHT.get(member.severity, 1.0)
            weigh(ReasonKind.DEPENDENCY, graph.describe(path), gap, factor)
    # Alerts that start together (one rule evaluation) arrive in no particular order: a
    # severe alert on a service the incident's services call joins them too, if it
    # started within moments of them.
    if signal.severity not in _SEVERE:
        return
    for service in graph.callers(signal.service, limits.max_hops):
        member = incident.nearest(("service", service), signal.ts)
        path = graph.calls(service, signal.service, limits.max_hops)
        if not path or member is None:
            continue
        gap = abs((signal.ts - member.attached_at).total_seconds())
        if gap <= _TOGETHER_SECONDS:
            weigh(ReasonKind.DEPENDENCY, graph.describe(path), gap, _LATE_CAUSE)


def _eligible(
    incident: IncidentView, signal: Signal, limits: CorrelationWindow, now: datetime
) -> bool:
    if incident.state in ACTIVE_STATES:
        return True
    ended = incident.resolved_at
    if incident.state is not IncidentState.RESOLVED or ended is None:
        return False
    if signal.ts >= ended:  # fired again within the flap window
        return signal.ts - ended <= limits.flap_window
    # Started while it was open and arrives late: it belongs to it, but only while its
    # end is recent; a replay days later must not reopen (and re-time) old incidents.
    return now - ended <= limits.flap_window


def best_match(
    signal: Signal,
    incidents: Iterable[IncidentView],
    graph: ServiceGraph,
    limits: CorrelationWindow,
    now: datetime | None = None,
) -> Match | None:
    """The incident `signal` belongs to, by the strongest reason (then the most recently
    active incident); None means it starts a new one. `now` is when it is decided (by
    default, when the signal started)."""
    best: tuple[float, Match] | None = None
    for incident in incidents:
        if not _eligible(incident, signal, limits, now or signal.ts):
            continue
        found = _reason(signal, incident, graph, limits)
        if found is not None and (best is None or found[2] > best[0]):
            best = (found[2], Match(incident, found[0], found[1]))
    return best[1] if best else None
