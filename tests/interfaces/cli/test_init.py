"""`vigil db upgrade | ingest | events | dlq list | dlq replay`, on both backends."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import orjson

from tests.interfaces.cli.conftest import Vigil
from tests.payloads import FIXTURES, REAL_ALERTMANAGER, REAL_FINGERPRINT, generic_event
from vigil.platform.migrate import head_revision
from vigil.testing.clock import FakeClock


def write(tmp_path: Path, name: str, body: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(body)
    return path


def test_db_upgrade(vigil: Vigil) -> None:
    result = vigil("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert f"at revision {head_revision()} (head {head_revision()})" in result.output
    again = vigil("db", "upgrade")
    assert again.exit_code == 0, again.output


def test_ingest_then_events_json(vigil: Vigil, tmp_path: Path) -> None:
    real = write(tmp_path, "real.json", REAL_ALERTMANAGER)
    result = vigil("ingest", str(real), "--source", "alertmanager")
    assert result.exit_code == 0, result.output
    assert "1 event(s); request stored as" in result.output
    again = vigil("ingest", str(real), "--source", "alertmanager")
    assert again.exit_code == 0, again.output
    assert "request duplicate of" in again.output

    listed = vigil("events", "--json")
    assert listed.exit_code == 0, listed.output
    (event,) = json.loads(listed.output)
    assert (event["fingerprint"], event["service"], event["occurrences"]) == (
        REAL_FINGERPRINT,
        "checkout",
        1,
    )
    assert json.loads(vigil("events", "--json", "--service", "cart").output) == []
    table = vigil("events")
    assert table.exit_code == 0
    assert "checkout" in table.output


def test_ingest_refuses_unknown_source(vigil: Vigil, tmp_path: Path) -> None:
    real = write(tmp_path, "real.json", REAL_ALERTMANAGER)
    result = vigil("ingest", str(real), "--source", "nagios")
    assert result.exit_code == 2
    assert "unknown source 'nagios'" in result.output


def test_invalid_file_is_dead_lettered_and_listed(vigil: Vigil) -> None:
    invalid = FIXTURES / "alertmanager" / "invalid_missing_startsat.json"
    result = vigil("ingest", str(invalid), "--source", "alertmanager")
    assert result.exit_code == 1
    assert "rejected alerts[0].startsAt: Field required" in result.output
    dead_letter_id = result.output.split("dead letter ")[1].split()[0]
    assert len(dead_letter_id) == 26

    listed = vigil("dlq", "list")
    assert listed.exit_code == 0, listed.output
    assert dead_letter_id in listed.output
    assert "alertmanager" in listed.output

    replay = vigil("dlq", "replay", "--all")
    assert replay.exit_code == 1  # still broken: the dead letter stays
    assert f"{dead_letter_id} failed still failing: alerts[0].startsAt" in replay.output
    assert "alerts[0].startsAt" in vigil("dlq", "list").output


def test_dlq_replay_all_after_the_clock_caught_up(
    vigil: Vigil, tmp_path: Path, clock: FakeClock
) -> None:
    ahead = generic_event("ahead of time", clock.now() + timedelta(hours=1), service="cart")
    path = write(tmp_path, "ahead.json", orjson.dumps(ahead))
    result = vigil("ingest", str(path), "--source", "generic")
    assert result.exit_code == 0, result.output  # the request is fine; the event is not
    assert json.loads(vigil("events", "--json").output) == []

    later = FakeClock(clock.now() + timedelta(hours=1))
    replay = vigil("dlq", "replay", "--all", clock=later)
    assert replay.exit_code == 0, replay.output
    assert " ok stored as event " in replay.output
    (event,) = json.loads(vigil("events", "--json").output)
    assert (event["title"], event["service"]) == ("ahead of time", "cart")

    nothing = vigil("dlq", "replay", "--all", clock=later)
    assert nothing.exit_code == 0
    assert nothing.output.strip() == ""
    assert "ahead of time" not in vigil("dlq", "list").output
    assert vigil("dlq", "list", "--all").exit_code == 0


def test_dlq_replay_needs_ids_or_all(vigil: Vigil) -> None:
    result = vigil("dlq", "replay")
    assert result.exit_code == 2
    assert "name dead letter ids, or --all" in result.output
