"""The three alert gates: clear baseline, not a random walk, SLO-relevant."""

from __future__ import annotations

from vigil.analysis.anomaly import AnomalyScore, BaselineHealth
from vigil.analysis.anomaly_gate import AlertGates, evaluate_gates

HIGH = AnomalyScore(0.95, 100.0, 97.0, 103.0, 12.0, False, True)
GOOD = BaselineHealth(history=5000, volatility=0.2, variance_ratio=0.1)


def test_all_gates_open_raises() -> None:
    decision = evaluate_gates(HIGH, GOOD, AlertGates(slo_relevant=True))
    assert decision.raise_alert
    assert decision.reasons == []


def test_each_gate_explains_its_refusal() -> None:
    gates = AlertGates(slo_relevant=True)
    cases = {
        "below threshold": (HIGH._replace(score=0.3), GOOD, gates),
        "needs 288": (HIGH, GOOD._replace(history=100), gates),
        "too volatile": (HIGH, GOOD._replace(volatility=0.95), gates),
        "random walk": (HIGH, GOOD._replace(variance_ratio=1.0), gates),
        "SLO-relevant": (HIGH, GOOD, AlertGates()),
    }
    for phrase, (score, health, config) in cases.items():
        decision = evaluate_gates(score, health, config)
        assert not decision.raise_alert
        assert len(decision.reasons) == 1
        assert phrase in decision.reasons[0]
