"""`vigil bench ingest`: drive a `vigil serve` process with Alertmanager-shaped load."""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import numpy as np
import sqlalchemy as sa
import typer
from rich.console import Console
from rich.table import Table

from vigil.pipeline.outbox import open_outbox
from vigil.pipeline.tables import dead_letters, events, intake, receipts
from vigil.platform.db import Database
from vigil.testing.load import ServerProcess, StormPlan, plan_alertmanager_load, run_load

__all__ = ["register"]

console = Console()
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


@dataclass
class RunFigures:
    events_per_s: float
    stored_events_per_s: float
    baseline_requests_per_s: float
    saturated_p50_ack_ms: float
    saturated_p99_ack_ms: float
    paced_events_per_s: float
    paced_p50_ack_ms: float
    paced_p99_ack_ms: float
    paced_p50_store_ms: float
    paced_p99_store_ms: float
    steady_events_per_s: float
    steady_p50_ack_ms: float
    steady_p99_ack_ms: float
    steady_p50_store_ms: float
    steady_p99_store_ms: float
    acked_requests: int
    sent_requests: int
    alerts_acked: int
    receipts: int
    event_rows: int
    expected_rows: int
    occurrences: int
    lost: int
    duplicated: int
    dead_letters: int


@dataclass
class _Stored:
    intake: int
    events: int
    occurrences: int
    receipts: int
    dead_letters: int
    spans: list[tuple[datetime, datetime]]


@contextlib.asynccontextmanager
async def _opened(url: str, schema: str | None) -> AsyncIterator[tuple[Database, Database]]:
    """The server's database and where its intake is (vigil.pipeline.outbox)."""
    db = Database(url, schema=schema)
    outbox = open_outbox(url) or db
    try:
        yield db, outbox
    finally:
        await db.dispose()
        if outbox is not db:
            await outbox.dispose()


async def _wait_drained(outbox: Database, wait_seconds: float) -> None:
    """Wait (up to `wait_seconds`) until no request in intake is pending."""
    deadline = time.monotonic() + wait_seconds
    async with outbox.engine.connect() as conn:
        pending = sa.select(sa.func.count()).select_from(intake)
        pending = pending.where(intake.c.state == "pending")
        while (await conn.execute(pending)).scalar_one() and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            await conn.rollback()


async def _drained(url: str, schema: str | None, wait_seconds: float) -> None:
    async with _opened(url, schema) as (_, outbox):
        await _wait_drained(outbox, wait_seconds)


async def _stored(url: str, schema: str | None, wait_seconds: float) -> _Stored:
    """Wait for the backlog to drain, then read back counts and (received, processed)."""
    async with _opened(url, schema) as (db, outbox):
        await _wait_drained(outbox, wait_seconds)
        async with outbox.engine.connect() as conn:
            n_intake = (
                await conn.execute(sa.select(sa.func.count()).select_from(intake))
            ).scalar_one()
            spans = await conn.execute(sa.select(intake.c.received_at, intake.c.processed_at))
            pairs = [(got, done) for got, done in spans.all() if done is not None]
        async with db.engine.connect() as conn:
            counts = [
                sa.select(sa.func.count()).select_from(events).scalar_subquery(),
                sa.select(sa.func.coalesce(sa.func.sum(events.c.occurrences), 0)).scalar_subquery(),
                sa.select(sa.func.count()).select_from(receipts).scalar_subquery(),
                sa.select(sa.func.count()).select_from(dead_letters).scalar_subquery(),
            ]
            row = (await conn.execute(sa.select(*counts))).one()
    n_events, n_occurrences, n_receipts, n_letters = (int(v) for v in row)
    return _Stored(int(n_intake), n_events, n_occurrences, n_receipts, n_letters, pairs)


def _ms(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values or [0.0]) * 1000, q))


def _database(database: str, workdir: Path, run: int) -> tuple[str, str | None]:
    if database == "postgres":
        return PG_URL, f"bench_{int(time.time())}_{run}"
    return f"sqlite:///{workdir / 'bench.db'}", None


def _one_run(plan: StormPlan, database: str, concurrency: int, run: int) -> RunFigures:
    """Saturate (closed loop) for capacity; pace at half of it for time to 2xx (intake
    outruns processing there, so stored-latency is the backlog's); then pace at half of
    the processing rate measured, for time to stored when processing keeps up."""
    workdir = Path(tempfile.mkdtemp(prefix="vigil-bench-"))
    url, schema = _database(database, workdir, run)
    env = {"VIGIL_DATABASE_URL": url, "VIGIL_LOG_LEVEL": "warning"}
    if schema:
        env["VIGIL_DATABASE_SCHEMA"] = schema
    server = ServerProcess(env, log=workdir / "server.log")
    server.start()
    host, hook = "127.0.0.1", "/api/v1/webhooks/alertmanager"
    try:
        baseline = run_load(host, server.port, "/healthz", [b""] * 3000,
                            concurrency=concurrency, method="GET")  # fmt: skip
        saturated = run_load(host, server.port, hook, plan.bodies, concurrency=concurrency)
        first = asyncio.run(_stored(url, schema, wait_seconds=300))
        rate = 0.5 * len(saturated.acked) / saturated.elapsed
        paced_plan = plan_alertmanager_load(
            max(300, int(rate * 15)), seed=run, start=plan.start, tag="paced-"
        )
        paced_from = datetime.now(UTC)
        paced = run_load(host, server.port, hook, paced_plan.bodies, concurrency=128, rate=rate)
        asyncio.run(_drained(url, schema, wait_seconds=300))
        sat_span = max(d for _, d in first.spans) - min(g for g, _ in first.spans)
        processed_per_s = first.receipts / sat_span.total_seconds()
        steady_rate = 0.5 * processed_per_s / plan.per_request
        steady_plan = plan_alertmanager_load(
            max(100, int(steady_rate * 15)), seed=run, start=plan.start, tag="steady-"
        )
        steady_from = datetime.now(UTC)
        steady = run_load(
            host, server.port, hook, steady_plan.bodies, concurrency=32, rate=steady_rate
        )
        final = asyncio.run(_stored(url, schema, wait_seconds=300))
    finally:
        server.stop()
        if schema:
            asyncio.run(_drop_schema(schema))
    acked = [plan.fingerprints[i] for i in saturated.acked]
    acked += [paced_plan.fingerprints[i] for i in paced.acked]
    acked += [steady_plan.fingerprints[i] for i in steady.acked]
    alerts_acked = sum(len(fps) for fps in acked)
    paced_store = [(d - g).total_seconds() for g, d in final.spans if paced_from <= g < steady_from]
    steady_store = [(d - g).total_seconds() for g, d in final.spans if g >= steady_from]
    return RunFigures(
        events_per_s=plan.per_request * len(saturated.acked) / saturated.elapsed,
        stored_events_per_s=processed_per_s,
        baseline_requests_per_s=len(baseline.acked) / baseline.elapsed,
        saturated_p50_ack_ms=_ms(saturated.latencies, 50),
        saturated_p99_ack_ms=_ms(saturated.latencies, 99),
        paced_events_per_s=plan.per_request * rate,
        paced_p50_ack_ms=_ms(paced.latencies, 50),
        paced_p99_ack_ms=_ms(paced.latencies, 99),
        paced_p50_store_ms=_ms(paced_store, 50),
        paced_p99_store_ms=_ms(paced_store, 99),
        steady_events_per_s=plan.per_request * steady_rate,
        steady_p50_ack_ms=_ms(steady.latencies, 50),
        steady_p99_ack_ms=_ms(steady.latencies, 99),
        steady_p50_store_ms=_ms(steady_store, 50),
        steady_p99_store_ms=_ms(steady_store, 99),
        acked_requests=len(saturated.acked) + len(paced.acked) + len(steady.acked),
        sent_requests=len(plan.bodies) + len(paced_plan.bodies) + len(steady_plan.bodies),
        alerts_acked=alerts_acked,
        receipts=final.receipts,
        event_rows=final.events,
        expected_rows=len({fp for fps in acked for fp in fps}),
        occurrences=final.occurrences,
        lost=max(0, alerts_acked - final.receipts),
        duplicated=max(0, final.receipts - alerts_acked),
        dead_letters=final.dead_letters,
    )


async def _drop_schema(schema: str) -> None:
    db = Database(PG_URL)
    async with db.engine.begin() as conn:
        await conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    await db.dispose()


def _table(database: str, runs: list[RunFigures]) -> Table:
    table = Table(title=f"vigil bench ingest — {database}, {len(runs)} run(s), medians")
    table.add_column("figure")
    table.add_column("median", justify="right")
    table.add_column("runs", justify="right")
    for name in RunFigures.__dataclass_fields__:
        values = [getattr(r, name) for r in runs]
        med = statistics.median(values)
        fmt = "{:,.1f}" if isinstance(med, float) else "{:,}"
        table.add_row(name, fmt.format(med), " ".join(fmt.format(v) for v in values))
    ratio = statistics.median(r.events_per_s / 10 / r.baseline_requests_per_s for r in runs)
    table.add_row("webhook req/s ÷ /healthz req/s", f"{ratio:.2f}", "")
    return table


def register(bench_app: typer.Typer) -> None:
    @bench_app.command("ingest")
    def ingest(
        database: Annotated[str, typer.Option(help="sqlite or postgres")] = "sqlite",
        requests: Annotated[int, typer.Option(help="Webhook requests per run")] = 10_000,
        concurrency: Annotated[int, typer.Option(help="Open connections")] = 32,
        runs: Annotated[int, typer.Option(help="Repetitions (medians reported)")] = 3,
        seed: Annotated[int, typer.Option()] = 11,
        json_out: Annotated[Path | None, typer.Option("--json")] = None,
    ) -> None:
        """Alertmanager webhooks (10 alerts each, 20% repeats) against a fresh `vigil serve`."""
        if database not in ("sqlite", "postgres"):
            raise typer.BadParameter("sqlite or postgres", param_hint="--database")
        start = datetime.now(UTC) - timedelta(hours=1)
        plan = plan_alertmanager_load(requests, seed=seed, start=start)
        console.print(f"{requests} requests, {plan.alerts} alerts, {plan.distinct} distinct")
        figures = []
        for run in range(runs):
            figures.append(_one_run(plan, database, concurrency, run))
            console.print(f"run {run + 1}: {figures[-1].events_per_s:,.0f} events/s")
        console.print(_table(database, figures))
        if json_out:
            json_out.write_text(json.dumps([asdict(f) for f in figures], indent=2))
