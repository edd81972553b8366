"""CLI command ``vigil eval forecast``: capacity warnings walked forward on generated series."""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from vigil.analysis.forecast import ForecastUnavailableError
from vigil.interfaces.evaluation.forecast import ForecastEvalOptions, SeriesRow, run_forecast_eval

__all__ = ["register"]

# Wide enough for one series per line and the summary table, also when piped to a file.
console = Console(width=None if sys.stdout.isatty() else 160)


def _print_series(row: SeriesRow) -> None:
    if row.breach_at is None:
        outcome = "no breach"
    elif row.lead_hours is None:
        outcome = f"breach {row.breach_at:%m-%d %H:%M} [red]missed[/red]"
    else:
        mark = "[green]in time[/green]" if row.warned_in_time else "[yellow]late[/yellow]"
        outcome = f"breach {row.breach_at:%m-%d %H:%M} lead {row.lead_hours:.1f}h {mark}"
    console.print(
        f"{row.series_id:<32} {outcome}; false warnings {row.false_warnings}"
        f" ({row.forecasts} forecasts, {row.seconds:.1f}s)"
    )


def _figure(value: Any, form: str) -> str:
    return "-" if value is None else format(value, form)


def _print_summary(summary: dict[str, Any]) -> None:
    table = Table(title="Capacity forecast warnings (walk-forward, generated series)")
    for header in ("scenario", "series", "breaches", "warned in time", "median lead h", "false/sw"):
        table.add_column(header)
    for name, row in summary["by_scenario"].items():
        table.add_row(
            name,
            str(row["series"]),
            str(row["breaches"]),
            str(row["warned_in_time"]),
            _figure(row["median_lead_hours"], ".1f"),
            _figure(row["false_warnings_per_series_week"], ".2f"),
        )
    console.print(table)
    console.print(
        f"median lead time {_figure(summary['median_lead_hours'], '.1f')} h; "
        f"warned in time {summary['warned_in_time']}/{summary['breaches']}"
        f" ({_figure(summary['warned_share'], '.0%')}); "
        f"false warnings {_figure(summary['false_warnings_per_series_week'], '.2f')}"
        f" per series-week ({summary['false_warnings']} over {summary['series_weeks']:.1f}); "
        f"{_figure(summary['forecasts_per_second'], '.1f')} forecasts/s"
        f" ({summary['forecasts']} forecasts)"
    )


def eval_forecast(
    series: Annotated[int, typer.Option(min=1, help="How many series to generate.")] = 14,
    seed: Annotated[int, typer.Option(help="Generator seed.")] = 1,
    every: Annotated[int, typer.Option(min=1, help="Minutes between forecasts.")] = 60,
    json_file: Annotated[Path | None, typer.Option("--json", help="Write JSON here.")] = None,
) -> None:
    """Walk forward over generated capacity series and score the forecast warnings."""
    options = ForecastEvalOptions(every=timedelta(minutes=every))
    try:
        result = run_forecast_eval(series, seed, options, progress=_print_series)
    except ForecastUnavailableError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(code=2) from error
    _print_summary(result["summary"])
    if json_file is not None:
        json_file.write_text(json.dumps(result, indent=2))
        console.print(f"wrote {json_file}")


def register(eval_app: typer.Typer) -> None:
    """Add ``forecast`` to ``eval_app``."""
    eval_app.command("forecast")(eval_forecast)
