"""Real Prometheus and Alertmanager on loopback ports, fed by an exporter whose gauges a
test sets, so tests talk to the real peers at the wire."""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
import subprocess
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any, Generic, Literal, Self, TypeVar
from urllib.parse import urlsplit

import httpx
import yaml
from prometheus_client import CollectorRegistry, MetricsHandler
from prometheus_client.metrics_core import Metric

from vigil.testing.load import ServerProcess, free_port

__all__ = [
    "INSTALL_HINT",
    "Alertmanager",
    "AlertmanagerConfig",
    "MetricsExporter",
    "PeerError",
    "Prometheus",
    "PrometheusConfig",
    "eventually",
    "peer_binary",
    "peers_problem",
]

Peer = Literal["prometheus", "alertmanager"]
T = TypeVar("T")
ConfigT = TypeVar("ConfigT")

INSTALL_HINT = "run scripts/install-peers.sh (Debian packages prometheus, prometheus-alertmanager)"
# Upstream tarballs name the binary `alertmanager`; Debian names it `prometheus-alertmanager`.
_NAMES: dict[Peer, tuple[str, ...]] = {
    "prometheus": ("prometheus",),
    "alertmanager": ("alertmanager", "prometheus-alertmanager"),
}
# Searched after PATH: a trimmed PATH (sudo, CI shells) must not hide an installed package.
_FALLBACK_DIRS = ("/usr/bin", "/usr/local/bin")


class PeerError(RuntimeError):
    """A peer binary is missing, did not become ready, or its API answered an error."""


def peer_binary(peer: Peer) -> str | None:
    """Path of the `prometheus` or `alertmanager` binary, or None when it is not installed."""
    search = os.pathsep.join([os.environ.get("PATH", ""), *_FALLBACK_DIRS])
    for name in _NAMES[peer]:
        if found := shutil.which(name, path=search):
            return found
    return None


@functools.cache
def peers_problem() -> str | None:
    """Why real Prometheus and Alertmanager cannot run on this machine, or None if both can."""
    problems = []
    for peer in _NAMES:
        binary = peer_binary(peer)
        if binary is None:
            problems.append(f"no {peer} binary on PATH")
            continue
        try:
            subprocess.run([binary, "--version"], capture_output=True, check=True, timeout=20)
        except (OSError, subprocess.SubprocessError) as exc:
            problems.append(f"{binary} --version failed ({exc})")
    return f"{'; '.join(problems)}; {INSTALL_HINT}" if problems else None


async def eventually(
    probe: Callable[[], Awaitable[T | None]],
    what: str,
    *,
    within: float = 30.0,
    interval: float = 0.2,
) -> T:
    """Call `probe` until it returns something other than None and return that; raise
    TimeoutError naming `what` after `within` seconds. For waiting, never for timing."""
    deadline = time.monotonic() + within
    while True:
        if (found := await probe()) is not None:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not seen within {within}s")
        await asyncio.sleep(interval)


def _duration(seconds: float) -> str:
    """A Prometheus/Alertmanager duration; milliseconds so sub-second values survive."""
    return f"{round(seconds * 1000)}ms"


class _Managed(ABC):
    """`with` and `async with` around a blocking start/stop (run on a thread when async)."""

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def stop(self) -> None: ...

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await asyncio.to_thread(self.stop)


_LabelKey = tuple[tuple[str, str], ...]


class MetricsExporter(_Managed):
    """Gauges on `http://127.0.0.1:<port>/metrics` (prometheus_client's exposition) whose
    values the test sets; Prometheus scrapes them as `target`."""

    def __init__(self, *, port: int | None = None) -> None:
        self.port = port or free_port()
        self.target = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.target}/metrics"
        self._lock = threading.Lock()
        self._values: dict[str, dict[_LabelKey, float]] = {}
        self._registry = CollectorRegistry(auto_describe=False)
        self._registry.register(self)
        self._server: ThreadingHTTPServer | None = None

    def set(self, name: str, value: float, labels: Mapping[str, str] | None = None) -> None:
        """Set (or create) the series `name{labels}`; the next scrape sees `value`."""
        with self._lock:
            self._values.setdefault(name, {})[_key(labels)] = float(value)

    def remove(self, name: str, labels: Mapping[str, str] | None = None) -> None:
        """Stop exposing `name{labels}`, so Prometheus marks the series stale."""
        with self._lock:
            self._values.get(name, {}).pop(_key(labels), None)

    def collect(self) -> Iterable[Metric]:
        """The gauges as they are now; prometheus_client renders them at every scrape."""
        with self._lock:
            snapshot = {name: dict(series) for name, series in self._values.items() if series}
        for name, series in sorted(snapshot.items()):
            metric = Metric(name, "Set by the test.", "gauge")
            for key, value in series.items():
                metric.add_sample(name, dict(key), value)
            yield metric

    def start(self) -> None:
        handler = MetricsHandler.factory(self._registry)
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()  # returns once serve_forever has, so the thread ends
            self._server.server_close()
            self._server = None


def _key(labels: Mapping[str, str] | None) -> _LabelKey:
    return tuple(sorted((labels or {}).items()))


class _PeerProcess(_Managed, ServerProcess, Generic[ConfigT]):
    """A peer binary on a free loopback port with a config generated from `config` in its
    own temp dir (removed on stop); `start` returns once `_ready` holds."""

    peer: Peer

    def __init__(self, config: ConfigT, *, port: int | None = None, binary: str | None = None):
        ServerProcess.__init__(self, {}, port=port)
        self.config = config
        self.binary = binary or peer_binary(self.peer)
        self.url = f"http://127.0.0.1:{self.port}"
        self.workdir: Path | None = None

    @abstractmethod
    def _arguments(self, workdir: Path) -> list[str]:
        """Write the config files into `workdir`; the command-line flags that use them."""

    def start(self, timeout: float = 60.0) -> None:
        if self.binary is None:
            raise PeerError(f"no {self.peer} binary on PATH; {INSTALL_HINT}")
        self.workdir = Path(tempfile.mkdtemp(prefix=f"vigil-{self.peer}-"))
        self.log = self.workdir / f"{self.peer}.log"
        try:
            command = [self.binary, *self._arguments(self.workdir)]
            with self.log.open("wb") as out:  # the child keeps its own copy of the handle
                self.proc = subprocess.Popen(
                    command, stdout=out, stderr=subprocess.STDOUT, cwd=self.workdir
                )
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        # trust_env=False: loopback never goes through a proxy set in the environment.
        with httpx.Client(base_url=self.url, timeout=2.0, trust_env=False) as client:
            while time.monotonic() < deadline:
                assert self.proc is not None
                if self.proc.poll() is not None:
                    code = self.proc.returncode
                    raise PeerError(f"{self.peer} exited with {code}:\n{self.log_tail()}")
                try:
                    if self._ready(client):
                        return
                except (httpx.HTTPError, ValueError, KeyError):
                    pass
                time.sleep(0.1)
        raise PeerError(f"{self.peer} not ready at {self.url} in {timeout}s:\n{self.log_tail()}")

    def _ready(self, client: httpx.Client) -> bool:
        """Whether a test can use the peer now; by default `/-/ready` answering 200."""
        return client.get("/-/ready").status_code == 200

    def log_tail(self, lines: int = 30) -> str:
        """The last lines the binary logged (its log lives in the temp dir until stop)."""
        if self.log is None or not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        ServerProcess.stop(self)
        self.proc = None
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None
            self.log = None

    async def _get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        async with httpx.AsyncClient(base_url=self.url, timeout=10.0, trust_env=False) as client:
            response = await client.get(path, params=params)
        if response.status_code != 200:
            status, text = response.status_code, response.text[:500]
            raise PeerError(f"{self.peer} GET {path} {params} -> {status}: {text}")
        return response.json()


@dataclass(frozen=True)
class PrometheusConfig:
    """What the generated prometheus.yml says: whom to scrape, which rules to evaluate
    (a rule-file YAML text), where to send alerts, and how often (seconds)."""

    targets: Sequence[str]
    rules: str | None = None
    alertmanager_url: str | None = None
    scrape_interval: float = 1.0
    evaluation_interval: float = 1.0

    def document(self) -> dict[str, Any]:
        """prometheus.yml as data; the rule file is referenced as `rules.yml`."""
        interval = _duration(self.scrape_interval)
        config: dict[str, Any] = {
            "global": {
                "scrape_interval": interval,
                "scrape_timeout": interval,
                "evaluation_interval": _duration(self.evaluation_interval),
            },
            "scrape_configs": [
                {"job_name": "exporter", "static_configs": [{"targets": list(self.targets)}]}
            ],
        }
        if self.rules is not None:
            config["rule_files"] = ["rules.yml"]
        if self.alertmanager_url is not None:
            url = urlsplit(self.alertmanager_url)
            target = {"static_configs": [{"targets": [url.netloc]}], "scheme": url.scheme}
            if url.path.strip("/"):
                target["path_prefix"] = url.path
            config["alerting"] = {"alertmanagers": [target]}
        return config


class Prometheus(_PeerProcess[PrometheusConfig]):
    """The real Prometheus server, its TSDB in a temp dir; `query*` speak its HTTP API."""

    peer: Peer = "prometheus"

    def _arguments(self, workdir: Path) -> list[str]:
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(self.config.document()))
        if self.config.rules is not None:
            (workdir / "rules.yml").write_text(self.config.rules)
        return [
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            f"--web.external-url={self.url}",
        ]

    def _ready(self, client: httpx.Client) -> bool:
        """Ready, and discovery has handed over every target and the Alertmanager: it
        batches updates every 5 s, and an alert fired before its Alertmanager is known is
        dropped until the rule's resend delay (1 min) passes."""
        if not super()._ready(client):
            return False
        targets = client.get("/api/v1/targets").json()["data"]["activeTargets"]
        managers = client.get("/api/v1/alertmanagers").json()["data"]["activeAlertmanagers"]
        wants_manager = self.config.alertmanager_url is not None
        return len(targets) >= len(set(self.config.targets)) and bool(managers) >= wants_manager

    async def _result(self, path: str, params: Mapping[str, str]) -> list[dict[str, Any]]:
        body = await self._get(path, params)
        if body.get("status") != "success":
            raise PeerError(f"prometheus {path} {params}: {body.get('error')}")
        return list(body["data"]["result"])

    async def query(self, expr: str, *, at: float | None = None) -> list[dict[str, Any]]:
        """`/api/v1/query`: the instant vector (`[{metric, value}]`) at `at` (unix s)."""
        params = {"query": expr} if at is None else {"query": expr, "time": str(at)}
        return await self._result("/api/v1/query", params)

    async def query_range(
        self, expr: str, start: float, end: float, step: float = 1.0
    ) -> list[dict[str, Any]]:
        """`/api/v1/query_range`: the matrix (`[{metric, values}]`), times in unix s."""
        params = {"query": expr, "start": str(start), "end": str(end), "step": str(step)}
        return await self._result("/api/v1/query_range", params)

    async def wait_for(self, expr: str, *, within: float = 30.0) -> list[dict[str, Any]]:
        """Poll `expr` until it returns at least one series; that result."""

        async def probe() -> list[dict[str, Any]] | None:
            return await self.query(expr) or None

        return await eventually(probe, f"prometheus series for {expr!r}", within=within)

    async def alerts(self) -> list[dict[str, Any]]:
        """`/api/v1/alerts`: the alerts the rules currently hold (pending or firing)."""
        body = await self._get("/api/v1/alerts")
        return list(body["data"]["alerts"])


@dataclass(frozen=True)
class AlertmanagerConfig:
    """What the generated alertmanager.yml says: one route, short timers (seconds), one
    webhook receiver that is also told about resolutions."""

    webhook_url: str
    group_by: Sequence[str] = ("alertname",)
    group_wait: float = 1.0
    group_interval: float = 1.0
    repeat_interval: float = 60.0
    resolve_timeout: float = 5.0

    def document(self) -> dict[str, Any]:
        """alertmanager.yml as data."""
        return {
            "global": {"resolve_timeout": _duration(self.resolve_timeout)},
            "route": {
                "receiver": "webhook",
                "group_by": list(self.group_by),
                "group_wait": _duration(self.group_wait),
                "group_interval": _duration(self.group_interval),
                "repeat_interval": _duration(self.repeat_interval),
            },
            "receivers": [
                {
                    "name": "webhook",
                    "webhook_configs": [{"url": self.webhook_url, "send_resolved": True}],
                }
            ],
        }


class Alertmanager(_PeerProcess[AlertmanagerConfig]):
    """The real Alertmanager, clustering off, its state in a temp dir; posts webhook v4
    bodies to the configured URL."""

    peer: Peer = "alertmanager"

    def _arguments(self, workdir: Path) -> list[str]:
        (workdir / "alertmanager.yml").write_text(yaml.safe_dump(self.config.document()))
        return [
            f"--config.file={workdir / 'alertmanager.yml'}",
            f"--storage.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            f"--web.external-url={self.url}",
            # Empty: no gossip, so no cluster settle delay before the first notification.
            "--cluster.listen-address=",
        ]

    async def alerts(self) -> list[dict[str, Any]]:
        """`/api/v2/alerts`: the alerts Alertmanager holds, with their status."""
        return list(await self._get("/api/v2/alerts"))
