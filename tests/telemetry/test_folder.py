"""Bundle folder format: round trips in CSV, gzipped CSV and Parquet; errors."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.scenarios.rca_bundles import BOUNDARY, END, Fault, build_bundle
from vigil.telemetry import (
    BundleFormatError,
    TelemetryBundle,
    read_bundle_folder,
    write_bundle_folder,
)


@pytest.mark.parametrize("fmt", ["csv", "csv.gz", "parquet"])
def test_round_trip(tmp_path: Path, fmt: str) -> None:
    bundle = build_bundle(Fault(), per_minute=2)
    bundle = TelemetryBundle.build(
        metrics=bundle.metrics,
        logs=bundle.logs,
        spans=bundle.spans,
        edges=bundle.edges,
        reference=TelemetryBundle.build(logs=bundle.logs.head(3)),
    )
    write_bundle_folder(bundle, tmp_path / "b", fmt)  # type: ignore[arg-type]
    back = read_bundle_folder(tmp_path / "b")
    assert len(back.metrics) == len(bundle.metrics)
    assert len(back.spans) == len(bundle.spans)
    assert back.logs["message"].tolist() == bundle.logs["message"].tolist()
    assert back.edges == bundle.edges
    assert back.reference is not None
    assert len(back.reference.logs) == 3


def test_window_and_missing_tables(tmp_path: Path) -> None:
    bundle = build_bundle(Fault(), per_minute=2)
    folder = tmp_path / "b"
    write_bundle_folder(TelemetryBundle(metrics=bundle.metrics), folder)
    (folder / "logs.csv").unlink()
    back = read_bundle_folder(folder, BOUNDARY, END)
    assert back.logs.empty
    assert back.metrics["time"].min() >= BOUNDARY
    only_end = read_bundle_folder(folder, end=datetime(2026, 1, 1, 10, 1, tzinfo=UTC))
    assert only_end.metrics["time"].max() <= datetime(2026, 1, 1, 10, 1, tzinfo=UTC)


def test_missing_folder_and_bad_graph(tmp_path: Path) -> None:
    with pytest.raises(BundleFormatError, match="not found"):
        read_bundle_folder(tmp_path / "nope")
    (tmp_path / "graph.csv").write_text("a,b\nx,y\n")
    with pytest.raises(BundleFormatError, match="source,target"):
        read_bundle_folder(tmp_path)
