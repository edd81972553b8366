"""Incidents: correlation of alerts into incidents, the lifecycle, timelines and feedback."""

from vigil.incidents.correlate import CorrelationWindow, ReasonKind, ServiceGraph
from vigil.incidents.lifecycle import IllegalTransitionError, IncidentState, Trigger
from vigil.incidents.resolve import AutoResolve
from vigil.incidents.service import IncidentNotFoundError, IncidentService, InvalidRequestError
from vigil.incidents.stage import CorrelateStage

__all__ = [
    "AutoResolve",
    "CorrelateStage",
    "CorrelationWindow",
    "IllegalTransitionError",
    "IncidentNotFoundError",
    "IncidentService",
    "IncidentState",
    "InvalidRequestError",
    "ReasonKind",
    "ServiceGraph",
    "Trigger",
]
