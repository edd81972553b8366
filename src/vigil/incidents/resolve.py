"""Auto-resolve: when an incident's alerts say the failure is over."""

from __future__ import annotations

from enum import StrEnum

from vigil.incidents.view import IncidentView

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
    if mode is AutoResolve.NEVER or not incident.member_count:
        return None
    if mode is AutoResolve.ALL:
        if incident.firing_count:
            return None
        return f"all {incident.member_count} alert(s) resolved"
    if mode is AutoResolve.FIRST:
        opener = incident.members.get(incident.opener)
        return "the alert that opened it resolved" if opener and not opener.firing else None
    latest = incident.latest_member
    if latest is None or latest.firing:
        return None
    return "the most recently attached alert resolved"
