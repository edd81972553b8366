"""Shared helpers for the source translator tests: fixture loading and a fixed receive time."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
RECEIVED_AT = datetime(2026, 11, 21, 13, 0, tzinfo=UTC)


@pytest.fixture
def load_fixture() -> Callable[[str, str], Any]:
    """`load_fixture("grafana", "firing.json")` -> the decoded JSON body."""

    def load(source: str, name: str) -> Any:
        return json.loads((FIXTURES / source / name).read_text())

    return load


@pytest.fixture
def received_at() -> datetime:
    return RECEIVED_AT
