"""Correlate stage: the pipeline's last step turns stored alerts into incidents."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from vigil.events import EventStatus, EventType
from vigil.incidents import lookup, repository
from vigil.incidents.board import SYSTEM_ACTOR, Board
from vigil.incidents.correlate import (
    CorrelationWindow,
    ServiceGraph,
    Signal,
    alert_family,
    best_match,
)
from vigil.incidents.lifecycle import ACTIVE_STATES, IncidentState, Trigger
from vigil.incidents.lookup import BatchKeys
from vigil.incidents.resolve import AutoResolve, should_resolve
from vigil.incidents.view import IncidentView, MemberView
from vigil.pipeline.base import Batch, Item, StageContext
from vigil.platform.ids import IdFactory

__all__ = ["CorrelateStage", "signal_of"]

_CORRELATED = frozenset({EventType.ALERT, EventType.INCIDENT, EventType.ANOMALY})


def signal_of(item: Item, now: datetime) -> Signal:
    """What correlation needs of an item. Its time is the sender's, but never after
    ``now``: a clock a little ahead (within the allowed skew) must not stamp an incident's
    detection or resolve in the future, nor stretch MTTR."""
    event = item.event
    ids = event.correlation_ids
    changes = {f"{k}:{v}" for k, v in (("deploy", ids.deploy), ("commit", ids.commit),
                                       ("trace", ids.trace_id)) if v}  # fmt: skip
    assert item.event_id is not None, "the correlate stage runs after the store stage"
    return Signal(
        event_id=item.event_id,
        fingerprint=event.fingerprint,
        family=alert_family(event.labels, event.service, event.title),
        service=event.service,
        group_key=ids.group_key,
        change_keys=frozenset(changes),
        ts=min(event.ts, now),
        firing=(item.status or event.status.value) == EventStatus.FIRING.value,
        title=event.title,
        severity=event.severity.value,
    )


class CorrelateStage:
    """Attach each stored alert to the incident of its failure, or open one; keep member
    status, auto-resolve and the flap guard; note changes on the incidents they touch.

    A muted (silenced) alert opens, joins and reopens nothing, but one already in an
    incident still tells it when it resolves or fires again: muting holds back pages, not
    the truth, so an incident whose last alert resolves under a silence still resolves.

    Runs under a per-tenant lock in the processor's transaction, so concurrent workers
    see each other's incidents and never open two for one failure."""

    name = "correlate"
    transactional = True

    def __init__(
        self,
        graph: ServiceGraph,
        limits: CorrelationWindow,
        ids: IdFactory,
        auto_resolve: AutoResolve = AutoResolve.ALL,
    ) -> None:
        self._graph, self._limits, self._ids = graph, limits, ids
        self._auto_resolve = auto_resolve

    async def __call__(self, batch: Batch, ctx: StageContext) -> Batch:
        by_tenant: dict[str, list[Item]] = defaultdict(list)
        for item in batch:
            if item.event_id is not None and not (item.silenced_by and _is_change(item)):
                by_tenant[item.event.tenant_id].append(item)
        for tenant_id, items in by_tenant.items():
            await self._tenant(tenant_id, items, ctx)
        return batch

    async def _tenant(self, tenant_id: str, items: list[Item], ctx: StageContext) -> None:
        await repository.lock_tenant(ctx.session, tenant_id)
        board = Board(tenant_id, self._ids)
        # Replayed or late traffic is judged by its own time, not the processing time.
        earliest = min(ctx.now, *(item.event.ts for item in items))
        signals = [signal_of(item, ctx.now) for item in items]
        changes = sorted({s for item in items if _is_change(item) and (s := item.event.service)})
        loaded = await lookup.load_incidents(
            ctx.session,
            tenant_id,
            resolved_since=earliest - self._limits.flap_window - self._limits.window,
            keys=self._keys(signals, earliest, changes),
        )
        for row, members, summary in loaded:
            board.load(row, members, summary)
        for item, signal in sorted(zip(items, signals, strict=True), key=lambda p: p[1].ts):
            if item.event.event_type in _CORRELATED:
                self._alert(board, item, signal, ctx.now)
            elif _is_change(item):
                self._change(board, item)
        await board.flush(ctx.session, ctx.now)

    def _keys(self, signals: list[Signal], earliest: datetime, changes: list[str]) -> BatchKeys:
        """What to load: incidents holding these alerts, or alerts that share a group,
        family or service with them, or sit on a service they call or are called by, and
        the incidents on the services of these changes."""
        hops = self._limits.max_hops
        services = {s.service for s in signals if s.service}
        for service in list(services):
            services |= self._graph.callees(service, hops) | self._graph.callers(service, hops)
        return BatchKeys(
            event_ids=sorted({s.event_id for s in signals}),
            services=sorted(services),
            families=sorted({s.family for s in signals}),
            group_keys=sorted({s.group_key for s in signals if s.group_key}),
            since=earliest - self._limits.window,
            change_services=changes,
            ended_since=earliest,
        )

    def _alert(self, board: Board, item: Item, signal: Signal, now: datetime) -> None:
        muted = item.silenced_by is not None
        current = board.incident_of(signal.event_id)
        if current is not None and self._follow(board, current, signal, muted):
            return
        if not signal.firing or muted:
            return
        member = _member(item, signal, "opened", "first alert")
        keys = self._graph.signal_keys(signal, self._limits.max_hops)
        match = best_match(signal, board.candidates(keys), self._graph, self._limits, now)
        if match is None:
            board.open(signal, member, now)
            return
        member.reason_kind, member.reason = match.kind.label, match.detail
        ended = match.incident.resolved_at
        if match.incident.state is IncidentState.RESOLVED and ended is not None:
            reason = f"{signal.title} fired within the flap window ({match.detail})"
            if signal.ts < ended:
                reason = f"{signal.title} had started before it resolved ({match.detail})"
            board.move(match.incident, Trigger.REOPEN, SYSTEM_ACTOR, reason, signal.ts)
        board.attach(match.incident, signal, member)

    def _follow(self, board: Board, view: IncidentView, signal: Signal, muted: bool) -> bool:
        """A repeat or status change of an alert already in an incident; False when the
        alert must be correlated afresh (its incident is over and it fired again). A muted
        re-fire does not reopen its incident."""
        if view.state in ACTIVE_STATES:
            if board.set_firing(view, signal) and not signal.firing:
                self._maybe_resolve(board, view, signal.ts)
            return True
        flapped = view.resolved_at is not None and (
            signal.ts - view.resolved_at <= self._limits.flap_window
        )
        if view.state is IncidentState.RESOLVED and signal.firing and flapped and not muted:
            reason = f"{signal.title} fired again within the flap window"
            board.move(view, Trigger.REOPEN, SYSTEM_ACTOR, reason, signal.ts)
            board.set_firing(view, signal)
            return True
        if not signal.firing and signal.event_id in view.members:
            board.set_firing(view, signal)
        return False

    def _maybe_resolve(self, board: Board, view: IncidentView, at: datetime) -> None:
        reason = should_resolve(view, self._auto_resolve)
        if reason is not None:
            board.move(view, Trigger.RESOLVE, SYSTEM_ACTOR, reason, at)

    def _change(self, board: Board, item: Item) -> None:
        service = item.event.service
        for view in board.views.values():
            if view.state in ACTIVE_STATES and service and service in view.services:
                board.record(view, item.event.ts, "change", f"change: {item.event.title}",
                             event_id=item.event_id)  # fmt: skip


def _is_change(item: Item) -> bool:
    """A change (deploy, config) seen for the first time: noted on the incidents of its
    service."""
    return item.event.event_type is EventType.CHANGE and not item.folded


def _member(item: Item, signal: Signal, kind: str, reason: str) -> MemberView:
    return MemberView(
        event_id=signal.event_id,
        fingerprint=signal.fingerprint,
        family=signal.family,
        service=signal.service,
        group_key=signal.group_key,
        change_keys=signal.change_keys,
        severity=item.event.severity.value,
        priority=item.priority or "P3",
        firing=signal.firing,
        attached_at=signal.ts,
        reason_kind=kind,
        reason=reason,
    )
