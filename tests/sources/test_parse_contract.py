"""Every built-in source keeps the Source contract on hostile input: it returns events or
raises `PayloadError` (a 4xx and a dead letter at the edge), never anything else.

Inputs are the real fixtures of each source with random damage (a value replaced by any
JSON value, a key removed or added, a list emptied), and arbitrary JSON.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.sources.conftest import FIXTURES, RECEIVED_AT
from vigil.events import Event
from vigil.sources import BUILTIN_SOURCES, PayloadError

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


def _fixtures(source: str) -> list[Any]:
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
        events = BUILTIN_SOURCES[source]().parse(payload, received_at=RECEIVED_AT, tenant_id="t")
    except PayloadError as refused:
        problem = refused.problem
    else:
        problem = None
    if problem is not None:
        assert problem, "a refusal says why"
        return
    assert isinstance(events, list)
    assert all(isinstance(e, Event) for e in events)


@pytest.mark.parametrize("source", sorted(BUILTIN_SOURCES))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_damaged_fixtures_are_parsed_or_refused(source: str, data: st.DataObject) -> None:
    fixtures = _fixtures(source)
    _keeps_the_contract(source, _damage(data.draw(st.sampled_from(fixtures)), data))


@pytest.mark.parametrize("source", sorted(BUILTIN_SOURCES))
@settings(max_examples=100, deadline=None)
@given(payload=JSON)
def test_arbitrary_json_is_parsed_or_refused(source: str, payload: Any) -> None:
    _keeps_the_contract(source, payload)


def test_every_builtin_source_has_fixtures() -> None:
    assert {p.name for p in FIXTURES.iterdir() if p.is_dir()} >= set(BUILTIN_SOURCES)
