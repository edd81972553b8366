"""Alertmanager-shaped load for benchmarks and crash tests: payloads, a lean HTTP client,
and a server process to drive (loopback only)."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import orjson

from vigil.events import fingerprint_labels

__all__ = [
    "LoadResult",
    "ServerProcess",
    "StormPlan",
    "free_port",
    "plan_alertmanager_load",
    "run_load",
]

_ALERTNAMES = (
    "HighErrorRate", "HighLatencyP99", "PodCrashLooping", "PodNotReady", "CPUThrottlingHigh",
    "MemoryNearLimit", "DiskWillFillIn4h", "TargetDown", "HighRequestQueue", "SLOBurnRateFast",
    "SLOBurnRateSlow", "DeploymentReplicasMismatch", "ContainerOOMKilled", "HTTP5xxSpike",
    "DBConnectionsSaturated", "KafkaConsumerLag", "CertificateExpiringSoon", "NodeNotReady",
    "PersistentVolumeFull", "JobFailed",
)  # fmt: skip


@dataclass(frozen=True)
class StormPlan:
    """Request bodies plus what must be stored once they are all processed."""

    bodies: list[bytes]
    alerts: int
    distinct: int
    fingerprints: list[list[str]] = field(repr=False)
    start: datetime = field(repr=False, default=datetime.min)
    per_request: int = 10


def _alert(labels: dict[str, str], starts: datetime) -> dict[str, object]:
    return {
        "status": "firing",
        "labels": labels,
        "annotations": {"summary": f"{labels['alertname']} on {labels['service']}"},
        "startsAt": starts.isoformat().replace("+00:00", "Z"),
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.example/graph",
        "fingerprint": fingerprint_labels(labels),
    }


def plan_alertmanager_load(  # noqa: PLR0913 - every option is a keyword
    requests: int,
    *,
    seed: int,
    start: datetime,
    per_request: int = 10,
    repeat: float = 0.2,
    tag: str = "",
    spacing: timedelta = timedelta(milliseconds=1),
    grouped: bool = False,
) -> StormPlan:
    """`requests` webhook bodies of `per_request` alerts starting `spacing` apart; a `repeat`
    share of the alerts re-fire an alert sent earlier (same labels, new startsAt), so they
    fold, not add. Plans with different `tag`s share no alert. `grouped` makes each request
    one Alertmanager group (one alertname on one service) instead of a random mix."""
    rng = random.Random(seed)
    services = [f"svc-{i:02d}" for i in range(40)]
    sent: list[dict[str, str]] = []
    by_group: dict[tuple[str, str], list[dict[str, str]]] = {}
    bodies, fps = [], []
    for r in range(requests):
        group = (rng.choice(_ALERTNAMES), rng.choice(services)) if grouped else None
        pool = by_group.setdefault(group, []) if group else sent
        alerts, request_fps = [], []
        for a in range(per_request):
            starts = start + spacing * (r * per_request + a)
            if sent and rng.random() < repeat and pool:
                labels = rng.choice(pool)
            else:
                service = group[1] if group else rng.choice(services)
                labels = {
                    "alertname": group[0] if group else rng.choice(_ALERTNAMES),
                    "service": service,
                    "namespace": f"ns-{rng.randrange(6)}",
                    "cluster": f"prod-{rng.choice('abc')}",
                    "pod": f"{service}-{tag}{len(sent):07d}",
                    "severity": rng.choice(("critical", "warning", "warning", "error")),
                    "team": f"team-{int(service[-2:]) % 8}",
                }
                sent.append(labels)
                if group:
                    pool.append(labels)
            alert = _alert(labels, starts)
            alerts.append(alert)
            request_fps.append(str(alert["fingerprint"]))
        first = alerts[0]["labels"]
        key = f'alertname="{first["alertname"]}"'  # type: ignore[index]
        if group:
            key += f', service="{first["service"]}"'  # type: ignore[index]
        body = {
            "version": "4",
            "status": "firing",
            "receiver": "vigil",
            "groupKey": f"{{}}:{{{key}}}",
            "alerts": alerts,
            "externalURL": "http://alertmanager.example",
        }
        bodies.append(orjson.dumps(body))
        fps.append(request_fps)
    return StormPlan(bodies, requests * per_request, len(sent), fps, start, per_request)


@dataclass
class LoadResult:
    latencies: list[float]
    statuses: dict[int, int]
    acked: list[int]
    elapsed: float
    errors: int


@dataclass(frozen=True)
class _Target:
    host: str
    port: int
    path: str
    method: str
    rate: float | None = None


async def _connection(
    target: _Target,
    queue: asyncio.Queue[int],
    bodies: Sequence[bytes],
    out: LoadResult,
    began: float,
) -> None:
    reader, writer = await asyncio.open_connection(target.host, target.port)
    head = (
        f"{target.method} {target.path} HTTP/1.1\r\nHost: {target.host}\r\n"
        "Content-Type: application/json\r\n"
    )
    try:
        while True:
            try:
                index = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            body = bodies[index]
            sent = time.perf_counter()
            if target.rate:
                # Open loop: request i is due at i/rate; latency counts from when it was
                # due, so a slow server cannot hide its backlog (no coordinated omission).
                sent = began + index / target.rate
                if sent > time.perf_counter():
                    await asyncio.sleep(sent - time.perf_counter())
            writer.write(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            status = int(status_line.split()[1])
            out.latencies.append(time.perf_counter() - sent)
            out.statuses[status] = out.statuses.get(status, 0) + 1
            if 200 <= status < 300:
                out.acked.append(index)
    except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
        out.errors += 1
    finally:
        writer.close()


async def _load(target: _Target, bodies: Sequence[bytes], concurrency: int) -> LoadResult:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(bodies)):
        queue.put_nowait(i)
    out = LoadResult([], {}, [], 0.0, 0)
    began = time.perf_counter()
    await asyncio.gather(
        *(_connection(target, queue, bodies, out, began) for _ in range(concurrency))
    )
    out.elapsed = time.perf_counter() - began
    return out


def run_load(  # noqa: PLR0913 - every option is a keyword
    host: str,
    port: int,
    path: str,
    bodies: Sequence[bytes],
    *,
    concurrency: int = 32,
    method: str = "POST",
    rate: float | None = None,
) -> LoadResult:
    """Send every body once over `concurrency` keep-alive connections; blocks. Without
    `rate` as fast as the server answers (closed loop); with it, `rate` requests/s."""
    target = _Target(host, port, path, method, rate)
    return asyncio.run(_load(target, bodies, concurrency))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerProcess:
    """`vigil serve` as a child process on a loopback port, with its own environment."""

    def __init__(self, env: dict[str, str], *, port: int | None = None, log: Path | None = None):
        self.port = port or free_port()
        self.env = {**os.environ, **env}
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> None:
        cmd = [sys.executable, "-m", "vigil", "serve", "--port", str(self.port)]
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"vigil serve exited with {self.proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"vigil serve did not listen on {self.port} within {timeout}s")

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no flush; what a crash looks like."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
