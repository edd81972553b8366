"""How the CLI writes: data shown literally, errors on stderr, times with their zone.

Text that came from outside (alert titles, services, reasons, metric names) is never
read as rich markup: a title holding ``[/]`` would crash the table, and one holding
``[bold red]`` would restyle the terminal. Tables keep whole ids when the output is not
a terminal (piped to ``grep`` or a file), where rich would otherwise cut them to 80
columns.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import NoReturn

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

__all__ = ["add_data_row", "console", "errors", "fail", "stamp", "wide_console"]


def wide_console(*, stderr: bool = False) -> Console:
    """A console as wide as the terminal, or 200 columns when not writing to one."""
    stream = sys.stderr if stderr else sys.stdout
    return Console(width=None if stream.isatty() else 200, stderr=stderr)


console = wide_console()
errors = wide_console(stderr=True)


def add_data_row(table: Table, *cells: object) -> None:
    """A row whose cells are shown as they are (no markup), `None` as ``-``."""
    table.add_row(*(cell if isinstance(cell, Text) else Text("-" if cell is None else str(cell))
                    for cell in cells))  # fmt: skip


def fail(message: str, code: int = 1) -> NoReturn:
    """Say what went wrong on stderr (literally) and exit with `code`."""
    errors.print(Text(message, style="red"))
    raise typer.Exit(code)


def stamp(moment: datetime, *, date: bool = True) -> str:
    """A time in UTC, saying so: ``2026-11-21 12:10:00Z`` (``12:10:00Z`` without date)."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%d %H:%M:%SZ" if date else "%H:%M:%SZ")
