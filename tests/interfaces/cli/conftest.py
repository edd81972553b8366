"""CLI fixtures: a runner that invokes `vigil` in-process against the test database."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from tests.conftest import DbTarget
from vigil.interfaces.cli import State, _register_extensions, app
from vigil.interfaces.runtime import Runtime
from vigil.platform import Clock, Settings
from vigil.testing.clock import FakeClock
from vigil.wiring import build_runtime

Vigil = Callable[..., Result]


@pytest.fixture(scope="session", autouse=True)
def _extensions() -> None:
    """`run()` registers demo, bench (and rca) before parsing; do it once here too."""
    if not any(
        c.name == "demo" or getattr(c.callback, "__name__", "") == "demo"
        for c in app.registered_commands
    ):
        _register_extensions()


@pytest.fixture
def vigil(database: DbTarget, clock: FakeClock, tmp_path: Path) -> Vigil:
    """`vigil("events", "--json")`: runs the command on the test database with the fake
    clock; pass `clock=` to run one command at another time."""
    config = tmp_path / "vigil.yaml"
    config.write_text(f"database_schema: {database.schema}\n" if database.schema else "{}\n")

    def invoke(*args: str, clock: FakeClock = clock) -> Result:
        def factory(settings: Settings, *, clock: Clock = clock) -> Runtime:
            return build_runtime(settings, clock=clock)

        argv = ["--config", str(config), "--database-url", database.url, *args]
        # Wide enough that rich tables do not wrap ids and names.
        runner = CliRunner(env={"COLUMNS": "200"})
        return runner.invoke(app, argv, obj=State(factory=factory))

    return invoke
