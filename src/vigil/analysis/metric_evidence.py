"""Metric evidence: each service's metrics in the incident window vs its own recent baseline.

For every (service, metric) series the baseline is the data before the anomaly boundary
and the window the data from the boundary on. The strength is the largest robust
deviation of a window point; NaN points (no requests in that minute) are skipped.

Percentages (``name(%)``, e.g. CPU or memory use as a share of the limit) also carry
``headroom_used``: how much of the room between the usual level and the 100 % limit the
rise took. Robust sigmas alone cannot tell a starved service from an idle one that got
a little busier: a service idling at 0.7 % CPU with a tiny MAD reads as 7 sigmas when it
climbs to 7.5 %, as strong as a CPU hog pinning it at 100 %. The ranking uses the share
to weigh resource evidence (see :mod:`vigil.analysis.ranking`).
"""

from __future__ import annotations

import re
from datetime import datetime

import numpy as np
import pandas as pd

from vigil.analysis.evidence import Evidence, RobustScale, evidence_id
from vigil.telemetry.bundle import EDGE_CLIENT, EDGE_SERVER

__all__ = ["EDGE_GAP", "HEADROOM_USED", "metric_evidence"]

EDGE_GAP = "edge_gap(s)"
# Smallest scale of a gap series, as a fraction of the edge's usual latency.
GAP_FLOOR = 0.1
# Smallest meaningful change per unit (the unit is read from a ``name(unit)`` suffix):
# one percentage point, 10 millicores, 1 ms, 1 MiB. Below these, changes are noise.
UNIT_FLOORS = {"%": 1.0, "m": 10.0, "s": 0.001, "ms": 1.0, "Mi": 1.0, "MiB": 1.0}
_UNIT = re.compile(r"\(([^()]+)\)\s*$")
# The onset is the first window point at least this far out (else the strongest point).
ONSET_SIGMA = 3.0
# Evidence weaker than this (robust sigmas) is not reported.
MIN_REPORT = 2.0

MIN_BASELINE_POINTS = 3
# A percentage metric (``name(%)``) is a utilisation of a limit: 100 is the limit.
PERCENT_LIMIT = 100.0
HEADROOM_USED = "headroom_used"


def _unit_floor(metric: str) -> float:
    """The smallest meaningful change for the unit written in the name, e.g. ``Cpu(%)``."""
    match = _UNIT.search(metric)
    return UNIT_FLOORS.get(match.group(1), 0.0) if match else 0.0


def _deviations(frame: pd.DataFrame, boundary: pd.Timestamp, floors: RobustScale) -> pd.DataFrame:
    """Per window row: robust deviation from its series' baseline (vectorised)."""
    keys = ["service", "instance", "metric"]
    base = frame[(frame["time"] < boundary) & frame["value"].notna()]
    stats = base.groupby(keys)["value"].agg(["median", "size"])
    base = base.join(stats["median"], on=keys)
    base["abs_dev"] = (base["value"] - base["median"]).abs()
    stats["mad"] = base.groupby(keys)["abs_dev"].median() * 1.4826
    stats = stats[stats["size"] >= MIN_BASELINE_POINTS]
    window = frame[(frame["time"] >= boundary) & frame["value"].notna()]
    window = window.join(stats, on=keys, how="inner")
    gap = window["metric"] == EDGE_GAP
    units = window["metric"].map(_unit_floor).fillna(floors.absolute).to_numpy(dtype=float)
    floor = np.where(gap, GAP_FLOOR, np.maximum(units, floors.absolute))
    level = np.maximum(window["median"].abs(), window["value"].abs())
    window["scale"] = np.maximum(np.maximum(window["mad"], floors.relative * level), floor)
    window["z"] = (window["value"] - window["median"]) / window["scale"]
    return window


def _headroom_used(metric: str, median: float, value: float) -> float | None:
    """For a percentage (``name(%)``): the share of the usual headroom a rise consumed.

    ``(value - median) / (100 - median)``: 1 when a utilisation went from its usual level
    to its limit. None for other units, or when the usual level is already at the limit.
    """
    match = _UNIT.search(metric)
    if match is None or match.group(1) != "%" or median >= PERCENT_LIMIT:
        return None
    return float((value - median) / (PERCENT_LIMIT - median))


def _to_evidence(row: pd.Series, boundary: pd.Timestamp) -> Evidence:
    gap = row["metric"] == EDGE_GAP
    strength = float(row["z"])
    details: dict[str, str | float] = {
        "baseline_median": float(row["median"]),
        "scale": float(row["scale"]),
        "value": float(row["value"]),
    }
    used = _headroom_used(str(row["metric"]), float(row["median"]), float(row["value"]))
    if used is not None:
        details[HEADROOM_USED] = used
    return Evidence(
        id=evidence_id("metric", row["service"], row["instance"], row["metric"], boundary),
        service=str(row["service"]),
        kind="network_latency" if gap else "metric_anomaly",
        signal=str(row["instance"] if gap else row["metric"]),
        strength=abs(strength),
        direction="up" if strength > 0 else "down",
        onset=(row["time"] if pd.isna(row["onset"]) else row["onset"]).to_pydatetime(warn=False),
        details=details,
    )


def _with_edge_gaps(metrics: pd.DataFrame, boundary: pd.Timestamp) -> pd.DataFrame:
    """Add ``edge_gap`` rows (client minus server latency) for every caller->callee edge.

    The gap is divided by the edge's baseline median client latency, so it reads as a
    fraction of the usual call time and quantised, near-constant gaps do not explode.

    Gap rows belong to the callee: a delay on a service's network shows on the calls
    into it, while its own (server-side) latency stays the same.
    """
    edges = metrics[metrics["metric"].isin([EDGE_CLIENT, EDGE_SERVER])]
    if edges.empty:
        return metrics
    wide = edges.pivot_table(index=["time", "instance"], columns="metric", values="value")
    if EDGE_CLIENT not in wide.columns:
        return metrics
    client = wide[EDGE_CLIENT]
    server = wide[EDGE_SERVER] if EDGE_SERVER in wide.columns else None
    gap = client - server.fillna(0.0) if server is not None else client
    before = client[client.index.get_level_values("time") < boundary]
    usual = before.groupby(level="instance").median().reindex(gap.index.get_level_values(1))
    frame = (gap / usual.to_numpy()).rename("value").reset_index()
    ends = frame["instance"].str.split("->", n=1)
    callee = frame.assign(service=ends.str[1], metric=EDGE_GAP)
    plain = metrics[metrics["metric"] != EDGE_CLIENT]
    combined: pd.DataFrame = pd.concat([plain, callee], ignore_index=True)
    return combined


def metric_evidence(
    metrics: pd.DataFrame, boundary: datetime, floors: RobustScale | None = None
) -> list[Evidence]:
    """The strongest window deviation of every series with a baseline.

    The scale is floored at ``relative * max(|baseline median|, |value|)``, so a series
    that was flat (often 0) and moves reads as at most ``1 / relative`` sigmas.
    Series below :data:`MIN_REPORT` sigmas are dropped, except edge gaps, which ranking
    averages over all links of a service.
    """
    limits = floors or RobustScale()
    moment = pd.Timestamp(boundary)
    if metrics.empty:
        return []
    window = _deviations(_with_edge_gaps(metrics, moment), moment, limits)
    if window.empty:  # no series with a value on both sides of the boundary
        return []
    keys = ["service", "instance", "metric"]
    window = window.assign(size_z=window["z"].abs())
    crossed = window[window["size_z"] >= ONSET_SIGMA].groupby(keys)["time"].min()
    window = window.join(crossed.rename("onset"), on=keys)
    top = window.sort_values("size_z", ascending=False, kind="stable")
    top = top.drop_duplicates(["service", "instance", "metric"]).sort_values(["service", "metric"])
    keep = (top["size_z"] >= MIN_REPORT) | (top["metric"] == EDGE_GAP)
    return [_to_evidence(row, moment) for _, row in top[keep].iterrows()]
