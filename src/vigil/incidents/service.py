"""Incident work a person does: transitions, notes, merge and split; owns its commits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from vigil.incidents import repository
from vigil.incidents.board import Board
from vigil.incidents.lifecycle import IncidentState, Trigger
from vigil.incidents.view import IncidentView
from vigil.platform.clock import Clock
from vigil.platform.db import Database
from vigil.platform.ids import IdFactory

__all__ = ["IncidentNotFoundError", "IncidentService", "InvalidRequestError"]


class IncidentNotFoundError(LookupError):
    reason = "not_found"


class InvalidRequestError(ValueError):
    """A merge or split that cannot be done as asked (the message says why)."""

    reason = "invalid_request"


class IncidentService:
    """Each method is one unit of work under the tenant's incident lock, so it never races
    the correlate stage; every change lands on the timeline with its actor and reason."""

    def __init__(self, db: Database, clock: Clock, ids: IdFactory) -> None:
        self._db, self._clock, self._ids = db, clock, ids

    async def _board(
        self, session: AsyncSession, tenant_id: str, incident_ids: list[str]
    ) -> tuple[Board, list[IncidentView]]:
        await repository.lock_tenant(session, tenant_id)
        board = Board(tenant_id, self._ids)
        views = []
        for incident_id in incident_ids:
            row = await repository.get_incident(session, tenant_id, incident_id)
            if row is None:
                raise IncidentNotFoundError(f"no incident {incident_id!r}")
            if row["merged_into"]:
                raise InvalidRequestError(
                    f"incident {incident_id} was merged into {row['merged_into']}"
                )
            members = (await repository.members_of(session, [incident_id]))[incident_id]
            views.append(board.load(row, members))
        return board, views

    async def transition(
        self, tenant_id: str, incident_id: str, trigger: Trigger, *, actor: str, reason: str = ""
    ) -> IncidentState:
        """Move an incident by `trigger`; raises IllegalTransitionError if not allowed."""
        async with self._db.writing() as session:
            board, (view,) = await self._board(session, tenant_id, [incident_id])
            now = self._clock.now()
            state = board.move(view, trigger, actor, reason, now)
            await board.flush(session, now)
            await session.commit()
        return state

    async def note(self, tenant_id: str, incident_id: str, *, actor: str, text: str) -> None:
        async with self._db.writing() as session:
            board, (view,) = await self._board(session, tenant_id, [incident_id])
            now = self._clock.now()
            board.record(view, now, "note", text, actor=actor)
            await board.flush(session, now)
            await session.commit()

    async def merge(
        self, tenant_id: str, target_id: str, source_ids: list[str], *, actor: str, reason: str
    ) -> None:
        """Fold the alerts of `source_ids` into `target_id`; the sources are closed as
        merged. Stored as feedback: these alerts were one failure."""
        if not source_ids or target_id in source_ids:
            raise InvalidRequestError("name other incidents to merge into this one")
        source_ids = list(dict.fromkeys(source_ids))  # one named twice is merged once
        async with self._db.writing() as session:
            board, views = await self._board(session, tenant_id, [target_id, *source_ids])
            target, sources = views[0], views[1:]
            now = self._clock.now()
            for source in sources:
                moved = list(source.members.values())
                await repository.move_members(
                    session, source.id, target.id, [m.event_id for m in moved]
                )
                kept = {m.event_id: m for m in moved} | target.members
                target.summarise(kept.values())
                source.summarise([])
                board.rows[source.id]["merged_into"] = target.id
                board.touch(source, source.last_activity)
                board.record(source, now, "merged", f"merged into {target.id}: {reason}",
                             actor=actor, into=target.id)  # fmt: skip
                board.record(target, now, "merged", f"{source.id} merged in ({len(moved)} "
                             f"alert(s)): {reason}", actor=actor, source=source.id)  # fmt: skip
            board.fold_times(target, sources, actor)
            board.touch(target, target.last_activity)
            await board.flush(session, now)
            await repository.insert_feedback(
                session,
                self._feedback(tenant_id, target.id, "merge", actor, reason, now,
                               {"sources": source_ids, "services": sorted(target.services)}),
            )  # fmt: skip
            await session.commit()

    async def split(
        self, tenant_id: str, incident_id: str, event_ids: list[str], *, actor: str, reason: str
    ) -> str:
        """Move the named alerts out into a new incident; returns its id. Stored as
        feedback: these alerts were a different failure."""
        async with self._db.writing() as session:
            board, (view,) = await self._board(session, tenant_id, [incident_id])
            unknown = sorted(set(event_ids) - set(view.members))
            if unknown or not event_ids:
                raise InvalidRequestError(f"not alerts of {incident_id}: {unknown or 'none'}")
            if len(set(event_ids)) == len(view.members):
                raise InvalidRequestError("a split must leave at least one alert behind")
            now = self._clock.now()
            moved = [view.members.pop(e) for e in dict.fromkeys(event_ids)]
            view.summarise(list(view.members.values()))
            title = f"split from {board.rows[view.id]['title']}"
            new = board.split_off(view, moved, title, now)
            await repository.move_members(session, view.id, new.id, [m.event_id for m in moved])
            board.record(view, now, "split", f"{len(moved)} alert(s) split off into {new.id}: "
                         f"{reason}", actor=actor, into=new.id)  # fmt: skip
            board.record(new, now, "split", f"split from {view.id}: {reason}", actor=actor,
                         source=view.id)  # fmt: skip
            await board.flush(session, now)
            data: dict[str, Any] = {
                "new_incident": new.id,
                "event_ids": list(event_ids),
                "services": sorted({m.service or "" for m in moved}),
            }
            await repository.insert_feedback(
                session, self._feedback(tenant_id, view.id, "split", actor, reason, now, data)
            )
            await session.commit()
        return new.id

    def _feedback(  # noqa: PLR0913 - one row's columns
        self,
        tenant_id: str,
        incident_id: str,
        kind: str,
        actor: str,
        reason: str,
        now: datetime,
        data: dict[str, Any],
    ) -> dict[str, Any]:
        return {
            "id": self._ids.new(), "tenant_id": tenant_id, "incident_id": incident_id,
            "kind": kind, "actor": actor, "reason": reason, "data": data, "created_at": now,
        }  # fmt: skip
