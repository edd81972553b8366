"""Composition root: the pipeline order, and a runtime built from settings."""

from __future__ import annotations

from vigil.pipeline.catalog import ServiceCatalog
from vigil.platform import IdFactory, SystemClock, load_settings
from vigil.wiring import build_runtime, build_sequence


def test_pipeline_order() -> None:
    sequence = build_sequence(load_settings(), ServiceCatalog(), IdFactory(SystemClock()))
    names = [stage.name for stage in sequence.stages]
    assert names == ["validate", "dedup", "enrich", "classify", "silence", "store", "correlate"]
    assert [s.name for s in sequence.stages if s.transactional] == ["dedup", "store", "correlate"]


def test_runtime_uses_the_settings() -> None:
    settings = load_settings(database_url="sqlite:///:memory:", default_tenant="acme")
    runtime = build_runtime(settings)
    assert runtime.settings is settings
    assert runtime.db.is_sqlite
    assert isinstance(runtime.clock, SystemClock)
    assert "alertmanager" in runtime.sources
