"""A seeded, labelled alert-storm corpus for scoring how alerts are grouped into incidents.

A layered service graph (:mod:`vigil.testing.service_graph`) suffers several concurrent
failures. Each failure is rooted at one service with a fault kind: the root's pods alert
first, then the failure cascades up to the root's callers, transitively, each hop later
by tens of seconds to minutes and less likely the farther it goes. Some alerts flap
(resolve, then fire again a few minutes later with a new `startsAt`); everything resolves
when its failure ends. Isolated low-severity alerts, some on services that also take part
in a failure but at unrelated times, make the background noise. Alertmanager's
dispatcher (:mod:`vigil.testing.alert_dispatch`) turns all of it into webhook v4 requests,
repeats included. The ground truth maps each alert's fingerprint to its failure id, or to
a noise id of its own; it is never written into labels or annotations. Same spec and
`start` -> same corpus; nothing reads the clock.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote_plus

from pydantic import BaseModel, ConfigDict, Field

from vigil.pipeline.catalog import ServiceCatalog
from vigil.testing.alert_dispatch import CorpusAlert, DispatchTiming, dispatch
from vigil.testing.alert_rules import FAULT_KINDS, NOISE_RULES, RULES, SYMPTOM_RULES
from vigil.testing.service_graph import Layer, ServiceGraph, build_service_graph
from vigil.testing.storm_builder import StormRequest

__all__ = ["AlertCorpus", "CorpusFailure", "CorpusSpec", "generate_alert_corpus"]

_ROOT_WEIGHT: dict[Layer, float] = {"frontend": 0.5, "api": 1.5, "backend": 3.0, "datastore": 3.0}
_PROMETHEUS = "http://prometheus.monitoring.svc:9090/graph?g0.expr="
_CLUSTER = "prod-eu-1"


class CorpusSpec(BaseModel):
    """The knobs of the corpus. The defaults give a few thousand alert notifications."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int = 42
    services: int = Field(40, ge=20, le=50)
    failures: int = Field(8, ge=1, le=12)
    duration_minutes: float = Field(180.0, ge=60)
    failure_minutes: tuple[float, float] = (25.0, 75.0)
    overlap_probability: float = Field(0.35, ge=0, le=1)
    cascade_probability: float = Field(0.95, ge=0, le=1)
    cascade_decay: float = Field(0.85, ge=0, le=1)
    # Per hop; a minimum above 15s keeps the root the first to alert.
    cascade_delay_seconds: tuple[float, float] = (20.0, 240.0)
    flap_probability: float = Field(0.25, ge=0, le=1)
    noise_per_hour: float = Field(20.0, ge=0)
    noise_on_failure_services: float = Field(0.3, ge=0, le=1)
    timing: DispatchTiming = DispatchTiming()
    receiver: str = "vigil"


@dataclass(frozen=True)
class CorpusFailure:
    """One injected failure: the answer key for its alerts (offsets in seconds)."""

    id: str
    root: str
    kind: str
    start_offset: float
    end_offset: float
    services: tuple[str, ...]  # the root first, then every caller that alerted


@dataclass(frozen=True)
class AlertCorpus:
    """Webhook requests in send order, with the ground truth per alert fingerprint."""

    spec: CorpusSpec
    start: datetime
    catalog: ServiceCatalog
    requests: tuple[StormRequest, ...]
    truth: Mapping[str, str]  # fingerprint -> failure id or a unique noise id
    failures: tuple[CorpusFailure, ...]

    @property
    def alerts_in(self) -> int:
        """Alert notifications: each alert inside each request body counts once."""
        return sum(len(r.body["alerts"]) for r in self.requests)

    def sent_at(self, request: StormRequest) -> datetime:
        return self.start + timedelta(seconds=request.offset_seconds)

    def notifications(self) -> Iterator[tuple[int, str]]:
        """`(request index, fingerprint)` of every alert notification, in send order."""
        for index, request in enumerate(self.requests):
            for alert in request.body["alerts"]:
                yield index, alert["fingerprint"]


@dataclass
class _Plan:
    id: str
    root: str
    kind: str
    start: float
    end: float


class _AlertFactory:
    """Mints alerts with fingerprints unique to one ground-truth group."""

    def __init__(self, rng: random.Random, graph: ServiceGraph) -> None:
        self.rng = rng
        self.graph = graph
        self.alerts: list[CorpusAlert] = []
        self.owner: dict[str, CorpusAlert] = {}  # fingerprint -> its alert

    def pods(self, service: str, count: int) -> list[str]:
        pods = self.graph.pods[service]
        return self.rng.sample(pods, k=min(count, len(pods)))

    def add(self, rule: str, service: str, pod: str, severity: str, group: str) -> CorpusAlert:
        """An alert on `pod`, or on a fresh pod when another group owns that label set."""
        alert = self._make(rule, service, pod, severity, group)
        while (owner := self.owner.get(alert.fingerprint)) is not None and owner.group != group:
            # The same label set belongs to another group: a rescheduled pod takes over.
            alert = self._make(rule, service, self.graph.new_pod(service), severity, group)
        if owner is not None:
            return owner
        self.owner[alert.fingerprint] = alert
        self.alerts.append(alert)
        return alert

    def _make(self, rule: str, service: str, pod: str, severity: str, group: str) -> CorpusAlert:
        layer = self.graph.layers[service]
        labels = {
            "alertname": rule,
            "service": service,
            "severity": severity,
            "namespace": self.graph.namespaces[service],
            "pod": pod,
            "instance": self.graph.instances[pod],
            "job": f"{service}-exporter" if layer == "datastore" else service,
            "cluster": _CLUSTER,
        }
        spec = RULES[rule]
        value = round(self.rng.uniform(1.0, 100.0), 2)
        return CorpusAlert(
            labels,
            spec.annotations(service, pod, value),
            _PROMETHEUS + quote_plus(spec.query(service)) + "&g0.tab=1",
            group,
        )


def _plan_failures(rng: random.Random, graph: ServiceGraph, spec: CorpusSpec) -> list[_Plan]:
    names = sorted(graph.layers)
    weights = [_ROOT_WEIGHT[graph.layers[n]] for n in names]
    duration = spec.duration_minutes * 60
    plans: list[_Plan] = []
    roots: set[str] = set()
    while len(plans) < spec.failures:
        root = rng.choices(names, weights)[0]
        if root in roots and len(roots) < len(names):
            continue
        roots.add(root)
        length = rng.uniform(*spec.failure_minutes) * 60
        start = rng.uniform(0.03, 0.8) * duration
        if plans and rng.random() < spec.overlap_probability:
            # Start while the previous failure is still going: a concurrent incident.
            previous = plans[-1]
            start = rng.uniform(previous.start + 60, max(previous.start + 61, previous.end - 300))
        layer = graph.layers[root]
        kind = rng.choice(sorted(k for k, (_, at) in FAULT_KINDS.items() if layer in at))
        plans.append(_Plan("", root, kind, start, min(start + length, duration - 60)))
    plans.sort(key=lambda p: p.start)
    for number, plan in enumerate(plans, start=1):
        plan.id = f"failure-{number:02d}"
    return plans


def _cascade(
    rng: random.Random, graph: ServiceGraph, root: str, spec: CorpusSpec
) -> dict[str, tuple[int, float]]:
    """Services hurt by a failure at `root`: distance up the call graph and onset delay."""
    reached: dict[str, tuple[int, float]] = {root: (0, 0.0)}
    frontier = [root]
    while frontier:
        following: list[str] = []
        for service in frontier:
            distance, delay = reached[service]
            for caller in graph.callers(service):
                if caller in reached:
                    continue
                if rng.random() < spec.cascade_probability * spec.cascade_decay**distance:
                    onset = delay + rng.uniform(*spec.cascade_delay_seconds)
                    reached[caller] = (distance + 1, onset)
                    following.append(caller)
        frontier = following
    return reached


def _intervals(
    rng: random.Random, begin: float, end: float, flap: float
) -> list[tuple[float, float]]:
    """One firing interval, or two when the alert flaps in the middle of it."""
    if end - begin > 900 and rng.random() < flap:
        resolved = rng.uniform(begin + 120, end - 600)
        return [(begin, resolved), (resolved + rng.uniform(120, 360), end)]
    return [(begin, end)]


def _severity(rng: random.Random, distance: int) -> str:
    if distance == 0:
        return "critical"
    if distance == 1:
        return rng.choice(("critical", "error"))
    return "error" if distance == 2 else "warning"


def _failure_alerts(factory: _AlertFactory, plan: _Plan, spec: CorpusSpec) -> tuple[str, ...]:
    """Alert the root and its hurt callers; the services that alerted, root first."""
    rng, graph = factory.rng, factory.graph
    alerted: list[str] = []
    for service, (distance, delay) in _cascade(rng, graph, plan.root, spec).items():
        onset = plan.start + delay
        if onset > plan.end - 120:
            continue  # the failure is over before it reaches this far
        if distance == 0:
            rules = list(FAULT_KINDS[plan.kind][0])
        else:
            symptoms = SYMPTOM_RULES[graph.layers[service]]
            rules = rng.sample(symptoms, k=rng.choice((1, 2, 2, 3)))
        for rule in rules:
            severity = _severity(rng, distance)
            count = rng.randint(max(1, len(graph.pods[service]) // 2), len(graph.pods[service]))
            for pod in factory.pods(service, count):
                alert = factory.add(rule, service, pod, severity, plan.id)
                # The root's pods alert within seconds; a cascade hop takes at least
                # the minimum delay, so the root is always first.
                begin = onset + rng.uniform(0, 15 if distance == 0 else 180)
                end = plan.end + rng.uniform(20, 240)
                alert.intervals.extend(_intervals(rng, begin, end, spec.flap_probability))
        alerted.append(service)
    return tuple(alerted)


def _quiet_start(
    rng: random.Random, busy: list[tuple[float, float]], length: float, duration: float
) -> float | None:
    """A start time at least 10 minutes away from every busy window, if one is found."""
    for _ in range(20):
        start = rng.uniform(0, duration - length)
        if all(start + length < b - 600 or start > e + 600 for b, e in busy):
            return start
    return None


def _noise(factory: _AlertFactory, failures: list[CorpusFailure], spec: CorpusSpec) -> None:
    """Isolated low-severity alerts over the whole period, each its own group."""
    rng, graph = factory.rng, factory.graph
    duration = spec.duration_minutes * 60
    services = sorted(graph.layers)
    for number in range(1, round(spec.noise_per_hour * duration / 3600) + 1):
        length = rng.uniform(120, 1500)
        service, start = rng.choice(services), None
        hurt = [f for f in failures if f.services]
        if hurt and rng.random() < spec.noise_on_failure_services:
            failure = rng.choice(hurt)
            service = rng.choice(failure.services)
            busy = [(f.start_offset, f.end_offset) for f in failures if service in f.services]
            start = _quiet_start(rng, busy, length, duration)
        if start is None:
            start = rng.uniform(0, duration - length)
        rule = rng.choice(NOISE_RULES)
        severity = rng.choice(("warning", "warning", "info"))
        pod = factory.pods(service, 1)[0]
        alert = factory.add(rule, service, pod, severity, f"noise-{number:04d}")
        alert.intervals.append((start, start + length))


def generate_alert_corpus(spec: CorpusSpec | None = None, *, start: datetime) -> AlertCorpus:
    """The corpus for `spec` (defaults if None); `start` must be timezone-aware."""
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    spec = spec or CorpusSpec()
    rng = random.Random(spec.seed)
    graph = build_service_graph(rng, spec.services)
    factory = _AlertFactory(rng, graph)
    failures: list[CorpusFailure] = []
    for plan in _plan_failures(rng, graph, spec):
        services = _failure_alerts(factory, plan, spec)
        failures.append(
            CorpusFailure(plan.id, plan.root, plan.kind, plan.start, plan.end, services)
        )
    _noise(factory, failures, spec)
    requests = dispatch(factory.alerts, spec.timing, start=start, receiver=spec.receiver)
    sent = {alert["fingerprint"] for r in requests for alert in r.body["alerts"]}
    truth = {a.fingerprint: a.group for a in factory.alerts if a.fingerprint in sent}
    return AlertCorpus(spec, start, graph.catalog, tuple(requests), truth, tuple(failures))
