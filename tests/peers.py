"""Gate for tests that run the real Prometheus and Alertmanager binaries: skip with the
reason when they are missing, fail instead under `VIGIL_REQUIRE_SERVICES=1` (CI)."""

from __future__ import annotations

import os

import pytest

from vigil.testing.promstack import peers_problem

__all__ = ["require_peers"]


def require_peers() -> None:
    """Skip (or fail, when `VIGIL_REQUIRE_SERVICES=1`) unless both binaries can run."""
    problem = peers_problem()
    if problem is None:
        return
    message = f"real Prometheus/Alertmanager unavailable ({problem})"
    if os.environ.get("VIGIL_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message}; VIGIL_REQUIRE_SERVICES=1 requires them")
    pytest.skip(message)
