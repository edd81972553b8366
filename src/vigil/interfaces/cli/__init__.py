"""The `vigil` command (Typer + rich); a thin sync shim over the async core."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
import yaml
from pydantic import ValidationError
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from sqlalchemy import exc as sa_exc

from vigil.events import EventStatus, Severity
from vigil.interfaces.cli.output import add_data_row, console, errors, fail, stamp
from vigil.interfaces.cli.times import as_utc
from vigil.interfaces.processing import ProcessingChild, run_processing_child
from vigil.interfaces.runtime import Runtime, RuntimeFactory
from vigil.pipeline import IntakeRejectedError
from vigil.pipeline.deadletters import db_reason, list_dead_letters
from vigil.pipeline.repository import EventQuery, list_events
from vigil.platform import Settings, load_settings
from vigil.platform.db import sqlite_file
from vigil.platform.migrate import current_revision, head_revision, upgrade

__all__ = ["State", "app", "reading", "run"]

T = TypeVar("T")
REPLAY_PAGE = 500  # dead letters read at a time by `dlq replay --all`

app = typer.Typer(help="Vigil, an open-source AI site reliability engineer.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
dlq_app = typer.Typer(help="Dead letters: what could not be ingested, and replay.")
eval_app = typer.Typer(help="Score Vigil on labelled data and public benchmarks.")
bench_app = typer.Typer(help="Benchmarks (print figures; never part of the tests).")
app.add_typer(db_app, name="db")
app.add_typer(dlq_app, name="dlq")
app.add_typer(eval_app, name="eval")
app.add_typer(bench_app, name="bench")


@dataclass
class State:
    """What every command gets: how to build the runtime, and the settings options."""

    factory: RuntimeFactory
    config: Path | None = None
    database_url: str | None = None

    def settings(self, **overrides: Any) -> Settings:
        if self.database_url:
            overrides.setdefault("database_url", self.database_url)
        return load_settings(self.config, **overrides)

    def runtime(self, **overrides: Any) -> Runtime:
        return self.factory(self.settings(**overrides))

    def global_args(self) -> list[str]:
        """The options given before the command, to start another `vigil` alike."""
        args = ["--config", str(self.config)] if self.config else []
        return args + (["--database-url", self.database_url] if self.database_url else [])


def _state(ctx: typer.Context) -> State:
    state: State = ctx.obj
    return state


def _run(coro: Awaitable[T]) -> T:
    async def wrapped() -> T:
        return await coro

    return asyncio.run(wrapped())


async def _with_runtime(runtime: Runtime, body: Callable[[Runtime], Awaitable[T]]) -> T:
    """Start the runtime (migrate, writer; no background loop), run `body`, stop."""
    await runtime.start(background=False)
    try:
        return await body(runtime)
    finally:
        await runtime.stop()


def _missing_file(runtime: Runtime) -> str | None:
    """The SQLite file the runtime's database names, when there is none."""
    url = runtime.db.url
    path = os.path.expanduser(str(url.database))
    return path if sqlite_file(url) and not os.path.isfile(path) else None


async def _ready_to_read(runtime: Runtime) -> None:
    """Refuse (exit 1) to read a database that is not there or not at the current schema,
    rather than create or migrate it: a mistyped URL must not look like "no incidents"."""
    missing = _missing_file(runtime)
    if missing is not None:
        await runtime.db.dispose()
        fail(f"no database at {missing} (is --database-url / VIGIL_DATABASE_URL right?)")
    revision = await current_revision(runtime.db)
    if revision != head_revision():
        await runtime.db.dispose()
        run_first = "run `vigil db upgrade` (or start `vigil serve`) first"
        fail(f"{runtime.db.display_url} is at schema {revision or 'none'}: {run_first}")


async def reading(runtime: Runtime, body: Callable[[Runtime], Awaitable[T]]) -> T:
    """Run `body` on the database as it is: nothing is started, created or migrated."""
    await _ready_to_read(runtime)
    try:
        return await body(runtime)
    finally:
        await runtime.db.dispose()


@app.callback()
def _root(
    ctx: typer.Context,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="YAML settings file", envvar=None)
    ] = None,
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="Override VIGIL_DATABASE_URL")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING)
    state = _state(ctx)
    state.config, state.database_url = config, database_url


async def _reach(runtime: Runtime) -> None:
    try:
        await current_revision(runtime.db)
    finally:
        await runtime.db.dispose()


def _long_lived_process() -> None:
    """A service keeps a large heap (parsed requests waiting, caches), and a full garbage
    collection walks all of it, holding every request meanwhile (100-300 ms seen). What
    exists at start-up is frozen out of collection, and full collections come less often;
    reference counting still frees nearly everything at once."""
    gc.collect()
    gc.freeze()
    gen0, _, _ = gc.get_threshold()
    gc.set_threshold(max(gen0, 50_000), 20, 100)


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Bind address")] = None,
    port: Annotated[int | None, typer.Option(help="Port")] = None,
) -> None:
    """Run the API and the in-process pipeline until interrupted."""
    import uvicorn

    from vigil.interfaces.api import create_app

    state = _state(ctx)
    runtime = state.runtime()
    settings = runtime.settings
    # Reach the database first: a failure is one line here, not uvicorn's traceback.
    _run(_reach(runtime))
    console.print(f"Vigil on http://{host or settings.host}:{port or settings.port}  (docs: /docs)")
    console.print(f"database: {runtime.db.display_url}")
    if runtime.bus is None:  # embedded: processing in a process of its own
        child = ProcessingChild(state.global_args())
        runtime.processing_elsewhere = child
        runtime.metrics.add_snapshot(child.snapshot)
    api = create_app(runtime)
    _long_lived_process()
    uvicorn.run(
        api,
        host=host or settings.host,
        port=port or settings.port,
        log_level=settings.log_level,
        access_log=False,
    )


@app.command(hidden=True)
def process(ctx: typer.Context) -> None:
    """Process stored intake until stdin closes (`vigil serve` runs this)."""
    runtime = _state(ctx).runtime()
    _long_lived_process()
    # Answering webhooks is what must stay quick; processing catches up (Unix only).
    if runtime.settings.processing_nice and hasattr(os, "nice"):
        os.nice(runtime.settings.processing_nice)
    asyncio.run(run_processing_child(runtime))


@app.command()
def worker(ctx: typer.Context) -> None:
    """Consume webhooks from the bus (VIGIL_BUS_URL) and process them; run any number."""
    from vigil.interfaces.worker import run_worker

    runtime = _state(ctx).runtime()
    if runtime.bus is None:
        fail("vigil worker needs a bus: set VIGIL_BUS_URL=nats://host:4222", 2)
    console.print(f"worker on {runtime.bus.url} -> {runtime.db.display_url}")
    _run(run_worker(runtime))


@app.command()
def ingest(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSON body")],
    source: Annotated[str, typer.Option("--source", "-s", help="Source name, e.g. alertmanager")],
    tenant: Annotated[str | None, typer.Option(help="Tenant (default: settings)")] = None,
) -> None:
    """Ingest one payload file through the same pipeline as the webhook."""

    async def body(runtime: Runtime) -> None:
        if not runtime.sources.external(source):
            fail(f"unknown source {source!r}; known: {', '.join(runtime.sources.names())}", 2)
        try:
            result = await runtime.intake.accept(
                source,
                file.read_bytes(),
                tenant_id=tenant or runtime.settings.default_tenant,
                headers={"user-agent": "vigil-cli"},
            )
        except IntakeRejectedError as exc:
            fail(f"rejected {exc.field or 'body'}: {exc.problem}\ndead letter {exc.dead_letter_id}")
        await runtime.processor.drain()
        word = "duplicate of" if result.duplicate else "stored as"
        console.print(f"{result.events} event(s); request {word} {result.intake_id}")

    _run(_with_runtime(_state(ctx).runtime(), body))


@app.command()
def events(
    ctx: typer.Context,
    service: Annotated[str | None, typer.Option()] = None,
    severity: Annotated[Severity | None, typer.Option()] = None,
    status: Annotated[EventStatus | None, typer.Option()] = None,
    since: Annotated[datetime | None, typer.Option(help="ISO time (UTC if no zone)")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List stored events, newest first."""
    state = _state(ctx)

    async def body(runtime: Runtime) -> None:
        query = EventQuery(
            tenant_id=runtime.settings.default_tenant,
            service=service,
            severity=severity.value if severity else None,
            status=status.value if status else None,
            since=as_utc(since, "--since"),
            limit=limit,
        )
        async with runtime.db.session() as session:
            found = await list_events(session, query)
        if as_json:
            print(json.dumps([e.model_dump(mode="json") for e in found], indent=2))
            return
        table = Table("id", "last seen", "sev", "pri", "status", "service", "title", "n")
        for e in found:
            muted = " (silenced)" if e.silenced_by else ""
            add_data_row(
                table, e.id, stamp(e.last_seen), e.severity, e.priority,
                e.status + muted, e.service, e.title[:60], e.occurrences,
            )  # fmt: skip
        console.print(table)

    _run(reading(state.runtime(), body))


@dlq_app.command("list")
def dlq_list(
    ctx: typer.Context,
    show_all: Annotated[bool, typer.Option("--all", help="Include replayed ones")] = False,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Dead letters, newest first (pending only unless --all)."""

    async def body(runtime: Runtime) -> None:
        async with runtime.db.session() as session:
            found = await list_dead_letters(
                session, runtime.settings.default_tenant, limit=limit, pending_only=not show_all
            )
        if as_json:
            print(json.dumps([d.model_dump(mode="json") for d in found], indent=2))
            return
        table = Table(title="dead letters", expand=True)
        for name in ("source", "stage", "field"):
            table.add_column(name, no_wrap=True, ratio=1)
        table.add_column("reason", ratio=4)
        table.add_column("id", no_wrap=True, min_width=26)
        for d in found:
            reason = d.reason + (f" (replay: {d.replay_result})" if d.replay_result else "")
            add_data_row(table, d.source, d.stage, d.field or None, reason, d.id)
        console.print(table)

    _run(reading(_state(ctx).runtime(), body))


@dlq_app.command("replay")
def dlq_replay(
    ctx: typer.Context,
    ids: Annotated[list[str] | None, typer.Argument(help="Dead letter ids")] = None,
    replay_all: Annotated[bool, typer.Option("--all", help="Every pending dead letter")] = False,
) -> None:
    """Replay dead letters after a fix; a failure keeps the dead letter, with why."""
    if not ids and not replay_all:
        fail("name dead letter ids, or --all", 2)

    async def body(runtime: Runtime) -> int:
        tenant = runtime.settings.default_tenant
        failed = 0
        async for dead_letter_id in _targets(runtime, tenant, ids or [], replay_all):
            result = await runtime.replayer.replay(tenant, dead_letter_id)
            failed += not result.ok
            mark = "[green]ok[/]" if result.ok else "[red]failed[/]"
            console.print(f"{escape(dead_letter_id)} {mark} {escape(result.detail)}")
        return failed

    failed = _run(_with_runtime(_state(ctx).runtime(), body))
    raise typer.Exit(1 if failed else 0)


async def _targets(
    runtime: Runtime, tenant: str, ids: list[str], replay_all: bool
) -> AsyncIterator[str]:
    """The ids named, or with `replay_all` every pending dead letter, newest first, a page
    at a time (a failed replay stays pending, so the pages move on by id)."""
    for dead_letter_id in ids:
        yield dead_letter_id
    before: str | None = None
    while replay_all:
        async with runtime.db.session() as session:
            page = await list_dead_letters(
                session, tenant, limit=REPLAY_PAGE, before_id=before, pending_only=True
            )
        if not page:
            return
        for letter in page:
            yield letter.id
        before = page[-1].id


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply the migrations (SQLite or Postgres, same migrations)."""
    runtime = _state(ctx).runtime()

    async def body() -> str | None:
        await upgrade(runtime.db)
        revision = await current_revision(runtime.db)
        await runtime.db.dispose()
        return revision

    revision = _run(body())
    console.print(f"{runtime.db.display_url} at revision {revision} (head {head_revision()})")


def _register_extensions() -> None:
    from vigil.interfaces.cli import (
        anomalies,
        bench,
        bench_workers,
        demo,
        detect_eval,
        forecast_eval,
        incidents,
        logs_eval,
        rca,
    )

    demo.register(app)
    incidents.register(app, eval_app)
    bench.register(bench_app)
    bench_workers.register(bench_app)
    rca.register(app, eval_app)
    logs_eval.register(eval_app)
    forecast_eval.register(eval_app)
    detect_eval.register(eval_app)
    anomalies.register(app)


def _problem(exc: BaseException) -> tuple[str, int] | None:
    """What to say (and the exit code) for a failure of the setting rather than of Vigil:
    a database that cannot be reached, a bad URL or config. None: a bug, shown whole."""
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or exc.title
        return f"invalid settings: {where}: {first['msg']}", 2
    if isinstance(exc, yaml.YAMLError):
        return f"the config file is not valid YAML: {exc}".splitlines()[0], 2
    if isinstance(exc, sa_exc.ArgumentError | sa_exc.NoSuchModuleError):
        return f"bad database URL: {exc}", 2
    if isinstance(exc, sa_exc.DBAPIError):
        return f"database error: {db_reason(exc)}", 1
    if isinstance(exc, OSError):
        return str(exc) or type(exc).__name__, 1
    return None


def run(factory: RuntimeFactory) -> None:
    """Entry point used by `vigil.wiring.main`. A database that cannot be reached, or bad
    settings, is one line on stderr (a traceback with --verbose), not a traceback."""
    _register_extensions()
    command = typer.main.get_command(app)
    try:
        command.main(obj=State(factory=factory), prog_name="vigil")
    except Exception as exc:
        problem = _problem(exc)
        if problem is None or logging.getLogger().isEnabledFor(logging.DEBUG):
            raise
        errors.print(Text(f"vigil: {problem[0]}", style="red"))
        raise SystemExit(problem[1]) from None
