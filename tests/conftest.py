"""Shared fixtures: both database backends, a runtime on a fake clock, and an HTTP client."""

from __future__ import annotations

import asyncio
import functools
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import asyncpg
import httpx
import pytest

from vigil.interfaces.api import create_app
from vigil.interfaces.runtime import Runtime
from vigil.platform import Clock, load_settings
from vigil.testing.clock import FakeClock
from vigil.wiring import build_runtime

POSTGRES_URL = os.environ.get(
    "VIGIL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
# The real captured Alertmanager body fires at 11:51:29Z; the fake clock starts a bit later.
T0 = datetime(2026, 11, 21, 12, 10, tzinfo=UTC)

MakeRuntime = Callable[..., Awaitable[Runtime]]
MakeClient = Callable[[Runtime], Awaitable[httpx.AsyncClient]]


@dataclass(frozen=True)
class DbTarget:
    """Where a test's database lives: a SQLite file, or a fresh schema in Postgres."""

    backend: str
    url: str
    schema: str | None = None

    def overrides(self) -> dict[str, Any]:
        """Settings overrides that point Vigil at this database."""
        return {"database_url": self.url, "database_schema": self.schema}

    def env(self) -> dict[str, str]:
        """The same, as `VIGIL_*` environment variables for a child process."""
        env = {"VIGIL_DATABASE_URL": self.url}
        if self.schema:
            env["VIGIL_DATABASE_SCHEMA"] = self.schema
        return env


def run_postgres(*statements: str) -> None:
    """Run SQL statements on the test Postgres, from sync code (a loop on its own thread)."""

    async def execute() -> None:
        conn = await asyncpg.connect(POSTGRES_URL, timeout=3)
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, execute()).result()


@functools.cache
def postgres_problem() -> str | None:
    """Why the test Postgres cannot be used, or None when it answers."""
    try:
        run_postgres("SELECT 1")
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def skip_or_fail(message: str) -> NoReturn:
    """Skip a test whose real peer or package is missing, with the reason; under
    `VIGIL_REQUIRE_SERVICES=1` (CI, where everything is installed) fail instead."""
    if os.environ.get("VIGIL_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message}; VIGIL_REQUIRE_SERVICES=1 requires it")
    pytest.skip(message)


def require_postgres() -> None:
    """Skip (or fail, when `VIGIL_REQUIRE_SERVICES=1`) if Postgres is unreachable."""
    problem = postgres_problem()
    if problem is not None:
        skip_or_fail(f"Postgres at {POSTGRES_URL} is unreachable ({problem})")


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A fresh, uniquely named schema, dropped with everything in it afterwards."""
    require_postgres()
    schema = f"vigil_test_{uuid.uuid4().hex[:12]}"
    run_postgres(f'CREATE SCHEMA "{schema}"')
    try:
        yield schema
    finally:
        run_postgres(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No `VIGIL_*` setting or user config file of the machine leaks into a test."""
    for name in list(os.environ):
        if name.startswith("VIGIL_") and name not in ("VIGIL_REQUIRE_SERVICES",):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.services)],
)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DbTarget]:
    """Every DB-touching test runs twice: on a SQLite file and on a Postgres schema."""
    if request.param == "sqlite":
        yield DbTarget("sqlite", f"sqlite:///{tmp_path / 'vigil.db'}")
        return
    with postgres_schema() as schema:
        yield DbTarget("postgres", POSTGRES_URL, schema)


@pytest.fixture
def database_url(database: DbTarget) -> str:
    return database.url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
async def make_runtime(database: DbTarget, clock: FakeClock) -> AsyncIterator[MakeRuntime]:
    """`await make_runtime(**settings)`: a started runtime (migrated, no background loop)
    on the test database; pass `clock=` for another clock. All are stopped afterwards."""
    started: list[Runtime] = []
    default_clock = clock

    async def make(*, clock: Clock | None = None, **overrides: Any) -> Runtime:
        settings = load_settings(**{**database.overrides(), **overrides})
        runtime = build_runtime(settings, clock=clock or default_clock)
        await runtime.start(background=False)
        started.append(runtime)
        return runtime

    yield make
    for runtime in reversed(started):
        await runtime.stop()


@pytest.fixture
async def runtime(make_runtime: MakeRuntime) -> Runtime:
    return await make_runtime()


@pytest.fixture
async def make_client() -> AsyncIterator[MakeClient]:
    """`await make_client(runtime)`: an HTTP client talking to that runtime's API."""
    clients: list[httpx.AsyncClient] = []

    async def make(runtime: Runtime) -> httpx.AsyncClient:
        app = create_app(runtime, manage=False)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://vigil")
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
async def client(runtime: Runtime, make_client: MakeClient) -> httpx.AsyncClient:
    return await make_client(runtime)
