"""`vigil detect --once` against a loopback Prometheus API, then `vigil anomalies`."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner, Result

from tests.conftest import T0, DbTarget
from tests.detection.signals import ANOMALY_AT, noisy_series
from vigil.detection.lease import LeaseKeeper
from vigil.interfaces.cli import State, app
from vigil.interfaces.runtime import Runtime
from vigil.platform import Clock, Settings, load_settings
from vigil.testing.clock import FakeClock
from vigil.testing.telemetry_server import FakeTelemetryServer
from vigil.wiring import build_runtime

STEP = 10.0


@pytest.fixture
def prometheus() -> Iterator[FakeTelemetryServer]:
    with FakeTelemetryServer() as server:
        start = T0.timestamp() - 300 * STEP
        points = [(start + STEP * k, v) for k, v in enumerate(noisy_series("spike", 300))]
        server.add_samples("shop_latency_ms", {"service": "checkout"}, points)
        yield server


def _invoke(
    database: DbTarget, config: dict[str, object], tmp_path: Path, *args: str, at: float = 0
) -> Result:
    """`vigil ARGS` with `config`, on a fake clock `at` seconds after T0."""
    if database.schema:
        config = {**config, "database_schema": database.schema}
    path = tmp_path / "vigil.yaml"
    path.write_text(yaml.safe_dump(config))

    def factory(settings: Settings, *, clock: Clock | None = None) -> Runtime:
        return build_runtime(settings, clock=clock or FakeClock(T0 + timedelta(seconds=at)))

    argv = ["--config", str(path), "--database-url", database.url, *args]
    return CliRunner(env={"COLUMNS": "200"}).invoke(app, argv, obj=State(factory=factory))


def _latency_watch(prometheus: FakeTelemetryServer) -> dict[str, object]:
    """Detection settings watching the fixture's latency series for the last hour."""
    watch = {
        "name": "latency", "query": "shop_latency_ms", "step_seconds": STEP,
        "slo_relevant": True, "gates": {"min_history": 120, "threshold": 0.8},
    }  # fmt: skip
    return {"prometheus_url": prometheus.url, "metrics": [watch], "initial_lookback_seconds": 3600}


def test_detect_once_then_list_anomalies(
    database: DbTarget, prometheus: FakeTelemetryServer, tmp_path: Path
) -> None:
    config = {"detection": _latency_watch(prometheus)}
    ran = _invoke(database, config, tmp_path, "detect", "--once", "--json")
    assert ran.exit_code == 0, ran.output
    report = json.loads(ran.output)
    assert [(e["status"], e["entity"]["service"]) for e in report["events"]] == [
        ("firing", "checkout"),
        ("resolved", "checkout"),
    ]
    first = report["events"][0]
    spike_at = T0 - timedelta(seconds=STEP * (300 - ANOMALY_AT))
    assert first["ts"] == spike_at.isoformat().replace("+00:00", "Z")
    assert report["failures"] == []

    listed = _invoke(database, config, tmp_path, "anomalies", "--window", "2h", "--json")
    assert listed.exit_code == 0, listed.output
    (item,) = json.loads(listed.output)
    assert (item["service"], item["status"], item["occurrences"]) == ("checkout", "resolved", 2)
    table = _invoke(database, config, tmp_path, "anomalies", "--window", "2h")
    assert "metric_anomaly" in table.output
    assert "checkout" in table.output

    prometheus.fail_next(500, "boom")
    again = _invoke(database, config, tmp_path, "detect", "--once", at=60)
    assert again.exit_code == 1
    assert "read failed" in again.output


def test_a_detection_tenant_is_listed_and_a_held_lease_is_exit_3(
    database: DbTarget, prometheus: FakeTelemetryServer, tmp_path: Path
) -> None:
    config = {"detection": {**_latency_watch(prometheus), "tenant": "ops"}}
    assert _invoke(database, config, tmp_path, "detect", "--once").exit_code == 0
    listed = _invoke(database, config, tmp_path, "anomalies", "--window", "2h", "--json")
    assert [item["service"] for item in json.loads(listed.output)] == ["checkout"]
    other = _invoke(
        database, config, tmp_path, "anomalies", "--window", "2h", "--json", "--tenant", "x"
    )
    assert json.loads(other.output) == []

    async def hold() -> None:
        runtime = build_runtime(load_settings(**database.overrides()), clock=FakeClock(T0))
        keeper = LeaseKeeper(runtime.db, "ops", "elsewhere", timedelta(minutes=10))
        try:
            await keeper.acquire(T0 + timedelta(minutes=5))
        finally:
            await runtime.db.dispose()

    asyncio.run(hold())
    skipped = _invoke(database, config, tmp_path, "detect", "--once", at=360)
    assert skipped.exit_code == 3, skipped.output
    assert "held by elsewhere" in skipped.output


def test_detect_without_watches_says_so(database: DbTarget, tmp_path: Path) -> None:
    result = _invoke(database, {}, tmp_path, "detect", "--once")
    assert result.exit_code == 2
    assert "nothing to watch" in result.output
    bad = _invoke(database, {}, tmp_path, "anomalies", "--window", "soon")
    assert bad.exit_code == 2
    assert "is not a number and a unit" in bad.output


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_detect_stops_mid_pass_on_a_signal_and_releases_the_lease(
    database: DbTarget, tmp_path: Path, signum: signal.Signals
) -> None:
    """A Prometheus that takes the connection and never answers holds the pass in its
    read (timeout 30 s): the signal still stops `vigil detect` at once, lease released."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        config = {
            "detection": {
                "prometheus_url": url, "timeout_seconds": 30,
                "metrics": [{"name": "up", "query": "up"}],
            },
        }  # fmt: skip
        if database.schema:
            config["database_schema"] = database.schema
        path = tmp_path / "vigil.yaml"
        path.write_text(yaml.safe_dump(config))
        argv = [sys.executable, "-m", "vigil", "--config", str(path)]
        env = {**os.environ, "VIGIL_DATABASE_URL": database.url}
        child = subprocess.Popen([*argv, "detect"], env=env, stderr=subprocess.PIPE)
        try:
            silent.settimeout(60)
            connection, _ = silent.accept()  # the pass is reading now
            child.send_signal(signum)
            started = time.monotonic()
            code = child.wait(timeout=20)
            took = time.monotonic() - started
            connection.close()
        finally:
            child.kill()
    assert (code, child.stderr.read() if child.stderr else b"") == (0, b"")
    assert took < 10
    # Released: another process runs a pass at once.
    again = subprocess.run(
        [*argv, "detect", "--once"], env=env, capture_output=True, timeout=60, check=False
    )
    assert again.returncode == 1, again.stdout  # it ran, and its read failed (no answer)
