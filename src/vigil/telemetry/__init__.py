"""Read access to observability data: the telemetry bundle model and its readers, the
PromQL and Loki HTTP API clients, and log files tailed from an offset."""

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
from vigil.telemetry.logfiles import FileChunk, FileCursor, LogLine, tail_file
from vigil.telemetry.logparse import parse_log_line, parse_log_lines
from vigil.telemetry.loki import LokiClient, LokiResult
from vigil.telemetry.nezha import (
    NezhaFault,
    list_days,
    pod_to_service,
    read_faults,
    read_nezha_metrics,
    read_nezha_window,
)
from vigil.telemetry.prometheus import PrometheusClient, PromResult, PromSeries
from vigil.telemetry.query import QueryFailure, QueryWindow

__all__ = [
    "EDGE_CLIENT",
    "EDGE_SERVER",
    "LOG_COLUMNS",
    "METRIC_COLUMNS",
    "SPAN_COLUMNS",
    "BundleFormatError",
    "FileChunk",
    "FileCursor",
    "LogLine",
    "LokiClient",
    "LokiResult",
    "NezhaFault",
    "PromResult",
    "PromSeries",
    "PrometheusClient",
    "QueryFailure",
    "QueryWindow",
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
    "read_nezha_metrics",
    "read_nezha_window",
    "tail_file",
    "write_bundle_folder",
]
