"""A loopback HTTP server speaking the Prometheus query API and Loki's query_range, over
samples and log lines a test adds, so telemetry clients are tested at the wire.

Range queries are answered like Prometheus: at each step the latest sample at or before
that time (within a 5-minute lookback) of every series whose name is the query (a bare
metric name, optionally with `{label="value",...}` equality matchers). Loki queries match
streams whose selector is the query text, `start <= ts < end`, forward, up to `limit`.
`fail_next(status, body)` makes the next request answer an error instead.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["FakeTelemetryServer"]

_LOOKBACK = 300.0
# Prometheus's staleness marker (a target gone): the series has no value from then on.
STALE = float("nan")
_SELECTOR = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)\s*(?:\{(.*)\})?$")
_MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"([^"]*)"\s*,?')


@dataclass
class _State:
    samples: dict[tuple[tuple[str, str], ...], list[tuple[float, float]]] = field(
        default_factory=dict
    )
    streams: dict[str, list[tuple[int, str, dict[str, str]]]] = field(default_factory=dict)
    failures: list[tuple[int, str]] = field(default_factory=list)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)


def _matches(query: str, labels: Mapping[str, str]) -> bool:
    match = _SELECTOR.match(query.strip())
    if match is None:
        return False
    wanted = dict(_MATCHER.findall(match.group(2) or ""))
    wanted["__name__"] = match.group(1)
    return all(labels.get(k) == v for k, v in wanted.items())


def _value_at(points: list[tuple[float, float]], t: float) -> float | None:
    best = None
    for ts, value in points:
        if ts > t:
            break
        best = None if value is STALE else value
        if t - ts > _LOOKBACK:
            best = None
    return best


def _render(value: float) -> str:
    return {float("inf"): "+Inf", float("-inf"): "-Inf"}.get(value, repr(value))


class _Handler(BaseHTTPRequestHandler):
    server: FakeTelemetryServer

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(url.query).items()}
        state = self.server.state
        with self.server.lock:
            state.requests.append((url.path, params))
            failure = state.failures.pop(0) if state.failures else None
        if failure is not None:
            self._send(failure[0], failure[1].encode())
            return
        routes = {
            "/api/v1/query_range": self.server.query_range,
            "/api/v1/query": self.server.query,
            "/loki/api/v1/query_range": self.server.loki_range,
        }
        route = routes.get(url.path)
        if route is None:
            self._send(404, b"404 page not found")
            return
        status, body = route(params)
        self._send(status, json.dumps(body).encode())

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent."""


class FakeTelemetryServer(ThreadingHTTPServer):
    """`with FakeTelemetryServer() as server:` serves on `server.url` until the block ends."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        self.lock = threading.Lock()
        self.state = _State()

    def __enter__(self) -> FakeTelemetryServer:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()
        self.server_close()

    def add_samples(
        self, name: str, labels: Mapping[str, str], points: list[tuple[float, float]]
    ) -> None:
        """Append samples (unix seconds, value) to the series `name{labels}`."""
        key = tuple(sorted({**labels, "__name__": name}.items()))
        with self.lock:
            series = self.state.samples.setdefault(key, [])
            series.extend(points)
            series.sort()

    def mark_stale(self, name: str, labels: Mapping[str, str], at: float) -> None:
        """The series `name{labels}` ends at `at` (unix seconds), as when its target goes."""
        self.add_samples(name, labels, [(at, STALE)])

    def add_lines(self, selector: str, lines: list[tuple[int, str]], **labels: str) -> None:
        """Append log lines (unix nanoseconds, text) to the stream `selector`."""
        with self.lock:
            stream = self.state.streams.setdefault(selector, [])
            stream.extend((ts, line, dict(labels)) for ts, line in lines)
            stream.sort(key=lambda item: item[0])

    def fail_next(self, status: int, body: str) -> None:
        """The next request (whatever it asks) gets `status` with `body`."""
        with self.lock:
            self.state.failures.append((status, body))

    @property
    def requests(self) -> list[tuple[str, dict[str, str]]]:
        with self.lock:
            return list(self.state.requests)

    def query_range(self, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        try:
            start, end, step = (float(params[k]) for k in ("start", "end", "step"))
            query = params["query"]
        except (KeyError, ValueError) as exc:
            return 400, {"status": "error", "errorType": "bad_data", "error": str(exc)}
        if _SELECTOR.match(query.strip()) is None:
            error = f'1:1: parse error: unexpected character in "{query}"'
            return 400, {"status": "error", "errorType": "bad_data", "error": error}
        if (end - start) / step > 11_000:
            error = "exceeded maximum resolution of 11,000 points per timeseries"
            return 400, {"status": "error", "errorType": "bad_data", "error": error}
        result = []
        with self.lock:
            series = list(self.state.samples.items())
        count = round((end - start) / step) + 1
        for key, points in series:
            labels = dict(key)
            if not _matches(query, labels):
                continue
            values = []
            for i in range(count):
                t = round(start + i * step, 3)
                value = _value_at(points, t)
                if value is not None:
                    values.append([t, _render(value)])
            if values:
                result.append({"metric": labels, "values": values})
        return 200, {"status": "success", "data": {"resultType": "matrix", "result": result}}

    def query(self, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        query, at = params.get("query", ""), float(params.get("time", "0"))
        result = []
        with self.lock:
            series = list(self.state.samples.items())
        for key, points in series:
            value = _value_at(points, at)
            if _matches(query, dict(key)) and value is not None:
                result.append({"metric": dict(key), "value": [at, _render(value)]})
        return 200, {"status": "success", "data": {"resultType": "vector", "result": result}}

    def loki_range(self, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        start, end = int(params["start"]), int(params["end"])
        limit = int(params.get("limit", "100"))
        with self.lock:
            stream = list(self.state.streams.get(params["query"], []))
        picked = [item for item in stream if start <= item[0] < end][:limit]
        by_labels: dict[str, dict[str, Any]] = {}
        for ts, line, labels in picked:
            entry = by_labels.setdefault(json.dumps(labels), {"stream": labels, "values": []})
            entry["values"].append([str(ts), line])
        data = {"resultType": "streams", "result": list(by_labels.values())}
        return 200, {"status": "success", "data": data}
