"""`vigil bench workers`: throughput of 1..N `vigil worker`s on NATS JetStream + Postgres."""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
import typer
from rich.console import Console
from rich.table import Table

from vigil.platform.db import Database
from vigil.testing.load import plan_alertmanager_load
from vigil.testing.scaleout import ScaleOutRun, run_scale_out

__all__ = ["register"]

console = Console()


async def _schema(url: str, name: str, *, drop: bool) -> None:
    db = Database(url)
    try:
        async with db.engine.begin() as conn:
            verb = f'DROP SCHEMA IF EXISTS "{name}" CASCADE' if drop else f'CREATE SCHEMA "{name}"'
            await conn.execute(sa.text(verb))
    finally:
        await db.dispose()


async def _drop_stream(url: str, name: str) -> None:
    import nats

    client = await nats.connect(url)
    try:
        await client.jetstream().delete_stream(name)
    finally:
        await client.close()


def _one_run(workers: int, requests: int, postgres: str, nats_url: str, log: Path) -> ScaleOutRun:
    tag = uuid.uuid4().hex[:10]
    schema, stream = f"vigil_bench_{tag}", f"VIGIL_BENCH_{tag}"
    start = datetime.now(UTC) - timedelta(minutes=10)
    plan = plan_alertmanager_load(requests, seed=11, start=start, tag=tag)
    env = {"VIGIL_DATABASE_URL": postgres, "VIGIL_DATABASE_SCHEMA": schema,
           "VIGIL_BUS_URL": nats_url, "VIGIL_BUS_STREAM": stream,
           "VIGIL_BUS_SUBJECT": f"vigil.bench.{tag}"}  # fmt: skip
    asyncio.run(_schema(postgres, schema, drop=False))
    try:
        return run_scale_out(plan, workers, env, log, (postgres, schema))
    finally:
        asyncio.run(_schema(postgres, schema, drop=True))
        asyncio.run(_drop_stream(nats_url, stream))


def register(bench_app: typer.Typer) -> None:
    @bench_app.command("workers")
    def workers(
        counts: Annotated[str, typer.Option(help="Worker counts to compare")] = "1,2",
        requests: Annotated[int, typer.Option(min=10)] = 1000,
        runs: Annotated[int, typer.Option(min=1)] = 3,
        postgres: Annotated[str, typer.Option()] = "postgresql://postgres@127.0.0.1:5432/test",
        nats_url: Annotated[str, typer.Option("--nats")] = "nats://127.0.0.1:4222",
    ) -> None:
        """Serve with a bus, start N workers, send Alertmanager load (10 alerts a request),
        time until every event is stored and correlated; medians of --runs per count,
        interleaved so machine noise hits every count alike."""
        log = Path(tempfile.mkdtemp(prefix="vigil-bench-")) / "vigil.log"
        wanted = [int(c) for c in counts.split(",")]
        results: dict[int, list[ScaleOutRun]] = {n: [] for n in wanted}
        for _ in range(runs):
            for n in wanted:
                results[n].append(_one_run(n, requests, postgres, nats_url, log))
        table = Table("workers", "events", "acked ev/s", "stored ev/s", "vs first", "non-2xx",
                      title=f"NATS JetStream + Postgres, median of {runs} run(s)")  # fmt: skip
        base = statistics.median(r.stored_events_per_s for r in results[wanted[0]])
        for n, found in results.items():
            stored = statistics.median(r.stored_events_per_s for r in found)
            acked = statistics.median(r.events / r.acked_seconds for r in found)
            bad = sum(v for r in found for k, v in r.statuses.items() if not 200 <= k < 300)
            table.add_row(str(n), str(found[0].events), f"{acked:,.0f}", f"{stored:,.0f}",
                          f"{stored / base:.2f}x", str(bad))  # fmt: skip
        console.print(table)
        console.print(f"logs: {log}")
