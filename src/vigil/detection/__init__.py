"""Runs the analysis detectors on live telemetry and feeds what they find into the
pipeline as Events (source `vigil.detector`, type `anomaly`)."""

from vigil.detection.alarms import DETECTOR_SOURCE, EventContext
from vigil.detection.intake import DetectorIntake
from vigil.detection.lease import LeaseKeeper, LeaseLostError
from vigil.detection.read import Anomaly, list_anomalies, parse_window
from vigil.detection.service import DetectionService, EventSink, PassReport, TelemetryClients
from vigil.detection.source import DetectorSource

__all__ = [
    "DETECTOR_SOURCE",
    "Anomaly",
    "DetectionService",
    "DetectorIntake",
    "DetectorSource",
    "EventContext",
    "EventSink",
    "LeaseKeeper",
    "LeaseLostError",
    "PassReport",
    "TelemetryClients",
    "list_anomalies",
    "parse_window",
]
