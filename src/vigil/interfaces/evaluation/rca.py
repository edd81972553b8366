"""Evaluate root-cause ranking on every labelled fault of a Nezha-layout folder.

Window (documented default, :class:`WindowOptions`): the anomaly boundary is the fault's
``inject_time``. Metrics are read from 5 minutes before to 3 minutes after it (a short
baseline, so that a fault injected a few minutes earlier rarely contaminates it; the
median/MAD baseline tolerates the rest); spans and logs from 1 minute before to 3
minutes after, plus the day's fault-free ``construct_data`` minutes as reference (read
once per process and cached, as a live system keeps its baseline loaded). Nothing later
than 3 minutes after the boundary is ever read into the analysis. Each case is timed
from reading to ranking; labels are read only to select the window and to score. A case
whose data cannot be read or analysed is kept as a row with its ``error`` and no rank
(a miss in every figure), and the run goes on.

With ``baselines``, RCAEval's metric-only BARO and NSigma (:mod:`.rca_baselines`) run
on the same cases with the window their published figures use: metrics from 10 minutes
before to 5 minutes after the injection. Their rows carry ``method`` ``baro`` /
``nsigma`` and no fault kind.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from vigil.analysis.rca import analyze_bundle
from vigil.analysis.rca_scoring import accuracy_at_k, average_at_5, kind_accuracy, rank_of
from vigil.interfaces.evaluation.rca_baselines import Baseline, active_baselines, wide_metrics
from vigil.telemetry.nezha import (
    NezhaFault,
    list_days,
    read_faults,
    read_nezha_metrics,
    read_nezha_window,
)

__all__ = [
    "CaseRow",
    "WindowOptions",
    "iter_nezha",
    "nezha_kind",
    "run_baselines",
    "run_case",
    "run_nezha",
    "summarise",
]

log = logging.getLogger(__name__)

_KIND_MAP = {"cpu_contention": "cpu", "cpu_consumed": "cpu"}


class WindowOptions(BaseModel):
    """How much data around the boundary a case may read (minutes)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    metric_before: float = 5.0
    events_before: float = 1.0
    after: float = 3.0
    baseline_before: float = 10.0
    """Metric window of the BARO/NSigma baselines: RCAEval's 10 min before ..."""
    baseline_after: float = 5.0
    """... to 5 min after the injection (the window the published baseline figures use)."""


class CaseRow(BaseModel):
    """One evaluated fault."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    system: str
    day: str
    inject_time: str
    truth_service: str
    truth_kind: str
    ranked: list[str]
    kind: str | None
    """Predicted fault kind; None for methods that do not classify (the baselines)."""
    rank: int | None
    seconds: float
    method: str = "vigil"
    error: str | None = None
    """Why the case could not be analysed (it then has no ranking)."""


def nezha_kind(inject_type: str) -> str:
    """Nezha's fault type as a Vigil fault kind (both CPU faults are ``cpu``)."""
    return _KIND_MAP.get(inject_type, inject_type)


def _row(
    fault: NezhaFault,
    ranked: list[str],
    kind: str | None,
    seconds: float,
    method: str = "vigil",
    error: str | None = None,
) -> CaseRow:
    return CaseRow(
        system=fault.system,
        day=fault.day,
        inject_time=fault.inject_time,
        truth_service=fault.service,
        truth_kind=nezha_kind(fault.kind),
        ranked=ranked,
        kind=kind,
        rank=rank_of(fault.service, ranked),
        seconds=round(seconds, 4),
        method=method,
        error=error,
    )


def run_case(root: Path, fault: NezhaFault, window: WindowOptions) -> CaseRow:
    """Read the fault's window, rank, and time it all."""
    started = time.perf_counter()
    bundle = read_nezha_window(
        root,
        fault.day,
        fault.time - timedelta(minutes=window.metric_before),
        fault.time + timedelta(minutes=window.after),
        fault.time - timedelta(minutes=window.events_before),
    )
    result = analyze_bundle(bundle, fault.time)
    seconds = time.perf_counter() - started
    ranked = [cause.service for cause in result.causes]
    return _row(fault, ranked, result.causes[0].kind if result.causes else "unknown", seconds)


def _failed(fault: NezhaFault, exc: Exception, seconds: float, method: str) -> CaseRow:
    log.warning("%s %s failed", fault.day, fault.inject_time, exc_info=exc)
    kind = "unknown" if method == "vigil" else None
    return _row(fault, [], kind, seconds, method, f"{type(exc).__name__}: {exc}")


def _faults(root: Path, select: Callable[[NezhaFault], bool] | None) -> Iterator[NezhaFault]:
    for day in list_days(root):
        for fault in read_faults(root, day):
            if select is None or select(fault):
                yield fault


def iter_nezha(
    root: Path,
    window: WindowOptions | None = None,
    select: Callable[[NezhaFault], bool] | None = None,
) -> Iterator[CaseRow]:
    """Evaluate every labelled fault (or those ``select`` keeps) of every day found."""
    options = window or WindowOptions()
    for fault in _faults(root, select):
        started = time.perf_counter()
        try:
            row = run_case(root, fault, options)
        except Exception as exc:  # one unreadable case must not end the evaluation
            row = _failed(fault, exc, time.perf_counter() - started, "vigil")
        yield row


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def _kind_accuracy(rows: list[CaseRow]) -> float | None:
    predicted = [r.kind for r in rows]
    if any(kind is None for kind in predicted):
        return None
    return kind_accuracy([r.truth_kind for r in rows], [str(kind) for kind in predicted])


def summarise(rows: list[CaseRow]) -> dict[str, dict[str, Any]]:
    """Per method/system/day: AC@1/3/5, Avg@5, kind accuracy, median and p95 seconds."""
    groups: dict[str, list[CaseRow]] = {}
    for row in rows:
        groups.setdefault(f"{row.method}/{row.system}/{row.day}", []).append(row)
    summary: dict[str, dict[str, Any]] = {}
    for key, members in sorted(groups.items()):
        ranks = [r.rank for r in members]
        seconds = [r.seconds for r in members]
        summary[key] = {
            "method": members[0].method,
            "system": members[0].system,
            "day": members[0].day,
            "cases": len(members),
            "errors": sum(r.error is not None for r in members),
            "ac1": accuracy_at_k(ranks, 1),
            "ac3": accuracy_at_k(ranks, 3),
            "ac5": accuracy_at_k(ranks, 5),
            "avg5": average_at_5(ranks),
            "kind_accuracy": _kind_accuracy(members),
            "median_seconds": statistics.median(seconds),
            "p95_seconds": _percentile(seconds, 0.95),
        }
    return summary


def run_nezha(
    root: Path,
    window: WindowOptions | None = None,
    progress: Callable[[CaseRow], None] | None = None,
    baselines: bool = False,
    select: Callable[[NezhaFault], bool] | None = None,
) -> dict[str, Any]:
    """Run all cases; returns ``{"cases": [...], "summary": {...}}`` (JSON-ready), and with
    ``baselines`` also ``"baselines"``: which implementation of them ran."""
    rows = []
    for row in iter_nezha(root, window, select):
        rows.append(row)
        if progress is not None:
            progress(row)
    result: dict[str, Any] = {"cases": [r.model_dump() for r in rows]}
    if baselines:
        methods, source = active_baselines()
        result["baselines"] = source
        extra = run_baselines(root, window, select, methods)
        rows += extra
        result["cases"] += [r.model_dump() for r in extra]
    result["summary"] = summarise(rows)
    return result


def _baseline_rows(
    root: Path, fault: NezhaFault, options: WindowOptions, methods: dict[str, Baseline]
) -> list[CaseRow]:
    """One row per baseline for ``fault``, on metrics only, timed from reading on."""
    started = time.perf_counter()
    metrics = read_nezha_metrics(
        root,
        fault.day,
        fault.time - timedelta(minutes=options.baseline_before),
        fault.time + timedelta(minutes=options.baseline_after),
        # Only the pod metric files: the per-edge latencies of OnlineBoutique are not
        # per-service series of the kind these baselines expect.
        edges=False,
    )
    data = wide_metrics(metrics)
    read = time.perf_counter() - started
    rows = []
    for name, function in methods.items():
        began = time.perf_counter()
        ranked = function(data, fault.time)[:10]
        rows.append(_row(fault, ranked, None, read + time.perf_counter() - began, name))
    return rows


def run_baselines(
    root: Path,
    window: WindowOptions | None = None,
    select: Callable[[NezhaFault], bool] | None = None,
    methods: dict[str, Baseline] | None = None,
) -> list[CaseRow]:
    """RCAEval's BARO and NSigma (:mod:`.rca_baselines`; RCAEval's own when installed) on
    the same cases, metrics only."""
    options = window or WindowOptions()
    if methods is None:
        methods = active_baselines()[0]
    rows: list[CaseRow] = []
    for fault in _faults(root, select):
        started = time.perf_counter()
        try:
            rows.extend(_baseline_rows(root, fault, options, methods))
        except Exception as exc:
            seconds = time.perf_counter() - started
            rows.extend(_failed(fault, exc, seconds, name) for name in methods)
    return rows
