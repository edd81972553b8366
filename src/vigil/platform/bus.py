"""The message bus for scale-out: durable publish and batched consumption on NATS JetStream.

Built on FastStream (the `bus` extra). A message is published with an id; JetStream drops
a second message with the same id within its duplicate window and says so. Consumers
share one durable pull consumer, so each message goes to one of them; a batch is
acknowledged only after the handler returns, and redelivered if it raises or the
process dies before that (handlers must be idempotent).
"""

# No `from __future__ import annotations`: FastStream reads the handler's annotations
# (the Context marker below) at run time, from the scope the handler is defined in.
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

__all__ = ["BatchHandler", "BusMessage", "BusUnavailableError", "NatsBus"]


@dataclass(frozen=True, slots=True)
class BusMessage:
    """A message as published, with its stream sequence: the broker's order of the
    stream, the same on every redelivery."""

    data: bytes
    seq: int


BatchHandler = Callable[[list[BusMessage]], Awaitable[None]]

INSTALL_HINT = "the message bus needs FastStream: pip install 'vigil-sre[bus]'"


class BusUnavailableError(RuntimeError):
    """The bus library is missing or the broker cannot be reached."""

    reason = "bus_unavailable"
    retryable = True


def _faststream() -> Any:
    try:
        import faststream
        import faststream.nats
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise BusUnavailableError(INSTALL_HINT) from exc
    _fetch_times_out_as_nats_says()
    return faststream


def _fetch_times_out_as_nats_says() -> None:
    """nats-py's `PullSubscription.fetch` documents `nats.errors.TimeoutError`, but when
    the deadline runs out while it waits for the rest of a batch it raises a bare
    `asyncio.TimeoutError` (nats-py 2.15-2.16). FastStream's batch pull loop catches only
    the former; the latter kills the loop, its supervisor restarts it seconds later, and
    the messages fetched so far wait for redelivery: a worker then sits idle for 10 s or
    more with work in the stream. Raise the documented error instead (it subclasses the
    bare one, so any other caller still catches it)."""
    import nats.errors
    from nats.js.client import JetStreamContext

    pull = JetStreamContext.PullSubscription
    if getattr(pull.fetch, "_vigil_timeout_shim", False):
        return
    fetch = pull.fetch

    async def fetch_with_nats_timeout(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await fetch(self, *args, **kwargs)
        except nats.errors.TimeoutError:
            raise
        except TimeoutError as exc:
            raise nats.errors.TimeoutError from exc

    fetch_with_nats_timeout._vigil_timeout_shim = True  # type: ignore[attr-defined]
    pull.fetch = fetch_with_nats_timeout  # type: ignore[method-assign]


class NatsBus:
    """One JetStream stream (`stream`) holding `subject`; publish and/or consume it."""

    def __init__(
        self, url: str, *, stream: str = "VIGIL_INTAKE", subject: str = "vigil.intake"
    ) -> None:
        fs = _faststream()
        self.url, self.subject = url, subject
        self._broker = fs.nats.NatsBroker(url, log_level=logging.DEBUG, graceful_timeout=30.0)
        self._stream = fs.nats.JStream(stream, subjects=[subject], declare=True)
        self._publisher = self._broker.publisher(subject, stream=self._stream)
        self._started = False

    async def start(self) -> None:
        """Connect, declare the stream, start consumers registered so far."""
        try:
            await self._broker.start()
        except Exception as exc:
            raise BusUnavailableError(f"cannot start the bus at {self.url}: {exc}") from exc
        self._started = True

    async def stop(self) -> None:
        """Stop consuming (an in-flight batch finishes and is acknowledged) and disconnect."""
        if self._started:
            await self._broker.stop()
            self._started = False

    @property
    def connected(self) -> bool:
        """Whether the client is connected to the server now (it reconnects on its own)."""
        connection = getattr(self._broker, "_connection", None)
        return bool(self._started and getattr(connection, "is_connected", False))

    @property
    def max_payload(self) -> int | None:
        """The largest message the connected server takes (its `max_payload`), or None
        before connecting."""
        connection = getattr(self._broker, "_connection", None)
        size = getattr(connection, "max_payload", None)
        return size if isinstance(size, int) and size > 0 else None

    async def publish(self, payload: bytes, *, message_id: str) -> bool:
        """Store `payload` in the stream; True when it was a duplicate of an earlier one."""
        ack = await self._publisher.publish(
            payload, headers={"Nats-Msg-Id": message_id}, timeout=10.0
        )
        return bool(getattr(ack, "duplicate", False))

    def consume(self, handler: BatchHandler, *, durable: str, batch: int = 200) -> None:
        """Register `handler` for batches of up to `batch` messages (before `start`)."""
        fs = _faststream()
        subscriber = self._broker.subscriber(
            self.subject,
            stream=self._stream,
            durable=durable,
            pull_sub=fs.nats.PullSub(batch_size=batch, batch=True, timeout=0.5),
            ack_policy=fs.AckPolicy.NACK_ON_ERROR,
        )

        async def on_batch(_: Any, message: Annotated[Any, fs.Context("message")]) -> None:
            # The raw bytes as published (FastStream would decode JSON for us otherwise).
            batch = [BusMessage(m.data, m.metadata.sequence.stream) for m in message.raw_message]
            await handler(batch)

        subscriber(on_batch)
