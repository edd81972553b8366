"""Reader for the Nezha RCA dataset layout (IntelligentDDS/Nezha, FSE'23).

Layout (see ``datasets/nezha/README.md``)::

    rca_data/<day>/<day>-fault_list.json        labels
    rca_data/<day>/metric/<pod>_metric.csv[.gz] one row per pod and minute, whole day
    rca_data/<day>/metric/dependency.csv[.gz]   declared call edges (optional)
    rca_data/<day>/{trace,log}/HH_MM_*.csv[.gz] one file per minute (many absent)
    construct_data/<day>/{trace,log}/           fault-free minutes, used as reference

Quirks handled here: ``inject_time`` is UTC; metric time is the first 19 characters of
``Time`` (``TimeStamp`` is wrong in some files); pod -> service drops the last two
dash-separated tokens; node-level metric columns (``Node*``) describe the host, not the
service, and are dropped; absent minute files simply yield no rows, and so do empty
files and files without the columns a table needs (each skipped with a warning). A file
present both plain and gzipped (``gunzip -k``) is read once, the plain one. A label
entry without ``inject_time``, ``inject_pod`` or ``inject_type`` is skipped with a
warning.
"""

from __future__ import annotations

import functools
import gzip
import io
import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from vigil.telemetry.bundle import (
    EDGE_CLIENT,
    EDGE_SERVER,
    TelemetryBundle,
    make_logs,
    make_metrics,
    make_spans,
)
from vigil.telemetry.logparse import parse_log_lines

__all__ = [
    "NezhaFault",
    "list_days",
    "pod_to_service",
    "read_faults",
    "read_nezha_metrics",
    "read_nezha_window",
    "unlabelled_days",
]

log = logging.getLogger(__name__)

_SYSTEM_NAMES = {"hipster": "OnlineBoutique", "ts": "TrainTicket"}
_MINUTE_FILE = re.compile(r"^(\d\d)_(\d\d)_(trace|log)\.csv(\.gz)?$")


@dataclass(frozen=True)
class NezhaFault:
    """One labelled fault: where and when it was injected, and its type."""

    system: str
    day: str
    inject_time: str
    time: datetime
    pod: str
    service: str
    kind: str


def pod_to_service(pod: str) -> str:
    """``ts-basic-service-5dc8d4f9fd-46997`` -> ``ts-basic-service``."""
    parts = str(pod).rsplit("-", 2)
    return parts[0] if len(parts) == 3 else str(pod)


def _data_file(folder: Path, stem: str) -> Path | None:
    for suffix in (".csv", ".csv.gz"):
        candidate = folder / f"{stem}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def _one_per_stem(paths: list[Path]) -> list[Path]:
    """``X.csv`` and ``X.csv.gz`` are the same table: keep the plain one, sorted."""
    chosen: dict[str, Path] = {}
    for path in sorted(paths, key=lambda p: p.name.endswith(".gz")):
        chosen.setdefault(path.name.removesuffix(".gz"), path)
    return sorted(chosen.values())


def _day_folders(root: Path) -> list[Path]:
    base = root / "rca_data"
    return sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else []


def list_days(root: Path) -> list[str]:
    """Days under ``rca_data`` that carry a fault list, sorted."""
    return [p.name for p in _day_folders(root) if (p / f"{p.name}-fault_list.json").is_file()]


def unlabelled_days(root: Path) -> list[str]:
    """Folders under ``rca_data`` without their ``<day>-fault_list.json`` (not evaluated)."""
    return [p.name for p in _day_folders(root) if not (p / f"{p.name}-fault_list.json").is_file()]


def _system_names(root: Path) -> dict[str, str]:
    """Service -> system name, from ``construct_data/root_cause_<ns>.json``."""
    mapping: dict[str, str] = {}
    for path in sorted((root / "construct_data").glob("root_cause_*.json")):
        namespace = path.stem.removeprefix("root_cause_")
        for service in json.loads(path.read_text()):
            mapping[service] = _SYSTEM_NAMES.get(namespace, namespace)
    return mapping


def read_faults(root: Path, day: str) -> list[NezhaFault]:
    """All labelled faults of ``day``, in injection order."""
    labels = json.loads((root / "rca_data" / day / f"{day}-fault_list.json").read_text())
    systems = _system_names(root)
    faults = []
    for hour, entries in labels.items():
        for entry in entries:
            try:
                service = pod_to_service(entry["inject_pod"])
                when = datetime.strptime(entry["inject_time"], "%Y-%m-%d %H:%M:%S")
                kind = str(entry["inject_type"])
            except (KeyError, TypeError, ValueError) as exc:
                log.warning("%s labels, hour %s: skipped %r (%r)", day, hour, entry, exc)
                continue
            faults.append(
                NezhaFault(
                    system=systems.get(service, "unknown"),
                    day=day,
                    inject_time=entry["inject_time"],
                    time=when.replace(tzinfo=UTC),
                    pod=entry["inject_pod"],
                    service=service,
                    kind=kind,
                )
            )
    return sorted(faults, key=lambda f: f.time)


def _window_lines(path: Path, start: datetime, end: datetime) -> tuple[str, list[str]]:
    """Header and the lines of a whole-day CSV whose first 19 characters are in the window.

    Skipping lines as text (no parsing) makes reading a window of a day-long file cheap.
    """
    lo, hi = f"{start:%Y-%m-%d %H:%M:%S}", f"{end:%Y-%m-%d %H:%M:%S}"
    raw = path.read_bytes()
    text = (gzip.decompress(raw) if path.name.endswith(".gz") else raw).decode(errors="replace")
    header, _, body = text.partition("\n")
    return header.strip(), [line for line in body.split("\n") if lo <= line[:19] <= hi]


def _parse_time_rows(header: str, lines: list[str]) -> pd.DataFrame:
    """Parse CSV lines whose first column is a time string into a frame with ``time``."""
    if not lines:
        return pd.DataFrame()
    frame = pd.read_csv(io.StringIO(header + "\n" + "\n".join(lines)))
    first = frame.columns[0]
    stamps = frame[first].astype(str).str.slice(0, 19)
    frame = frame.drop(columns=[first])
    frame["time"] = pd.to_datetime(stamps, utc=True)
    return frame


def _read_metrics(folder: Path, start: datetime, end: datetime) -> pd.DataFrame:
    """Per-pod day files cut to the window as text, parsed once per header, then melted."""
    paths = _one_per_stem(list(folder.glob("*_metric.csv*"))) if folder.is_dir() else []
    by_header: dict[str, list[str]] = {}
    for path in paths:
        header, lines = _window_lines(path, start, end)
        by_header.setdefault(header, []).extend(lines)
    frames = [_parse_time_rows(h, lines) for h, lines in by_header.items()]
    frames = [f for f in frames if "PodName" in f.columns]
    if not frames:
        return make_metrics()
    wide = pd.concat(frames, ignore_index=True).drop(columns=["TimeStamp"], errors="ignore")
    values = [c for c in wide.columns if c not in {"PodName", "time"} and not c.startswith("Node")]
    long = wide.melt(id_vars=["time", "PodName"], value_vars=values, var_name="metric")
    long["instance"] = long["PodName"].astype(str)
    long["service"] = long["instance"].map(pod_to_service)
    return make_metrics(long)


def _read_edge_metric(
    folder: Path, stem: str, name: str, window: tuple[datetime, datetime]
) -> pd.DataFrame:
    """``source_50``/``destination_50``: per call edge latency, one column per edge.

    Rows become ``service=callee, instance="caller->callee", metric=name`` (the bundle's
    edge-metric convention, see ``docs/bundle-format.md``).
    Column names are ``<caller>_<callee>``; service names never contain ``_`` here.
    """
    path = _data_file(folder, stem)
    if path is None:
        return make_metrics()
    frame = _parse_time_rows(*_window_lines(path, *window))
    if frame.empty:
        return make_metrics()
    frame = frame.drop(columns=["timestamp"], errors="ignore")
    long = frame.melt(id_vars=["time"], var_name="edge")
    parts = long["edge"].str.split("_", n=1)
    long["service"] = parts.str[1]
    long["instance"] = parts.str[0] + "->" + parts.str[1]
    long["metric"] = name
    return make_metrics(long[long["service"].notna()])


def _read_edges(folder: Path, services: set[str]) -> list[tuple[str, str]]:
    path = _data_file(folder, "dependency")
    if path is None:
        return []
    frame = _read_csv(path, 2)
    if frame.empty:
        return []
    pairs = zip(frame.iloc[:, 0].astype(str), frame.iloc[:, 1].astype(str), strict=True)
    return [(a, b) for a, b in pairs if a in services and b in services]


def _minute_files(folder: Path, kind: str, start: datetime, end: datetime) -> list[Path]:
    """Minute files whose minute lies in ``[floor(start), floor(end) + 1 min]``."""
    if not folder.is_dir():
        return []
    first = start.replace(second=0, microsecond=0)
    last = end.replace(second=0, microsecond=0) + timedelta(minutes=1)
    chosen = []
    for path in _one_per_stem(list(folder.iterdir())):
        match = _MINUTE_FILE.match(path.name)
        if match is None or match.group(3) != kind:
            continue
        minute = first.replace(hour=int(match.group(1)), minute=int(match.group(2)))
        if minute < first - timedelta(hours=12):  # a window crossing midnight
            minute += timedelta(days=1)
        if first <= minute <= last:
            chosen.append(path)
    return chosen


def _read_csv(path: Path, columns: int | tuple[str, ...]) -> pd.DataFrame:
    """One table; empty (with a warning) when the file is empty or lacks ``columns`` (names,
    or a least count), so one damaged file costs its rows, not the case."""
    try:
        frame = pd.read_csv(path, on_bad_lines="skip")
    except pd.errors.EmptyDataError:
        log.warning("%s is empty; read as no rows", path)
        return pd.DataFrame()
    missing = (
        [c for c in columns if c not in frame.columns]
        if isinstance(columns, tuple)
        else ([f"{columns} columns"] if frame.shape[1] < columns else [])
    )
    if missing:
        log.warning("%s lacks %s; read as no rows", path, ", ".join(missing))
        return pd.DataFrame()
    return frame


_SPAN_COLUMNS = ("TraceID", "SpanID", "ParentID", "PodName", "OperationName",
                 "StartTimeUnixNano", "Duration")  # fmt: skip
_LOG_COLUMNS = ("TimeUnixNano", "PodName", "TraceID", "SpanID", "Log")


def _read_tables(paths: list[Path], columns: tuple[str, ...]) -> list[pd.DataFrame]:
    frames = (_read_csv(p, columns) for p in paths)
    return [frame for frame in frames if not frame.empty]


def _read_spans(paths: list[Path]) -> pd.DataFrame:
    frames = _read_tables(paths, _SPAN_COLUMNS)
    if not frames:
        return make_spans()
    raw = pd.concat(frames, ignore_index=True)
    out = pd.DataFrame(
        {
            "trace_id": raw["TraceID"].astype(str),
            "span_id": raw["SpanID"].astype(str),
            "parent_id": raw["ParentID"].astype(str).replace("root", ""),
            "service": raw["PodName"].astype(str).map(pod_to_service),
            "operation": raw["OperationName"].astype(str),
            "start": pd.to_datetime(raw["StartTimeUnixNano"], unit="ns", utc=True),
            "duration": pd.to_numeric(raw["Duration"], errors="coerce") / 1e6,
            "status": "",
        }
    )
    return make_spans(out)


def _read_logs(paths: list[Path]) -> pd.DataFrame:
    frames = _read_tables(paths, _LOG_COLUMNS)
    if not frames:
        return make_logs()
    raw = pd.concat(frames, ignore_index=True).dropna(subset=["Log"])
    level, message = parse_log_lines(raw["Log"].astype(str).tolist())
    out = pd.DataFrame(
        {
            "time": pd.to_datetime(raw["TimeUnixNano"], unit="ns", utc=True),
            "service": raw["PodName"].astype(str).map(pod_to_service),
            "level": level,
            "message": message,
            "trace_id": raw["TraceID"].astype(str),
            "span_id": raw["SpanID"].astype(str),
        }
    )
    return make_logs(out)


@functools.lru_cache(maxsize=4)
def _read_reference(root: Path, day: str) -> TelemetryBundle | None:
    """The day's fault-free minutes; cached, as a live system keeps its baseline loaded."""
    folder = root / "construct_data" / day
    spans = _one_per_stem(list((folder / "trace").glob("*_trace.csv*")))
    logs = _one_per_stem(list((folder / "log").glob("*_log.csv*")))
    if not spans and not logs:
        return None
    return TelemetryBundle(spans=_read_spans(spans), logs=_read_logs(logs))


def read_nezha_metrics(
    root: Path, day: str, start: datetime, end: datetime, edges: bool = True
) -> pd.DataFrame:
    """Pod metrics and (OnlineBoutique, unless ``edges`` is false) per-edge latencies of
    ``day`` in ``[start, end]``."""
    folder = root / "rca_data" / day / "metric"
    metrics = _read_metrics(folder, start, end)
    if not edges:
        return metrics
    edge_metrics = [
        _read_edge_metric(folder, stem, name, (start, end))
        for stem, name in (("source_50", EDGE_CLIENT), ("destination_50", EDGE_SERVER))
    ]
    combined: pd.DataFrame = pd.concat([metrics, *edge_metrics], ignore_index=True)
    return combined


def read_nezha_window(
    root: Path, day: str, start: datetime, end: datetime, events_from: datetime
) -> TelemetryBundle:
    """Read metrics in ``[start, end]`` and spans/logs in ``[events_from, end]`` of ``day``.

    Only the minute files overlapping the window are opened. The fault-free minutes of
    ``construct_data/<day>`` (if any) become the bundle's ``reference``.
    """
    day_dir = root / "rca_data" / day
    metrics = read_nezha_metrics(root, day, start, end)
    services = set(metrics["service"].unique())
    spans = _read_spans(_minute_files(day_dir / "trace", "trace", events_from, end))
    logs = _read_logs(_minute_files(day_dir / "log", "log", events_from, end))
    bundle = TelemetryBundle(
        metrics=metrics,
        spans=spans,
        logs=logs,
        edges=tuple(_read_edges(day_dir / "metric", services)),
        reference=_read_reference(root, day),
    )
    return bundle.between(start, end)
