"""The Source protocol every vendor translator implements, and its errors."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ValidationError

from vigil.events import Event

__all__ = ["PayloadError", "Source", "payload_error_from_validation", "validate_body"]

M = TypeVar("M", bound=BaseModel)


class PayloadError(ValueError):
    """The payload cannot be translated. Never retryable: the same bytes fail again.

    `field` is a dotted path into the payload (`alerts[0].startsAt`), `problem` says what
    is wrong with it in words a sender can act on.
    """

    retryable = False
    reason = "invalid_payload"

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}" if field else problem)
        self.field = field
        self.problem = problem


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def payload_error_from_validation(exc: ValidationError, *, prefix: str = "") -> PayloadError:
    """Turn pydantic's first error into a PayloadError naming the field and the problem."""
    first = exc.errors(include_url=False)[0]
    field = _path(tuple(first["loc"]))
    if prefix:
        field = f"{prefix}.{field}" if field else prefix
    count = exc.error_count()
    more = f" (and {count - 1} more problem{'s' if count > 2 else ''})" if count > 1 else ""
    return PayloadError(field, f"{first['msg']}{more}")


def validate_body(model: type[M], payload: object, what: str) -> M:
    """Validate a decoded JSON body against a vendor model, or raise PayloadError naming
    the first bad field; `what` names the expected body in the message."""
    if not isinstance(payload, dict):
        raise PayloadError("", f"expected a JSON object ({what})")
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise payload_error_from_validation(exc) from None


@runtime_checkable
class Source(Protocol):
    """Translates one vendor's webhook body into canonical events.

    Guarantees: pure (no I/O, no clock, no random ids), deterministic (the same payload,
    `received_at` and tenant give the same events, so a redelivery has the same ingest
    ids), never mutates `payload`, thread-safe. Raises only `PayloadError`.
    """

    name: str

    def parse(self, payload: object, *, received_at: datetime, tenant_id: str) -> list[Event]:
        """Translate a decoded JSON body into events (possibly none)."""
        ...
