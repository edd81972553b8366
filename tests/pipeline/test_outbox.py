"""Embedded intake's own file: where it is, and nothing left behind in the main file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from vigil.pipeline.outbox import outbox_url, prepare_outbox
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
