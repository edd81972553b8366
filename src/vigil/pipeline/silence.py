"""Silence stage: mute events matched by a silence (with expiry) or a maintenance window."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from vigil.events import Event
from vigil.pipeline import repository
from vigil.pipeline.base import Batch, StageContext
from vigil.pipeline.matchers import event_labels, matches
from vigil.platform.settings import MaintenanceWindow, Matcher, SilenceRule

__all__ = ["ActiveSilence", "SilenceStage", "in_window"]

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class ActiveSilence:
    id: str
    tenant_id: str | None
    matchers: tuple[Matcher, ...]
    starts_at: datetime | None
    ends_at: datetime

    def covers(self, at: datetime) -> bool:
        return (self.starts_at is None or self.starts_at <= at) and at < self.ends_at


def in_window(window: MaintenanceWindow, at: datetime) -> bool:
    """True when `at` falls in the window's local days and hours (overnight wraps)."""
    if window.expires_at is not None and at >= window.expires_at:
        return False
    local = at.astimezone(ZoneInfo(window.timezone))
    clock = local.time().replace(tzinfo=None)
    if window.start <= window.end:
        return _DAYS[local.weekday()] in window.days and window.start <= clock < window.end
    # Overnight: the part after midnight belongs to the previous day's window.
    if clock >= window.start:
        return _DAYS[local.weekday()] in window.days
    return clock < window.end and _DAYS[(local.weekday() - 1) % 7] in window.days


class SilenceStage:
    """Silenced events are still stored (nothing lost), marked with what muted them.

    An event is judged at the moment it reached Vigil (its receipt time), as Alertmanager
    judges a silence when it notifies: an alert that started a minute before a silence
    but arrives after it (``group_wait``) is muted. The receipt time is kept through
    retries and dead-letter replays, so an event processed later is judged as when it
    arrived. Muting only holds back new incidents: an alert already in an incident keeps
    its incident informed (see the correlate stage).
    """

    name = "silence"
    transactional = False

    def __init__(self, rules: Sequence[SilenceRule], windows: Sequence[MaintenanceWindow]) -> None:
        self._config = [
            ActiveSilence(f"config:{r.id}", None, tuple(r.matchers), r.starts_at, r.ends_at)
            for r in rules
        ]
        self._windows = list(windows)

    async def __call__(self, batch: Batch, ctx: StageContext) -> Batch:
        if not batch:
            return batch
        # Judged at receipt: a backlog may hold events that arrived before a silence ended.
        since = min(ctx.now, *(item.event.received_at for item in batch))
        silences = await self.silences(ctx.session, since)
        for item in batch:
            item.silenced_by = self.muter(item.event, silences, item.event.received_at)
        return batch

    async def silences(self, session: AsyncSession, since: datetime) -> list[ActiveSilence]:
        """Configured and stored silences not expired by `since`."""
        stored = await repository.active_silences(session, since)
        return self._config + [
            ActiveSilence(s.id, s.tenant_id, tuple(s.matchers), s.starts_at, s.ends_at)
            for s in stored
        ]

    def in_force(self, silences: Sequence[ActiveSilence], at: datetime) -> list[str]:
        """The markers of the silences and maintenance windows that mute at `at`."""
        markers = [f"silence:{s.id}" for s in silences if s.covers(at)]
        return markers + [f"maintenance:{w.name}" for w in self._windows if in_window(w, at)]

    def muter(self, event: Event, silences: Sequence[ActiveSilence], at: datetime) -> str | None:
        """What mutes `event` at `at` (`silence:<id>`, `maintenance:<name>`), or None."""
        labels: dict[str, tuple[str, ...]] | None = None
        for silence in silences:
            if silence.tenant_id not in (None, event.tenant_id) or not silence.covers(at):
                continue
            labels = labels or event_labels(event)
            if matches(silence.matchers, labels):
                return f"silence:{silence.id}"
        for window in self._windows:
            if in_window(window, at):
                labels = labels or event_labels(event)
                if matches(window.matchers, labels):
                    return f"maintenance:{window.name}"
        return None
