"""`vigil bench ingest`: drive a `vigil serve` process with Alertmanager-shaped load."""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import numpy as np
import sqlalchemy as sa
import typer
from rich.console import Console
from rich.table import Table

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
    requests_per_s: float
    baseline_requests_per_s: float
    p50_ack_ms: float
    p99_ack_ms: float
    p50_store_ms: float
    p99_store_ms: float
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


async def _stored(url: str, schema: str | None, wait_seconds: float) -> dict[str, object]:
    """Wait for the backlog to drain, then read back counts and store latencies."""
    db = Database(url, schema=schema)
    try:
        deadline = time.monotonic() + wait_seconds
        async with db.engine.connect() as conn:
            pending = (
                sa.select(sa.func.count()).select_from(intake).where(intake.c.state == "pending")
            )
            while (await conn.execute(pending)).scalar_one() and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                await conn.rollback()
            one = await conn.execute(
                sa.select(
                    sa.select(sa.func.count()).select_from(intake).scalar_subquery(),
                    sa.select(sa.func.count()).select_from(events).scalar_subquery(),
                    sa.select(
                        sa.func.coalesce(sa.func.sum(events.c.occurrences), 0)
                    ).scalar_subquery(),
                    sa.select(sa.func.count()).select_from(receipts).scalar_subquery(),
                    sa.select(sa.func.count()).select_from(dead_letters).scalar_subquery(),
                )
            )
            intake_rows, event_rows, occurrences, receipt_rows, letters = one.one()
            spans = await conn.execute(sa.select(intake.c.received_at, intake.c.processed_at))
            pairs = [(got, done) for got, done in spans.all() if done is not None]
            store_ms = [(done - got).total_seconds() * 1000 for got, done in pairs]
            # Sustained rate: from the first request received to the last one stored.
            span = max(d for _, d in pairs) - min(g for g, _ in pairs) if pairs else None
        return {
            "intake": intake_rows, "events": event_rows, "occurrences": occurrences,
            "receipts": receipt_rows, "dead_letters": letters, "store_ms": store_ms,
            "span_s": span.total_seconds() if span else float("nan"),
        }  # fmt: skip
    finally:
        await db.dispose()


def _one_run(plan: StormPlan, database: str, concurrency: int, run: int) -> RunFigures:
    workdir = Path(tempfile.mkdtemp(prefix="vigil-bench-"))
    schema = None
    if database == "postgres":
        url, schema = PG_URL, f"bench_{int(time.time())}_{run}"
    else:
        url = f"sqlite:///{workdir / 'bench.db'}"
    env = {"VIGIL_DATABASE_URL": url, "VIGIL_LOG_LEVEL": "warning"}
    if schema:
        env["VIGIL_DATABASE_SCHEMA"] = schema
    server = ServerProcess(env, log=workdir / "server.log")
    server.start()
    try:
        baseline = run_load("127.0.0.1", server.port, "/healthz", [b""] * 3000,
                            concurrency=concurrency, method="GET")  # fmt: skip
        load = run_load("127.0.0.1", server.port, "/api/v1/webhooks/alertmanager", plan.bodies,
                        concurrency=concurrency)  # fmt: skip
        stored = asyncio.run(_stored(url, schema, wait_seconds=300))
    finally:
        server.stop()
        if schema:
            asyncio.run(_drop_schema(schema))
    acked_fps = {fp for i in load.acked for fp in plan.fingerprints[i]}
    alerts_acked = sum(len(plan.fingerprints[i]) for i in load.acked)
    receipts_n = int(stored["receipts"])  # type: ignore[call-overload]
    ack = np.array(load.latencies) * 1000
    store = np.array(stored["store_ms"] or [0.0])
    return RunFigures(
        events_per_s=alerts_acked / load.elapsed,
        stored_events_per_s=receipts_n / float(stored["span_s"]),  # type: ignore[arg-type]
        requests_per_s=len(load.acked) / load.elapsed,
        baseline_requests_per_s=len(baseline.acked) / baseline.elapsed,
        p50_ack_ms=float(np.percentile(ack, 50)),
        p99_ack_ms=float(np.percentile(ack, 99)),
        p50_store_ms=float(np.percentile(store, 50)),
        p99_store_ms=float(np.percentile(store, 99)),
        acked_requests=len(load.acked),
        sent_requests=len(plan.bodies),
        alerts_acked=alerts_acked,
        receipts=receipts_n,
        event_rows=int(stored["events"]),  # type: ignore[call-overload]
        expected_rows=len(acked_fps),
        occurrences=int(stored["occurrences"]),  # type: ignore[call-overload]
        lost=max(0, alerts_acked - receipts_n),
        duplicated=max(0, receipts_n - alerts_acked),
        dead_letters=int(stored["dead_letters"]),  # type: ignore[call-overload]
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
    ratio = statistics.median(r.requests_per_s / r.baseline_requests_per_s for r in runs)
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
