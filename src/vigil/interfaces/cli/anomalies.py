"""CLI for detection: `vigil anomalies` (what the detectors raised) and `vigil detect`."""

from __future__ import annotations

import asyncio
import json
import signal
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from vigil.detection import Anomaly, PassReport, list_anomalies, parse_window
from vigil.detection.metric_watch import SeriesMiss
from vigil.interfaces.cli import State, reading
from vigil.interfaces.cli.output import add_data_row, console, stamp
from vigil.interfaces.runtime import Runtime

__all__ = ["register"]

_SHOWN = 10  # held-back points printed per pass (all of them with --json)


def _anomaly_table(found: list[Anomaly]) -> Table:
    table = Table("last seen", "detector", "sev", "status", "service", "title", "n", "id")
    for a in found:
        add_data_row(
            table, stamp(a.last_seen), a.detector, a.severity, a.status,
            a.service, a.title[:90], a.occurrences, a.id,
        )  # fmt: skip
    return table


def _miss(miss: SeriesMiss) -> dict[str, Any]:
    return {
        "watch": miss.watch,
        "series": miss.labels,
        "score": miss.miss.score,
        "reasons": miss.miss.reasons,
    }


def _print_report(report: PassReport, as_json: bool) -> None:
    if as_json:
        body = {
            "at": report.at.isoformat(),
            "events": [e.model_dump(mode="json") for e in report.events],
            "failures": report.failures,
            "warnings": report.warnings,
            "notes": report.notes,
            "held_back": [_miss(m) for m in report.held_back],
            "forecast_skipped": report.forecast_skipped,
            "skipped": report.skipped,
        }
        print(json.dumps(body, indent=2))
        return
    console.print(
        f"detection pass at {report.at:%Y-%m-%d %H:%M:%S}Z: {len(report.events)} event(s)"
    )
    if report.skipped:
        console.print(f"  [yellow]skipped[/]: {escape(report.skipped)}")
    for event in report.events:
        mark = "[red]raised[/]" if event.status.value == "firing" else "[green]resolved[/]"
        console.print(f"  {mark} {event.severity.value:8} {escape(event.title)}")
    for miss in report.held_back[:_SHOWN]:
        reasons = "; ".join(miss.miss.reasons)
        console.print(f"  [yellow]held back[/] {miss.watch} {miss.labels}: {escape(reasons)}")
    if len(report.held_back) > _SHOWN:
        console.print(f"  ... and {len(report.held_back) - _SHOWN} more held back (--json)")
    for failure in report.failures:
        console.print(f"  [red]read failed[/] {escape(failure)}")
    for warning in report.warnings:
        console.print(f"  [yellow]read warned[/] {escape(warning)}")
    for note in report.notes:
        console.print(f"  [yellow]note[/] {escape(note)}")
    if report.forecast_skipped:
        console.print(f"  [yellow]forecasting skipped[/]: {escape(report.forecast_skipped)}")


SKIPPED_EXIT = 3  # `detect --once` ran no pass: another process holds the lease
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


async def _detect(runtime: Runtime, once: bool, as_json: bool) -> int:
    """Passes until interrupted. SIGINT or SIGTERM stops at once, mid-pass too (a pass cut
    short is not saved: the next one reads the same stretch again), and releases the lease
    on the way out, so a successor takes over at once rather than when it expires. A
    second signal while stopping has its usual effect."""
    detection = runtime.detection
    assert detection is not None
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    assert main is not None

    def interrupted() -> None:
        for signum in _STOP_SIGNALS:
            loop.remove_signal_handler(signum)
        main.cancel()

    for signum in _STOP_SIGNALS:
        loop.add_signal_handler(signum, interrupted)
    try:
        await runtime.start(background=False)
        while True:
            report = await detection.run_once(runtime.clock.now())
            if runtime.bus is None:  # embedded: the events are in intake; process them now
                await runtime.processor.drain()
            _print_report(report, as_json)
            if once:
                return SKIPPED_EXIT if report.skipped else (1 if report.failures else 0)
            await asyncio.sleep(detection.settings.interval_seconds)
    except asyncio.CancelledError:
        main.uncancel()
        return 0
    finally:
        for signum in _STOP_SIGNALS:
            loop.remove_signal_handler(signum)
        await runtime.stop()


def anomalies(
    ctx: typer.Context,
    service: Annotated[str | None, typer.Option()] = None,
    window: Annotated[str, typer.Option(help="How far back: 15m, 1h, 2d")] = "1h",
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    tenant: Annotated[
        str | None, typer.Option(help="Tenant (default: the one detection writes to)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """What the detectors raised within the window, most recently seen first."""
    try:
        span = parse_window(window)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--window") from None
    state: State = ctx.obj

    async def read(runtime: Runtime) -> list[Anomaly]:
        since = runtime.clock.now() - span
        settings = runtime.settings
        of = tenant or settings.detection.tenant or settings.default_tenant
        async with runtime.db.session() as session:
            return await list_anomalies(session, of, since, service=service, limit=limit)

    found = asyncio.run(reading(state.runtime(), read))  # nothing created or migrated
    if as_json:
        print(json.dumps([a.model_dump(mode="json") for a in found], indent=2))
        return
    console.print(_anomaly_table(found))


def detect(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Run the detectors on the configured Prometheus (and logs): one pass with
    --once, else a pass every `detection.interval_seconds` until interrupted. Exit 1: a
    read failed; 3: no pass ran, another process holds the detection lease."""
    state: State = ctx.obj
    runtime = state.runtime()
    if runtime.detection is None:
        console.print("nothing to watch: configure detection.metrics or detection.logs")
        raise typer.Exit(2)
    raise typer.Exit(asyncio.run(_detect(runtime, once, as_json)))


def register(app: typer.Typer) -> None:
    app.command("anomalies")(anomalies)
    app.command("detect")(detect)
