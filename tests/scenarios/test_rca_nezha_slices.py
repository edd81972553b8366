"""Two real Nezha cases read in place (skipped when the dataset folder is absent)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from vigil.analysis import analyze_bundle
from vigil.telemetry import read_faults, read_nezha_window

NEZHA = Path(
    os.environ.get(
        "VIGIL_NEZHA_PATH", Path(__file__).resolve().parents[3] / "shared/datasets/nezha"
    )
)
pytestmark = pytest.mark.skipif(
    not (NEZHA / "rca_data").is_dir(), reason=f"Nezha dataset not found at {NEZHA}"
)


def _top(day: str, inject_time: str) -> tuple[str, str, str]:
    fault = next(f for f in read_faults(NEZHA, day) if f.inject_time == inject_time)
    bundle = read_nezha_window(
        NEZHA,
        day,
        fault.time - timedelta(minutes=5),
        fault.time + timedelta(minutes=3),
        fault.time - timedelta(minutes=1),
    )
    top = analyze_bundle(bundle, fault.time).causes[0]
    return fault.service, top.service, top.kind


def test_online_boutique_network_delay_on_cartservice() -> None:
    truth, service, kind = _top("2022-08-22", "2022-08-22 04:27:03")
    assert (service, kind) == (truth, "network_delay")


def test_train_ticket_cpu_contention() -> None:
    truth, service, kind = _top("2023-01-29", "2023-01-29 13:31:54")
    assert (service, kind) == (truth, "cpu")
