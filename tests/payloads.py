"""Webhook bodies for the tests: the real captured Alertmanager body and small builders."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

FIXTURES = Path(__file__).parent / "sources" / "fixtures"
# Captured from a real Alertmanager (same bytes as ../shared/fixtures/).
REAL_ALERTMANAGER = (FIXTURES / "alertmanager" / "alertmanager-webhook-v4.json").read_bytes()
REAL_FINGERPRINT = "24173005caa50803"
REAL_STARTS_AT = datetime(2026, 11, 21, 11, 51, 29, 384000, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def am_alert(
    labels: dict[str, str],
    starts: datetime,
    *,
    status: str = "firing",
    ends: datetime | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One Alertmanager alert; its identity is the hash of its labels."""
    return {
        "status": status,
        "labels": labels,
        "annotations": annotations or {"summary": f"{labels.get('alertname')} fires"},
        "startsAt": iso(starts),
        "endsAt": iso(ends) if ends else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.example/graph",
    }


def am_body(*alerts: dict[str, Any], group_key: str = "{}:{}") -> bytes:
    """An Alertmanager webhook v4 body carrying `alerts`."""
    status = "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
    return orjson.dumps(
        {
            "version": "4",
            "status": status,
            "receiver": "vigil",
            "groupKey": group_key,
            "alerts": list(alerts),
            "externalURL": "http://alertmanager.example",
        }
    )


def generic_event(title: str, ts: datetime, **fields: Any) -> dict[str, Any]:
    """One event in Vigil's generic format (`severity` defaults to warning)."""
    return {"title": title, "ts": iso(ts), "severity": "warning", **fields}


def generic_body(*events: dict[str, Any]) -> bytes:
    return orjson.dumps({"events": list(events)})
