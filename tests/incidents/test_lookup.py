"""Correlation's per-batch lookups, on both databases: which incidents a batch loads, and
what of each, checked against a plain model of the rules over every stored row."""

from __future__ import annotations

import dataclasses
import random
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import T0, DbTarget
from vigil.incidents import repository
from vigil.incidents.lifecycle import ACTIVE_STATES
from vigil.incidents.lookup import BatchKeys, Loaded, load_incidents
from vigil.incidents.tables import incident_members
from vigil.platform.db import Database
from vigil.platform.migrate import upgrade

SINCE = T0 - timedelta(minutes=5)
RESOLVED_SINCE = T0 - timedelta(minutes=20)
ACTIVE = {s.value for s in ACTIVE_STATES}


@pytest.fixture
async def db(database: DbTarget) -> AsyncIterator[Database]:
    db = Database(database.url, schema=database.schema)
    await upgrade(db)
    yield db
    await db.dispose()


def incident(incident_id: str, opener: str, **fields: Any) -> dict[str, Any]:
    row = {
        "id": incident_id, "tenant_id": "default", "title": incident_id, "state": "detected",
        "severity": "error", "priority": "P2", "services": [], "alert_count": 0,
        "opener_event_id": opener, "detected_at": T0 - timedelta(hours=4),
        "acknowledged_at": None, "mitigated_at": None, "resolved_at": None,
        "learned_at": None, "last_activity_at": T0, "updated_at": T0, "reopened": 0,
        "merged_into": None,
    }  # fmt: skip
    row.update(fields)
    return row


def member(incident_id: str, event_id: str, at: datetime, **fields: Any) -> dict[str, Any]:
    row = {
        "incident_id": incident_id, "event_id": event_id, "tenant_id": "default",
        "fingerprint": f"fp-{event_id}", "family": "fam", "service": "svc",
        "group_key": None, "change_keys": [], "severity": "error", "priority": "P2",
        "firing": True, "attached_at": at, "reason_kind": "opened", "reason": "",
    }  # fmt: skip
    row.update(fields)
    return row


async def store(
    db: Database, incidents: list[dict[str, Any]], members: list[dict[str, Any]]
) -> None:
    async with db.writing() as session:
        await repository.insert_incidents(session, incidents)
        await repository.insert_members(session, members)
        await session.commit()


async def load(db: Database, keys: BatchKeys) -> dict[str, Loaded]:
    async with db.session() as session:
        found = await load_incidents(session, "default", resolved_since=RESOLVED_SINCE, keys=keys)
    return {row["id"]: (row, members, summary) for row, members, summary in found}


def keys(**fields: Any) -> BatchKeys:
    base: dict[str, Any] = {"event_ids": [], "services": [], "families": [], "group_keys": [],
                            "since": SINCE}  # fmt: skip
    return BatchKeys(**{**base, **fields})


async def test_the_migrations_make_the_indexes_tables_py_declares(db: Database) -> None:
    async with db.engine.connect() as conn:
        found = await conn.run_sync(lambda c: sa.inspect(c).get_indexes("incident_members"))

    # (The group key indexes are declared once per dialect, under one name each.)
    assert {i["name"] for i in found} == {i.name for i in incident_members.indexes}


async def test_only_incidents_the_batch_can_touch_are_loaded(db: Database) -> None:
    old = T0 - timedelta(hours=3)
    await store(
        db,
        [
            incident("recent", "r1"),
            incident("elsewhere", "x1", services=["search"]),
            incident("firing", "f1"),
            incident("quiet", "q1"),
            incident("learned", "l1", state="learned"),
            incident("long-resolved", "g1", state="resolved", resolved_at=T0 - timedelta(hours=1)),
            incident("on-payments", "p1", services=["payments"]),
        ],
        [
            member("recent", "r1", T0 - timedelta(minutes=1), service="checkout"),
            member("elsewhere", "x1", T0 - timedelta(minutes=1), service="search"),
            # Still firing on the batch's family: it matches at any age.
            member("firing", "f1", old, service="other", family="f-batch"),
            member("quiet", "q1", old, service="other", family="f-batch", firing=False),
            member("learned", "l1", old, service="other", family="f-other"),
            member("long-resolved", "g1", T0 - timedelta(minutes=2), service="checkout"),
            member("on-payments", "p1", old, service="payments", family="f-pay"),
        ],
    )
    batch = keys(event_ids=["l1"], services=["checkout"], families=["f-batch"])

    loaded = await load(db, batch)

    assert sorted(loaded) == ["firing", "learned", "recent"]
    firing = loaded["firing"][2]
    assert firing.firing_keys[("family", "f-batch")].firing == 1
    assert [m.event_id for m in loaded["learned"][1]] == ["l1"]
    # A change on payments is noted on the active incidents there: they are loaded too.
    with_change = await load(db, dataclasses.replace(batch, change_services=["payments"]))
    assert sorted(with_change) == ["firing", "learned", "on-payments", "recent"]


async def test_the_latest_members_per_key_and_a_summary_of_all(db: Database) -> None:
    members = [
        member("big", f"e{n}", T0 - timedelta(minutes=10 - n), service="checkout",
               severity="critical" if n == 2 else "warning", priority="P1" if n == 2 else "P3",
               firing=n % 2 == 0)
        for n in range(10)
    ]  # fmt: skip
    await store(db, [incident("big", "e0")], members)

    (_row, loaded, summary) = (await load(db, keys(services=["checkout"])))["big"]

    # The five latest since `since` (e5..e9), the opener (e0); the latest is among them.
    assert sorted(m.event_id for m in loaded) == ["e0", "e5", "e6", "e7", "e8", "e9"]
    assert (summary.member_count, summary.firing_count) == (10, 5)
    assert (summary.severities, summary.best_priority) == ({"critical", "warning"}, "P1")


async def test_a_group_key_longer_than_an_index_entry_is_stored_and_matched(db: Database) -> None:
    rng = random.Random(7)
    long = "{}:{" + ", ".join(f'l{n}="{rng.getrandbits(64):x}"' for n in range(300)) + "}"
    twin = long[:-1] + "x}"  # the same first characters, another key
    await store(
        db,
        [incident("long", "a1"), incident("twin", "b1")],
        [
            member("long", "a1", T0 - timedelta(minutes=1), group_key=long, service="a"),
            member("twin", "b1", T0 - timedelta(minutes=1), group_key=twin, service="b"),
        ],
    )

    loaded = await load(db, keys(group_keys=[long]))

    assert sorted(loaded) == ["long"]
    assert loaded["long"][2].firing_keys[("group", long)].firing == 1


# A model of the rules, over every stored row: what `load_incidents` must return.


Row = dict[str, Any]
Expected = tuple[set[str], tuple[int, int, frozenset[str], str], dict[Any, tuple[int, datetime]]]


def live_model(incidents: list[Row], members: list[Row], batch: BatchKeys) -> dict[str, Row]:
    held = {m["incident_id"] for m in members if m["event_id"] in batch.event_ids}
    return {
        i["id"]: i
        for i in incidents
        if i["merged_into"] is None
        and (
            i["state"] in ACTIVE
            or (i["state"] == "resolved" and i["resolved_at"] >= RESOLVED_SINCE)
            or i["id"] in held
        )
    }


def chosen_model(of_live: list[Row], batch: BatchKeys) -> dict[str, set[str]]:
    """The latest five per incident and key value since `since`; the latest 200 changes."""
    chosen: dict[str, set[str]] = defaultdict(set)
    for name, values in (("service", batch.services), ("family", batch.families),
                         ("group_key", batch.group_keys)):  # fmt: skip
        per_key = defaultdict(list)
        for m in of_live:
            if m[name] in values and m["attached_at"] >= batch.since:
                per_key[(m["incident_id"], m[name])].append(m)
        for found in per_key.values():
            for m in sorted(found, key=lambda m: m["attached_at"], reverse=True)[:5]:
                chosen[m["incident_id"]].add(m["event_id"])
    changes = [m for m in of_live if m["change_keys"] and m["attached_at"] >= batch.since]
    for m in sorted(changes, key=lambda m: m["attached_at"], reverse=True)[:200]:
        chosen[m["incident_id"]].add(m["event_id"])
    return chosen


def firing_model(of_live: list[Row], batch: BatchKeys) -> dict[str, dict[Any, Any]]:
    firing: dict[str, dict[Any, Any]] = defaultdict(dict)
    for kind, name, values in (("family", "family", batch.families),
                               ("group", "group_key", batch.group_keys)):  # fmt: skip
        for m in (m for m in of_live if m["firing"] and m[name] in values):
            key = (kind, m[name])
            count, latest = firing[m["incident_id"]].get(key, (0, m["attached_at"]))
            firing[m["incident_id"]][key] = (count + 1, max(latest, m["attached_at"]))
    return firing


def model(incidents: list[Row], members: list[Row], batch: BatchKeys) -> dict[str, Expected]:
    """Per incident to load: its members to load, counts, severities, best priority and
    firing keys."""
    live = live_model(incidents, members, batch)
    of_live = [m for m in members if m["incident_id"] in live]
    chosen, firing = chosen_model(of_live, batch), firing_model(of_live, batch)
    held = {m["incident_id"] for m in of_live if m["event_id"] in batch.event_ids}
    on_changes = {
        i for i, row in live.items()
        if row["state"] in ACTIVE and set(row["services"]) & set(batch.change_services)
    }  # fmt: skip
    loaded = set(live) & (held | set(chosen) | set(firing) | on_changes)
    openers = {live[i]["opener_event_id"] for i in loaded}
    found = {}
    for i in loaded:
        own = [m for m in members if m["incident_id"] == i]
        latest = max(m["attached_at"] for m in own)
        ids = chosen[i] | {
            m["event_id"] for m in own
            if m["event_id"] in openers or m["attached_at"] == latest
            or m["event_id"] in batch.event_ids
        }  # fmt: skip
        severities = frozenset(m["severity"] for m in own)
        counts = (len(own), sum(m["firing"] for m in own), severities,
                  min(m["priority"] for m in own))  # fmt: skip
        found[i] = (ids, counts, dict(firing[i]))
    return found


SERVICES, FAMILIES, GROUPS = list("abcdefgh"), list("pqrstuvwxy"), ["g1", "g2", "g3", "g4"]


def storm(seed: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Incidents in every state, members on a few keys at distinct times, some alerts in
    two incidents, some carrying changes."""
    rng = random.Random(seed)
    states = ["detected", "acknowledged", "mitigated", "resolved", "learned", "inconclusive"]
    times = rng.sample(range(4 * 3600), 600)
    incidents, members = [], []
    for n in range(80):
        state = rng.choice(states)
        resolved_at = T0 - timedelta(minutes=rng.choice((5, 30))) if state == "resolved" else None
        incidents.append(incident(f"i{n:02d}", "", state=state, resolved_at=resolved_at,
                                  services=rng.sample(SERVICES, 2),
                                  merged_into="i00" if n == 79 else None))  # fmt: skip
    for n, seconds in enumerate(times):
        owner = incidents[rng.randrange(80)]
        event_id = f"e{rng.randrange(n + 1):03d}"  # some alerts land in two incidents
        members.append(member(
            owner["id"], event_id, T0 - timedelta(seconds=seconds),
            service=rng.choice([*SERVICES, None]), family=rng.choice(FAMILIES),
            group_key=rng.choice([*GROUPS, None]), firing=rng.random() < 0.3,
            change_keys=["deploy:x"] if rng.random() < 0.05 else [],
            priority=rng.choice(["P1", "P2", "P3"]), severity=rng.choice(["error", "warning"]),
        ))  # fmt: skip
    unique = {(m["incident_id"], m["event_id"]): m for m in members}
    members = list(unique.values())
    for row in incidents:
        own = sorted((m for m in members if m["incident_id"] == row["id"]),
                     key=lambda m: m["attached_at"])  # fmt: skip
        row["opener_event_id"] = own[0]["event_id"] if own else "none"
    return [i for i in incidents if i["opener_event_id"] != "none"], members


@pytest.mark.parametrize("seed", [1, 2])
async def test_what_is_loaded_is_what_the_rules_say(db: Database, seed: int) -> None:
    incidents, members = storm(seed)
    await store(db, incidents, members)
    rng = random.Random(seed)
    for _ in range(6):
        batch = keys(
            event_ids=sorted({m["event_id"] for m in rng.sample(members, 5)}),
            services=sorted(rng.sample(SERVICES, 2)),
            families=sorted(rng.sample(FAMILIES, 2)),
            group_keys=sorted(rng.sample(GROUPS, 1)),
            since=T0 - timedelta(minutes=rng.choice((10, 45))),
            change_services=rng.choice([[], ["c"]]),
        )

        loaded = await load(db, batch)

        expected = model(incidents, members, batch)
        assert sorted(loaded) == sorted(expected)
        for incident_id, (_row, found, summary) in loaded.items():
            ids, counts, firing = expected[incident_id]
            assert {m.event_id for m in found} == ids, incident_id
            assert counts == (summary.member_count, summary.firing_count, summary.severities,
                              summary.best_priority)  # fmt: skip
            assert {k: (v.firing, v.latest) for k, v in summary.firing_keys.items()} == firing
