"""What one unit of correlation work can touch, found through indexes: the live incidents
its alerts may join or change, each with the members matching reads. Never commits."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from vigil.incidents.lifecycle import ACTIVE_STATES, IncidentState
from vigil.incidents.tables import (
    HAS_CHANGES,
    incident_members,
    incidents,
    indexed_group_key,
)
from vigil.incidents.view import KeyStat, MemberView, Summary
from vigil.pipeline.tables import events

__all__ = ["BatchKeys", "Loaded", "load_incidents"]


@dataclass(frozen=True, slots=True)
class BatchKeys:
    """What the alerts of one unit of work can match on: only incidents with members on
    these are loaded, with a few members per key (the latest started), so neither many
    open incidents nor a huge one make a batch slow."""

    event_ids: Sequence[str]
    services: Sequence[str]  # the alerts' services and the services they call
    families: Sequence[str]
    group_keys: Sequence[str]
    since: datetime  # members started before this are too old to match by time
    change_services: Sequence[str] = ()  # services of the changes (noted on incidents)
    # Incidents resolved at or after this, with members on these families or group keys:
    # an alert of theirs that started before they resolved may arrive late.
    ended_since: datetime | None = None


# Members loaded per incident and key: the latest started ones are the nearest in time to
# new alerts, which arrive roughly in order.
_PER_KEY = 5
# Recent members carrying a deploy, commit or trace id, over all live incidents.
_CHANGED = 200

Loaded = tuple[dict[str, Any], list[MemberView], Summary]
_Rows = list[Sequence[Any]]
# What every query of members selects, in this order: a batch may read thousands of rows,
# and reading them by position costs half as much as by name.
_MEMBER = ("incident_id", "event_id", "fingerprint", "family", "service", "group_key",
           "change_keys", "severity", "priority", "firing", "attached_at", "reason_kind",
           "reason")  # fmt: skip


def _columns(table: sa.FromClause) -> list[Any]:
    return [table.c[name] for name in _MEMBER]


def _member(row: Sequence[Any]) -> MemberView:
    return MemberView(row[1], row[2], row[3], row[4], row[5], frozenset(row[6]), *row[7:])


async def load_incidents(
    session: AsyncSession, tenant_id: str, *, resolved_since: datetime, keys: BatchKeys
) -> list[Loaded]:
    """The live incidents (active, resolved since `resolved_since` so they may flap back,
    or holding one of the batch's alerts) that the batch can touch, each with the members
    it may match or change and a summary of all its members.

    A live incident is left out only when nothing in the batch can touch it: it holds none
    of the batch's alerts; none of its members on the batch's services, families or group
    keys started since `keys.since` (the weaker reasons reach no further back) or still
    fires on one of those families or group keys (they match at any age); none is among
    the latest carrying a change; and it is not active on the service of one of the
    batch's changes. What is loaded of an incident does not depend on which others are,
    so correlation decides as if all were loaded."""
    postgres = session.get_bind().dialect.name == "postgresql"
    held = await _fetch(session, _holding(tenant_id, keys.event_ids))
    held_ids = sorted({row[0] for row in held})
    live = _live(resolved_since, held_ids)
    near: _Rows = []
    for name, values in (("service", keys.services), ("family", keys.families),
                         ("group_key", keys.group_keys)):  # fmt: skip
        near += await _fetch(session, _latest_on(name, values, tenant_id, keys.since, postgres))
    changed = await _fetch(session, _changed(tenant_id, keys.since, live, postgres))
    firing = await _firing_keys(session, tenant_id, keys, postgres)
    ended = await _ended_keys(session, tenant_id, keys, postgres)
    touched = {*held_ids, *firing, *ended, *(row[0] for row in (*near, *changed))}
    rows = await _incidents(session, tenant_id, live, touched, keys.change_services)
    ends = await _fetch(session, _ends(tenant_id, rows))
    summaries = await _summaries(session, [row["id"] for row in rows], firing, ended)
    members: dict[str, dict[str, MemberView]] = {row["id"]: {} for row in rows}
    # Gathered in the order of the queries (ties in start time keep it when matching sorts
    # the members by start).
    for row in (*near, *changed, *ends, *held):
        found = members.get(row[0])
        if found is not None and row[1] not in found:
            found[row[1]] = _member(row)
    return [(row, list(members[row["id"]].values()), summaries[row["id"]]) for row in rows]


async def _fetch(session: AsyncSession, query: sa.Select[Any] | None) -> _Rows:
    if query is None:
        return []
    return list((await session.execute(query)).all())


def _holding(tenant_id: str, event_ids: Sequence[str]) -> sa.Select[Any] | None:
    """The batch's alerts as members, of whichever incidents hold them."""
    if not event_ids:
        return None
    m = incident_members
    return sa.select(*_columns(m)).where(m.c.tenant_id == tenant_id, m.c.event_id.in_(event_ids))


def _live(resolved_since: datetime, held_ids: Sequence[str]) -> sa.ColumnElement[bool]:
    live = sa.or_(
        incidents.c.state.in_([s.value for s in ACTIVE_STATES]),
        sa.and_(
            incidents.c.state == IncidentState.RESOLVED.value,
            incidents.c.resolved_at >= resolved_since,
        ),
    )
    return sa.or_(live, incidents.c.id.in_(held_ids)) if held_ids else live


def _among(table: sa.FromClause, name: str, values: Sequence[str], postgres: bool) -> list[Any]:
    """`table.name` is one of `values`, spelt so that the lookup indexes serve it."""
    column = table.c[name]
    if postgres and name == "group_key":  # Postgres indexes a prefix (see tables.py)
        prefixes = [indexed_group_key(sa.literal(v, sa.Text)) for v in values]
        return [indexed_group_key(column).in_(prefixes), column.in_(values)]
    return [column.in_(values)]


def _same(table: sa.FromClause, name: str, value: Any, postgres: bool) -> list[Any]:
    column = table.c[name]
    if postgres and name == "group_key":
        return [indexed_group_key(column) == indexed_group_key(value), column == value]
    return [column == value]


def _latest_on(
    name: str, values: Sequence[str], tenant_id: str, since: datetime, postgres: bool
) -> sa.Select[Any] | None:
    """Up to `_PER_KEY` latest members started since `since` per incident and value of
    column `name` among `values`: the (incident, value) pairs come from the recent members,
    then each pair's latest are read off the index, newest first, rather than ranking
    every recent member of every pair."""
    if not values:
        return None
    m, x = incident_members, incident_members.alias("x")
    pairs = (
        sa.select(m.c.incident_id.label("i"), m.c[name].label("v"))
        .distinct()
        .where(m.c.tenant_id == tenant_id, m.c.attached_at >= since)
        .where(*_among(m, name, values, postgres))
        .subquery("pairs")
    )
    near = [x.c.tenant_id == tenant_id, *_same(x, name, pairs.c.v, postgres),
            x.c.attached_at >= since, x.c.incident_id == pairs.c.i]  # fmt: skip
    if postgres:
        top = (
            sa.select(x)
            .where(*near)
            .order_by(x.c.attached_at.desc(), x.c.event_id)
            .limit(_PER_KEY)
            .lateral("top")
        )
        order = (top.c.incident_id, top.c[name], top.c.attached_at.desc(), top.c.event_id)
        return sa.select(*_columns(top)).select_from(pairs).join(top, sa.true()).order_by(*order)
    # SQLite has no LATERAL: the rowids of each pair's latest, in the index's order (ties
    # in start time as they were inserted).
    rowid: sa.ColumnElement[Any] = sa.literal_column("x.rowid")
    latest = sa.select(rowid).where(*near).order_by(x.c.attached_at.desc(), rowid)
    chosen = sa.literal_column("incident_members.rowid").in_(latest.limit(_PER_KEY))
    order = (
        m.c.incident_id,
        m.c[name],
        m.c.attached_at.desc(),
        sa.literal_column("incident_members.rowid"),
    )
    return sa.select(*_columns(m)).select_from(pairs).join(m, chosen).order_by(*order)


def _changed(
    tenant_id: str, since: datetime, live: sa.ColumnElement[bool], postgres: bool
) -> sa.Select[Any]:
    """The latest members of live incidents that carry a deploy, commit or trace id."""
    m = incident_members
    return (
        sa.select(*_columns(m))
        .join(incidents, incidents.c.id == m.c.incident_id)
        .where(m.c.tenant_id == tenant_id, m.c.attached_at >= since)
        .where(sa.text(HAS_CHANGES["postgresql" if postgres else "sqlite"]))
        .where(incidents.c.merged_into.is_(None), live)
        .order_by(m.c.attached_at.desc())
        .limit(_CHANGED)
    )


def _shared_keys(keys: BatchKeys) -> Iterator[tuple[str, str, Sequence[str]]]:
    """The batch's families and group keys that are not empty, as (key kind, column,
    values): the keys an alert matches on at any age."""
    for kind, name, values in (("family", "family", keys.families),
                               ("group", "group_key", keys.group_keys)):  # fmt: skip
        if values:
            yield kind, name, values


async def _firing_keys(
    session: AsyncSession, tenant_id: str, keys: BatchKeys, postgres: bool
) -> dict[str, dict[tuple[str, str], KeyStat]]:
    """Per incident, the firing members on the batch's families and group keys: how many,
    and the latest start. They match at any age, so any incident holding one is loaded."""
    found: dict[str, dict[tuple[str, str], KeyStat]] = {}
    m = incident_members
    for kind, name, values in _shared_keys(keys):
        column = m.c[name]
        query = (
            sa.select(m.c.incident_id, column, sa.func.count(), sa.func.max(m.c.attached_at))
            .where(m.c.tenant_id == tenant_id, m.c.firing, *_among(m, name, values, postgres))
            .group_by(m.c.incident_id, column)
        )
        for incident_id, value, count, latest in (await session.execute(query)).all():
            found.setdefault(incident_id, {})[(kind, value)] = KeyStat(count, latest)
    return found


async def _ended_keys(
    session: AsyncSession, tenant_id: str, keys: BatchKeys, postgres: bool
) -> dict[str, dict[tuple[str, str], tuple[datetime, datetime]]]:
    """Per incident resolved since `keys.ended_since`, its families and group keys among
    the batch's, with when they fired: the first member's start and the last member's end
    (its event's resolve; the incident's end for one that never resolved)."""
    found: dict[str, dict[tuple[str, str], tuple[datetime, datetime]]] = {}
    if keys.ended_since is None:
        return found
    m, i, e = incident_members, incidents, events
    # Few incidents resolved since the batch's earliest alert: start from them (by the
    # resolved-at index), not from every member a family ever had.
    lately = (
        sa.select(i.c.id)
        .where(i.c.tenant_id == tenant_id, i.c.resolved_at >= keys.ended_since)
        .where(i.c.state == IncidentState.RESOLVED.value, i.c.merged_into.is_(None))
        .subquery("lately")
    )
    end = sa.func.max(sa.func.coalesce(e.c.resolved_at, i.c.resolved_at))
    for kind, name, values in _shared_keys(keys):
        column = m.c[name]
        query = (
            sa.select(m.c.incident_id, column, sa.func.min(m.c.attached_at), end)
            .join(lately, lately.c.id == m.c.incident_id)
            .join(i, i.c.id == m.c.incident_id)
            .join(e, e.c.id == m.c.event_id)
            .where(*_among(m, name, values, postgres))
            .group_by(m.c.incident_id, column)
        )
        for incident_id, value, first, last in (await session.execute(query)).all():
            found.setdefault(incident_id, {})[(kind, value)] = (first, last)
    return found


async def _incidents(
    session: AsyncSession,
    tenant_id: str,
    live: sa.ColumnElement[bool],
    touched: set[str],
    change_services: Sequence[str],
) -> list[dict[str, Any]]:
    """The live ones of `touched`, and the active incidents on a service a change is on
    (the change is noted on their timeline)."""
    if not touched and not change_services:
        return []
    query = (
        sa.select(incidents)
        .where(incidents.c.tenant_id == tenant_id, incidents.c.merged_into.is_(None), live)
        .order_by(incidents.c.id)
    )
    if not change_services:
        query = query.where(incidents.c.id.in_(sorted(touched)))
    rows = [dict(r) for r in (await session.execute(query)).mappings()]
    if not change_services:
        return rows
    changed = set(change_services)
    return [
        row
        for row in rows
        if row["id"] in touched
        or (
            IncidentState(row["state"]) in ACTIVE_STATES and not changed.isdisjoint(row["services"])
        )
    ]


def _ends(tenant_id: str, rows: Sequence[Mapping[str, Any]]) -> sa.Select[Any] | None:
    """The first and the latest started alert of each incident (auto-resolve reads them),
    and any other member one of them was opened by. Each latest start is read off the
    index, not aggregated over all members."""
    if not rows:
        return None
    ids = [row["id"] for row in rows]
    m, x = incident_members, incident_members.alias("x")
    openers = sa.select(*_columns(m)).where(
        m.c.tenant_id == tenant_id,
        m.c.event_id.in_([row["opener_event_id"] for row in rows]),
        m.c.incident_id.in_(ids),
    )
    latest = (
        sa.select(sa.func.max(x.c.attached_at))
        .where(x.c.incident_id == incidents.c.id)
        .scalar_subquery()
    )
    ends = (
        sa.select(incidents.c.id, latest.label("latest"))
        .where(incidents.c.id.in_(ids))
        .subquery("ends")
    )
    last = sa.select(*_columns(m)).join(
        ends, sa.and_(m.c.incident_id == ends.c.id, m.c.attached_at == ends.c.latest)
    )
    return sa.select(sa.union_all(openers, last).subquery())


async def _summaries(
    session: AsyncSession,
    ids: Sequence[str],
    firing: dict[str, dict[tuple[str, str], KeyStat]],
    ended: dict[str, dict[tuple[str, str], tuple[datetime, datetime]]],
) -> dict[str, Summary]:
    """Counts, severities and best priority over all members of each incident, with its
    firing members on the batch's families and group keys."""
    parts: dict[str, tuple[int, int, set[str], str]] = {i: (0, 0, set(), "P3") for i in ids}
    if ids:
        m = incident_members.c
        fired = sa.func.sum(sa.case((m.firing, 1), else_=0))
        query = (
            sa.select(m.incident_id, m.severity, sa.func.count(), fired, sa.func.min(m.priority))
            .where(m.incident_id.in_(ids))
            .group_by(m.incident_id, m.severity)
        )
        for incident_id, severity, count, up, best in (await session.execute(query)).all():
            total, firing_count, severities, top = parts[incident_id]
            severities.add(severity)
            parts[incident_id] = (total + count, firing_count + int(up or 0), severities,
                                  min(top, best))  # fmt: skip
    return {
        i: Summary(count, up, frozenset(severities), best, firing.get(i, {}), ended.get(i, {}))
        for i, (count, up, severities, best) in parts.items()
    }
