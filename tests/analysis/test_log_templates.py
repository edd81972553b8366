"""Template mining: masking, clustering, low-cardinality words, header split, snapshots."""

from __future__ import annotations

from vigil.analysis.log_templates import LogTemplateMiner, MinerSettings, MinerState


def _keys(miner: LogTemplateMiner, lines: list[str]) -> list[str]:
    matches = [miner.add(line) for line in lines]
    return [miner.resolve(m).key for m in matches]


def test_values_are_masked_and_statements_kept_apart() -> None:
    miner = LogTemplateMiner()
    a = miner.add("Received block of size 67108864 from 10.0.0.1")
    b = miner.add("Received block of size 1024 from 10.0.0.2")
    c = miner.add("Deleting block file /data/current/blk_123")
    assert a.key == b.key != c.key
    assert a.template == "Received block of size <*> from <*>"
    assert a.new_cluster
    assert not b.new_cluster


def test_glued_values_become_variables_once_they_vary_enough() -> None:
    miner = LogTemplateMiner()
    lines = [f"Served block blk_{i} to client" for i in range(5)]
    keys = _keys(miner, lines)
    assert len(set(keys)) == 1
    assert miner.add("Served block blk_77 to client").template == "Served block <*> to client"


def test_a_few_distinct_words_stay_part_of_the_template() -> None:
    miner = LogTemplateMiner()
    states = ["Started", "Paused", "Resumed"] * 4
    keys = _keys(miner, [f"[instance: {i}] VM {s} (Lifecycle Event)" for i, s in enumerate(states)])
    assert len(set(keys)) == 3
    started = miner.add("[instance: 99] VM Started (Lifecycle Event)")
    assert started.template == "[instance: <*>] VM Started (Lifecycle Event)"


def test_many_distinct_words_make_a_variable() -> None:
    miner = LogTemplateMiner(MinerSettings(max_constant_values=3))
    users = ["root", "admin", "guest", "test", "oracle", "bob"]
    keys = _keys(miner, [f"session opened for user {u} by cron" for u in users])
    assert len(set(keys)) == 1
    assert miner.add("session opened for user zed by cron").template == (
        "session opened for user <*> by cron"
    )


def test_keys_only_get_coarser_and_resolve_catches_up() -> None:
    miner = LogTemplateMiner(MinerSettings(max_constant_values=2))
    first = miner.add("login ok for alice via web")
    second = miner.add("login ok for bob via web")
    assert first.key != second.key
    miner.add("login ok for carol via web")
    assert miner.resolve(first).key == miner.resolve(second).key
    assert miner.rekey(first.cluster_id, first.template.split())[0] == miner.resolve(first).key


def test_refinement_can_be_turned_off() -> None:
    miner = LogTemplateMiner(MinerSettings(max_constant_values=0))
    assert _keys(miner, ["Link error on port", "Link ok on port"]) == ["1", "1"]


def test_a_value_in_the_first_position_does_not_split_a_statement() -> None:
    miner = LogTemplateMiner()
    tail = "scheduler told me to run this job; however the start time is not yet. Ignoring."
    names = ["com.apple.icloud.heartbeat:", "com.apple.Safari.Update:", "com.apple.Sync.Job:"]
    names += [f"com.apple.task{i}.Run:" for i in range(3)]
    assert len(set(_keys(miner, [f"{n} {tail}" for n in names]))) == 1


def test_header_is_split_before_mining() -> None:
    miner = LogTemplateMiner(
        MinerSettings(log_format="<Date> <Time> <Level> <Component>: <Content>")
    )
    parsed = miner.parse("17/06/09 20:10:40 INFO spark.SecurityManager: Changing acls to: yarn")
    assert parsed.header["Level"] == "INFO"
    assert parsed.content == "Changing acls to: yarn"
    match = miner.add_line("17/06/09 20:10:41 WARN spark.SecurityManager: Changing acls to: curi")
    assert match.template.startswith("Changing acls to:")


def test_snapshot_round_trips_through_json_and_continues_the_same() -> None:
    lines = [f"worker {i} finished job {i * 7} in {i}ms" for i in range(20)]
    lines += ["Link error on eth0", "Link ok on eth0", "disk full on /dev/sda1"]
    miner = LogTemplateMiner(MinerSettings(max_clusters=100))
    for line in lines:
        miner.add(line)
    state = MinerState.model_validate_json(miner.snapshot().model_dump_json())
    restored = LogTemplateMiner.restore(state)
    assert restored.cluster_count == miner.cluster_count
    more = ["worker 99 finished job 3 in 5ms", "Link ok on eth0", "brand new statement here"]
    assert [restored.add(x).key for x in more] == [miner.add(x).key for x in more]


def test_cluster_count_is_bounded() -> None:
    miner = LogTemplateMiner(MinerSettings(max_clusters=5))
    for i in range(40):
        miner.add(" ".join(["alpha", "beta", "gamma"][: 1 + i % 3] * (1 + i)))
    assert miner.cluster_count == 5


def test_a_restored_miner_evicts_the_least_recently_used_cluster_as_before() -> None:
    def run(restore: bool) -> int:
        miner = LogTemplateMiner(MinerSettings(max_clusters=4))
        miner.add("payment settled for order")  # made first, used again last
        for line in ("alpha one two three", "bravo four five six seven", "charlie x y"):
            miner.add(line)
        miner.add("payment settled for order")
        if restore:
            miner = LogTemplateMiner.restore(
                MinerState.model_validate_json(miner.snapshot().model_dump_json())
            )
        miner.add("delta brand new line here now")  # evicts the least recently used
        return miner.add("payment settled for order").cluster_id

    assert run(restore=True) == run(restore=False) == 1
