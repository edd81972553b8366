"""Analyse a bundle folder through the CLI command and the HTTP endpoint."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import typer
from fastapi import FastAPI
from typer.testing import CliRunner

from tests.scenarios.rca_bundles import BOUNDARY, END, Fault, build_bundle
from vigil.interfaces.api.analyze import router
from vigil.interfaces.cli.rca import register
from vigil.telemetry import write_bundle_folder


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
    bad = CliRunner().invoke(_cli(), ["eval", "rca", "--dataset", "other", "--path", "."])
    assert bad.exit_code == 2


async def test_http_analyze(folder: Path) -> None:
    app = FastAPI()
    app.include_router(router)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        body = {"bundle": str(folder), "start": BOUNDARY.isoformat(), "end": END.isoformat()}
        response = await client.post("/api/v1/analyze", json=body)
        missing = await client.post("/api/v1/analyze", json={**body, "bundle": str(folder / "x")})
        backwards = await client.post("/api/v1/analyze", json={**body, "end": body["start"]})
    assert response.status_code == 200
    causes = response.json()["causes"]
    assert (causes[0]["service"], causes[0]["kind"]) == ("api", "cpu")
    assert response.json()["evidence"]
    assert missing.status_code == 404
    assert backwards.status_code == 422
