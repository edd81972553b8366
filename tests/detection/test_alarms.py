"""Findings as Events: identity per series and detector, severity by strength, evidence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from vigil.analysis.anomaly import AnomalyScore, BaselineHealth
from vigil.analysis.forecast import CapacityForecast
from vigil.analysis.log_categories import ErrorCategory
from vigil.analysis.log_patterns import LogSignal
from vigil.detection.alarms import (
    DETECTOR_SOURCE,
    EventContext,
    forecast_event,
    log_event,
    metric_event,
    metric_severity,
)
from vigil.detection.series import MetricFinding
from vigil.events import EventStatus, EventType, Severity
from vigil.platform.detection_settings import MetricWatch

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
CTX = EventContext("default", NOW)
WATCH = MetricWatch(name="latency", query="shop_latency_ms", slo_relevant=True)
LABELS = {"__name__": "shop_latency_ms", "service": "checkout", "instance": "10.0.0.7:9100"}
SCORE = AnomalyScore(0.95, 100.0, 91.0, 109.0, 12.5, False, True)
HEALTH = BaselineHealth(240, 0.4, 0.1)


def _finding(kind: str = "raised", **changes: object) -> MetricFinding:
    fields: dict[str, object] = {
        "kind": kind, "ts": NOW.timestamp() - 30, "value": 140.0, "score": SCORE,
        "health": HEALTH,
    }  # fmt: skip
    fields.update(changes)
    return MetricFinding(**fields)  # type: ignore[arg-type]


def test_metric_anomaly_event_carries_evidence_a_human_can_check() -> None:
    event = metric_event(WATCH, LABELS, _finding(), CTX)
    assert (event.source, event.event_type, event.status) == (
        DETECTOR_SOURCE, EventType.ANOMALY, EventStatus.FIRING,
    )  # fmt: skip
    assert event.ts == NOW - timedelta(seconds=30)
    assert event.received_at == NOW
    assert (event.entity.service, event.entity.instance) == ("checkout", "10.0.0.7:9100")
    assert event.severity is Severity.CRITICAL
    assert event.title == (
        "latency on checkout: 140 is +12.5 robust sigmas from the expected 100 (band 91 .. 109)"
    )
    assert event.raw["expected"] == 100.0
    assert event.raw["band"] == [91.0, 109.0]
    assert event.raw["sigmas"] == 12.5
    assert event.raw["score"] == 0.95
    assert event.raw["baseline"] == {"history": 240, "volatility": 0.4, "variance_ratio": 0.1}
    assert event.labels["vigil_detector"] == "metric_anomaly"
    assert event.labels["service"] == "checkout"


def test_fingerprint_is_stable_per_series_and_ingest_id_per_occurrence() -> None:
    first = metric_event(WATCH, LABELS, _finding(), CTX)
    later = metric_event(WATCH, LABELS, _finding(ts=NOW.timestamp()), CTX)
    resolved = metric_event(WATCH, LABELS, _finding("resolved", ts=NOW.timestamp()), CTX)
    other = metric_event(WATCH, {**LABELS, "service": "search"}, _finding(), CTX)
    assert first.fingerprint == later.fingerprint == resolved.fingerprint != other.fingerprint
    assert len({first.ingest_id, later.ingest_id, resolved.ingest_id}) == 3
    assert metric_event(WATCH, LABELS, _finding(), CTX).ingest_id == first.ingest_id


def test_resolved_metric_event_says_how_it_ended() -> None:
    shifted = metric_event(WATCH, LABELS, _finding("resolved", level_shift=True), CTX)
    assert shifted.status is EventStatus.RESOLVED
    assert shifted.severity is Severity.INFO
    assert "settled at a new level" in shifted.title
    back = metric_event(WATCH, LABELS, _finding("resolved"), CTX)
    assert "back to normal" in back.title
    assert back.raw["level_shift"] is False


def test_service_falls_back_to_the_watch() -> None:
    watch = WATCH.model_copy(update={"service": "shop"})
    event = metric_event(watch, {"__name__": "x"}, _finding(), CTX)
    assert event.entity.service == "shop"


def test_metric_severity_by_strength() -> None:
    assert metric_severity(0.95, -9.0) is Severity.CRITICAL
    assert metric_severity(0.8, 9.0) is Severity.ERROR
    assert metric_severity(0.95, 5.5) is Severity.ERROR
    assert metric_severity(0.99, 3.5) is Severity.WARNING


def test_forecast_event_names_the_crossing_time() -> None:
    forecast = CapacityForecast(
        series_id="disk", threshold=90.0, direction="upper", as_of=NOW, warning=True,
        horizon=timedelta(hours=6), crossing_at=NOW + timedelta(hours=5), level=80,
        model="AutoETS", reason="upper 80% bound crosses 90 within 6h",
    )  # fmt: skip
    event = forecast_event(WATCH, LABELS, forecast, CTX)
    assert event.title == "latency on checkout: forecast above 90 by 2026-11-21 17:00Z"
    assert event.severity is Severity.ERROR
    assert event.raw["crossing_at"] == "2026-11-21T17:00:00Z"
    assert event.raw["detector"] == "capacity_forecast"
    assert event.fingerprint != metric_event(WATCH, LABELS, _finding(), CTX).fingerprint
    clear = forecast.model_copy(update={"warning": False, "reason": "stays clear"})
    assert forecast_event(WATCH, LABELS, clear, CTX).status is EventStatus.RESOLVED
    beyond = forecast.model_copy(update={"crossing_at": NOW, "horizon": None})
    assert (
        forecast_event(WATCH, LABELS, beyond, CTX).title == "latency on checkout: already above 90"
    )


def test_log_event_carries_template_rates_and_examples() -> None:
    signal = LogSignal(
        service="checkout", kind="rate_increase", template="payment failed for order <*>",
        template_key="k1", category=ErrorCategory.NONE, baseline_rate=0.5, window_rate=12.0,
        ratio=24.0, window_count=60, expected_count=2.5, p_value=1e-9, first_seen=NOW,
        examples=("payment failed for order 17", "payment failed for order 18"),
    )  # fmt: skip
    event = log_event("checkout|file:/var/log/c.log", signal, CTX, firing=True)
    assert event.title == (
        "checkout logs: rate 12/min vs 0.5/min (24x): payment failed for order <*>"
    )
    assert event.description == "payment failed for order 17\npayment failed for order 18"
    assert event.raw["template"] == "payment failed for order <*>"
    assert event.raw["examples"] == list(signal.examples)
    assert event.severity is Severity.WARNING
    calm = log_event("checkout|file:/var/log/c.log", signal, CTX, firing=False)
    assert calm.fingerprint == event.fingerprint
    assert calm.status is EventStatus.RESOLVED


def test_log_drop_event_states_rates_before_and_after_and_the_last_line() -> None:
    signal = LogSignal(
        service="checkout", kind="rate_decrease", template="request served <*> in <*>",
        template_key="k1", category=ErrorCategory.NONE, baseline_rate=20.0, window_rate=0.0,
        ratio=0.0, window_count=0, expected_count=100.0, p_value=3.7e-44, first_seen=NOW,
        examples=("request served /cart in 12ms",), last_seen=NOW - timedelta(minutes=5),
    )  # fmt: skip
    watch = "checkout|file:/var/log/c.log"
    event = log_event(watch, signal, CTX, firing=True)
    assert (
        event.title == "checkout logs: rate dropped to 0/min from 20/min: request served <*> in <*>"
    )
    assert event.description == (
        "Log lines of this template fell from 20/min (baseline) to 0/min over the last 5 min:"
        " 0 line(s) where about 100 were expected (Poisson p = 3.7e-44). Last seen at"
        f" {NOW - timedelta(minutes=5):%Y-%m-%d %H:%M:%S}Z; latest line(s):\n"
        "request served /cart in 12ms"
    )
    assert event.severity is Severity.WARNING
    rise = log_event(watch, signal.model_copy(update={"kind": "rate_increase"}), CTX, firing=True)
    assert event.fingerprint != rise.fingerprint  # a surge and a drop are separate alarms
    back = log_event(watch, signal, CTX, firing=False, current_rate=18.0)
    assert (back.fingerprint, back.status, back.severity) == (
        event.fingerprint,
        EventStatus.RESOLVED,
        Severity.INFO,
    )
    assert back.title.startswith("checkout logs: rate back to 18/min after a drop from 20/min")
    assert back.raw["current_rate"] == 18
    gone = log_event(watch, signal, CTX, firing=False)
    assert gone.title.startswith("checkout logs: quiet since ")
