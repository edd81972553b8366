"""Trace evidence: self-time latency, call-edge gaps, call patterns and errors per service.

* **Self time.** A span's self time is its duration minus the durations of its children
  (clipped at zero), so a slow callee is not blamed on its callers. Per (service,
  operation) the median self time in the window is compared with the baseline spans;
  a service's strength is the median shift over its operations.
  Every median shift (here and for gaps) is capped by :func:`rank_bound`, the most a
  rank test could conclude from that many spans: a few spans cannot carry many sigmas.
* **Call-edge gap.** For a parent and child in different services, ``parent - child``
  is time spent between the two processes (network, queues). Its deviation is evidence
  of a network problem at the callee (a delayed service delays the calls into it).
  Client spans (spans with a child in another service) are left out of the self-time
  evidence, since their self time *is* that gap.
* **Call pattern.** Per parent (service, operation) the number of calls to each child
  (service, operation) per parent span; a code path that stops (exception) or changes
  (wrong return) makes these ratios move. Blame goes to the parent, whose code decided.
  Calls into an error handler (an operation named ``...error...``/``...exception...``)
  are error evidence when they rise (kind ``error_rate``) and ignored when they fall
  (recovery, e.g. of an earlier fault still in the baseline).
  Ratios are compared per caller of the parent and summed (see
  :mod:`vigil.analysis.call_context`); the variance is the spread of calls per parent
  span measured in the baseline plus the baseline ratio's own uncertainty. So a call
  every request makes exactly once, missing from a handful of requests, is strong
  evidence, while a shift in who calls, calls that vary a lot per request, or a baseline
  of a few seconds are not (a Poisson model got all three wrong).
* **Errors.** Share of spans with ``status == "error"`` per (service, operation).

The call graph (caller -> callee services) is learned from parent/child spans.
"""

from __future__ import annotations

import re
from datetime import datetime

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import gammaln

from vigil.analysis.call_context import ENTRY, parent_positions, span_context
from vigil.analysis.evidence import Evidence, RobustScale, evidence_id

__all__ = ["call_edges", "enriched", "rank_bound", "trace_evidence", "with_self_time"]

MIN_SPANS = 3
# Operations that handle failures (``BasicErrorController.error``, ``/error``): a request
# routed there failed, so more calls to them are errors and fewer are recovery.
_ERROR_HANDLER = re.compile(r"error|exception", re.IGNORECASE)
# Span times are heavy-tailed: a shift below this share of the usual value is not evidence.
TRACE_RELATIVE_FLOOR = 0.2
# Nor is one below a millisecond (scheduling jitter; the metrics' floor for seconds too).
# Without it a self time that is usually 0 (children overlapping their parent) turns a
# few milliseconds into thousands of sigmas.
TRACE_ABSOLUTE_FLOOR = 0.001


def with_self_time(spans: pd.DataFrame) -> pd.DataFrame:
    """Spans with ``self_time``, ``caller``, ``request`` (see :mod:`call_context`) and the
    parent's service, operation and caller."""
    out = spans.copy()
    parent = parent_positions(out)
    has = parent >= 0
    at = np.maximum(parent, 0)
    duration = out["duration"].to_numpy(dtype=float)
    children = np.bincount(parent[has], weights=np.nan_to_num(duration[has]), minlength=len(out))
    out["self_time"] = np.clip(duration - children, 0.0, None)
    services = out["service"].astype(str).to_numpy(dtype=object)
    operations = out["operation"].astype(str).to_numpy(dtype=object)
    out["parent_service"] = np.where(has, services[at], "")
    out["parent_operation"] = np.where(has, operations[at], "")
    out["parent_duration"] = np.where(has, duration[at], np.nan)
    context = span_context(out, parent)
    caller = context["caller"].to_numpy(dtype=object)
    out["caller"] = caller
    out["request"] = context["request"].to_numpy(dtype=object)
    out["parent_caller"] = np.where(has, caller[at], ENTRY)
    remote = has & (out["parent_service"].to_numpy() != services)
    client = np.zeros(len(out), dtype=bool)
    client[parent[remote]] = True
    out["is_client"] = client
    return out


def enriched(spans: pd.DataFrame) -> pd.DataFrame:
    """``spans`` through :func:`with_self_time`, unless they already are."""
    return spans if "self_time" in spans.columns else with_self_time(spans)


def call_edges(spans: pd.DataFrame) -> set[tuple[str, str]]:
    """Caller -> callee service pairs seen in the spans (needs ``with_self_time``)."""
    cross = spans[(spans["parent_service"] != "") & (spans["parent_service"] != spans["service"])]
    pairs = cross[["parent_service", "service"]].drop_duplicates()
    return {(str(a), str(b)) for a, b in pairs.itertuples(index=False)}


def rank_bound(n_base: np.ndarray, n_window: np.ndarray) -> np.ndarray:
    """The strongest evidence (sigmas) that ``n_base`` vs ``n_window`` spans can carry.

    Even when every window span is slower than every baseline span, a rank test cannot
    go below ``p = 1 / C(n_base + n_window, n_window)``: with 4 and 3 spans that is 1/35,
    about 1.9 sigma. The MAD of a handful of spans says little about their spread, so
    the robust z of a median shift is capped here; with hundreds of spans the cap is
    far above any z.
    """
    log_p = gammaln(n_base + 1) + gammaln(n_window + 1) - gammaln(n_base + n_window + 1)
    return np.asarray(stats.norm.isf(np.exp(np.maximum(log_p, -700.0))), dtype=float)


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
    baseline = past.groupby(key)[value].agg(["median", "size"])
    deviation = (past[value] - past.join(baseline["median"], on=key)["median"]).abs()
    baseline["mad"] = deviation.groupby([past[k] for k in key]).median() * 1.4826
    current = window[[*key, value, "start"]].dropna(subset=[value])
    now = current.groupby(key).agg(
        observed=(value, "median"), count=(value, "size"), onset=("start", "min")
    )
    joined = now.join(baseline, how="inner")
    joined = joined[(joined["size"] >= MIN_SPANS) & (joined["count"] >= MIN_SPANS)]
    scale = np.maximum(
        np.maximum(joined["mad"], floors.relative * joined["median"].abs()), floors.absolute
    )
    z: np.ndarray = np.asarray((joined["observed"] - joined["median"]) / scale, dtype=float)
    cap = rank_bound(joined["size"].to_numpy(dtype=float), joined["count"].to_numpy(dtype=float))
    joined = joined.assign(z=np.clip(z, -cap, cap))
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
        # Links that did not slow down are kept too (as ``down``): the ranking needs to
        # know how many of a service's incoming links there are, not only the slow ones.
        z = 0.0 if abs(z) < 1e-9 else z  # rounding noise of equal medians is no change
        found.append(
            Evidence(
                id=evidence_id("gap", caller, callee, onset),
                service=callee,
                kind="network_latency",
                signal=f"{caller}->{callee}",
                strength=max(z, 0.0),
                direction="up" if z > 0 else "down",
                onset=onset.to_pydatetime(warn=False),
                details={"baseline_gap_s": center, "window_gap_s": observed},
            )
        )
    return found


_CALL = ["parent_service", "parent_caller", "parent_operation", "service", "operation"]


def _pattern_counts(frame: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame]:
    """Spans per (service, caller, operation); calls from each to each child operation.

    The calls table has the total and the sum of squares of the calls per parent span,
    so that the spread of the calls per parent can be estimated.
    """
    parents = frame.groupby(["service", "caller", "operation"]).size()
    cross = frame[frame["parent_service"] != ""]
    per_parent = cross.groupby(["trace_id", "parent_id", *_CALL], sort=False).size()
    grouped = per_parent.groupby(level=_CALL)
    calls = pd.DataFrame(
        {"calls": grouped.sum(), "squares": (per_parent**2).groupby(level=_CALL).sum()}
    )
    return parents, calls


def _pattern_table(base: pd.DataFrame, window: pd.DataFrame) -> pd.DataFrame:
    """Per call (parent op -> child op): observed and expected window calls, and variance.

    Summed over the parent's callers (strata, :mod:`vigil.analysis.call_context`): each
    stratum's window parent spans times its baseline calls per parent span, shrunk by
    one pseudo-span towards the pooled ratio. Strata with fewer than ``MIN_SPANS``
    baseline parent spans are left out. The variance is that of the calls per parent
    span measured in the baseline (with one pseudo-span of Poisson spread), times the
    window parents, plus the uncertainty of the baseline mean (``n_win / n_base``
    times as much). A call every parent makes exactly once thus has almost no spread,
    and its disappearance from a few requests is strong evidence, while calls that vary
    a lot per request (items per page) need a large shift; a ratio learned from a few
    seconds of baseline is not taken as exact.
    """
    base_parents, base_calls = _pattern_counts(base)
    win_parents, win_calls = _pattern_counts(window)
    keys = pd.MultiIndex.from_frame(
        base_calls.index.to_frame(index=False).merge(
            win_calls.index.to_frame(index=False), how="outer"
        )
    )
    parents = keys.droplevel(["service", "operation"])
    base_calls = base_calls.reindex(keys, fill_value=0)
    frame = pd.DataFrame(
        {
            "calls_b": base_calls["calls"].to_numpy(dtype=float),
            "squares_b": base_calls["squares"].to_numpy(dtype=float),
            "calls_w": win_calls["calls"].reindex(keys, fill_value=0).to_numpy(dtype=float),
            "n_b": base_parents.reindex(parents, fill_value=0).to_numpy(dtype=float),
            "n_w": win_parents.reindex(parents, fill_value=0).to_numpy(dtype=float),
        },
        index=keys.droplevel("parent_caller"),
    )
    test = frame.groupby(level=[0, 1, 2, 3])
    prior = test["calls_b"].transform("sum") / test["n_b"].transform("sum").clip(lower=1.0)
    n_b = frame["n_b"]
    ratio = (frame["calls_b"] + prior) / (n_b + 1.0)
    spread = (frame["squares_b"] - frame["calls_b"] ** 2 / n_b.clip(lower=1.0)).clip(lower=0.0)
    per_parent = (spread + ratio) / (n_b + 1.0)
    frame = frame.assign(
        expected=ratio * frame["n_w"],
        variance=per_parent * frame["n_w"] * (1.0 + frame["n_w"] / (n_b + 1.0)),
    )
    frame = frame[n_b >= MIN_SPANS]
    return frame.groupby(level=[0, 1, 2, 3])[["calls_w", "n_w", "expected", "variance"]].sum()


def _pattern_evidence(base: pd.DataFrame, window: pd.DataFrame) -> list[Evidence]:
    """Poisson deviation of calls-per-parent-span from the baseline ratio, per caller."""
    table = _pattern_table(base, window)
    table = table[table["n_w"] >= MIN_SPANS]
    z_all = (table["calls_w"] - table["expected"]) / np.sqrt(table["variance"] + 1.0)
    best: dict[tuple[str, str], tuple[float, str]] = {}
    tests: dict[str, int] = {}
    for (parent_service, parent_op, child_service, child_op), z in z_all.items():
        signal = f"{parent_op} -> {child_service}:{child_op}"
        handler = bool(_ERROR_HANDLER.search(str(child_op)))
        if handler and z < 0:
            continue  # fewer requests ending in an error handler is recovery
        slot = (str(parent_service), "error" if handler else "up" if z > 0 else "down")
        tests[slot[0]] = tests.get(slot[0], 0) + 1
        if abs(z) > best.get(slot, (0.0, ""))[0]:
            best[slot] = (abs(float(z)), signal)
    return [
        Evidence(
            id=evidence_id("pattern", service, signal),
            service=service,
            kind="error_rate" if direction == "error" else "call_pattern",
            signal=signal,
            strength=z,
            direction="down" if direction == "down" else "up",
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
    """All trace evidence and the learned call edges; baseline = reference + pre-boundary.

    Spans may come already through :func:`with_self_time` (it is then not done again).
    """
    limits = floors or RobustScale(relative=TRACE_RELATIVE_FLOOR, absolute=TRACE_ABSOLUTE_FLOOR)
    current = enriched(spans)
    moment = pd.Timestamp(boundary)
    parts = [current[current["start"] < moment]]
    if reference is not None and not reference.empty:
        parts.append(enriched(reference))
    base = pd.concat(parts, ignore_index=True)
    window = current[current["start"] >= moment]
    if window.empty or base.empty:
        return [], call_edges(current)
    found = _latency_evidence(base, window, limits) + _gap_evidence(base, window, limits)
    found += _pattern_evidence(base, window) + _error_evidence(base, window)
    return found, call_edges(current)
