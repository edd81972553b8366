"""Read access to observability data: the telemetry bundle model and its readers."""

from vigil.telemetry.bundle import (
    EDGE_CLIENT,
    EDGE_SERVER,
    LOG_COLUMNS,
    METRIC_COLUMNS,
    SPAN_COLUMNS,
    TelemetryBundle,
    make_logs,
    make_metrics,
    make_spans,
)
from vigil.telemetry.folder import BundleFormatError, read_bundle_folder, write_bundle_folder
from vigil.telemetry.logparse import parse_log_line, parse_log_lines
from vigil.telemetry.nezha import (
    NezhaFault,
    list_days,
    pod_to_service,
    read_faults,
    read_nezha_window,
)

__all__ = [
    "EDGE_CLIENT",
    "EDGE_SERVER",
    "LOG_COLUMNS",
    "METRIC_COLUMNS",
    "SPAN_COLUMNS",
    "BundleFormatError",
    "NezhaFault",
    "TelemetryBundle",
    "list_days",
    "make_logs",
    "make_metrics",
    "make_spans",
    "parse_log_line",
    "parse_log_lines",
    "pod_to_service",
    "read_bundle_folder",
    "read_faults",
    "read_nezha_window",
    "write_bundle_folder",
]
