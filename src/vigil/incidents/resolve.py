"""Auto-resolve: when an incident's alerts say the failure is over."""

from __future__ import annotations

from enum import StrEnum

from vigil.incidents.correlate import IncidentView

__all__ = ["AutoResolve", "should_resolve"]


class AutoResolve(StrEnum):
    """Which resolved alerts end an incident: all of them (the default), the first one
    (the alert that opened it), the last one (the most recently attached), or never."""

    ALL = "all"
    FIRST = "first"
    LAST = "last"
    NEVER = "never"


def should_resolve(incident: IncidentView, mode: AutoResolve) -> str | None:
    """The reason to resolve `incident` now, or None to keep it open."""
    members = list(incident.members.values())
    if mode is AutoResolve.NEVER or not members:
        return None
    if mode is AutoResolve.ALL:
        firing = sum(m.firing for m in members)
        return None if firing else f"all {len(members)} alert(s) resolved"
    if mode is AutoResolve.FIRST:
        opener = incident.members.get(incident.opener)
        return "the alert that opened it resolved" if opener and not opener.firing else None
    latest = max(members, key=lambda m: m.attached_at)
    return None if latest.firing else "the most recently attached alert resolved"
