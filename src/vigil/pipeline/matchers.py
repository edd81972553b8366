"""Alertmanager-style label matchers over an event's labels and entity."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from vigil.events import Event
from vigil.platform.settings import Matcher

__all__ = ["event_labels", "matches"]


def event_labels(event: Event) -> dict[str, tuple[str, ...]]:
    """What matchers see: each label as sent, and for the fields Vigil normalises
    (severity, source, the entity's service, namespace, ...) also Vigil's value. So
    `severity=critical` matches an alert sent with `severity: page` (which Vigil reads as
    critical), and `severity=page` still matches it too."""
    seen: dict[str, tuple[str, ...]] = {key: (value,) for key, value in event.labels.items()}
    normalised = event.entity.model_dump(exclude_none=True)
    normalised |= {"source": event.source, "severity": event.severity.value}
    for key, value in normalised.items():
        sent = seen.get(key)
        if sent is None:
            seen[key] = (value,)
        elif value not in sent:
            seen[key] = (*sent, value)
    return seen


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _one(matcher: Matcher, labels: dict[str, tuple[str, ...]]) -> bool:
    values = labels.get(matcher.name, ("",))
    if matcher.op == "=":
        return matcher.value in values
    if matcher.op == "!=":
        return matcher.value not in values
    pattern = _compiled(matcher.value)
    hit = any(pattern.fullmatch(value) is not None for value in values)
    return hit if matcher.op == "=~" else not hit


def matches(matchers: Sequence[Matcher], labels: dict[str, tuple[str, ...]]) -> bool:
    """True when every matcher matches (an empty value matches a missing label)."""
    return all(_one(m, labels) for m in matchers)
