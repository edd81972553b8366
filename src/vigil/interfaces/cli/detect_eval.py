"""CLI command ``vigil eval nab``: the anomaly detector on the Numenta Anomaly Benchmark."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from vigil.interfaces.evaluation.nab import run_nab

__all__ = ["register"]

console = Console(width=None if sys.stdout.isatty() else 160)

_PUBLISHED = {
    "ARTime": (74.9, 65.1, 80.4),
    "Numenta HTM (NuPIC 0.5.6)": (70.1, 63.1, 74.3),
    "CAD OSE": (69.9, 67.0, 73.2),
    "Windowed Gaussian": (39.6, 20.9, 47.4),
}


def _print_scores(result: dict[str, Any]) -> None:
    table = Table(title="NAB v1.1 normalised scores (null 0, perfect 100)")
    for column in ("detector", "standard", "reward_low_FP", "reward_low_FN"):
        table.add_column(column)
    scores = result["scores"]
    mine = [scores["standard"], scores["reward_low_FP_rate"], scores["reward_low_FN_rate"]]
    table.add_row("[bold]Vigil[/bold]", *(f"{s:.1f}" for s in mine))
    for name, published in _PUBLISHED.items():
        table.add_row(f"{name} (published)", *(f"{s:.1f}" for s in published))
    console.print(table)


def _print_categories(result: dict[str, Any]) -> None:
    table = Table(title="Raw score per category at each profile's threshold")
    profiles = result["profiles"]
    table.add_column("category")
    for name in profiles:
        table.add_column(f"{name} (thr {profiles[name]['threshold']:.3f})")
    categories = next(iter(profiles.values()))["per_category"]
    for category in categories:
        cells = [f"{profiles[p]['per_category'][category]:.2f}" for p in profiles]
        table.add_row(category, *cells)
    console.print(table)


def eval_nab(
    path: Annotated[Path, typer.Option(help="NAB folder (data/, labels/, config/).")],
    out: Annotated[Path, typer.Option(help="Write NAB result files under OUT/vigil/.")],
    json_file: Annotated[Path | None, typer.Option("--json", help="Write JSON here.")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Processes.")] = min(2, os.cpu_count() or 1),
) -> None:
    """Stream every NAB file through the detector, write results, score all profiles."""
    if not (path / "data").is_dir() or not (path / "labels").is_dir():
        console.print(f"[red]no data/ and labels/ folders under {path}[/red]")
        raise typer.Exit(code=2)
    result = run_nab(path, out, workers=workers)
    _print_scores(result)
    _print_categories(result)
    console.print(
        f"{result['points']} points in {result['files']} files; detector"
        f" {result['points_per_second_per_core']:,.0f} points/s per core"
        f" ({result['detector_cpu_seconds']:.1f} CPU s; wall {result['wall_seconds']:.1f} s"
        f" on {result['workers']} processes)"
    )
    console.print(f"wrote {out / 'vigil'}")
    if json_file is not None:
        json_file.write_text(json.dumps(result, indent=2))
        console.print(f"wrote {json_file}")


def register(eval_app: typer.Typer) -> None:
    """Add ``nab`` to ``eval_app``."""
    eval_app.command("nab")(eval_nab)
