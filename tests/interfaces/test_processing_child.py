"""`vigil serve` embedded: processing runs in a child process, its figures reach /metrics,
and it goes away with the server."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.ingestion import metric_value
from vigil.testing.load import ServerProcess, plan_alertmanager_load, run_load

pytestmark = pytest.mark.slow

HOOK = "/api/v1/webhooks/alertmanager"


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_serve_processes_in_a_child_and_reports_its_figures(tmp_path: Path) -> None:
    env = {"VIGIL_DATABASE_URL": f"sqlite:///{tmp_path / 'vigil.db'}"}
    plan = plan_alertmanager_load(20, seed=3, start=datetime.now(UTC) - timedelta(minutes=5))
    server = ServerProcess(env, log=tmp_path / "serve.log")
    server.start()
    try:
        assert server.proc is not None
        children = _children(server.proc.pid)
        assert len(children) == 1  # `vigil process`
        load = run_load("127.0.0.1", server.port, HOOK, plan.bodies, concurrency=4)
        assert load.statuses == {202: 20}
        url = f"http://127.0.0.1:{server.port}/metrics"
        deadline, accepted = time.monotonic() + 30, 0.0
        while time.monotonic() < deadline:
            text = httpx.get(url).text
            accepted = metric_value(text, "vigil_events_accepted_total", source="alertmanager")
            folded = metric_value(text, "vigil_events_deduplicated_total", source="alertmanager")
            if accepted + folded == plan.alerts:
                break
            time.sleep(0.2)
        assert accepted == plan.distinct  # counted by the child, shown by the parent
        assert metric_value(text, "vigil_webhooks_received_total", source="alertmanager") == 20
        assert metric_value(text, "vigil_intake_backlog") == 0
        environ = Path(f"/proc/{children[0]}/environ").read_bytes().split(b"\0")
        [snapshot] = [Path(v.split(b"=", 1)[1].decode()) for v in environ
                      if v.startswith(b"VIGIL_METRICS_SNAPSHOT=")]  # fmt: skip
        assert snapshot.exists()
    finally:
        server.stop()
    assert not snapshot.parent.exists()  # the snapshot's folder goes with the server
    deadline = time.monotonic() + 15
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in children)
