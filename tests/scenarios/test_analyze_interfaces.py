"""Analyse a bundle folder through the CLI command and the HTTP endpoint."""

from __future__ import annotations

import io
import json
import math
import shutil
import tarfile
import zipfile
from datetime import timedelta, timezone
from pathlib import Path

import httpx
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from tests.conftest import MakeClient, MakeRuntime
from tests.scenarios.rca_bundles import BOUNDARY, END, Fault, build_bundle
from vigil.analysis import analyze_bundle
from vigil.interfaces.api.analyze import describe
from vigil.interfaces.cli.rca import register
from vigil.telemetry import TelemetryBundle, write_bundle_folder


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bundle")
    write_bundle_folder(build_bundle(Fault(cpu_hog="api")), path, "csv.gz")
    return path


def _cli() -> typer.Typer:
    app, eval_app = typer.Typer(), typer.Typer()
    register(app, eval_app)
    app.add_typer(eval_app, name="eval")
    return app


def test_cli_analyze_json_and_text(folder: Path) -> None:
    args = ["analyze", str(folder), "--start", BOUNDARY.isoformat(), "--end", END.isoformat()]
    result = CliRunner().invoke(_cli(), [*args, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["causes"][0]["service"] == "api"
    text = CliRunner().invoke(_cli(), args)
    assert text.exit_code == 0
    assert "api" in text.output


def test_cli_errors(tmp_path: Path) -> None:
    missing = CliRunner().invoke(
        _cli(), ["analyze", str(tmp_path / "x"), "--start", "2026-01-01", "--end", "2026-01-02"]
    )
    assert missing.exit_code == 2
    write_bundle_folder(TelemetryBundle(), tmp_path / "empty")
    empty = CliRunner().invoke(
        _cli(), ["analyze", str(tmp_path / "empty"), "--start", "2026-01-01", "--end", "2026-01-02"]
    )
    assert empty.exit_code == 1
    assert "no telemetry at or after the start 2026-01-01 00:00:00Z (it is empty)" in empty.output
    bad = CliRunner().invoke(_cli(), ["eval", "rca", "--dataset", "other", "--path", "."])
    assert bad.exit_code == 2


def _archive(folder: Path, kind: str) -> bytes:
    """The bundle folder packed as the CLI user would: the folder itself at the top."""
    buffer = io.BytesIO()
    if kind == "zip":
        with zipfile.ZipFile(buffer, "w") as packed:
            for path in sorted(folder.iterdir()):
                packed.write(path, f"{folder.name}/{path.name}")
    else:
        with tarfile.open(fileobj=buffer, mode="w:gz") as packed:
            packed.add(folder, arcname=folder.name)
    return buffer.getvalue()


@pytest.fixture
async def api(
    make_runtime: MakeRuntime, make_client: MakeClient, folder: Path, tmp_path: Path
) -> httpx.AsyncClient:
    root = tmp_path / "bundles"
    shutil.copytree(folder, root / "cpu-hog")
    runtime = await make_runtime(bundle_root=root, max_bundle_bytes=200_000)
    return await make_client(runtime)


WINDOW = {"start": BOUNDARY.isoformat(), "end": END.isoformat()}


def _top(response: httpx.Response) -> tuple[str, str]:
    assert response.status_code == 200, response.text
    cause = response.json()["causes"][0]
    return cause["service"], cause["kind"]


async def test_http_analyze_a_named_bundle(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/v1/analyze", json={"bundle": "cpu-hog", **WINDOW})
    assert _top(response) == ("api", "cpu")
    assert response.json()["evidence"]
    for accept, text in (
        ("text/plain", True),
        ("Text/Plain, application/json;q=0.5", True),
        ("application/json, text/plain;q=0.5", False),
        ("*/*", False),
    ):
        answer = await api.post(
            "/api/v1/analyze", json={"bundle": "cpu-hog", **WINDOW}, headers={"accept": accept}
        )
        assert answer.headers["content-type"].startswith("text/plain") is text, accept
    assert answer.json()["causes"][0]["service"] == "api"
    text_answer = await api.post(
        "/api/v1/analyze", json={"bundle": "cpu-hog", **WINDOW}, headers={"accept": "text/plain"}
    )
    assert text_answer.text.startswith("1. api: cpu (score ")


@pytest.mark.parametrize("kind", ["tar.gz", "zip", "stub+zip"])
async def test_http_analyze_an_uploaded_bundle(
    api: httpx.AsyncClient, folder: Path, kind: str
) -> None:
    media = "application/gzip" if kind == "tar.gz" else "application/zip"
    # A zip may follow a stub (a self-extracting archive): it is still a zip.
    body = b"#!/bin/sh\nexit 0\n" + _archive(folder, "zip") if kind == "stub+zip" else b""
    response = await api.post(
        "/api/v1/analyze",
        params=WINDOW,
        content=body or _archive(folder, kind),
        headers={"content-type": media},
    )
    assert _top(response) == ("api", "cpu")


async def test_http_analyze_refusals(api: httpx.AsyncClient, folder: Path, tmp_path: Path) -> None:
    async def status(body: object = None, **kwargs: object) -> tuple[int, str]:
        if body is not None:
            kwargs["json"] = body
        response = await api.post("/api/v1/analyze", **kwargs)  # type: ignore[arg-type]
        return response.status_code, response.json()["error"]["problem"]

    outside = tmp_path / "elsewhere"
    shutil.copytree(folder, outside)
    assert await status({"bundle": "nope", **WINDOW}) == (
        404,
        "no bundle 'nope' under the bundle root",  # no server paths in answers
    )
    assert (await status({"bundle": "cpu-hog/metrics.csv.gz", **WINDOW}))[0] == 404
    assert (await status({"bundle": "../elsewhere", **WINDOW}))[0] == 422
    assert (await status({"bundle": str(outside), **WINDOW}))[0] == 422
    linked = tmp_path / "bundles" / "linked"
    linked.mkdir()
    (linked / "metrics.csv.gz").symlink_to(outside / "metrics.csv.gz")
    assert await status({"bundle": "linked", **WINDOW}) == (
        422,
        "'metrics.csv.gz' of bundle 'linked' leads out of the bundle root",
    )
    (linked / "metrics.csv.gz").unlink()
    (linked / "metrics.csv.gz").symlink_to(tmp_path / "bundles" / "cpu-hog" / "metrics.csv.gz")
    assert (await api.post("/api/v1/analyze", json={"bundle": "linked", **WINDOW})).is_success
    (linked / "reference").symlink_to(outside, target_is_directory=True)
    assert (await status({"bundle": "linked", **WINDOW}))[0] == 422
    assert await status({"bundle": "cpu-hog", **WINDOW, "end": WINDOW["start"]}) == (
        422,
        "end must be after start",
    )
    bad_time = await api.post(
        "/api/v1/analyze", json={"bundle": "cpu-hog", "start": "yesterday", "end": END.isoformat()}
    )
    assert bad_time.status_code == 422
    assert bad_time.json()["error"]["field"] == "body.start"  # like any invalid body
    unix = await api.post("/api/v1/analyze", params={"start": "1700000000", "end": "1700000300"})
    assert unix.json()["error"]["field"] == "query.start"  # ISO 8601, as documented
    gzip = {"content-type": "application/gzip"}
    archive = _archive(folder, "tar.gz")
    assert (await status(content=archive, headers=gzip))[0] == 422  # no window
    assert (await status(content=b"not an archive", headers=gzip, params=WINDOW))[0] == 422
    assert (await status(content=b"x" * 200_001, headers=gzip, params=WINDOW))[0] == 413
    assert (await status(content=b"a,b", headers={"content-type": "text/csv"}))[0] == 415
    escaping = io.BytesIO()
    with tarfile.open(fileobj=escaping, mode="w:gz") as packed:
        payload = b"time,service\n"
        info = tarfile.TarInfo("../metrics.csv")
        info.size = len(payload)
        packed.addfile(info, io.BytesIO(payload))
    code, problem = await status(content=escaping.getvalue(), headers=gzip, params=WINDOW)
    assert (code, problem) == (
        422,
        "no bundle tables in the archive (metrics, logs, spans, graph as .csv or .csv.gz)",
    )


async def test_http_analyze_refuses_what_it_cannot_open_or_read(
    api: httpx.AsyncClient, folder: Path, tmp_path: Path
) -> None:
    """Names the file system refuses, link loops, values of the wrong kind and windows
    without data are 4xx answers that say what is wrong (each was a 500 or a silent
    misreading)."""

    async def problem(body: dict[str, object]) -> tuple[int, str]:
        response = await api.post("/api/v1/analyze", json={**WINDOW, **body})
        return response.status_code, response.json()["error"]["problem"]

    assert await problem({"bundle": "a" * 300}) == (
        422,
        f"bundle {'a' * 300!r} cannot be opened: File name too long",
    )
    loop = tmp_path / "bundles" / "loop"
    loop.mkdir()
    (loop / "a").symlink_to(loop / "b")
    (loop / "b").symlink_to(loop / "a")
    assert await problem({"bundle": "loop"}) == (
        422,
        "bundle 'loop' cannot be opened: it holds a loop of links",
    )
    odd = tmp_path / "bundles" / "odd"
    shutil.copytree(folder, odd)
    metrics = pd.read_csv(odd / "metrics.csv.gz")
    metrics["time"] = metrics["time"].astype(object)
    metrics.loc[50, "time"] = "yesterday"
    metrics.to_csv(odd / "metrics.csv.gz", index=False)
    assert await problem({"bundle": "odd"}) == (
        422,
        "metrics: column 'time', data row 51: 'yesterday' is not an ISO 8601 time"
        " (or is out of range)",
    )
    later = {"start": "2030-01-01T00:00:00Z", "end": "2030-01-01T00:05:00Z"}
    code, text = await problem({"bundle": "cpu-hog", **later})
    assert code == 422
    assert text.startswith("no telemetry at or after the start 2030-01-01 00:00:00Z (its last")
    # The same instant written in another zone is the same analysis.
    shifted = {
        "start": BOUNDARY.astimezone(timezone(timedelta(hours=9))).isoformat(),
        "end": END.isoformat(),
    }
    one = await api.post("/api/v1/analyze", json={"bundle": "cpu-hog", **WINDOW})
    two = await api.post("/api/v1/analyze", json={"bundle": "cpu-hog", **shifted})
    assert one.json() == two.json()
    naive = {"start": BOUNDARY.replace(tzinfo=None).isoformat(), "end": END.isoformat()}
    refused = await api.post("/api/v1/analyze", json={"bundle": "cpu-hog", **naive})
    assert refused.json()["error"]["field"] == "body.start"  # as in the query: with a zone
    number = await api.post("/api/v1/analyze", json={"bundle": "cpu-hog", **WINDOW, "end": 1e9})
    assert number.json()["error"]["field"] == "body.end"  # ISO 8601, not Unix seconds


async def test_http_analyze_reads_the_tar_not_a_zip_inside_it(
    api: httpx.AsyncClient, folder: Path, tmp_path: Path
) -> None:
    """A plain tar whose last member is a zip file ends like a zip archive: the format is
    told by the start of the body, so the tar's own tables are analysed."""
    inner = tmp_path / "inner"
    inner.mkdir()
    (inner / "metrics.csv").write_text("time,service,instance,metric,value\n")
    packed = tmp_path / "packed"
    shutil.copytree(folder, packed / "cpu-hog")
    (packed / "cpu-hog" / "zz-last-week.zip").write_bytes(_archive(inner, "zip"))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(packed / "cpu-hog", arcname="cpu-hog")
    response = await api.post(
        "/api/v1/analyze",
        params=WINDOW,
        content=buffer.getvalue(),
        headers={"content-type": "application/x-tar"},
    )
    assert _top(response) == ("api", "cpu")


def test_infinite_values_are_missing_not_nan_scores(folder: Path, tmp_path: Path) -> None:
    bundle = build_bundle(Fault(cpu_hog="api"))
    spans = bundle.spans.copy()
    spans.loc[spans["start"] < BOUNDARY, "duration"] = float("inf")
    broken = TelemetryBundle.build(
        metrics=bundle.metrics, logs=bundle.logs, spans=spans, edges=bundle.edges
    )
    assert not broken.spans.loc[broken.spans["start"] < BOUNDARY, "duration"].notna().any()
    result = analyze_bundle(broken, BOUNDARY)
    assert all(math.isfinite(c.score) for c in result.causes)
    assert all(math.isfinite(e.strength) for e in result.evidence)
    json.dumps(result.model_dump(mode="json"), allow_nan=False)  # what the API answers


def test_cli_analyze_refuses_a_bad_time(folder: Path) -> None:
    result = CliRunner().invoke(
        _cli(), ["analyze", str(folder), "--start", "yesterday", "--end", END.isoformat()]
    )
    assert result.exit_code == 2
    assert "--start" in result.output
    assert "ISO 8601" in result.output


def test_describe_lists_scored_causes_with_their_evidence() -> None:
    result = analyze_bundle(build_bundle(Fault(cpu_hog="api")), BOUNDARY)
    text = describe(result)
    lines = text.splitlines()
    assert lines[0].startswith("1. api: cpu (score ")
    assert lines[1].strip().startswith("api is a likely cpu fault")
    assert any(line.strip().startswith("- metric_anomaly cpu_usage(%) (up ") for line in lines)
    unscored = [c.service for c in result.causes if c.score <= 0]
    assert unscored  # the other services of the bundle
    assert lines[-1] == "Also looked at, nothing left once explained: " + ", ".join(unscored)
    empty = describe(analyze_bundle(TelemetryBundle(), BOUNDARY))
    assert empty.startswith("No root cause found")
