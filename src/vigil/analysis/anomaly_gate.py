"""The three alert gates on top of an anomaly score: clear baseline, not a random walk, SLO.

A score says how unusual a point is; whether Vigil *raises* on it is policy, and this is
that policy as configuration. An alert needs all three gates open:

1. **clear baseline** -- enough history and residuals small against the spread of the
   values (a volatile series has no baseline worth alarming against);
2. **not a random walk** -- the variance ratio ``Var(x_t - x_{t-k}) / (k Var(x_t - x_{t-1}))``
   stays below a limit (a random walk has ~1: its "level" means nothing, any value is as
   normal as any other; a mean-reverting series has far less);
3. **SLO-relevant** -- the metric is marked as one that matters to a service objective.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from vigil.analysis.anomaly import AnomalyScore, BaselineHealth

__all__ = ["AlertGates", "GateDecision", "evaluate_gates"]


class AlertGates(BaseModel):
    """When an anomaly score may become an alert (one configuration per metric)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    threshold: float = 0.75
    min_history: int = 288
    max_volatility: float = 0.8
    max_variance_ratio: float = 0.7
    slo_relevant: bool = False


class GateDecision(BaseModel):
    """Whether to raise, and every reason a gate stayed closed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    raise_alert: bool
    reasons: list[str]


def evaluate_gates(score: AnomalyScore, health: BaselineHealth, gates: AlertGates) -> GateDecision:
    """Apply the threshold and the three gates; pure, explains each refusal."""
    reasons: list[str] = []
    if score.score < gates.threshold:
        reasons.append(f"score {score.score:.2f} below threshold {gates.threshold:.2f}")
    if health.history < gates.min_history:
        reasons.append(f"baseline has {health.history} points, needs {gates.min_history}")
    if health.volatility > gates.max_volatility:
        reasons.append(
            f"too volatile: residual/spread {health.volatility:.2f} > {gates.max_volatility:.2f}"
        )
    if health.variance_ratio > gates.max_variance_ratio:
        reasons.append(
            f"random walk: variance ratio {health.variance_ratio:.2f}"
            f" > {gates.max_variance_ratio:.2f}"
        )
    if not gates.slo_relevant:
        reasons.append("metric is not marked SLO-relevant")
    return GateDecision(raise_alert=not reasons, reasons=reasons)
