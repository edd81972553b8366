"""Ranking: family scores, discount of callers' symptoms, fault kinds, scoring."""

from __future__ import annotations

from vigil.analysis import (
    Evidence,
    RankingOptions,
    accuracy_at_k,
    average_at_5,
    classify,
    family_of,
    kind_accuracy,
    rank_of,
    rank_services,
)


def _ev(service: str, kind: str, signal: str, strength: float, direction: str = "up") -> Evidence:
    return Evidence(
        id=f"{service}-{kind}-{signal}",
        service=service,
        kind=kind,  # type: ignore[arg-type]
        signal=signal,
        strength=strength,
        direction=direction,  # type: ignore[arg-type]
    )


def test_caller_symptoms_are_discounted_by_callee() -> None:
    evidence = [
        _ev("frontend", "metric_anomaly", "latency_p99(s)", 50.0),
        _ev("db", "metric_anomaly", "cpu(%)", 40.0),
        _ev("db", "metric_anomaly", "latency_p99(s)", 50.0),
    ]
    causes = rank_services(evidence, {("frontend", "db")})
    assert [c.service for c in causes] == ["db", "frontend"]
    assert causes[0].kind == "cpu"
    assert causes[1].score == 0.0
    assert "discounted" in causes[1].explanation


def test_network_score_needs_most_incoming_links() -> None:
    evidence = [
        _ev("cart", "network_latency", "frontend->cart", 30.0),
        _ev("cart", "network_latency", "checkout->cart", 25.0),
        _ev("email", "network_latency", "checkout->email", 30.0),
        _ev("email", "network_latency", "frontend->email", 0.5),
    ]
    causes = rank_services(evidence, set())
    assert causes[0].service == "cart"
    assert causes[0].kind == "network_delay"


def test_families_and_kinds() -> None:
    assert family_of(_ev("a", "metric_anomaly", "CpuUsageRate(%)", 5)) == "cpu"
    assert family_of(_ev("a", "metric_anomaly", "CpuUsageRate(%)", 5, "down")) == "symptom"
    assert family_of(_ev("a", "metric_anomaly", "MemoryUsage(Mi)", 5)) == "memory"
    assert family_of(_ev("a", "error_log", "x", 5)) == "error"
    assert family_of(_ev("a", "log_pattern", "missing after x: y", 5, "down")) == "code"
    assert family_of(_ev("a", "log_pattern", "y", 5, "down")) == "log"
    assert family_of(_ev("a", "log_pattern", "y", 5)) == "symptom"
    assert family_of(_ev("a", "call_pattern", "x -> y", 5, "down")) == "code"
    assert classify([], {"cpu": 2.0, "network": 3.0}) == "cpu"
    assert classify([], {"cpu": 1.0, "network": 5.0}) == "network_delay"
    assert classify([], {"memory": 3.0, "cpu": 1.0}) == "memory"
    assert classify([], {"symptom": 2.0}) == "unknown"


def test_code_defect_kinds() -> None:
    reported = [_ev("a", "error_log", "Get Route By Ids Failed", 6.0)]
    named = [_ev("a", "error_log", "NullPointerException in total", 6.0)]
    assert classify(reported, {"error": 2.0, "code": 1.0}) == "return"
    assert classify(named, {"error": 2.0, "code": 1.0}) == "exception"
    assert classify([], {"code": 2.0}) == "exception"
    assert classify(reported, {"error": 2.0}) == "exception"


def test_top_option_and_empty_input() -> None:
    evidence = [_ev(f"s{i}", "error_log", "x", 10.0 + i) for i in range(5)]
    assert len(rank_services(evidence, set(), RankingOptions(top=2))) == 2
    assert rank_services([], set()) == []


def test_scores() -> None:
    ranks = [1, 2, None, 4]
    assert rank_of("b", ["a", "b"]) == 2
    assert rank_of("z", ["a"]) is None
    assert accuracy_at_k(ranks, 1) == 0.25
    assert accuracy_at_k(ranks, 3) == 0.5
    assert accuracy_at_k([], 1) == 0.0
    assert average_at_5(ranks) == (0.25 + 0.5 + 0.5 + 0.75 + 0.75) / 5
    assert kind_accuracy(["cpu", "return"], ["cpu", "exception"]) == 0.5


def _metric(service: str, signal: str, strength: float, used: float) -> Evidence:
    return Evidence(
        id=f"{service}-{signal}",
        service=service,
        kind="metric_anomaly",
        signal=signal,
        strength=strength,
        details={"headroom_used": used},
    )


def test_a_rise_that_leaves_headroom_is_weak_resource_evidence() -> None:
    evidence = [
        _metric("idle", "CpuUsageRate(%)", 30.0, 0.07),
        _metric("hog", "CpuUsageRate(%)", 12.0, 1.0),
    ]
    causes = rank_services(evidence, set())
    assert [c.service for c in causes] == ["hog", "idle"]
    assert causes[0].kind == "cpu"


def test_saturation_decides_the_kind() -> None:
    saturated = [_metric("a", "CpuUsageRate(%)", 2.5, 1.05)]
    # A modest rise in sigmas that hit the limit, at a service whose calls slowed: CPU.
    assert classify(saturated, {"network": 3.0}) == "cpu"
    # A rise that left most of the headroom is not a resource fault.
    busy = [_metric("a", "CpuUsageRate(%)", 20.0, 0.3)]
    assert classify(busy, {"cpu": 2.0, "code": 1.0}) == "exception"
    assert classify(busy, {"cpu": 2.0}) == "exception"
    # Without a percentage metric the scores alone decide, as before.
    assert classify([], {"cpu": 2.0, "network": 3.0}) == "cpu"


def test_links_that_did_not_slow_down_count_in_the_network_share() -> None:
    evidence = [
        _ev("user", "network_latency", "cancel->user", 12.0),
        *[_ev("user", "network_latency", f"s{i}->user", 0.0, "down") for i in range(3)],
        _ev("cart", "network_latency", "frontend->cart", 8.0),
    ]
    causes = {c.service: c.score for c in rank_services(evidence, set())}
    assert causes["cart"] > causes["user"]
