"""`vigil demo`: the embedded service on loopback, fed a realistic alert storm over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import httpx
import typer
import uvicorn
from rich.progress import Progress
from rich.table import Table

from vigil.incidents.read import incident_stats, list_summaries
from vigil.incidents.repository import IncidentQuery
from vigil.interfaces.api import create_app
from vigil.interfaces.cli.output import add_data_row, console, fail
from vigil.interfaces.runtime import Runtime
from vigil.platform.settings import MaintenanceWindow, Matcher, SilenceRule, default_data_dir
from vigil.testing.storm import StormRequest, generate_storm, storm_summary

__all__ = ["register"]

CATALOG = Path(__file__).with_name("demo_catalog.yaml")


def _demo_settings(data_dir: Path) -> dict[str, object]:
    """A fresh database and a config that shows silences and a maintenance window."""
    database = data_dir / "demo.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    return {
        "database_url": f"sqlite:///{database}",
        "catalog_path": CATALOG,
        "silences": [
            SilenceRule(
                id="staging-noise",
                matchers=[Matcher(name="env", value="staging")],
                ends_at=datetime(2099, 1, 1, tzinfo=UTC),
                comment="staging never pages",
            )
        ],
        "maintenance_windows": [
            MaintenanceWindow(
                name="nightly-batch",
                matchers=[Matcher(name="alertname", value="BatchJobSlow")],
                start=datetime.min.time(),
                end=datetime.max.time().replace(microsecond=0),
            )
        ],
    }


async def _send(client: httpx.AsyncClient, request: StormRequest) -> int:
    response = await client.post(
        f"/api/v1/webhooks/{request.source}", json=request.body, headers=request.headers
    )
    return response.status_code


async def _replay(base_url: str, storm: list[StormRequest]) -> dict[int, int]:
    statuses: dict[int, int] = {}
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        with Progress(console=console, transient=False) as progress:
            task = progress.add_task("replaying alert storm", total=len(storm))
            for request in storm:
                status = await _send(client, request)
                statuses[status] = statuses.get(status, 0) + 1
                progress.advance(task)
    return statuses


def _count(runtime: Runtime, name: str) -> int:
    total = 0.0
    for metric in runtime.metrics.registry.collect():
        for sample in metric.samples:
            if sample.name == f"{name}_total":
                total += sample.value
    return int(total)


def _summary(runtime: Runtime, storm: list[StormRequest], statuses: dict[int, int]) -> Table:
    alerts = storm_summary(storm)["alerts"]
    table = Table(title="What Vigil did with the storm", show_header=False)
    rows = [
        ("webhook requests sent", len(storm)),
        ("  accepted (202)", statuses.get(202, 0)),
        ("  redelivered, recognised (200)", statuses.get(200, 0)),
        ("  rejected (4xx, dead-lettered)", sum(v for k, v in statuses.items() if k >= 400)),
        ("alerts in the payloads", alerts),
        ("events stored (distinct alerts)", _count(runtime, "vigil_events_accepted")),
        ("folded into a stored event (dedup)", _count(runtime, "vigil_events_deduplicated")),
        ("redelivered events not counted twice", _count(runtime, "vigil_events_redelivered")),
        ("silenced (stored, muted)", _count(runtime, "vigil_events_silenced")),
        ("dead letters", _count(runtime, "vigil_dead_letters")),
    ]
    for name, value in rows:
        table.add_row(name, str(value))
    return table


async def _incidents(runtime: Runtime) -> tuple[Table, str | None]:
    tenant = runtime.settings.default_tenant
    async with runtime.db.session() as session:
        stats = await incident_stats(session, tenant)
        found = await list_summaries(session, IncidentQuery(tenant_id=tenant, limit=20))
    reduction = f"{stats.noise_reduction:.1%}" if stats.noise_reduction is not None else "-"
    table = Table(
        title=f"The storm became {stats.incidents_out} incident(s): {stats.alerts_in} alert "
        f"notifications in, noise reduction {reduction}",
    )
    for column in ("id", "state", "pri", "alerts"):
        table.add_column(column, no_wrap=True)
    table.add_column("services")
    for i in reversed(found):
        add_data_row(table, i.id, i.state.value, i.priority, i.alert_count, ", ".join(i.services))
    return table, found[-1].id if found else None


async def _demo(
    runtime: Runtime, host: str, port: int, storm: list[StormRequest], stay: bool
) -> None:
    server = uvicorn.Server(
        uvicorn.Config(create_app(runtime), host=host, port=port, log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            await serving
            raise typer.Exit(1)
        await asyncio.sleep(0.05)
    base = f"http://{host}:{port}"
    console.print(f"Vigil is serving on {base} (database {runtime.db.display_url})")
    statuses = await _replay(base, storm)
    while await runtime.processor.backlog():  # noqa: ASYNC110 - polls the database
        await asyncio.sleep(0.1)
    console.print(_summary(runtime, storm, statuses))
    table, first = await _incidents(runtime)
    console.print(table)
    console.print(f"Try: vigil --database-url {runtime.db.display_url} incident {first}")
    console.print(f"     curl -s '{base}/api/v1/incidents'")
    console.print(f"     vigil --database-url {runtime.db.display_url} dlq list")
    if stay:
        console.print(f"Open {base}/docs — Ctrl-C to stop.")
        with contextlib.suppress(asyncio.CancelledError):
            await serving
    else:
        server.should_exit = True
        await serving


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        ctx: typer.Context,
        exit_after: Annotated[bool, typer.Option("--exit", help="Replay, print, exit")] = False,
        host: Annotated[str, typer.Option()] = "127.0.0.1",
        port: Annotated[int, typer.Option()] = 8000,
        seed: Annotated[int, typer.Option(help="Storm generator seed")] = 7,
        alerts: Annotated[int, typer.Option(min=1, help="Alerts in the storm")] = 300,
        data_dir: Annotated[Path | None, typer.Option(help="Where demo.db goes")] = None,
    ) -> None:
        """Start Vigil on loopback, replay a realistic alert storm to it, show the result."""
        from vigil.interfaces.cli import State

        state: State = ctx.obj
        overrides = _demo_settings(data_dir or default_data_dir())
        runtime = state.factory(state.settings(**overrides))
        # The storm happened over the last half hour or so: its end lands a minute ago.
        now = datetime.now(UTC)
        duration = storm_summary(generate_storm(seed, start=now, alerts=alerts))
        start = now - timedelta(seconds=float(duration["duration_seconds"]) + 60)
        storm = generate_storm(seed, start=start, alerts=alerts)
        try:
            asyncio.run(_demo(runtime, host, port, storm, stay=not exit_after))
        except KeyboardInterrupt:
            console.print("stopped")
        except SystemExit:  # uvicorn exits when it cannot bind; it said why above
            fail(f"cannot serve on {host}:{port}")
