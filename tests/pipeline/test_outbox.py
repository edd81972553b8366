"""Embedded intake's own file: where it is, and nothing left behind in the main file."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import T0, MakeRuntime
from tests.ingestion import accept, stored_events
from tests.payloads import am_alert, am_body
from vigil.pipeline.outbox import ProcessingLock, outbox_url, prepare_outbox
from vigil.pipeline.tables import intake
from vigil.platform.db import Database
from vigil.platform.migrate import upgrade


def test_the_outbox_sits_beside_a_sqlite_file_only() -> None:
    assert (
        outbox_url("sqlite:////var/lib/vigil/vigil.db")
        == "sqlite:////var/lib/vigil/vigil-intake.db"
    )
    assert outbox_url("sqlite:///data/x.sqlite") == "sqlite:///data/x-intake.sqlite"
    assert outbox_url("sqlite://") is None
    assert outbox_url("sqlite:///:memory:") is None
    assert outbox_url("postgresql://postgres@127.0.0.1/test") is None


async def test_requests_an_earlier_version_left_pending_move_to_the_outbox(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'vigil.db'}"
    main, outbox = Database(url), Database(str(outbox_url(url)))
    try:
        await upgrade(main)
        row = {"tenant_id": "default", "source": "generic", "received_at": datetime.now(UTC),
               "body": "{}", "headers": {}, "attempts": 0}  # fmt: skip
        async with main.writing() as session:
            await session.execute(intake.insert(), [
                {**row, "id": "01PENDING00000000000000000", "request_key": "a", "state": "pending"},
                {**row, "id": "01DONE0000000000000000000", "request_key": "b", "state": "done"},
            ])  # fmt: skip
            await session.commit()
        assert await prepare_outbox(outbox, main) == 1
        assert await prepare_outbox(outbox, main) == 0  # once only
        async with outbox.session() as session:
            moved = (await session.execute(sa.select(intake.c.id, intake.c.state))).all()
        async with main.session() as session:
            left = (await session.execute(sa.select(intake.c.id))).scalars().all()
    finally:
        await main.dispose()
        await outbox.dispose()
    assert [tuple(r) for r in moved] == [("01PENDING00000000000000000", "pending")]
    assert list(left) == ["01DONE0000000000000000000"]


_HOLD = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


def _hold_in_another_process(path: Path, seconds: float) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "held"
    return holder


async def test_processing_lock_waits_for_another_process(tmp_path: Path) -> None:
    lock = ProcessingLock(Database(f"sqlite:///{tmp_path / 'vigil-intake.db'}"))
    holder = _hold_in_another_process(lock.path, 0.5)
    try:
        started = time.monotonic()
        async with lock:
            waited = time.monotonic() - started
            # It let go by exiting (the kernel drops the lock a moment before the exit
            # status can be read, so wait for that rather than poll).
            assert holder.wait(timeout=5) == 0
    finally:
        holder.wait()
        lock.close()
    assert waited >= 0.3


async def test_a_cancelled_wait_for_the_processing_lock_does_not_keep_it(tmp_path: Path) -> None:
    lock = ProcessingLock(Database(f"sqlite:///{tmp_path / 'vigil-intake.db'}"))
    holder = _hold_in_another_process(lock.path, 0.3)
    try:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(lock.__aenter__(), timeout=0.05)
        holder.wait()
        await asyncio.sleep(0.2)  # the waiting thread got the lock after the holder left
        second = _hold_in_another_process(lock.path, 0.0)  # so it was let go again
        second.wait()
        async with lock:
            pass
    finally:
        lock.close()


async def test_two_processors_on_one_outbox_process_each_request_once(
    make_runtime: MakeRuntime, tmp_path: Path
) -> None:
    """`vigil serve`'s processing child and a `vigil dlq replay` beside it both process
    the same outbox; each request is still processed once."""
    url = {"database_url": f"sqlite:///{tmp_path / 'shared.db'}", "database_schema": None}
    one, other = await make_runtime(**url), await make_runtime(**url)
    for n in range(40):
        await accept(one, "alertmanager", am_body(am_alert({"alertname": f"A{n}"}, T0)))
    done = await asyncio.gather(one.processor.drain(), other.processor.drain())
    assert sum(done) == 40
    async with one.outbox.session() as session:
        attempts = (await session.execute(sa.select(intake.c.attempts))).scalars().all()
    assert attempts == [1] * 40
    assert len(await stored_events(one)) == 40
