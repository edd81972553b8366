"""Scale-out harness: `vigil serve` publishing to the bus and N `vigil worker` processes,
fed an Alertmanager load, timed until every event is stored (tests and benchmarks)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from vigil.pipeline.tables import intake, receipts
from vigil.platform.db import Database
from vigil.testing.load import ServerProcess, StormPlan, run_load

__all__ = ["ScaleOutRun", "run_scale_out", "worker_processes"]

PATH = "/api/v1/webhooks/alertmanager"


@contextmanager
def worker_processes(count: int, env: dict[str, str], log: Path) -> Iterator[None]:
    """`count` `vigil worker` processes with `env`; terminated (gracefully) afterwards."""
    with open(log, "ab") as out:
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "vigil", "worker"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            for _ in range(count)
        ]
        try:
            yield
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(timeout=30)


@dataclass(frozen=True)
class ScaleOutRun:
    workers: int
    events: int
    acked_seconds: float  # first request sent -> last 2xx
    stored_seconds: float  # first request sent -> last event stored and correlated
    statuses: dict[int, int]

    @property
    def stored_events_per_s(self) -> float:
        return self.events / self.stored_seconds


async def _done(db: Database) -> tuple[int, int]:
    async with db.session() as session:
        done = await session.scalar(
            sa.select(sa.func.count()).select_from(intake).where(intake.c.state == "done")
        )
        stored = await session.scalar(sa.select(sa.func.count()).select_from(receipts))
    return int(done or 0), int(stored or 0)


async def _wait_stored(url: str, schema: str | None, plan: StormPlan, seconds: float) -> None:
    db = Database(url, schema=schema)
    want = (len(plan.bodies), plan.alerts)
    try:
        deadline = time.monotonic() + seconds
        while (found := await _done(db)) != want:
            if time.monotonic() > deadline:
                raise TimeoutError(f"stored {found} of {want} (requests, events)")
            await asyncio.sleep(0.1)
    finally:
        await db.dispose()


def run_scale_out(  # noqa: PLR0913 - harness options, all defaulted
    plan: StormPlan,
    workers: int,
    env: dict[str, str],
    log: Path,
    database: tuple[str, str | None],
    timeout: float = 300,
    concurrency: int = 16,
) -> ScaleOutRun:
    """Serve with `env` (which names the bus and the database), start the workers, send
    the plan over `concurrency` connections (1: in the plan's order, so runs can be
    compared) and wait until all of it is stored."""
    server = ServerProcess(env, log=log)
    server.start()
    try:
        with worker_processes(workers, server.env, log):
            began = time.perf_counter()
            load = run_load("127.0.0.1", server.port, PATH, plan.bodies, concurrency=concurrency)
            acked = time.perf_counter() - began
            asyncio.run(_wait_stored(database[0], database[1], plan, timeout))
            stored = time.perf_counter() - began
    finally:
        server.stop()
    return ScaleOutRun(workers, plan.alerts, acked, stored, dict(load.statuses))
