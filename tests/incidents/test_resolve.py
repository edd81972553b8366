"""Auto-resolve modes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from vigil.incidents.lifecycle import IncidentState
from vigil.incidents.resolve import AutoResolve, should_resolve
from vigil.incidents.view import IncidentView, MemberView

T0 = datetime(2026, 11, 21, 12, tzinfo=UTC)


def view(*firing: bool) -> IncidentView:
    members = {
        f"e{i}": MemberView(f"e{i}", "fp", "fam", "s", None, frozenset(), "error", "P2", f,
                            T0 + timedelta(minutes=i), "opened", "")
        for i, f in enumerate(firing)
    }  # fmt: skip
    incident = IncidentView("i", IncidentState.DETECTED, T0, None, "e0")
    incident.summarise(members.values())
    return incident


@pytest.mark.parametrize(
    ("mode", "firing", "resolves"),
    [
        (AutoResolve.ALL, (False, True), False),
        (AutoResolve.ALL, (False, False), True),
        (AutoResolve.FIRST, (False, True), True),
        (AutoResolve.FIRST, (True, False), False),
        (AutoResolve.LAST, (True, False), True),
        (AutoResolve.LAST, (False, True), False),
        (AutoResolve.NEVER, (False, False), False),
    ],
)
def test_modes(mode: AutoResolve, firing: tuple[bool, ...], resolves: bool) -> None:
    assert (should_resolve(view(*firing), mode) is not None) is resolves


def test_reason_says_how_many() -> None:
    assert should_resolve(view(False, False, False), AutoResolve.ALL) == "all 3 alert(s) resolved"
