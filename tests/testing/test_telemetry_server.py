"""The loopback telemetry server answers like Prometheus and Loki do."""

from __future__ import annotations

import httpx

from vigil.testing.telemetry_server import FakeTelemetryServer


def test_range_query_uses_the_latest_sample_within_the_lookback() -> None:
    with FakeTelemetryServer() as server:
        server.add_samples("up", {"job": "a"}, [(100.0, 1.0), (130.0, 0.0)])
        server.add_samples("up", {"job": "b"}, [(100.0, 1.0)])
        params = {"query": 'up{job="a"}', "start": "90", "end": "500", "step": "20"}
        with httpx.Client(trust_env=False) as client:
            body = client.get(f"{server.url}/api/v1/query_range", params=params).json()
    (series,) = body["data"]["result"]
    assert series["metric"] == {"__name__": "up", "job": "a"}
    # 90: nothing yet; 110: 1; 130..430: 0; 450 and later: older than 5 minutes.
    assert series["values"][0] == [110.0, "1.0"]
    assert series["values"][-1] == [430.0, "0.0"]


def test_failures_and_loki_paging() -> None:
    with FakeTelemetryServer() as server:
        server.add_lines('{app="x"}', [(5, "a"), (6, "b"), (7, "c")], app="x")
        server.fail_next(502, "bad gateway")
        url = f"{server.url}/loki/api/v1/query_range"
        params = {"query": '{app="x"}', "start": "5", "end": "7", "limit": "5"}
        with httpx.Client(trust_env=False) as client:
            assert client.get(url, params=params).status_code == 502
            body = client.get(url, params=params).json()
    (stream,) = body["data"]["result"]
    assert stream == {"stream": {"app": "x"}, "values": [["5", "a"], ["6", "b"]]}
    assert [path for path, _ in server.requests] == ["/loki/api/v1/query_range"] * 2
