"""Runs the analysis detectors on live telemetry and feeds what they find into the
pipeline as Events (source `vigil.detector`, type `anomaly`)."""

from vigil.detection.alarms import DETECTOR_SOURCE, EventContext
from vigil.detection.read import Anomaly, list_anomalies, parse_window
from vigil.detection.service import DetectionService, EventSink, PassReport, TelemetryClients

__all__ = [
    "DETECTOR_SOURCE",
    "Anomaly",
    "DetectionService",
    "EventContext",
    "EventSink",
    "PassReport",
    "TelemetryClients",
    "list_anomalies",
    "parse_window",
]
