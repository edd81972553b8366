"""What correlation holds of an incident and its alerts while it works on them."""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from vigil.incidents.lifecycle import IncidentState

__all__ = ["IncidentView", "KeyStat", "MemberView", "Summary", "member_keys"]


@dataclass(slots=True)
class MemberView:
    """One alert of an incident, with the attributes the incident's matching uses."""

    event_id: str
    fingerprint: str
    family: str
    service: str | None
    group_key: str | None
    change_keys: frozenset[str]
    severity: str
    priority: str
    firing: bool
    attached_at: datetime
    reason_kind: str
    reason: str


@dataclass(slots=True)
class KeyStat:
    """Firing members sharing a group key or family: how many, and the latest start."""

    firing: int
    latest: datetime


_PRIORITIES = ("P0", "P1", "P2", "P3")


@dataclass(slots=True)
class IncidentView:
    """An incident as correlation sees it. `members` holds the alerts loaded for this unit
    of work (recent ones, the ones it touches, the first and the latest); the counts, keys,
    services and severities summarise all of them, so a huge incident stays cheap."""

    id: str
    state: IncidentState
    last_activity: datetime
    resolved_at: datetime | None
    opener: str
    members: dict[str, MemberView] = field(default_factory=dict)
    services: set[str] = field(default_factory=set)
    member_count: int = 0
    firing_count: int = 0
    firing_keys: dict[tuple[str, str], KeyStat] = field(default_factory=dict)
    # Resolved: when its families and group keys fired (first start, last member's end).
    ended_keys: dict[tuple[str, str], tuple[datetime, datetime]] = field(default_factory=dict)
    severities: set[str] = field(default_factory=set)
    best_priority: str = "P3"
    # Loaded members by ("group"|"family"|"service"|"change", value), oldest start first.
    _by_key: dict[tuple[str, str], list[MemberView]] = field(default_factory=dict)

    def summarise(self, members: Iterable[MemberView]) -> None:
        """Reset the summary from a complete list of members (and keep them all)."""
        self.members, self.services, self.firing_keys, self._by_key = {}, set(), {}, {}
        self.member_count = self.firing_count = 0
        self.severities, self.best_priority = set(), "P3"
        for member in sorted(members, key=lambda m: m.attached_at):
            self.add(member)

    def load(self, members: Iterable[MemberView]) -> None:
        """Keep `members` for matching without changing the summary."""
        for member in members:
            self._keep(member)

    def _keep(self, member: MemberView) -> None:
        self.members[member.event_id] = member
        for key in member_keys(member):
            bisect.insort(self._by_key.setdefault(key, []), member, key=_started)

    def nearest(
        self, key: tuple[str, str], at: datetime, *, before: bool = False
    ) -> MemberView | None:
        """The loaded member with `key` whose start is closest to `at` (at or before it,
        with `before`)."""
        found = self._by_key.get(key)
        if not found:
            return None
        index = bisect.bisect_right(found, at, key=_started)
        candidates = found[max(0, index - 1) : index + (0 if before else 1)]
        return min(candidates, key=lambda m: abs(m.attached_at - at), default=None)

    def match_keys(self) -> set[tuple[str, str]]:
        """Every key a new alert could match this incident on."""
        return set(self._by_key) | set(self.firing_keys)

    def has_key(self, key: tuple[str, str]) -> bool:
        return key in self._by_key

    def add(self, member: MemberView) -> None:
        self._keep(member)
        self.member_count += 1
        if member.service:
            self.services.add(member.service)
        self.severities.add(member.severity)
        self.best_priority = min(self.best_priority, member.priority, key=_PRIORITIES.index)
        if member.firing:
            self._count(member, +1)

    def set_firing(self, member: MemberView, firing: bool) -> None:
        if member.firing != firing:
            member.firing = firing
            self._count(member, +1 if firing else -1)

    def _count(self, member: MemberView, step: int) -> None:
        self.firing_count += step
        for key in _keys(member):
            stat = self.firing_keys.setdefault(key, KeyStat(0, member.attached_at))
            stat.firing += step
            stat.latest = max(stat.latest, member.attached_at)
            if stat.firing <= 0:
                del self.firing_keys[key]

    @property
    def latest_member(self) -> MemberView | None:
        return max(self.members.values(), key=lambda m: m.attached_at, default=None)

    @property
    def change_keys(self) -> frozenset[str]:
        return frozenset().union(*(m.change_keys for m in self.members.values()))


@dataclass(frozen=True, slots=True)
class Summary:
    """What the database says of all of an incident's members (see repository)."""

    member_count: int
    firing_count: int
    severities: frozenset[str]
    best_priority: str
    firing_keys: dict[tuple[str, str], KeyStat]
    ended_keys: dict[tuple[str, str], tuple[datetime, datetime]] = field(default_factory=dict)

    def apply(self, view: IncidentView, *, services: Iterable[str]) -> None:
        view.member_count, view.firing_count = self.member_count, self.firing_count
        view.severities, view.best_priority = set(self.severities), self.best_priority
        view.firing_keys = {k: KeyStat(v.firing, v.latest) for k, v in self.firing_keys.items()}
        view.ended_keys = dict(self.ended_keys)
        view.services = set(services)


def member_keys(member: MemberView) -> list[tuple[str, str]]:
    """The keys a member can be matched on: family, group key, service, change ids."""
    keys = [*_keys(member), *(("change", c) for c in member.change_keys)]
    if member.service:
        keys.append(("service", member.service))
    return keys


def _started(member: MemberView) -> datetime:
    return member.attached_at


def _keys(member: MemberView) -> list[tuple[str, str]]:
    keys = [("family", member.family)]
    if member.group_key:
        keys.append(("group", member.group_key))
    return keys
