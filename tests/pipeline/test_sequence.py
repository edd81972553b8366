"""Sequence: stages in order; a poison item is isolated, the rest of the batch goes on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from vigil.events import Event
from vigil.pipeline import Batch, Item, Sequence, StageContext
from vigil.platform.db import Database

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def item(title: str) -> Item:
    event = Event(
        tenant_id="default",
        source="generic",
        ts=NOW,
        received_at=NOW,
        severity="warning",
        title=title,
        fingerprint=f"fp-{title}",
        ingest_id=f"in-{title}",
    )
    return Item(event=event, intake_id="01INTAKE")


class Fragile:
    """Chokes on any batch holding an item titled `poison`."""

    name = "fragile"
    transactional = False

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    async def __call__(self, batch: Batch, ctx: StageContext) -> Batch:
        self.batches.append([i.event.title for i in batch])
        if any(i.event.title == "poison" for i in batch):
            raise ValueError("cannot digest poison")
        return [replace(i, priority="P2") for i in batch]


class Recorder:
    """Remembers what reached it; drops items titled `drop`."""

    transactional = False

    def __init__(self, name: str) -> None:
        self.name = name
        self.seen: list[str] = []

    async def __call__(self, batch: Batch, ctx: StageContext) -> Batch:
        self.seen.extend(i.event.title for i in batch)
        return [replace(i, dropped="not wanted") if i.event.title == "drop" else i for i in batch]


class Writer:
    name = "writer"
    transactional = True

    async def __call__(self, batch: Batch, ctx: StageContext) -> Batch:
        raise RuntimeError("constraint violated")


@pytest.fixture
async def ctx(tmp_path: Path) -> AsyncIterator[StageContext]:
    db = Database(f"sqlite:///{tmp_path / 'unused.db'}")
    async with db.session() as session:
        yield StageContext(session=session, now=NOW)
    await db.dispose()


async def test_poison_item_is_isolated(ctx: StageContext) -> None:
    fragile, after = Fragile(), Recorder("after")
    sequence = Sequence([Recorder("before"), fragile, after])
    outcome = await sequence([item("a"), item("poison"), item("b")], ctx)

    assert [i.event.title for i in outcome.stored] == ["a", "b"]
    assert {i.priority for i in outcome.stored} == {"P2"}
    assert outcome.dropped == []
    (failed,) = outcome.failed
    assert failed.event.title == "poison"
    assert failed.intake_id == "01INTAKE"
    assert failed.failure is not None
    assert failed.failure.stage == "fragile"
    assert failed.failure.reason == "ValueError: cannot digest poison"
    assert after.seen == ["a", "b"]  # later stages never see the poison item
    assert fragile.batches[0] == ["a", "poison", "b"]  # tried whole first


async def test_dropped_items_leave_the_sequence(ctx: StageContext) -> None:
    first, second = Recorder("first"), Recorder("second")
    outcome = await Sequence([first, second])([item("keep"), item("drop")], ctx)
    assert [i.event.title for i in outcome.stored] == ["keep"]
    assert [(i.event.title, i.dropped) for i in outcome.dropped] == [("drop", "not wanted")]
    assert second.seen == ["keep"]


async def test_items_already_dead_are_not_run(ctx: StageContext) -> None:
    recorder = Recorder("only")
    dead = replace(item("gone"), dropped="redelivered")
    outcome = await Sequence([recorder])([dead, item("live")], ctx)
    assert recorder.seen == ["live"]
    assert [i.event.title for i in outcome.dropped] == ["gone"]


async def test_transactional_stage_failure_aborts_the_batch(ctx: StageContext) -> None:
    with pytest.raises(RuntimeError, match="constraint violated"):
        await Sequence([Recorder("before"), Writer()])([item("a"), item("b")], ctx)


def test_stage_names_must_be_unique() -> None:
    with pytest.raises(ValueError, match="duplicate stage names"):
        Sequence([Recorder("same"), Recorder("same")])
