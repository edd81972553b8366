"""The `vigil.detector` source: reads back the events a detection pass submitted through
the intake (body `{"events": [<canonical Event>, ...]}`), so they are stored, carried over
the bus and processed like any alert. Pure."""

from __future__ import annotations

from datetime import datetime

from pydantic import ValidationError

from vigil.detection.alarms import DETECTOR_SOURCE
from vigil.events import Event
from vigil.sources import PayloadError, payload_error_from_validation

__all__ = ["DetectorSource"]


class DetectorSource:
    """Translator of Vigil's own detector events: each must be a canonical Event of this
    source and of the request's tenant (a body cannot speak for another tenant)."""

    name = DETECTOR_SOURCE

    def parse(self, payload: object, *, received_at: datetime, tenant_id: str) -> list[Event]:
        """The events of the body, unchanged (they carry their own `received_at`)."""
        if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
            raise PayloadError("", 'expected a JSON object {"events": [...]}')
        extra = sorted(set(payload) - {"events"})
        if extra:
            raise PayloadError(extra[0], "unknown field")
        events = []
        for index, item in enumerate(payload["events"]):
            where = f"events[{index}]"
            try:
                event = Event.model_validate(item)
            except ValidationError as exc:
                raise payload_error_from_validation(exc, prefix=where) from None
            if event.source != DETECTOR_SOURCE:
                raise PayloadError(f"{where}.source", f"must be {DETECTOR_SOURCE!r}")
            if event.tenant_id != tenant_id:
                raise PayloadError(f"{where}.tenant_id", "must be the tenant of the request")
            events.append(event)
        return events
