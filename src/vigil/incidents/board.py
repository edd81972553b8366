"""The incidents of one tenant being worked on in one transaction, and what changed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from vigil.events import Severity
from vigil.incidents import repository
from vigil.incidents.correlate import Signal
from vigil.incidents.lifecycle import IncidentState, Trigger, next_state
from vigil.incidents.view import IncidentView, MemberView, Summary, member_keys
from vigil.platform.ids import IdFactory

__all__ = ["SYSTEM_ACTOR", "Board", "Change", "derive_priority", "derive_severity"]

SYSTEM_ACTOR = "vigil"  # who moves an incident on an alert's word (not a person)

# The timestamp a state sets the first time it is reached (MTTA, MTTR read them).
_STAMPS = {
    IncidentState.ACKNOWLEDGED: "acknowledged_at",
    IncidentState.MITIGATED: "mitigated_at",
    IncidentState.RESOLVED: "resolved_at",
    IncidentState.LEARNED: "learned_at",
}
# Every stamp of the lifecycle, in order: a move is never stamped before any of them.
_STEPS = ("detected_at", *_STAMPS.values())
_PRIORITIES = ("P0", "P1", "P2", "P3")
# An incident that spans this many services is one priority more urgent than its alerts.
_WIDE = 3


def derive_severity(severities: Iterable[str]) -> str:
    """The worst of the members' severities."""
    return min((Severity(s) for s in severities), key=lambda s: s.rank).value


def derive_priority(best_member_priority: str, services: int) -> str:
    """The most urgent member priority (each already weighs severity by service tier),
    raised one step when the failure has spread to several services."""
    best = _PRIORITIES.index(best_member_priority)
    if services >= _WIDE:
        best = max(0, best - 1)
    return _PRIORITIES[best]


@dataclass(frozen=True, slots=True)
class Change:
    """A state change made on the board, for the caller to report."""

    incident_id: str
    before: IncidentState
    after: IncidentState
    trigger: Trigger


@dataclass
class Board:
    """Loaded incidents plus pending writes; `flush` writes them, the caller commits."""

    tenant_id: str
    ids: IdFactory
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    views: dict[str, IncidentView] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)
    _by_event: dict[str, str] = field(default_factory=dict)
    _new: set[str] = field(default_factory=set)
    _dirty: set[str] = field(default_factory=set)
    _new_members: list[dict[str, Any]] = field(default_factory=list)
    _firing: dict[tuple[str, str], bool] = field(default_factory=dict)
    _timeline: list[dict[str, Any]] = field(default_factory=list)
    # Which incidents hold a key (family, group, service, change): the only candidates.
    _holders: dict[tuple[str, str], set[str]] = field(default_factory=dict)

    def load(
        self, row: dict[str, Any], members: list[MemberView], summary: Summary | None = None
    ) -> IncidentView:
        """Add a stored incident: with `summary` (counts and keys of all its members, from
        the database) `members` may be a part of them; without it, they must be all."""
        view = IncidentView(
            id=row["id"],
            state=IncidentState(row["state"]),
            last_activity=row["last_activity_at"],
            resolved_at=row["resolved_at"],
            opener=row["opener_event_id"],
        )
        if summary is None:
            view.summarise(members)
        else:
            view.load(members)
            summary.apply(view, services=row["services"])
        self.rows[view.id], self.views[view.id] = dict(row), view
        for member in view.members.values():
            self._index(member.event_id, view.id)
        for key in view.match_keys():
            self._holders.setdefault(key, set()).add(view.id)
        return view

    def candidates(self, keys: set[tuple[str, str]]) -> list[IncidentView]:
        """The incidents holding any of `keys`, oldest first (a stable order)."""
        found = set().union(*(self._holders.get(key, set()) for key in keys))
        return [self.views[i] for i in sorted(found)]

    def _index(self, event_id: str, incident_id: str) -> None:
        # An alert that fired again after its incident ended belongs to two: its current
        # one is the one it joined last (not the one detected last: a merge moves that).
        current = self._by_event.get(event_id)
        if current is None or self._joined(current, event_id) <= self._joined(
            incident_id, event_id
        ):
            self._by_event[event_id] = incident_id

    def _joined(self, incident_id: str, event_id: str) -> tuple[datetime, str]:
        return self.views[incident_id].members[event_id].attached_at, incident_id

    def incident_of(self, event_id: str) -> IncidentView | None:
        found = self._by_event.get(event_id)
        return self.views[found] if found else None

    def open(self, signal: Signal, member: MemberView, at: datetime) -> IncidentView:
        incident_id = self.ids.new()
        # An alert's own time may run a little ahead (the sender's clock, within the
        # accepted skew): an incident is not detected after it is processed.
        detected = min(signal.ts, at)
        title = signal.title + (f" ({signal.service})" if signal.service else "")
        self.rows[incident_id] = {
            "id": incident_id, "tenant_id": self.tenant_id, "title": title[:1024],
            "state": IncidentState.DETECTED.value, "severity": member.severity,
            "priority": member.priority, "services": [], "alert_count": 0,
            "opener_event_id": signal.event_id, "detected_at": detected,
            "acknowledged_at": None, "mitigated_at": None, "resolved_at": None,
            "learned_at": None, "last_activity_at": detected, "updated_at": at,
            "reopened": 0, "merged_into": None,
        }  # fmt: skip
        view = IncidentView(incident_id, IncidentState.DETECTED, detected, None, signal.event_id)
        self.views[incident_id] = view
        self._new.add(incident_id)
        self.record(view, detected, "detected", f"detected: {title}", event_id=signal.event_id)
        self._add_member(view, member, signal.ts)
        return view

    def split_off(
        self, view: IncidentView, moved: list[MemberView], title: str, at: datetime
    ) -> IncidentView:
        """A new incident holding `moved` (already re-homed in the database by the caller).

        It carries on from where the source was with these alerts: acknowledged if the
        source was (its page was answered), and resolved if none of them fires any more
        (nothing would resolve it later: its alerts will not change)."""
        first = min(moved, key=lambda m: m.attached_at)
        incident_id = self.ids.new()
        source = self.rows[view.id]
        acknowledged, resolved = source["acknowledged_at"], None
        if acknowledged is not None:  # answered already when these alerts came: at once
            acknowledged = max(acknowledged, first.attached_at)
        state = IncidentState.ACKNOWLEDGED if acknowledged else IncidentState.DETECTED
        if not any(m.firing for m in moved):
            state, resolved = IncidentState.RESOLVED, source["resolved_at"] or at
        row = dict(source, id=incident_id, title=title[:1024], reopened=0)
        row.update(state=state.value, opener_event_id=first.event_id,
                   detected_at=first.attached_at, acknowledged_at=acknowledged,
                   mitigated_at=None, resolved_at=resolved, learned_at=None)  # fmt: skip
        self.rows[incident_id] = row
        new = IncidentView(incident_id, state, first.attached_at, resolved, first.event_id)
        new.summarise(moved)
        new.last_activity = max(m.attached_at for m in moved)
        self.views[incident_id] = new
        self._new.add(incident_id)
        self._dirty.add(view.id)
        return new

    def fold_times(self, target: IncidentView, sources: list[IncidentView], actor: str) -> None:
        """After a merge: the failure was detected when the first of its incidents was, and
        its page answered when the first of them was acknowledged (MTTA counts from those).
        A target still waiting for its acknowledgement takes the sources' one."""
        row = self.rows[target.id]
        merged = [self.rows[source.id] for source in sources]
        row["detected_at"] = min(r["detected_at"] for r in (row, *merged))
        acks = [r["acknowledged_at"] for r in merged if r["acknowledged_at"] is not None]
        if not acks:
            return
        first = min(acks)
        if target.state is IncidentState.DETECTED:
            self.move(
                target, Trigger.ACKNOWLEDGE, actor, "acknowledged as a merged incident", first
            )
            row["acknowledged_at"] = first
        else:
            row["acknowledged_at"] = min(row["acknowledged_at"] or first, first)
        self._dirty.add(target.id)

    def attach(self, view: IncidentView, signal: Signal, member: MemberView) -> None:
        text = f"alert joined: {signal.title}" + (f" on {signal.service}" if signal.service else "")
        self.record(
            view, signal.ts, "alert_attached", f"{text} ({member.reason})",
            event_id=signal.event_id, reason=member.reason,
        )  # fmt: skip
        self._add_member(view, member, signal.ts)

    def _add_member(self, view: IncidentView, member: MemberView, ts: datetime) -> None:
        view.add(member)
        for key in member_keys(member):
            self._holders.setdefault(key, set()).add(view.id)
        self._by_event[member.event_id] = view.id
        self._new_members.append(_member_row(self.tenant_id, view.id, member))
        self.touch(view, ts)

    def set_firing(self, view: IncidentView, signal: Signal) -> bool:
        """Record an alert's firing/resolved change; False when nothing changed."""
        member = view.members[signal.event_id]
        self.touch(view, signal.ts)
        if member.firing == signal.firing:
            return False
        view.set_firing(member, signal.firing)
        self._firing[(view.id, member.event_id)] = signal.firing
        word = "fired again" if signal.firing else "resolved"
        self.record(view, signal.ts, f"alert_{word.replace(' ', '_')}", f"alert {word}: "
                    f"{signal.title}", event_id=signal.event_id)  # fmt: skip
        return True

    def touch(self, view: IncidentView, ts: datetime) -> None:
        view.last_activity = max(view.last_activity, ts)
        self._dirty.add(view.id)

    def move(
        self, view: IncidentView, trigger: Trigger, actor: str, reason: str, at: datetime
    ) -> IncidentState:
        """Apply a lifecycle trigger (raises IllegalTransitionError) and log it."""
        before = view.state
        after = next_state(before, trigger)
        row = self.rows[view.id]
        # Stamps come from people (the server's clock) and from alerts (their own time,
        # which may arrive late): a move is never before the one it follows.
        at = max([at, *(row[name] for name in _STEPS if row[name] is not None)])
        row["state"], view.state = after.value, after
        stamp = _STAMPS.get(after)
        if stamp and (row[stamp] is None or after is IncidentState.RESOLVED):
            row[stamp] = at
        responder = actor != SYSTEM_ACTOR
        if before is IncidentState.DETECTED and responder and row["acknowledged_at"] is None:
            # A person's first move answers the page, whichever it is (MTTA counts it).
            row["acknowledged_at"] = at
        if trigger is Trigger.REOPEN:
            row["resolved_at"], row["reopened"] = None, row["reopened"] + 1
        view.resolved_at = row["resolved_at"]
        self._dirty.add(view.id)
        self.changes.append(Change(view.id, before, after, trigger))
        summary = f"{before.value} → {after.value} ({trigger.value})"
        self.record(view, at, "state_changed", summary + (f": {reason}" if reason else ""),
                    actor=actor, trigger=trigger.value, before=before.value,
                    after=after.value)  # fmt: skip
        return after

    def record(
        self, view: IncidentView, at: datetime, kind: str, summary: str, **data: Any
    ) -> None:
        actor = str(data.pop("actor", SYSTEM_ACTOR))
        self._timeline.append({
            "id": self.ids.new(), "tenant_id": self.tenant_id, "incident_id": view.id,
            "at": at, "kind": kind, "actor": actor, "summary": summary, "data": data,
        })  # fmt: skip

    def _refresh(self, incident_id: str, now: datetime) -> dict[str, Any]:
        row, view = self.rows[incident_id], self.views[incident_id]
        if view.member_count:
            row["severity"] = derive_severity(view.severities)
            row["priority"] = derive_priority(view.best_priority, len(view.services))
        row.update(
            services=sorted(view.services),
            alert_count=view.member_count,
            last_activity_at=view.last_activity,
            updated_at=now,
        )
        return row

    async def flush(self, session: AsyncSession, now: datetime) -> None:
        new = [self._refresh(i, now) for i in sorted(self._new)]
        dirty = [self._refresh(i, now) for i in sorted(self._dirty - self._new)]
        await repository.insert_incidents(session, new)
        await repository.update_incidents(session, dirty)
        await repository.insert_members(session, self._new_members)
        await repository.set_members_firing(session, self._firing)
        await repository.insert_timeline(session, self._timeline)
        for pending in (self._new, self._dirty, self._new_members, self._firing, self._timeline):
            pending.clear()


def _member_row(tenant_id: str, incident_id: str, m: MemberView) -> dict[str, Any]:
    return {
        "incident_id": incident_id, "event_id": m.event_id, "tenant_id": tenant_id,
        "fingerprint": m.fingerprint, "family": m.family, "service": m.service,
        "group_key": m.group_key, "change_keys": sorted(m.change_keys),
        "severity": m.severity, "priority": m.priority, "firing": m.firing,
        "attached_at": m.attached_at, "reason_kind": m.reason_kind, "reason": m.reason,
    }  # fmt: skip
