"""Correlation rules, pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from vigil.incidents.correlate import (
    CorrelationWindow,
    ReasonKind,
    ServiceGraph,
    Signal,
    alert_family,
    best_match,
)
from vigil.incidents.lifecycle import IncidentState
from vigil.incidents.view import IncidentView, MemberView

T0 = datetime(2026, 11, 21, 12, tzinfo=UTC)
LIMITS = CorrelationWindow(window=timedelta(minutes=15), flap_window=timedelta(minutes=10))
GRAPH = ServiceGraph([("frontend", "checkout"), ("checkout", "payments"), ("payments", "db")])


def signal(service: str, minutes: float, **kw: object) -> Signal:
    fields: dict[str, object] = {
        "event_id": f"e-{service}-{minutes}", "fingerprint": f"fp-{service}-{minutes}",
        "family": alert_family({"alertname": f"X{minutes}", "service": service}, service, ""),
        "service": service, "group_key": None, "change_keys": frozenset(),
        "ts": T0 + timedelta(minutes=minutes), "firing": True, "title": "X",
    }  # fmt: skip
    fields.update(kw)
    return Signal(**fields)  # type: ignore[arg-type]


def incident(*signals: Signal, state: IncidentState = IncidentState.DETECTED) -> IncidentView:
    members = {
        s.event_id: MemberView(s.event_id, s.fingerprint, s.family, s.service, s.group_key,
                               s.change_keys, "error", "P2", s.firing, s.ts, "opened", "")
        for s in signals
    }  # fmt: skip
    last = max(s.ts for s in signals)
    resolved = last if state is IncidentState.RESOLVED else None
    view = IncidentView(f"i-{signals[0].event_id}", state, last, resolved, signals[0].event_id)
    view.summarise(members.values())
    return view


def test_family_ignores_instance_labels() -> None:
    a = alert_family({"alertname": "Lag", "service": "s", "pod": "s-1", "instance": "1"}, "s", "")
    b = alert_family({"alertname": "Lag", "service": "s", "pod": "s-2", "instance": "2"}, "s", "")
    assert a == b != alert_family({"alertname": "Lag", "service": "t"}, "t", "")


def test_same_service_beats_an_incident_on_a_caller() -> None:
    by_graph = incident(signal("checkout", 9))
    by_service = incident(signal("payments", 5))
    match = best_match(signal("payments", 10), [by_graph, by_service], GRAPH, LIMITS)
    assert match is not None
    assert (match.incident, match.kind, match.detail) == (
        by_service,
        ReasonKind.SERVICE,
        "same service payments",
    )


def test_dependency_within_hops_and_window_only() -> None:
    db = incident(signal("db", 0))
    near = best_match(signal("payments", 5), [db], GRAPH, LIMITS)
    assert near is not None
    assert near.detail == "payments calls db"
    assert best_match(signal("checkout", 5), [db], GRAPH, LIMITS) is None  # two hops
    two_hops = CorrelationWindow(LIMITS.window, LIMITS.flap_window, max_hops=2)
    far = best_match(signal("checkout", 5), [db], GRAPH, two_hops)
    assert far is not None
    assert far.detail == "checkout calls payments; payments calls db"
    assert best_match(signal("payments", 16), [db], GRAPH, LIMITS) is None  # too late


def test_shared_deploy_groups_unconnected_services() -> None:
    deploy = frozenset({"deploy:shop-42"})
    first = incident(signal("search", 0, change_keys=deploy))
    match = best_match(signal("mail", 3, change_keys=deploy), [first], GRAPH, LIMITS)
    assert match is not None
    assert (match.kind, match.detail) == (ReasonKind.CHANGE, "same deploy shop-42")


def test_resolved_incident_matches_only_within_flap_window_and_by_strong_reasons() -> None:
    done = incident(signal("payments", 0), state=IncidentState.RESOLVED)
    assert best_match(signal("payments", 9), [done], GRAPH, LIMITS) is not None
    assert best_match(signal("payments", 11), [done], GRAPH, LIMITS) is None
    assert best_match(signal("checkout", 5), [done], GRAPH, LIMITS) is None  # graph only
    learned = incident(signal("payments", 0), state=IncidentState.LEARNED)
    assert best_match(signal("payments", 1), [learned], GRAPH, LIMITS) is None


def test_unknown_services_have_no_neighbours() -> None:
    assert GRAPH.calls("payments", "nowhere", 3) is None
    assert best_match(signal("nowhere", 1), [incident(signal("db", 0))], GRAPH, LIMITS) is None


def test_fresh_dependency_evidence_beats_a_stale_group() -> None:
    stale = incident(signal("payments", 0, group_key="g"))
    fresh = incident(signal("db", 9))
    match = best_match(signal("payments", 10, group_key="g"), [stale, fresh], GRAPH, LIMITS)
    assert match is not None
    assert (match.incident, match.kind) == (fresh, ReasonKind.DEPENDENCY)
    near = best_match(signal("payments", 1, group_key="g"), [stale, fresh], GRAPH, LIMITS)
    assert near is not None
    assert (near.incident, near.kind) == (stale, ReasonKind.GROUP_KEY)


def test_symptoms_travel_to_callers_not_callees() -> None:
    payments = incident(signal("payments", 0))
    assert best_match(signal("db", 1), [payments], GRAPH, LIMITS) is None
    caller = best_match(signal("checkout", 1), [payments], GRAPH, LIMITS)
    assert caller is not None
    assert caller.detail == "checkout calls payments"


def test_a_cause_alerting_together_with_its_symptom_joins_either_way() -> None:
    checkout = incident(signal("checkout", 0))
    together = best_match(signal("payments", 0.25), [checkout], GRAPH, LIMITS)
    assert together is not None
    assert (together.kind, together.detail) == (ReasonKind.DEPENDENCY, "checkout calls payments")
    assert best_match(signal("payments", 2), [checkout], GRAPH, LIMITS) is None
    assert best_match(signal("payments", 0.25, severity="warning"), [checkout], GRAPH,
                      LIMITS) is None  # fmt: skip
