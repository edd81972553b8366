"""Detector state rows: saved, replaced on the next save, deleted; per tenant."""

from __future__ import annotations

from tests.conftest import T0
from vigil.detection.state import StateRow, delete_states, load_states, save_states
from vigil.interfaces.runtime import Runtime


async def test_save_replace_load_and_delete(runtime: Runtime) -> None:
    row = StateRow("metric:lat:abc", "metric", "lat", {"service": "checkout"}, {"n": 1})
    async with runtime.db.writing() as session:
        await save_states(session, "default", [row], T0)
        await save_states(session, "other", [row], T0)
        await session.commit()
    changed = StateRow(row.key, "metric", "lat", row.labels, {"n": 2, "list": [1.5, None]})
    cursor = StateRow("cursor:metric:lat", "cursor", "lat", {}, {"cursor": 1.0})
    async with runtime.db.writing() as session:
        await save_states(session, "default", [changed, cursor], T0)
        await session.commit()
    async with runtime.db.session() as session:
        loaded = await load_states(session, "default")
        other = await load_states(session, "other")
    assert loaded == {row.key: changed, cursor.key: cursor}
    assert other == {row.key: row}
    async with runtime.db.writing() as session:
        await delete_states(session, "default", [row.key])
        await session.commit()
    async with runtime.db.session() as session:
        assert set(await load_states(session, "default")) == {cursor.key}
