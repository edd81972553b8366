"""Read and write Vigil's own bundle folder format (see ``docs/bundle-format.md``).

A bundle folder holds up to four tables, each as ``<name>.parquet``, ``<name>.csv`` or
``<name>.csv.gz``: ``metrics``, ``logs``, ``spans`` and ``graph`` (columns ``source,
target``), plus an optional ``reference/`` sub-folder with fault-free ``logs``/``spans``.
Missing tables are empty; unknown columns are ignored.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from vigil.telemetry.bundle import TelemetryBundle

__all__ = ["BundleFormatError", "read_bundle_folder", "write_bundle_folder"]

_SUFFIXES = (".parquet", ".csv", ".csv.gz")


class BundleFormatError(ValueError):
    """The folder is missing or a table cannot be parsed."""


def _read_table(folder: Path, name: str) -> pd.DataFrame | None:
    """Table ``name`` (``logs``, ``reference/spans``, ...) of the bundle ``folder``."""
    for suffix in _SUFFIXES:
        path = folder / f"{name}{suffix}"
        if not path.is_file():
            continue
        try:
            if suffix == ".parquet":
                return pd.read_parquet(path)
            return pd.read_csv(path)
        except (ValueError, OSError) as error:  # named as in the bundle: no server paths
            raise BundleFormatError(f"cannot read {name}{suffix}: {error}") from error
    return None


def _typed(prefix: str, **tables: Any) -> TelemetryBundle:
    """The tables as a bundle; values of the wrong kind (times that are not ISO 8601, or
    out of range) are a format error naming the table (after ``prefix``), column and row."""
    try:
        return TelemetryBundle.build(**tables)
    except (ValueError, TypeError) as error:
        raise BundleFormatError(f"{prefix}{error}") from error


def _edges(graph: pd.DataFrame | None) -> list[tuple[str, str]]:
    if graph is None or graph.empty:
        return []
    if not {"source", "target"} <= set(graph.columns):
        raise BundleFormatError("graph table needs columns source,target")
    pairs = zip(graph["source"].astype(str), graph["target"].astype(str), strict=True)
    return list(pairs)


def read_bundle_folder(
    folder: Path, start: datetime | None = None, end: datetime | None = None
) -> TelemetryBundle:
    """Read a bundle folder; if ``start``/``end`` are given keep only rows in between."""
    if not folder.is_dir():
        raise BundleFormatError(f"bundle folder not found: {folder}")
    reference = None
    if (folder / "reference").is_dir():
        reference = _typed(
            "reference/",
            logs=_read_table(folder, "reference/logs"),
            spans=_read_table(folder, "reference/spans"),
        )
    bundle = _typed(
        "",
        metrics=_read_table(folder, "metrics"),
        logs=_read_table(folder, "logs"),
        spans=_read_table(folder, "spans"),
        edges=_edges(_read_table(folder, "graph")),
        reference=reference,
    )
    if start is None and end is None:
        return bundle
    lo = start or datetime.min.replace(tzinfo=end.tzinfo if end else None)
    hi = end or datetime.max.replace(tzinfo=lo.tzinfo)
    return bundle.between(lo, hi)


def _write(frame: pd.DataFrame, folder: Path, name: str, fmt: str) -> None:
    if fmt == "parquet":
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    else:
        frame.to_csv(folder / f"{name}.{fmt}", index=False)


def write_bundle_folder(
    bundle: TelemetryBundle, folder: Path, fmt: Literal["csv", "csv.gz", "parquet"] = "csv"
) -> None:
    """Write ``bundle`` as a bundle folder (creating it)."""
    folder.mkdir(parents=True, exist_ok=True)
    _write(bundle.metrics, folder, "metrics", fmt)
    _write(bundle.logs, folder, "logs", fmt)
    _write(bundle.spans, folder, "spans", fmt)
    graph = pd.DataFrame(list(bundle.edges), columns=["source", "target"])
    _write(graph, folder, "graph", fmt)
    if bundle.reference is not None:
        (folder / "reference").mkdir(exist_ok=True)
        _write(bundle.reference.logs, folder / "reference", "logs", fmt)
        _write(bundle.reference.spans, folder / "reference", "spans", fmt)
