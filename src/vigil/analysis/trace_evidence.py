"""Trace evidence: self-time latency, call-edge gaps, call patterns and errors per service.

* **Self time.** A span's self time is its duration minus the durations of its children
  (clipped at zero), so a slow callee is not blamed on its callers. Per (service,
  operation) the median self time in the window is compared with the baseline spans;
  a service's strength is the median shift over its operations.
* **Call-edge gap.** For a parent and child in different services, ``parent - child``
  is time spent between the two processes (network, queues). Its deviation is evidence
  of a network problem at the callee (a delayed service delays the calls into it).
  Client spans (spans with a child in another service) are left out of the self-time
  evidence, since their self time *is* that gap.
* **Call pattern.** Per parent (service, operation) the number of calls to each child
  (service, operation) per parent span; a code path that stops (exception) or changes
  (wrong return) makes these ratios move. Blame goes to the parent, whose code decided.
* **Errors.** Share of spans with ``status == "error"`` per (service, operation).

The call graph (caller -> callee services) is learned from parent/child spans.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from vigil.analysis.evidence import Evidence, RobustScale, evidence_id

__all__ = ["call_edges", "trace_evidence", "with_self_time"]

MIN_SPANS = 3
# Span times are heavy-tailed: a shift below this share of the usual value is not evidence.
TRACE_RELATIVE_FLOOR = 0.2


def with_self_time(spans: pd.DataFrame) -> pd.DataFrame:
    """Spans with ``self_time`` and the parent's ``parent_service``/``parent_operation``."""
    out = spans.copy()
    children = out.groupby(["trace_id", "parent_id"], sort=False)["duration"].sum()
    keys = pd.MultiIndex.from_arrays([out["trace_id"], out["span_id"]])
    child_total = children.reindex(keys).fillna(0.0).to_numpy()
    out["self_time"] = np.clip(out["duration"].to_numpy() - child_total, 0.0, None)
    parents = out.set_index(["trace_id", "span_id"])[["service", "operation", "duration"]]
    parents = parents[~parents.index.duplicated()]
    parent_keys = pd.MultiIndex.from_arrays([out["trace_id"], out["parent_id"]])
    joined = parents.reindex(parent_keys)
    out["parent_service"] = joined["service"].fillna("").astype(str).to_numpy()
    out["parent_operation"] = joined["operation"].fillna("").astype(str).to_numpy()
    out["parent_duration"] = joined["duration"].to_numpy(dtype=float)
    remote = out[(out["parent_service"] != "") & (out["parent_service"] != out["service"])]
    clients = pd.MultiIndex.from_arrays([remote["trace_id"], remote["parent_id"]])
    out["is_client"] = keys.isin(clients)
    return out


def call_edges(spans: pd.DataFrame) -> set[tuple[str, str]]:
    """Caller -> callee service pairs seen in the spans (needs ``with_self_time``)."""
    cross = spans[(spans["parent_service"] != "") & (spans["parent_service"] != spans["service"])]
    pairs = cross[["parent_service", "service"]].drop_duplicates()
    return {(str(a), str(b)) for a, b in pairs.itertuples(index=False)}


def _latency(
    base: pd.DataFrame,
    window: pd.DataFrame,
    key: list[str],
    value: str,
    floors: RobustScale,
) -> list[tuple[tuple[str, ...], float, float, float, pd.Timestamp]]:
    """Per key: (key, z, baseline median, window median, onset), z of any sign.

    Vectorised: baseline median and MAD per key, window median per key, joined.
    """
    past = base[[*key, value]].dropna()
    stats = past.groupby(key)[value].agg(["median", "size"])
    deviation = (past[value] - past.join(stats["median"], on=key)["median"]).abs()
    stats["mad"] = deviation.groupby([past[k] for k in key]).median() * 1.4826
    current = window[[*key, value, "start"]].dropna(subset=[value])
    now = current.groupby(key).agg(
        observed=(value, "median"), count=(value, "size"), onset=("start", "min")
    )
    joined = now.join(stats, how="inner")
    joined = joined[(joined["size"] >= MIN_SPANS) & (joined["count"] >= MIN_SPANS)]
    scale = np.maximum(
        np.maximum(joined["mad"], floors.relative * joined["median"].abs()), floors.absolute
    )
    joined = joined.assign(z=(joined["observed"] - joined["median"]) / scale)
    return [
        (
            tuple(str(x) for x in (k if isinstance(k, tuple) else (k,))),
            float(row["z"]),
            float(row["median"]),
            float(row["observed"]),
            row["onset"],
        )
        for k, row in joined.iterrows()
    ]


def _latency_evidence(
    base: pd.DataFrame, window: pd.DataFrame, floors: RobustScale
) -> list[Evidence]:
    """One item per service: the median self-time shift over its operations.

    A starved service is slower in everything it does, while one slow query or lock in
    one operation is common noise; the median over operations tells them apart.
    """
    local_base, local_window = base[~base["is_client"]], window[~window["is_client"]]
    per_service: dict[str, list[tuple[float, str, float, float, pd.Timestamp]]] = {}
    for (service, operation), z, center, observed, onset in _latency(
        local_base, local_window, ["service", "operation"], "self_time", floors
    ):
        per_service.setdefault(service, []).append((z, operation, center, observed, onset))
    found = []
    for service, shifts in sorted(per_service.items()):
        typical = float(np.median([max(z, 0.0) for z, *_ in shifts]))
        if typical <= 0:
            continue
        z, operation, center, observed, onset = max(shifts)
        found.append(
            Evidence(
                id=evidence_id("self", service, onset),
                service=service,
                kind="trace_latency",
                signal=operation,
                strength=typical,
                onset=onset.to_pydatetime(warn=False),
                details={
                    "operations": float(len(shifts)),
                    "slowest_shift_sigma": z,
                    "baseline_self_s": center,
                    "window_self_s": observed,
                },
            )
        )
    return found


def _gaps(frame: pd.DataFrame) -> pd.DataFrame:
    cross = frame[(frame["parent_service"] != "") & (frame["parent_service"] != frame["service"])]
    cross = cross.assign(gap=cross["parent_duration"] - cross["duration"])
    return cross[cross["gap"].notna()]


def _gap_evidence(base: pd.DataFrame, window: pd.DataFrame, floors: RobustScale) -> list[Evidence]:
    found = []
    for (caller, callee), z, center, observed, onset in _latency(
        _gaps(base), _gaps(window), ["parent_service", "service"], "gap", floors
    ):
        if z <= 0:
            continue
        found.append(
            Evidence(
                id=evidence_id("gap", caller, callee, onset),
                service=callee,
                kind="network_latency",
                signal=f"{caller}->{callee}",
                strength=z,
                onset=onset.to_pydatetime(warn=False),
                details={"baseline_gap_s": center, "window_gap_s": observed},
            )
        )
    return found


def _pattern_counts(frame: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Spans per operation, and calls from each parent operation to each child operation."""
    parents = frame.groupby(["service", "operation"]).size()
    cross = frame[frame["parent_service"] != ""]
    calls = cross.groupby(["parent_service", "parent_operation", "service", "operation"]).size()
    return parents, calls


def _pattern_evidence(base: pd.DataFrame, window: pd.DataFrame) -> list[Evidence]:
    """Poisson deviation of calls-per-parent-span from the baseline ratio."""
    base_parents, base_calls = _pattern_counts(base)
    win_parents, win_calls = _pattern_counts(window)
    best: dict[tuple[str, str], tuple[float, str]] = {}
    tests: dict[str, int] = {}
    keys = base_calls.index.union(win_calls.index)
    for parent_service, parent_op, child_service, child_op in keys:
        n_base = base_parents.get((parent_service, parent_op), 0)
        n_win = win_parents.get((parent_service, parent_op), 0)
        if n_base < MIN_SPANS or n_win < MIN_SPANS:
            continue
        expected = base_calls.get((parent_service, parent_op, child_service, child_op), 0) / n_base
        observed = win_calls.get((parent_service, parent_op, child_service, child_op), 0)
        z = (observed - expected * n_win) / np.sqrt(expected * n_win + 1.0)
        signal = f"{parent_op} -> {child_service}:{child_op}"
        slot = (str(parent_service), "up" if z > 0 else "down")
        tests[slot[0]] = tests.get(slot[0], 0) + 1
        if abs(z) > best.get(slot, (0.0, ""))[0]:
            best[slot] = (abs(z), signal)
    return [
        Evidence(
            id=evidence_id("pattern", service, signal),
            service=service,
            kind="call_pattern",
            signal=signal,
            strength=z,
            direction="up" if direction == "up" else "down",
            details={"tests": float(tests[service])},
        )
        for (service, direction), (z, signal) in sorted(best.items())
    ]


def _error_evidence(base: pd.DataFrame, window: pd.DataFrame) -> list[Evidence]:
    found = []
    base_rate = base.assign(err=base["status"] == "error").groupby("service")["err"].mean()
    win = (
        window.assign(err=window["status"] == "error")
        .groupby("service")["err"]
        .agg(["sum", "size"])
    )
    for service, row in win.iterrows():
        rate = float(base_rate.get(service, 0.0))
        expected = rate * float(row["size"])
        z = (float(row["sum"]) - expected) / np.sqrt(expected + 1.0)
        if z > 0:
            found.append(
                Evidence(
                    id=evidence_id("errors", service),
                    service=str(service),
                    kind="error_rate",
                    signal="span errors",
                    strength=float(z),
                    details={"baseline_rate": rate, "window_errors": float(row["sum"])},
                )
            )
    return found


def trace_evidence(
    spans: pd.DataFrame,
    reference: pd.DataFrame | None,
    boundary: datetime,
    floors: RobustScale | None = None,
) -> tuple[list[Evidence], set[tuple[str, str]]]:
    """All trace evidence and the learned call edges; baseline = reference + pre-boundary."""
    limits = floors or RobustScale(relative=TRACE_RELATIVE_FLOOR)
    current = with_self_time(spans)
    moment = pd.Timestamp(boundary)
    parts = [current[current["start"] < moment]]
    if reference is not None and not reference.empty:
        parts.append(with_self_time(reference))
    base = pd.concat(parts, ignore_index=True)
    window = current[current["start"] >= moment]
    if window.empty or base.empty:
        return [], call_edges(current)
    found = _latency_evidence(base, window, limits) + _gap_evidence(base, window, limits)
    found += _pattern_evidence(base, window) + _error_evidence(base, window)
    return found, call_edges(current)
