"""CLI commands for root-cause analysis: ``vigil analyze`` and ``vigil eval rca``."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from vigil.analysis.rca import EmptyWindowError, RcaResult, analyze_bundle, check_window
from vigil.interfaces.cli.output import add_data_row, console, fail
from vigil.interfaces.evaluation.rca import CaseRow, run_nezha
from vigil.telemetry.folder import BundleFormatError, read_bundle_folder
from vigil.telemetry.nezha import unlabelled_days

__all__ = ["register"]


def _parse_time(text: str, option: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        problem = f"{text!r} is not an ISO 8601 time, e.g. 2026-11-21T10:00:00Z"
        raise typer.BadParameter(problem, param_hint=option) from None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _print_causes(result: RcaResult) -> None:
    table = Table(title="Ranked root causes")
    for column in ("#", "service", "kind", "score", "explanation"):
        table.add_column(column)
    for position, cause in enumerate(result.causes, start=1):
        add_data_row(
            table, position, cause.service, cause.kind, f"{cause.score:.2f}", cause.explanation
        )
    console.print(table)
    if not result.causes:
        console.print("no service shows anything in this window")


def analyze(
    folder: Annotated[Path, typer.Argument(help="Bundle folder (docs/bundle-format.md).")],
    start: Annotated[str, typer.Option(help="Anomaly boundary, ISO 8601 (UTC if naive).")],
    end: Annotated[str, typer.Option(help="End of the incident window, ISO 8601.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Analyse a telemetry bundle folder and print the ranked root causes."""
    boundary, until = _parse_time(start, "--start"), _parse_time(end, "--end")
    if until <= boundary:
        raise typer.BadParameter("must be after --start", param_hint="--end")
    try:
        bundle = read_bundle_folder(folder, end=until)
    except BundleFormatError as error:
        fail(str(error), 2)
    try:
        check_window(bundle, boundary)
    except EmptyWindowError as error:
        fail(str(error))
    result = analyze_bundle(bundle, boundary)
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
    else:
        _print_causes(result)


def _print_case(row: CaseRow) -> None:
    if row.error is not None:
        console.print(
            f"[red]✗[/red] {row.system} {row.inject_time} truth={row.truth_service}"
            f" ({row.truth_kind}) failed: {escape(row.error)}"
        )
        return
    mark = "[green]✓[/green]" if row.rank == 1 else "[yellow]·[/yellow]"
    top5 = ", ".join(row.ranked[:5])
    console.print(
        f"{mark} {row.system} {row.inject_time} truth={row.truth_service} ({row.truth_kind})"
        f" rank={row.rank} kind={row.kind} {row.seconds:.2f}s top5: {escape(top5)}"
    )


def _print_summary(summary: dict[str, dict[str, Any]]) -> None:
    table = Table(title="Root-cause ranking on Nezha")
    columns = ("method", "system", "day", "cases", "ac1", "ac3", "ac5", "avg5")
    headers = ("method", "system", "day", "n", "AC@1", "AC@3", "AC@5", "Avg@5")
    for header in (*headers, "kind acc", "median s", "p95 s"):
        table.add_column(header)
    # Per system and day, Vigil first and the baselines right below it.
    order = sorted(summary.values(), key=lambda r: (r["system"], r["day"], r["method"] != "vigil"))
    for row in order:
        cells = [str(row[c]) if isinstance(row[c], str | int) else f"{row[c]:.3f}" for c in columns]
        kind = row["kind_accuracy"]
        cells += ["-" if kind is None else f"{kind:.3f}", f"{row['median_seconds']:.2f}"]
        table.add_row(*cells, f"{row['p95_seconds']:.2f}")
    console.print(table)
    for row in order:
        if row["errors"]:
            name = f"{row['method']} {row['system']} {row['day']}"
            console.print(f"[red]{name}: {row['errors']} case(s) failed (counted as misses)[/red]")


def eval_rca(
    path: Annotated[Path, typer.Option(help="Dataset folder (with rca_data/).")],
    dataset: Annotated[str, typer.Option(help="Dataset layout; only 'nezha'.")] = "nezha",
    json_file: Annotated[Path | None, typer.Option("--json", help="Write JSON here.")] = None,
    baselines: Annotated[
        bool,
        typer.Option(help="Also run RCAEval's BARO and NSigma (metrics, -10/+5 min)."),
    ] = False,
) -> None:
    """Rank root causes for every labelled fault and print per-case and summary figures."""
    if dataset != "nezha":
        console.print(f"[red]unknown dataset {dataset!r}; supported: nezha[/red]")
        raise typer.Exit(code=2)
    if not (path / "rca_data").is_dir():
        console.print(f"[red]no rca_data folder under {path}[/red]")
        raise typer.Exit(code=2)
    if json_file is not None:  # refuse now, not after every case has run
        try:
            json_file.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            problem = f"cannot create {json_file.parent}: {exc}"
            raise typer.BadParameter(problem, param_hint="--json") from None
        if json_file.is_dir() or not os.access(json_file.parent, os.W_OK):
            raise typer.BadParameter(f"cannot write {json_file}", param_hint="--json")
    for day in unlabelled_days(path):
        label = escape(f"rca_data/{day}: no {day}-fault_list.json")
        console.print(f"[yellow]skipped {label}[/yellow]")
    result = run_nezha(path, progress=_print_case, baselines=baselines)
    if not result["cases"]:
        console.print(f"[red]no labelled faults under {path / 'rca_data'}[/red]")
        raise typer.Exit(code=1)
    _print_summary(result["summary"])
    if "baselines" in result:
        console.print(f"BARO and NSigma: {escape(result['baselines'])}")
    if json_file is not None:
        json_file.write_text(json.dumps(result, indent=2))
        console.print(f"wrote {json_file}")


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add ``analyze`` to ``app`` and ``rca`` to ``eval_app``."""
    app.command("analyze")(analyze)
    eval_app.command("rca")(eval_rca)
