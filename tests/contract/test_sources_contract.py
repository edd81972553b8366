"""Contract kit every registered source must pass, run over every fixture it ships.

Fixtures live in `tests/sources/fixtures/<source>/`; files named `invalid_*.json` must be
refused with a PayloadError, every other file must translate into frozen Events.
"""

from __future__ import annotations

import contextlib
import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from vigil.events import Event
from vigil.sources import BUILTIN_SOURCES, PayloadError, Source, load_sources

FIXTURES = Path(__file__).parents[1] / "sources" / "fixtures"
RECEIVED_AT = datetime(2026, 11, 21, 13, 0, tzinfo=UTC)
REGISTRY = load_sources(plugins=[])


def _fixtures(*, valid: bool) -> list[Any]:
    cases = []
    for name in REGISTRY.names():
        for path in sorted((FIXTURES / name).glob("*.json")):
            if path.name.startswith("invalid_") != valid:
                cases.append(pytest.param(name, path, id=f"{name}/{path.name}"))
    return cases


def _parse(source: Source, payload: Any) -> list[Event]:
    return source.parse(payload, received_at=RECEIVED_AT, tenant_id="contract")


@pytest.mark.parametrize("name", REGISTRY.names())
def test_every_source_ships_fixtures(name: str) -> None:
    files = sorted((FIXTURES / name).glob("*.json"))
    valid = [f for f in files if not f.name.startswith("invalid_")]
    invalid = [f for f in files if f.name.startswith("invalid_")]
    assert len(valid) >= 2, f"{name} needs at least two valid fixtures"
    assert len(invalid) >= 2, f"{name} needs at least two invalid fixtures"


def test_every_builtin_is_registered() -> None:
    expected = {"alertmanager", "grafana", "datadog", "pagerduty", "opsgenie", "generic"}
    assert set(BUILTIN_SOURCES) == expected
    assert set(REGISTRY.names()) >= expected


@pytest.mark.parametrize(("name", "path"), _fixtures(valid=True))
def test_valid_fixture_parses_to_frozen_events(name: str, path: Path) -> None:
    source = REGISTRY.get(name)
    events = _parse(source, json.loads(path.read_text()))
    assert isinstance(events, list)
    for event in events:
        assert isinstance(event, Event)
        assert event.source == name
        assert event.tenant_id == "contract"
        assert event.received_at == RECEIVED_AT
        assert event.ts.tzinfo is not None
        assert event.raw, "the vendor payload must be kept in raw"
        with pytest.raises(ValidationError):
            event.title = "changed"  # type: ignore[misc]


@pytest.mark.parametrize(("name", "path"), _fixtures(valid=True))
def test_parse_is_deterministic(name: str, path: Path) -> None:
    source = REGISTRY.get(name)
    payload = json.loads(path.read_text())
    first = _parse(source, payload)
    second = _parse(REGISTRY.get(name), json.loads(path.read_text()))
    assert first == second
    assert [e.ingest_id for e in first] == [e.ingest_id for e in second]


@pytest.mark.parametrize(("name", "path"), _fixtures(valid=True) + _fixtures(valid=False))
def test_input_is_not_mutated(name: str, path: Path) -> None:
    payload = json.loads(path.read_text())
    before = copy.deepcopy(payload)
    with contextlib.suppress(PayloadError):
        _parse(REGISTRY.get(name), payload)
    assert payload == before


@pytest.mark.parametrize(("name", "path"), _fixtures(valid=False))
def test_invalid_fixture_raises_payload_error(name: str, path: Path) -> None:
    with pytest.raises(PayloadError) as info:
        _parse(REGISTRY.get(name), json.loads(path.read_text()))
    assert info.value.field or info.value.problem
    assert info.value.retryable is False
    assert info.value.reason == "invalid_payload"


@pytest.mark.parametrize("name", REGISTRY.names())
@pytest.mark.parametrize("payload", [None, [], "text", 42, {}])
def test_garbage_raises_only_payload_error(name: str, payload: object) -> None:
    with pytest.raises(PayloadError) as info:
        _parse(REGISTRY.get(name), payload)
    assert info.value.field or info.value.problem


# Hostile input (hypothesis): the real fixtures with random damage (a value replaced by any
# JSON value, a key removed or added, a list emptied), and arbitrary JSON. A source returns
# events or raises PayloadError with a reason, nothing else.

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


def _documents(source: str) -> list[Any]:
    return [json.loads(p.read_text()) for p in sorted((FIXTURES / source).glob("*.json"))]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON document (the root is the empty path)."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _damage(document: Any, data: st.DataObject) -> Any:
    damaged = copy.deepcopy(document)
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        path = data.draw(st.sampled_from(_paths(damaged)))
        if not path:
            return data.draw(JSON)
        parent = damaged
        for step in path[:-1]:
            parent = parent[step]
        how = data.draw(st.sampled_from(["replace", "remove", "add", "empty"]))
        if how == "remove" and isinstance(parent, dict):
            del parent[path[-1]]
        elif how == "add" and isinstance(parent, dict):
            parent[data.draw(st.text(max_size=12))] = data.draw(JSON)
        elif how == "empty" and isinstance(parent[path[-1]], list | dict):
            parent[path[-1]] = type(parent[path[-1]])()
        else:
            parent[path[-1]] = data.draw(JSON)
    return damaged


def _keeps_the_contract(source: str, payload: Any) -> None:
    try:
        events = _parse(REGISTRY.get(source), payload)
    except PayloadError as refused:
        problem = refused.problem
    else:
        problem = None
    if problem is not None:
        assert problem, "a refusal says why"
        return
    assert isinstance(events, list)
    assert all(isinstance(e, Event) for e in events)


@pytest.mark.parametrize("source", REGISTRY.names())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_damaged_fixtures_are_parsed_or_refused(source: str, data: st.DataObject) -> None:
    fixtures = _documents(source)
    _keeps_the_contract(source, _damage(data.draw(st.sampled_from(fixtures)), data))


@pytest.mark.parametrize("source", REGISTRY.names())
@settings(max_examples=100, deadline=None)
@given(payload=JSON)
def test_arbitrary_json_is_parsed_or_refused(source: str, payload: Any) -> None:
    _keeps_the_contract(source, payload)
