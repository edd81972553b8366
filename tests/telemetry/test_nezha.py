"""Nezha layout reader on a tiny fabricated day (same layout as the published data)."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from vigil.telemetry import list_days, pod_to_service, read_faults, read_nezha_window
from vigil.telemetry.nezha import unlabelled_days

DAY = "2030-01-02"
HEADER = "Time,TimeStamp,PodName,CpuUsageRate(%),NodeCpuUsageRate(%)\n"


def _gz(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(text.encode()))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    day = tmp_path / "rca_data" / DAY
    label = {
        "inject_time": f"{DAY} 10:05:03",
        "inject_timestamp": "0",
        "inject_pod": "api-5d4f9fd-46997",
        "inject_type": "cpu_contention",
    }
    day.mkdir(parents=True)
    (day / f"{DAY}-fault_list.json").write_text(json.dumps({"10": [label]}))
    rows = "".join(
        f"{DAY} 10:{m:02d}:09.1 +0000 UTC m=+1,1,api-5d4f9fd-46997,{10 + m},50\n" for m in range(10)
    )
    _gz(day / "metric" / "api-5d4f9fd-46997_metric.csv.gz", HEADER + rows)
    (day / "metric" / "dependency.csv").write_text("Source,Target,Weight\napi,1.2.3.4,1\n")
    trace = (
        "TraceID,SpanID,ParentID,PodName,OperationName,StartTimeUnixNano,EndTimeUnixNano,Duration\n"
    )
    start = int(datetime(2030, 1, 2, 10, 5, 30, tzinfo=UTC).timestamp() * 1e9)
    trace += f"t1,s1,root,api-5d4f9fd-46997,GET,{start},{start + 2000},2000\n"
    _gz(day / "trace" / "10_05_trace.csv.gz", trace)
    _gz(day / "trace" / "11_30_trace.csv.gz", trace)
    log = "Timestamp,TimeUnixNano,Node,PodName,Container,TraceID,SpanID,Log\n"
    line = json.dumps({"log": "10:05:31.000 ERROR a.B#12 TraceID: t1 SpanID: s1 boom\n"})
    log += f'x,{start},n,api-5d4f9fd-46997,c,t1,s1,"{line.replace(chr(34), chr(34) * 2)}"\n'
    (day / "log").mkdir()
    (day / "log" / "10_06_log.csv").write_text(log)
    (tmp_path / "construct_data").mkdir()
    (tmp_path / "construct_data" / "root_cause_demo.json").write_text(json.dumps({"api": {}}))
    return tmp_path


def test_pod_to_service() -> None:
    assert pod_to_service("ts-basic-service-5dc8d4f9fd-46997") == "ts-basic-service"
    assert pod_to_service("single") == "single"


def test_days_and_faults(root: Path) -> None:
    assert list_days(root) == [DAY]
    (fault,) = read_faults(root, DAY)
    assert fault.service == "api"
    assert fault.system == "demo"
    assert fault.inject_time == f"{DAY} 10:05:03"
    assert fault.time == datetime(2030, 1, 2, 10, 5, 3, tzinfo=UTC)


def test_window_reads_only_overlapping_minutes(root: Path) -> None:
    fault = read_faults(root, DAY)[0]
    start, end = datetime(2030, 1, 2, 10, 2, tzinfo=UTC), datetime(2030, 1, 2, 10, 8, tzinfo=UTC)
    bundle = read_nezha_window(root, DAY, start, end, fault.time)
    assert set(bundle.metrics["metric"]) == {"CpuUsageRate(%)"}
    assert bundle.metrics["time"].min() >= start
    assert len(bundle.metrics) == 6
    assert len(bundle.spans) == 1
    assert bundle.spans["duration"].iloc[0] == pytest.approx(0.002)
    assert bundle.logs["level"].tolist() == ["error"]
    assert bundle.logs["message"].tolist() == ["a.B#12 boom"]
    assert bundle.edges == ()
    assert bundle.reference is None


def test_damaged_files_cost_their_rows_not_the_window(root: Path) -> None:
    day = root / "rca_data" / DAY
    (day / "trace" / "10_06_trace.csv").write_text("")  # empty: the collector died
    (day / "log" / "10_07_log.csv").write_text("Timestamp,Log\nx,y\n")  # columns missing
    (day / "metric" / "dependency.csv").write_text("")
    fault = read_faults(root, DAY)[0]
    start, end = datetime(2030, 1, 2, 10, 2, tzinfo=UTC), datetime(2030, 1, 2, 10, 8, tzinfo=UTC)
    bundle = read_nezha_window(root, DAY, start, end, fault.time)
    assert len(bundle.spans) == 1
    assert len(bundle.logs) == 1
    assert bundle.edges == ()


def test_a_table_present_plain_and_gzipped_is_read_once(root: Path) -> None:
    day = root / "rca_data" / DAY
    for packed in [*day.glob("*/*.csv.gz")]:  # as `gunzip -k` leaves them
        packed.with_suffix("").write_bytes(gzip.decompress(packed.read_bytes()))
    fault = read_faults(root, DAY)[0]
    start, end = datetime(2030, 1, 2, 10, 2, tzinfo=UTC), datetime(2030, 1, 2, 10, 8, tzinfo=UTC)
    bundle = read_nezha_window(root, DAY, start, end, fault.time)
    assert len(bundle.metrics) == 6
    assert len(bundle.spans) == 1


def test_unusable_label_entries_are_skipped_and_unlabelled_days_named(
    root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    day = root / "rca_data" / DAY
    labels = json.loads((day / f"{DAY}-fault_list.json").read_text())
    labels["11"] = [{"inject_time": f"{DAY} 11:00:00", "inject_pod": "api-1-2"}, {"x": 1}]
    (day / f"{DAY}-fault_list.json").write_text(json.dumps(labels))
    (root / "rca_data" / "2030-01-03").mkdir()  # labels under another name
    (root / "rca_data" / "2030-01-03" / "fault_list.json").write_text("{}")
    assert [f.inject_time for f in read_faults(root, DAY)] == [f"{DAY} 10:05:03"]
    assert caplog.text.count("skipped") == 2
    assert list_days(root) == [DAY]
    assert unlabelled_days(root) == ["2030-01-03"]
