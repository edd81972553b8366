"""Synthetic telemetry bundles for RCA scenarios: frontend -> api -> db, seeded and small.

Each request is one trace: a frontend server span with a client span calling the api,
whose server span has a client span calling the db. Every service logs one line per
request. A scenario changes the data from ``BOUNDARY`` on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from vigil.telemetry import TelemetryBundle

START = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
BOUNDARY = START + timedelta(minutes=10)
END = BOUNDARY + timedelta(minutes=3)
SERVICES = ("frontend", "api", "db")


@dataclass(frozen=True)
class Fault:
    """What changes after the boundary (all off by default)."""

    cpu_hog: str | None = None
    network_delay: str | None = None
    exception: str | None = None


@dataclass
class _Request:
    trace: str
    start: pd.Timestamp
    after: bool
    failing: bool


def _metrics(fault: Fault, rng: np.random.Generator) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    minute = START
    while minute <= END:
        after = minute >= BOUNDARY
        for service in SERVICES:
            cpu = rng.normal(20, 1.0)
            if after and fault.cpu_hog == service:
                cpu = rng.normal(95, 1.0)
            for metric, value in (("cpu_usage(%)", cpu), ("memory(Mi)", rng.normal(200, 2))):
                rows.append(
                    {
                        "time": minute,
                        "service": service,
                        "instance": f"{service}-0",
                        "metric": metric,
                        "value": value,
                    }
                )
        minute += timedelta(minutes=1)
    return pd.DataFrame(rows)


def _span(
    req: _Request, name: str, parent: str, service: str, op: str, offset: float
) -> dict[str, Any]:
    return {
        "trace_id": req.trace,
        "span_id": f"{req.trace}-{name}",
        "parent_id": f"{req.trace}-{parent}" if parent else "",
        "service": service,
        "operation": op,
        "start": req.start + pd.Timedelta(seconds=offset),
        "status": "error" if req.failing and service in ("api",) and name == "api" else "ok",
    }


def _trace_spans(req: _Request, fault: Fault, rng: np.random.Generator) -> list[dict[str, Any]]:
    slow = 4.0 if req.after and fault.cpu_hog else 1.0
    db_self = rng.normal(0.005, 0.0003) * (slow if fault.cpu_hog == "db" else 1.0)
    gap_db = 0.001 + (0.2 if req.after and fault.network_delay == "db" else 0.0)
    api_self = rng.normal(0.010, 0.0005) * (slow if fault.cpu_hog == "api" else 1.0)
    front_self = rng.normal(0.003, 0.0002) * (slow if fault.cpu_hog == "frontend" else 1.0)
    durations = {"db": db_self}
    durations["db-client"] = db_self + gap_db
    durations["api"] = api_self + durations["db-client"]
    durations["api-client"] = durations["api"] + 0.001
    durations["front"] = front_self + durations["api-client"]
    spans = [
        _span(req, "front", "", "frontend", "GET /checkout", 0.0),
        _span(req, "api-client", "front", "frontend", "api.call", 0.001),
        _span(req, "api", "api-client", "api", "POST /order", 0.0015),
        _span(req, "db-client", "api", "api", "db.query", 0.002),
        _span(req, "db", "db-client", "db", "SELECT orders", 0.0025),
    ]
    for span in spans:
        name = str(span["span_id"]).removeprefix(f"{req.trace}-")
        span["duration"] = durations[name]
    return spans


def _trace_logs(req: _Request, number: int) -> list[dict[str, Any]]:
    def line(service: str, span: str, level: str, message: str) -> dict[str, Any]:
        return {
            "time": req.start + pd.Timedelta(milliseconds=1),
            "service": service,
            "level": level,
            "message": message,
            "trace_id": req.trace,
            "span_id": f"{req.trace}-{span}",
        }

    lines = [line("db", "db", "info", f"query ok rows={number % 7}")]
    lines.append(line("api", "api", "info", f"OrderHandler#40 creating order {number}"))
    if req.failing:
        lines.append(line("api", "api", "error", "OrderHandler#42 NullPointerException in total"))
        lines.append(line("frontend", "front", "warn", f"upstream api returned 500 for {number}"))
    else:
        lines.append(line("api", "api", "info", f"OrderHandler#44 order {number} created"))
        lines.append(line("frontend", "front", "info", f"served checkout for user {number}"))
    return lines


def build_bundle(fault: Fault, seed: int = 7, per_minute: int = 30) -> TelemetryBundle:
    """A bundle from ``START`` to ``END`` with ``fault`` applied after ``BOUNDARY``."""
    rng = np.random.default_rng(seed)
    spans: list[dict[str, Any]] = []
    logs: list[dict[str, Any]] = []
    total = int((END - START).total_seconds() // 60) * per_minute
    for number in range(total):
        start = pd.Timestamp(START) + pd.Timedelta(seconds=number * 60 / per_minute)
        after = start >= pd.Timestamp(BOUNDARY)
        failing = after and fault.exception == "api" and number % 2 == 0
        request = _Request(f"t{number:05d}", start, after, failing)
        spans.extend(_trace_spans(request, fault, rng))
        logs.extend(_trace_logs(request, number))
    return TelemetryBundle.build(
        metrics=_metrics(fault, rng),
        spans=pd.DataFrame(spans),
        logs=pd.DataFrame(logs),
        edges=[("frontend", "api"), ("api", "db")],
    )
