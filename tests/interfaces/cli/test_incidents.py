"""`vigil incidents | incident | ack | resolve | transition | stats | eval correlation`."""

from __future__ import annotations

import json
from pathlib import Path

from tests.interfaces.cli.conftest import Vigil
from tests.payloads import REAL_ALERTMANAGER


def test_list_show_and_move_an_incident(vigil: Vigil, tmp_path: Path) -> None:
    body = tmp_path / "am.json"
    body.write_bytes(REAL_ALERTMANAGER)
    assert vigil("ingest", str(body), "--source", "alertmanager").exit_code == 0

    listed = vigil("incidents", "--json")
    assert listed.exit_code == 0, listed.output
    (incident,) = json.loads(listed.output)
    assert (incident["state"], incident["services"]) == ("detected", ["checkout"])
    shown = vigil("incident", incident["id"])
    assert shown.exit_code == 0, shown.output
    assert "first alert" in shown.output
    assert "next: acknowledge, investigate, resolve" in shown.output

    acked = vigil("ack", incident["id"], "--actor", "ana", "-r", "looking")
    assert acked.exit_code == 0, acked.output
    assert f"{incident['id']} is now acknowledged" in acked.output
    again = vigil("ack", incident["id"], "--actor", "ana")
    assert again.exit_code == 1
    assert "cannot acknowledge an incident that is acknowledged" in again.output
    assert vigil("transition", incident["id"], "mitigate").exit_code == 0
    assert vigil("resolve", incident["id"], "--actor", "ana").exit_code == 0

    detail = json.loads(vigil("incident", incident["id"], "--json").output)
    assert [(t["actor"], t["kind"]) for t in detail["timeline"]][1:] == [
        ("ana", "state_changed"), ("cli", "state_changed"), ("ana", "state_changed"),
    ]  # fmt: skip
    stats = json.loads(vigil("stats", "--json").output)
    assert (stats["alerts_in"], stats["incidents_out"], stats["open_incidents"]) == (1, 1, 0)
    assert vigil("incident", "nope").exit_code == 1
    refused = vigil("merge", incident["id"], "nope", "-r", "same failure")
    assert refused.exit_code == 1
    assert "no incident 'nope'" in refused.output
    lonely = vigil("split", incident["id"], detail["members"][0]["event_id"])
    assert lonely.exit_code == 1
    assert "at least one alert behind" in lonely.output
    assert "cart" not in vigil("incidents", "--service", "cart").output
    for command in ("incidents", "events"):
        beyond = vigil(command, "--since", "0001-01-01T00:00:00+01:00")
        assert beyond.exit_code == 2, beyond.output  # a usage error, not a traceback
        assert "out of range once in UTC" in beyond.output


def test_eval_correlation_prints_baseline_and_vigil(vigil: Vigil, tmp_path: Path) -> None:
    out = tmp_path / "corr.json"
    result = vigil("eval", "correlation", "--seeds", "11", "--services", "20",
                   "--failures", "2", "--json", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "alertmanager group_by" in result.output
    assert "vigil, median over 1 seeds" in result.output
    report = json.loads(out.read_text())
    names = [run["name"] for run in report["runs"]]
    assert names == ["alertmanager group_by", "vigil"]
    vigil_run = report["runs"][1]
    assert vigil_run["groups_out"] < vigil_run["distinct_alerts"]
    assert 0 <= report["median"]["f1"] <= 1
