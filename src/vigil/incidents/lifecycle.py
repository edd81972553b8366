"""The incident lifecycle as a transition table: `(state, trigger) -> next state`."""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "ACTIVE_STATES",
    "TRANSITIONS",
    "IllegalTransitionError",
    "IncidentState",
    "Trigger",
    "allowed_triggers",
    "next_state",
]


class IncidentState(StrEnum):
    DETECTED = "detected"
    ACKNOWLEDGED = "acknowledged"
    INVESTIGATING = "investigating"
    MITIGATED = "mitigated"
    RESOLVED = "resolved"
    INCONCLUSIVE = "inconclusive"
    LEARNED = "learned"


class Trigger(StrEnum):
    """What moves an incident: a person's action, or the system's (auto-resolve, re-fire)."""

    ACKNOWLEDGE = "acknowledge"
    INVESTIGATE = "investigate"
    MITIGATE = "mitigate"
    RESOLVE = "resolve"
    INCONCLUSIVE = "inconclusive"
    LEARN = "learn"
    REOPEN = "reopen"


S, T = IncidentState, Trigger

# DESIGN.md's chain, plus the moves on-call work needs: resolving from any working state
# (alerts often clear before anyone acknowledges), a mitigation that does not hold going
# back to investigating, and a re-fire reopening a resolved incident.
TRANSITIONS: dict[tuple[IncidentState, Trigger], IncidentState] = {
    (S.DETECTED, T.ACKNOWLEDGE): S.ACKNOWLEDGED,
    (S.DETECTED, T.INVESTIGATE): S.INVESTIGATING,
    (S.DETECTED, T.RESOLVE): S.RESOLVED,
    (S.ACKNOWLEDGED, T.INVESTIGATE): S.INVESTIGATING,
    (S.ACKNOWLEDGED, T.MITIGATE): S.MITIGATED,
    (S.ACKNOWLEDGED, T.RESOLVE): S.RESOLVED,
    (S.INVESTIGATING, T.MITIGATE): S.MITIGATED,
    (S.INVESTIGATING, T.RESOLVE): S.RESOLVED,
    (S.INVESTIGATING, T.INCONCLUSIVE): S.INCONCLUSIVE,
    (S.MITIGATED, T.RESOLVE): S.RESOLVED,
    (S.MITIGATED, T.INVESTIGATE): S.INVESTIGATING,
    (S.MITIGATED, T.REOPEN): S.INVESTIGATING,
    (S.RESOLVED, T.LEARN): S.LEARNED,
    (S.RESOLVED, T.REOPEN): S.DETECTED,
    (S.INCONCLUSIVE, T.LEARN): S.LEARNED,
}

# States in which an incident is being worked and new alerts may join it.
ACTIVE_STATES = frozenset({S.DETECTED, S.ACKNOWLEDGED, S.INVESTIGATING, S.MITIGATED})


class IllegalTransitionError(ValueError):
    """A trigger that the table does not allow from the incident's current state."""

    reason = "illegal_transition"

    def __init__(self, state: IncidentState, trigger: Trigger) -> None:
        self.state, self.trigger = state, trigger
        allowed = ", ".join(t.value for t in allowed_triggers(state)) or "none (final state)"
        super().__init__(
            f"cannot {trigger.value} an incident that is {state.value}; allowed: {allowed}"
        )


def next_state(state: IncidentState, trigger: Trigger) -> IncidentState:
    """The state `trigger` leads to from `state`; raises IllegalTransitionError otherwise."""
    try:
        return TRANSITIONS[(state, trigger)]
    except KeyError:
        raise IllegalTransitionError(state, trigger) from None


def allowed_triggers(state: IncidentState) -> list[Trigger]:
    return [trigger for (source, trigger) in TRANSITIONS if source is state]
