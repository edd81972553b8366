"""The transition table."""

from __future__ import annotations

import pytest

from vigil.incidents.lifecycle import (
    ACTIVE_STATES,
    IllegalTransitionError,
    IncidentState,
    Trigger,
    allowed_triggers,
    next_state,
)

S, T = IncidentState, Trigger


def test_the_designed_path_and_the_inconclusive_branch() -> None:
    path = [T.ACKNOWLEDGE, T.INVESTIGATE, T.MITIGATE, T.RESOLVE, T.LEARN]
    state = S.DETECTED
    seen = [state]
    for trigger in path:
        state = next_state(state, trigger)
        seen.append(state)
    assert seen == [S.DETECTED, S.ACKNOWLEDGED, S.INVESTIGATING, S.MITIGATED, S.RESOLVED,
                    S.LEARNED]  # fmt: skip
    assert next_state(next_state(S.INVESTIGATING, T.INCONCLUSIVE), T.LEARN) is S.LEARNED


@pytest.mark.parametrize(
    ("state", "trigger"),
    [(S.DETECTED, T.LEARN), (S.RESOLVED, T.INVESTIGATE), (S.LEARNED, T.REOPEN),
     (S.INCONCLUSIVE, T.RESOLVE), (S.DETECTED, T.REOPEN)],
)  # fmt: skip
def test_illegal_moves_raise_with_what_is_allowed(state: S, trigger: T) -> None:
    with pytest.raises(IllegalTransitionError) as caught:
        next_state(state, trigger)
    assert caught.value.state is state
    assert f"cannot {trigger.value} an incident that is {state.value}" in str(caught.value)


def test_learned_is_final_and_only_working_states_are_active() -> None:
    assert allowed_triggers(S.LEARNED) == []
    assert "none (final state)" in str(IllegalTransitionError(S.LEARNED, T.RESOLVE))
    assert {S.RESOLVED, S.INCONCLUSIVE, S.LEARNED}.isdisjoint(ACTIVE_STATES)
