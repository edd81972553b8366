"""Gate for tests that run the real Prometheus and Alertmanager binaries: skip with the
reason when they are missing, fail instead under `VIGIL_REQUIRE_SERVICES=1` (CI)."""

from __future__ import annotations

from tests.conftest import skip_or_fail
from vigil.testing.promstack import peers_problem

__all__ = ["require_peers"]


def require_peers() -> None:
    """Skip (or fail, when `VIGIL_REQUIRE_SERVICES=1`) unless both binaries can run."""
    problem = peers_problem()
    if problem is not None:
        skip_or_fail(f"real Prometheus/Alertmanager unavailable ({problem})")
