"""CLI command ``vigil eval logs``: template mining scored on Loghub-2k."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from vigil.interfaces.evaluation.loghub import LOG_FORMATS, run_loghub

__all__ = ["register"]

console = Console(width=None if sys.stdout.isatty() else 120)


def _print_table(result: dict[str, Any]) -> None:
    table = Table(title=f"Log template mining on Loghub-2k ({result['settings']} settings)")
    for header in ("system", "lines", "templates", "truth", "GA", "unsplit", "lines/s"):
        table.add_column(header, justify="left" if header == "system" else "right")
    for row in result["systems"]:
        table.add_row(
            row["system"],
            str(row["lines"]),
            str(row["templates"]),
            str(row["truth_templates"]),
            f"{row['grouping_accuracy']:.3f}",
            str(row["unsplit_lines"]),
            f"{row['lines_per_second']:,.0f}",
        )
    table.add_section()
    table.add_row(
        "average",
        str(result["lines"]),
        "",
        "",
        f"{result['average_grouping_accuracy']:.3f}",
        "",
        f"{result['lines_per_second']:,.0f}",
    )
    console.print(table)


def eval_logs(
    path: Annotated[Path, typer.Option(help="Loghub folder (<System>/<System>_2k.log ...).")],
    json_file: Annotated[Path | None, typer.Option("--json", help="Write JSON here.")] = None,
    system: Annotated[list[str] | None, typer.Option(help="Only this system (repeatable).")] = None,
    tuned: Annotated[
        bool, typer.Option(help="Use logparser's per-system Drain sim_th/depth.")
    ] = False,
) -> None:
    """Mine every Loghub system's raw lines and print grouping accuracy and lines/s."""
    unknown = sorted(set(system or ()) - set(LOG_FORMATS))
    if unknown:
        console.print(f"[red]unknown systems {unknown}; known: {sorted(LOG_FORMATS)}[/red]")
        raise typer.Exit(code=2)
    result = run_loghub(path, systems=system, tuned=tuned)
    if not result["systems"]:
        console.print(f"[red]no Loghub system folders under {path}[/red]")
        raise typer.Exit(code=2)
    _print_table(result)
    if json_file is not None:
        json_file.write_text(json.dumps(result, indent=2))
        console.print(f"wrote {json_file}")


def register(eval_app: typer.Typer) -> None:
    """Add ``logs`` to ``eval_app``."""
    eval_app.command("logs")(eval_logs)
