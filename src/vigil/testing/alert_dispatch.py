"""Alertmanager's dispatcher, simulated: alerts with firing intervals -> webhook v4 requests.

Aggregation groups follow `group_by: [alertname, service]`. A group is created by its
first alert and flushed `group_wait` later, then every `group_interval`: a flush sends
when an alert is new, re-fired (new `startsAt`) or resolved since the last notification,
or, with nothing changed, when `repeat_interval` has passed (the very same body again).
Each notification carries every firing alert of the group plus those resolved since the
last one (`send_resolved: true`); a group whose alerts have all resolved and been
notified is deleted, and a later alert opens a new one. An alert that starts and ends
between two flushes of a group is never notified, as with the real dispatcher.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from vigil.events import fingerprint_labels
from vigil.testing.storm_builder import StormRequest, iso

__all__ = ["CorpusAlert", "DispatchTiming", "dispatch"]

_ZERO = "0001-01-01T00:00:00Z"
_HEADERS = {"Content-Type": "application/json", "User-Agent": "Alertmanager/0.27.0"}
_EXTERNAL_URL = "http://alertmanager.monitoring.svc:9093"

Interval = tuple[float, float]


@dataclass
class CorpusAlert:
    """One distinct alert (one label set): when it fired, and its ground-truth group.

    `group` is the answer key; it never reaches a request body.
    """

    labels: dict[str, str]
    annotations: dict[str, str]
    generator_url: str
    group: str
    intervals: list[Interval] = field(default_factory=list)  # [start, end) in seconds

    @property
    def fingerprint(self) -> str:
        return fingerprint_labels(self.labels)

    def firing_at(self, offset: float) -> Interval | None:
        return next((iv for iv in self.intervals if iv[0] <= offset < iv[1]), None)


class DispatchTiming(BaseModel):
    """The route's timers, in seconds (Alertmanager's defaults are 30s, 5m, 4h)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    group_wait: float = Field(30.0, gt=0)
    group_interval: float = Field(300.0, gt=0)
    repeat_interval: float = Field(900.0, gt=0)


# One alert inside one notification: (alert, its firing interval, resolved?).
_Entry = tuple[CorpusAlert, Interval, bool]


def _entries(
    alerts: Sequence[CorpusAlert], offset: float, notified: dict[str, Interval]
) -> list[_Entry]:
    entries: list[_Entry] = []
    for alert in alerts:
        interval = alert.firing_at(offset)
        if interval is not None:
            entries.append((alert, interval, False))
        elif alert.fingerprint in notified:
            entries.append((alert, notified[alert.fingerprint], True))
    return sorted(entries, key=lambda e: (e[1][0], e[0].fingerprint))


def _run_group(
    alerts: Sequence[CorpusAlert], created: float, timing: DispatchTiming
) -> tuple[list[tuple[float, list[_Entry]]], float]:
    """The notifications of one aggregation group from its creation to its deletion."""
    sent: list[tuple[float, list[_Entry]]] = []
    notified: dict[str, Interval] = {}
    last_sent = float("-inf")
    offset = created + timing.group_wait
    while True:
        entries = _entries(alerts, offset, notified)
        if not entries:
            return sent, offset
        changed = any(resolved or notified.get(a.fingerprint) != iv for a, iv, resolved in entries)
        if changed or offset - last_sent >= timing.repeat_interval:
            sent.append((offset, entries))
            last_sent = offset
            notified = {a.fingerprint: iv for a, iv, resolved in entries if not resolved}
            if not notified:
                return sent, offset
        offset += timing.group_interval


def _group_notifications(
    alerts: Sequence[CorpusAlert], timing: DispatchTiming
) -> list[tuple[float, list[_Entry]]]:
    out: list[tuple[float, list[_Entry]]] = []
    deleted = float("-inf")
    for start in sorted(iv[0] for alert in alerts for iv in alert.intervals):
        if start > deleted:
            sent, deleted = _run_group(alerts, start, timing)
            out.extend(sent)
    return out


def _alert_json(entry: _Entry, start: datetime) -> dict[str, Any]:
    alert, (begin, end), resolved = entry
    return {
        "status": "resolved" if resolved else "firing",
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "startsAt": iso(start + timedelta(seconds=begin)),
        "endsAt": iso(start + timedelta(seconds=end)) if resolved else _ZERO,
        "generatorURL": alert.generator_url,
        "fingerprint": alert.fingerprint,
    }


def _common(maps: list[dict[str, str]]) -> dict[str, str]:
    return {k: v for k, v in maps[0].items() if all(m.get(k) == v for m in maps)}


def _body(
    group_labels: dict[str, str], alerts: list[dict[str, Any]], receiver: str
) -> dict[str, Any]:
    group_key = "{}:{" + ", ".join(f'{k}="{v}"' for k, v in group_labels.items()) + "}"
    firing = any(a["status"] == "firing" for a in alerts)
    return {
        "receiver": receiver,
        "status": "firing" if firing else "resolved",
        "alerts": alerts,
        "groupLabels": dict(group_labels),
        "commonLabels": _common([a["labels"] for a in alerts]),
        "commonAnnotations": _common([a["annotations"] for a in alerts]),
        "externalURL": _EXTERNAL_URL,
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": 0,
    }


def dispatch(
    alerts: Sequence[CorpusAlert], timing: DispatchTiming, *, start: datetime, receiver: str
) -> list[StormRequest]:
    """Every webhook request Alertmanager would send for `alerts`, in send order."""
    groups: dict[tuple[str, str], list[CorpusAlert]] = defaultdict(list)
    for alert in alerts:
        groups[(alert.labels["alertname"], alert.labels["service"])].append(alert)
    timed: list[tuple[float, tuple[str, str], dict[str, Any]]] = []
    for key in sorted(groups):
        group_labels = {"alertname": key[0], "service": key[1]}
        for offset, entries in _group_notifications(groups[key], timing):
            body = _body(group_labels, [_alert_json(e, start) for e in entries], receiver)
            timed.append((round(offset, 3), key, body))
    timed.sort(key=lambda t: (t[0], t[1]))
    return [StormRequest("alertmanager", body, offset, dict(_HEADERS)) for offset, _, body in timed]
