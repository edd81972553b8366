"""Detection settings: nested under `detection`, YAML and env, validated on load."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from vigil.platform import load_settings
from vigil.platform.detection_settings import DetectionSettings, LogWatch, MetricWatch


def test_defaults_watch_nothing() -> None:
    settings = load_settings()
    assert settings.detection == DetectionSettings()
    assert not settings.detection.enabled


def test_yaml_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "vigil.yaml"
    config.write_text(
        "detection:\n"
        "  prometheus_url: http://prometheus:9090\n"
        "  metrics:\n"
        "    - name: checkout-latency\n"
        "      query: 'histogram_quantile(0.99, rate(http_seconds_bucket[5m]))'\n"
        "      slo_relevant: true\n"
        "      capacity_threshold: 2.0\n"
        "  logs:\n"
        "    - {service: checkout, path: /var/log/checkout.log}\n"
    )
    monkeypatch.setenv("VIGIL_DETECTION__INTERVAL_SECONDS", "15")
    detection = load_settings(config).detection
    assert detection.enabled
    assert detection.interval_seconds == 15
    (watch,) = detection.metrics
    assert (watch.slo_relevant, watch.capacity_threshold, watch.step_seconds) == (True, 2.0, 60)
    assert watch.gates.min_history == 288
    assert detection.logs[0].key == "checkout|file:/var/log/checkout.log"


def test_invalid_configurations_are_refused() -> None:
    watch = MetricWatch(name="a", query="up")
    with pytest.raises(ValidationError, match="need `prometheus_url`"):
        DetectionSettings(metrics=[watch])
    with pytest.raises(ValidationError, match="unique"):
        DetectionSettings(prometheus_url="http://p", metrics=[watch, watch])
    with pytest.raises(ValidationError, match="exactly one of"):
        LogWatch(service="checkout")
    with pytest.raises(ValidationError, match="need `loki_url`"):
        DetectionSettings(logs=[LogWatch(service="c", loki_selector='{app="c"}')])
    with pytest.raises(ValidationError, match="unknown time zone 'Mars/Olympus'"):
        LogWatch(service="c", path=Path("/var/log/c.log"), timezone="Mars/Olympus")
    assert LogWatch(service="c", path=Path("/x"), timezone="Europe/Berlin").zone.key == (
        "Europe/Berlin"
    )
    slow = MetricWatch(name="daily", query="up", step_seconds=3600)
    with pytest.raises(ValidationError, match="at least twice the step of watch 'daily'"):
        DetectionSettings(prometheus_url="http://p", metrics=[slow])
    DetectionSettings(prometheus_url="http://p", metrics=[slow], series_idle_seconds=7200)
