"""Alertmanager-style label matchers over an event's labels and entity."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from vigil.events import Event
from vigil.platform.settings import Matcher

__all__ = ["event_labels", "matches"]


def event_labels(event: Event) -> dict[str, str]:
    """Labels plus entity fields, source and severity: what matchers see."""
    labels = dict(event.labels)
    for key, value in event.entity.model_dump(exclude_none=True).items():
        labels.setdefault(key, value)
    labels.setdefault("source", event.source)
    labels.setdefault("severity", event.severity.value)
    return labels


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _one(matcher: Matcher, labels: dict[str, str]) -> bool:
    value = labels.get(matcher.name, "")
    if matcher.op == "=":
        return value == matcher.value
    if matcher.op == "!=":
        return value != matcher.value
    hit = _compiled(matcher.value).fullmatch(value) is not None
    return hit if matcher.op == "=~" else not hit


def matches(matchers: Sequence[Matcher], labels: dict[str, str]) -> bool:
    """True when every matcher matches (an empty value matches a missing label)."""
    return all(_one(m, labels) for m in matchers)
