"""The runtime: `start` migrates and resumes pending work in the background; `stop` ends it."""

from __future__ import annotations

import asyncio

from tests.conftest import DbTarget, MakeRuntime
from tests.ingestion import accept, stored_events
from tests.payloads import REAL_ALERTMANAGER, REAL_FINGERPRINT
from vigil.interfaces.runtime import Runtime
from vigil.platform import load_settings
from vigil.platform.migrate import current_revision, head_revision
from vigil.testing.clock import FakeClock
from vigil.wiring import build_runtime


async def wait_for_empty_backlog(runtime: Runtime) -> None:
    """The background loop owns processing here; look until it has caught up."""
    for _ in range(1000):
        if not await runtime.processor.backlog():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the background processor did not drain the backlog")


async def test_background_processing_after_restart(
    make_runtime: MakeRuntime, database: DbTarget, clock: FakeClock
) -> None:
    stopped = await make_runtime()
    await accept(stopped, "alertmanager", REAL_ALERTMANAGER)
    await stopped.stop()

    runtime = build_runtime(load_settings(**database.overrides()), clock=clock)
    await runtime.start()  # background processing, as `vigil serve` runs it
    try:
        await wait_for_empty_backlog(runtime)
        # New work is picked up too, without anyone calling drain().
        await accept(
            runtime, "generic", b'{"title": "t", "severity": "info", "ts": "2026-11-21T12:00:00Z"}'
        )
        await wait_for_empty_backlog(runtime)
        assert await current_revision(runtime.db) == head_revision()
        found = {e.fingerprint for e in await stored_events(runtime)}
    finally:
        await runtime.stop()
    assert REAL_FINGERPRINT in found
    assert len(found) == 2


async def test_start_is_repeatable_on_a_migrated_database(make_runtime: MakeRuntime) -> None:
    first = await make_runtime()
    await first.stop()
    second = await make_runtime()  # migrates again: nothing to do
    assert await current_revision(second.db) == head_revision()
