"""Every API operation against a real `vigil serve`, with valid and invalid inputs generated
from its own OpenAPI document (schemathesis): never a 5xx, only documented status codes and
content types, and bodies in the documented shapes (our error shape included).

Path ids are real ones (an incident, an event, a dead letter seeded first) half of the
time, so the handlers behind the 404s are reached too.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.payloads import am_alert, am_body
from vigil.testing.load import ServerProcess

pytestmark = pytest.mark.slow

CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
)
EXAMPLES = 50


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("fuzz")
    env = {"VIGIL_DATABASE_URL": f"sqlite:///{folder / 'vigil.db'}"}
    process = ServerProcess(env, log=folder / "serve.log")
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def seeded(server: ServerProcess) -> dict[str, str]:
    """An incident (from two alerts), one of its events and a dead letter."""
    base = f"http://127.0.0.1:{server.port}"
    hook = f"{base}/api/v1/webhooks/alertmanager"
    now = datetime.now(UTC)
    alerts = [am_alert({"alertname": "Slow", "service": s}, now) for s in ("cart", "checkout")]
    assert httpx.post(hook, content=am_body(*alerts)).status_code == 202
    refused = httpx.post(hook, content=b'{"alerts": 5}')
    assert refused.status_code == 422
    ids = {"dead_letter_id": refused.json()["error"]["dead_letter_id"]}
    deadline = time.monotonic() + 30  # processing runs in the server's child
    incidents = []
    while not incidents and time.monotonic() < deadline:
        incidents = httpx.get(f"{base}/api/v1/incidents").json()["items"]
        time.sleep(0.1)
    assert incidents, "the seeded alerts never became an incident"
    ids["incident_id"] = incidents[0]["id"]
    ids["event_id"] = httpx.get(f"{base}/api/v1/events").json()["items"][0]["id"]
    return ids


def _operations(server: ServerProcess) -> list[Any]:
    schema = schemathesis.openapi.from_url(f"http://127.0.0.1:{server.port}/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]


def test_every_operation_answers_as_documented(
    server: ServerProcess, seeded: dict[str, str], tmp_path: Path
) -> None:
    operations = _operations(server)
    assert len(operations) >= 20
    for operation in operations:
        cases = st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),  # bodies and params that are wrong
        )

        @given(case=cases, real_ids=st.booleans())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any, real_ids: bool) -> None:
            if real_ids and case.path_parameters:
                for name in case.path_parameters:
                    if name in seeded:
                        case.path_parameters[name] = seeded[name]
            response = case.call()
            case.validate_response(response, checks=CHECKS)

        check()
