"""Gate and fixtures for tests that use the real NATS JetStream server."""

from __future__ import annotations

import asyncio
import functools
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tests.conftest import skip_or_fail

NATS_URL = os.environ.get("VIGIL_TEST_NATS_URL", "nats://127.0.0.1:4222")


@functools.cache
def nats_problem() -> str | None:
    host, _, port = NATS_URL.removeprefix("nats://").partition(":")
    try:
        with socket.create_connection((host, int(port or 4222)), timeout=2):
            return None
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"


def require_nats() -> None:
    """Skip (or fail, when `VIGIL_REQUIRE_SERVICES=1`) if NATS is unreachable."""
    problem = nats_problem()
    if problem is not None:
        skip_or_fail(f"NATS at {NATS_URL} is unreachable ({problem})")


@dataclass(frozen=True)
class BusTarget:
    """A JetStream stream and subject of one test's own, deleted afterwards."""

    url: str
    stream: str
    subject: str

    def overrides(self) -> dict[str, str]:
        return {"bus_url": self.url, "bus_stream": self.stream, "bus_subject": self.subject}

    def env(self) -> dict[str, str]:
        return {f"VIGIL_{k.upper()}": v for k, v in self.overrides().items()}


async def _delete_stream(name: str) -> None:
    import nats
    from nats.js.errors import NotFoundError

    client = await nats.connect(NATS_URL)
    try:
        await client.jetstream().delete_stream(name)
    except NotFoundError:
        pass
    finally:
        await client.close()


@contextmanager
def bus_target() -> Iterator[BusTarget]:
    require_nats()
    tag = uuid.uuid4().hex[:12]
    target = BusTarget(NATS_URL, f"VIGIL_TEST_{tag}", f"vigil.test.{tag}")
    try:
        yield target
    finally:
        asyncio.run(_delete_stream(target.stream))
