"""CLI for incidents: list, show, move, merge, split, stats; and `vigil eval correlation`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from enum import StrEnum
from typing import Annotated, TypeVar

import typer
from rich.table import Table
from rich.text import Text

from vigil.incidents import (
    IllegalTransitionError,
    IncidentNotFoundError,
    IncidentService,
    IncidentState,
    InvalidRequestError,
    Trigger,
)
from vigil.incidents.read import (
    IncidentDetail,
    IncidentSummary,
    incident_detail,
    incident_stats,
    list_summaries,
)
from vigil.incidents.repository import IncidentQuery
from vigil.interfaces.cli import State, reading
from vigil.interfaces.cli.output import add_data_row, console, fail, stamp
from vigil.interfaces.cli.times import as_utc
from vigil.interfaces.runtime import Runtime

__all__ = ["register"]

T = TypeVar("T")
_REFUSALS = (IncidentNotFoundError, IllegalTransitionError, InvalidRequestError)


class Priority(StrEnum):
    P0 = "P0"
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"


Actor = Annotated[str, typer.Option(help="Who does it", envvar="USER")]
Reason = Annotated[str, typer.Option("--reason", "-r")]


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    minutes, seconds = divmod(int(value), 60)
    return f"{minutes}m{seconds:02d}s" if minutes < 120 else f"{minutes / 60:.1f}h"


async def _started(state: State) -> Runtime:
    runtime = state.runtime()
    await runtime.start(background=False)
    return runtime


def _with_incidents(state: State, work: Callable[[IncidentService, str], Awaitable[T]]) -> T:
    """Run `work(service, tenant)` on a started runtime; a refusal (unknown incident,
    illegal move, impossible merge or split) is printed and exits 1."""

    async def body() -> T:
        runtime = await _started(state)
        try:
            return await work(runtime.incidents, runtime.settings.default_tenant)
        finally:
            await runtime.stop()

    try:
        return asyncio.run(body())
    except _REFUSALS as exc:
        fail(str(exc))


def _print_detail(found: IncidentDetail) -> None:
    console.print(Text(found.title, style="bold"), found.id)
    merged = f" · merged into {found.merged_into}" if found.merged_into else ""
    timings = f"MTTA {_seconds(found.mtta_seconds)} · MTTR {_seconds(found.mttr_seconds)}"
    services = ", ".join(found.services)
    console.print(Text(f"{found.state.value}{merged} · {found.priority} · {found.severity} · "
                       f"services: {services} · {timings}"))  # fmt: skip
    members = Table("started", "service", "alert", "status", "grouped because", "event id",
                    title="alerts")  # fmt: skip
    for m in found.members:
        add_data_row(members, stamp(m.attached_at), m.service, m.title, m.status, m.reason,
                     m.event_id)  # fmt: skip
    console.print(members)
    timeline = Table("at", "actor", "what", title="timeline")
    for entry in found.timeline:
        add_data_row(timeline, stamp(entry.at), entry.actor, entry.summary)
    console.print(timeline)
    console.print(f"next: {', '.join(found.allowed_triggers) or 'nothing'}")


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    @app.command("incidents")
    def incidents(
        ctx: typer.Context,
        state: Annotated[IncidentState | None, typer.Option()] = None,
        priority: Annotated[Priority | None, typer.Option(case_sensitive=False)] = None,
        service: Annotated[str | None, typer.Option()] = None,
        since: Annotated[datetime | None, typer.Option(help="ISO time (UTC if no zone)")] = None,
        limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """List incidents, the last opened first (an incident opened now for an old alert
        comes first, though it shows the alert's older detection time)."""

        async def read(runtime: Runtime) -> list[IncidentSummary]:
            query = IncidentQuery(
                tenant_id=runtime.settings.default_tenant,
                state=state.value if state else None,
                priority=priority.value if priority else None,
                service=service,
                since=as_utc(since, "--since"),
                limit=limit,
            )
            async with runtime.db.session() as session:
                return await list_summaries(session, query)

        async def body() -> None:
            found = await reading(ctx.obj.runtime(), read)
            if as_json:
                print(json.dumps([i.model_dump(mode="json") for i in found], indent=2))
                return
            table = Table()
            for column in ("id", "detected", "state", "pri", "alerts"):
                table.add_column(column, no_wrap=True)
            table.add_column("services")
            table.add_column("title")
            for i in found:
                add_data_row(table, i.id, stamp(i.detected_at), i.state.value, i.priority,
                             i.alert_count, ", ".join(i.services)[:40], i.title[:60])  # fmt: skip
            console.print(table)

        asyncio.run(body())

    @app.command("incident")
    def incident(
        ctx: typer.Context,
        incident_id: Annotated[str, typer.Argument(help="Incident id")],
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """One incident: its alerts (and why each was grouped) and its timeline."""

        async def read(runtime: Runtime) -> IncidentDetail | None:
            async with runtime.db.session() as session:
                return await incident_detail(session, runtime.settings.default_tenant, incident_id)

        found = asyncio.run(reading(ctx.obj.runtime(), read))
        if found is None:
            fail(f"no incident {incident_id!r}")
        if as_json:
            print(found.model_dump_json(indent=2))
        else:
            _print_detail(found)

    def _move(ctx: typer.Context, incident_id: str, trigger: Trigger, actor: str, why: str) -> None:
        state = _with_incidents(
            ctx.obj,
            lambda service, tenant: service.transition(
                tenant, incident_id, trigger, actor=actor, reason=why
            ),
        )
        console.print(Text(f"{incident_id} is now {state.value}"))

    @app.command("ack")
    def ack(
        ctx: typer.Context, incident_id: str, actor: Actor = "cli", reason: Reason = ""
    ) -> None:
        """Acknowledge an incident."""
        _move(ctx, incident_id, Trigger.ACKNOWLEDGE, actor, reason)

    @app.command("resolve")
    def resolve(
        ctx: typer.Context, incident_id: str, actor: Actor = "cli", reason: Reason = ""
    ) -> None:
        """Resolve an incident."""
        _move(ctx, incident_id, Trigger.RESOLVE, actor, reason)

    @app.command("transition")
    def transition(
        ctx: typer.Context,
        incident_id: str,
        trigger: Trigger,
        actor: Actor = "cli",
        reason: Reason = "",
    ) -> None:
        """Any lifecycle move: investigate, mitigate, inconclusive, learn, reopen, ..."""
        _move(ctx, incident_id, trigger, actor, reason)

    @app.command("merge")
    def merge(
        ctx: typer.Context,
        target: Annotated[str, typer.Argument(help="Incident that keeps the alerts")],
        sources: Annotated[list[str], typer.Argument(help="Incidents folded into it")],
        actor: Actor = "cli",
        reason: Reason = "",
    ) -> None:
        """Merge incidents that are one failure (kept as feedback for grouping)."""

        _with_incidents(
            ctx.obj,
            lambda service, tenant: service.merge(
                tenant, target, sources, actor=actor, reason=reason
            ),
        )
        console.print(Text(f"merged {', '.join(sources)} into {target}"))

    @app.command("split")
    def split(
        ctx: typer.Context,
        incident_id: str,
        event_ids: Annotated[list[str], typer.Argument(help="Member alerts (event ids) to move")],
        actor: Actor = "cli",
        reason: Reason = "",
    ) -> None:
        """Split alerts off into a new incident (kept as feedback for grouping)."""

        new_id = _with_incidents(
            ctx.obj,
            lambda service, tenant: service.split(
                tenant, incident_id, event_ids, actor=actor, reason=reason
            ),
        )
        console.print(Text(f"split {len(set(event_ids))} alert(s) off into {new_id}"))

    @app.command("stats")
    def stats(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
        """Alerts in, incidents out, noise reduction, MTTA and MTTR."""

        async def read(runtime: Runtime) -> str:
            async with runtime.db.session() as session:
                found = await incident_stats(session, runtime.settings.default_tenant)
            return found.model_dump_json(indent=2)

        text = asyncio.run(reading(ctx.obj.runtime(), read))
        print(text) if as_json else console.print_json(text)

    from vigil.interfaces.cli.correlation_eval import register_eval

    register_eval(eval_app)
