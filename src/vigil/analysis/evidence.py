"""The Evidence model and the robust statistics every extractor shares.

Strength is always expressed in robust sigmas: ``(x - median) / scale`` where the scale
is the baseline's MAD (times 1.4826), floored so that a perfectly flat baseline does not
turn a tiny wobble into a huge deviation. The floors are documented defaults in
:class:`RobustScale`; nothing is fitted to labelled data.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Evidence",
    "EvidenceKind",
    "RobustScale",
    "evidence_id",
    "robust_center_scale",
]

EvidenceKind = Literal[
    "metric_anomaly",
    "trace_latency",
    "network_latency",
    "call_pattern",
    "error_rate",
    "log_pattern",
    "error_log",
]


class Evidence(BaseModel):
    """One observation that a service behaves differently in the incident window."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    service: str
    kind: EvidenceKind
    signal: str = Field(description="metric name, operation, edge or log template")
    strength: float = Field(description="absolute deviation in robust sigmas")
    direction: Literal["up", "down"] = "up"
    onset: datetime | None = None
    details: dict[str, str | float] = Field(default_factory=dict)


class RobustScale(BaseModel):
    """Floors for the robust scale: ``max(1.4826*MAD, relative*|median|, absolute)``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    relative: float = 0.01
    absolute: float = 1e-6


def _text(part: object) -> str:
    if isinstance(part, datetime) and part.tzinfo is not None:
        part = part.astimezone(UTC)
    return str(part)


def evidence_id(*parts: object) -> str:
    """A short stable id derived from what the evidence is about (a time counts as the
    instant it names, however its zone was written)."""
    text = "|".join(_text(p) for p in parts)
    digest = hashlib.sha1(text.encode()).hexdigest()
    return f"ev-{digest[:12]}"


def robust_center_scale(
    baseline: np.ndarray, floors: RobustScale | None = None
) -> tuple[float, float]:
    """Median and floored MAD scale of the finite baseline values (NaN ignored)."""
    limits = floors or RobustScale()
    values = baseline[np.isfinite(baseline)]
    if values.size == 0:
        return float("nan"), float("nan")
    center = float(np.median(values))
    mad = 1.4826 * float(np.median(np.abs(values - center)))
    return center, max(mad, limits.relative * abs(center), limits.absolute)
