"""Mask-aware Drain similarity and its plain-data snapshot."""

from __future__ import annotations

from vigil.analysis.log_drain import DrainState, MaskAwareDrain, drain_state, restore_drain


def _drain() -> MaskAwareDrain:
    return MaskAwareDrain(sim_th=0.6, depth=4, param_str="<*>")


def test_masked_positions_do_not_count() -> None:
    drain = _drain()
    template = ["button", "report:", "<*>"]
    assert drain.get_seq_distance(template, ["button", "report:", "<*>"], False) == (1.0, 1)
    bye = ["Received", "disconnect", "from", "<*>:", "<*>:", "Bye", "Bye", "[preauth]"]
    user = ["Received", "disconnect", "from", "<*>:", "<*>:", "disconnected", "by", "user"]
    similarity, _ = drain.get_seq_distance(bye, user, False)
    assert similarity == 0.5


def test_same_statement_joins_and_different_one_does_not() -> None:
    drain = _drain()
    first, _ = drain.add_log_message("button report: <*>")
    second, change = drain.add_log_message("button report: <*>")
    other, created = drain.add_log_message("Received disconnect from <*>: <*>: Bye Bye [preauth]")
    third, _ = drain.add_log_message("Received disconnect from <*>: <*>: disconnected by user")
    assert first.cluster_id == second.cluster_id
    assert change == "none"
    assert created == "cluster_created"
    assert third.cluster_id != other.cluster_id


def test_state_round_trip() -> None:
    drain = _drain()
    for line in ["a b c d", "a b c e", "x y <*> z", "q <*> r"]:
        drain.add_log_message(line)
    state = DrainState.model_validate_json(drain_state(drain).model_dump_json())
    copy = _drain()
    restore_drain(copy, state)
    assert drain_state(copy) == drain_state(drain)
    assert copy.match("a b c f", "never") is not None
    assert copy.add_log_message("x y <*> z")[1] == "none"
