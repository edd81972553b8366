"""DetectorSource reads back exactly the events a detection pass submitted, and refuses
bodies that are not detector events of the request's tenant, naming the field."""

from __future__ import annotations

import orjson
import pytest

from tests.conftest import T0
from tests.detection.signals import anomaly
from vigil.detection.intake import detector_requests
from vigil.detection.source import DetectorSource
from vigil.sources import PayloadError, Source


def _parse(payload: object, tenant_id: str = "default") -> list:
    return DetectorSource().parse(payload, received_at=T0, tenant_id=tenant_id)


def test_round_trip_of_submitted_events() -> None:
    events = [anomaly("checkout", 3), anomaly("search", 1)]
    ((request, carried),) = list(detector_requests(events))
    assert isinstance(DetectorSource(), Source)
    assert (request.source, request.tenant_id, carried) == ("vigil.detector", "default", events)
    assert _parse(orjson.loads(request.body)) == events


@pytest.mark.parametrize(
    ("payload", "field", "problem"),
    [
        ([], "", 'expected a JSON object {"events": [...]}'),
        ({"events": [], "extra": 1}, "extra", "unknown field"),
        ({"events": [{"title": "x"}]}, "events[0].tenant_id", "Field required"),
    ],
)
def test_malformed_bodies_name_the_field(payload: object, field: str, problem: str) -> None:
    with pytest.raises(PayloadError) as caught:
        _parse(payload)
    assert caught.value.field == field
    assert caught.value.problem.startswith(problem)


def test_only_detector_events_of_the_requests_tenant() -> None:
    event = anomaly("checkout", 3).model_dump(mode="json")
    with pytest.raises(PayloadError) as caught:
        _parse({"events": [event]}, tenant_id="other")
    assert caught.value.field == "events[0].tenant_id"
    forged = {**event, "source": "alertmanager"}
    with pytest.raises(PayloadError) as caught:
        _parse({"events": [forged]})
    assert (caught.value.field, caught.value.problem) == (
        "events[0].source",
        "must be 'vigil.detector'",
    )
