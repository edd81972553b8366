"""What the CLI shows an on-call engineer: the sender's text literally, one clear line for
a database it cannot use, nothing created by reading, and every pending dead letter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tests.interfaces.cli.conftest import Vigil
from tests.payloads import generic_event
from vigil.interfaces import cli
from vigil.testing.clock import FakeClock


def _ingest(vigil: Vigil, tmp_path: Path, name: str, **event: object) -> None:
    path = tmp_path / f"{name}.json"
    path.write_bytes(orjson.dumps(event))
    result = vigil("ingest", str(path), "--source", "generic")
    assert result.exit_code in (0, 1), result.output


def test_text_from_senders_is_shown_literally(
    vigil: Vigil, tmp_path: Path, clock: FakeClock
) -> None:
    title = "disk full [/] on [bold red]db1[/bold red]"
    event = generic_event(title, clock.now(), service="svc[/]x", severity="critical")
    _ingest(vigil, tmp_path, "markup", **event)
    for command in (("events",), ("incidents",)):
        shown = vigil(*command)
        assert shown.exit_code == 0, shown.output
        assert "[/]" in shown.output
    (incident,) = json.loads(vigil("incidents", "--json").output)
    detail = vigil("incident", incident["id"])
    assert detail.exit_code == 0, detail.output
    assert title in detail.output
    # Refused input names its bad value: the dead-letter list shows it, not crashes on it.
    _ingest(vigil, tmp_path, "bad", title="x", ts=clock.now().isoformat(), severity="[/]")
    listed = vigil("dlq", "list")
    assert listed.exit_code == 0, listed.output
    assert "severity" in listed.output


def test_reading_a_database_that_is_not_there_says_so_and_creates_nothing(
    vigil: Vigil, tmp_path: Path
) -> None:
    missing = tmp_path / "typo.db"
    for command in ("events", "incidents", "stats", "dlq list"):
        result = vigil("--database-url", f"sqlite:///{missing}", *command.split())
        assert result.exit_code == 1, result.output
        assert f"no database at {missing}" in result.output
    assert list(tmp_path.glob("typo*")) == []


def test_priorities_are_checked_and_merged_incidents_offer_no_moves(
    vigil: Vigil, tmp_path: Path, clock: FakeClock
) -> None:
    for service in ("cart", "search"):
        event = generic_event(f"{service} down", clock.now(), service=service, severity="critical")
        _ingest(vigil, tmp_path, service, **event)
    assert vigil("incidents", "--priority", "P9").exit_code == 2
    lower = vigil("incidents", "--priority", "p1", "--json")
    assert lower.exit_code == 0, lower.output
    target, merged = (i["id"] for i in json.loads(lower.output))
    assert vigil("merge", target, merged, "-r", "one failure").exit_code == 0
    shown = vigil("incident", merged)
    assert f"merged into {target}" in shown.output
    assert "next: nothing" in shown.output
    assert json.loads(vigil("incident", merged, "--json").output)["allowed_triggers"] == []


def test_replay_all_goes_through_every_page(
    vigil: Vigil, tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "REPLAY_PAGE", 2)
    for n in range(5):  # each refused: severity is not a severity
        _ingest(vigil, tmp_path, f"bad{n}", title=f"t{n}", ts=clock.now().isoformat(),
                severity="loud")  # fmt: skip
    replay = vigil("dlq", "replay", "--all")
    assert replay.exit_code == 1
    assert replay.output.count(" failed ") == 5


def test_analyze_refuses_an_end_before_the_start(vigil: Vigil, tmp_path: Path) -> None:
    result = vigil("analyze", str(tmp_path), "--start", "2026-01-01T10:13:00Z",
                   "--end", "2026-01-01T10:10:00Z")  # fmt: skip
    assert result.exit_code == 2
    assert "must be after --start" in result.output


def test_an_unreachable_database_is_one_line_not_a_traceback() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "vigil", "--database-url", "postgresql://u@127.0.0.1:1/x",
         "stats"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("vigil: ")
    assert "Connect call failed" in done.stderr
