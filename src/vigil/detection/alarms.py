"""Detector findings as canonical Events (source `vigil.detector`, type `anomaly`): a title
a human can check, severity by strength, a fingerprint stable per series and detector,
and the evidence in `raw`. Pure: the time of the pass is passed in."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from vigil.analysis.forecast import CapacityForecast
from vigil.analysis.log_patterns import LogSignal
from vigil.detection.series import MetricFinding
from vigil.events import Entity, Event, EventStatus, EventType, Severity
from vigil.events.fingerprint import fingerprint_labels, ingest_id
from vigil.platform.detection_settings import MetricWatch

__all__ = [
    "DETECTOR_SOURCE",
    "RECOVERED_SHARE",
    "EventContext",
    "RetiredAlarm",
    "forecast_event",
    "gone_event",
    "log_event",
    "log_labels",
    "metric_event",
    "retired_event",
    "series_fingerprint",
]

DETECTOR_SOURCE = "vigil.detector"
# A raised log drop is over once its template is back to this share of its earlier rate.
RECOVERED_SHARE = 0.5
_ENTITY_LABELS = ("cluster", "namespace", "pod", "host", "container", "instance", "region")


@dataclass(frozen=True, slots=True)
class EventContext:
    """Who the events belong to and when the pass that found them ran."""

    tenant_id: str
    now: datetime


def series_fingerprint(detector: str, watch: str, labels: dict[str, str]) -> str:
    """Identity of one series under one detector: repeats of its alarm fold together."""
    return fingerprint_labels({**labels, "vigil_detector": detector, "vigil_watch": watch})


def _when(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def _num(value: float | None) -> float | None:
    """JSON-safe number (no NaN or infinity), rounded for reading."""
    if value is None or not math.isfinite(value):
        return None
    return float(f"{value:.6g}")


def _entity(labels: dict[str, str], service: str | None) -> Entity:
    known = {name: labels[name][:255] for name in _ENTITY_LABELS if labels.get(name)}
    return Entity(service=service[:255] if service else None, **known)


def _event(
    ctx: EventContext,
    fingerprint: str,
    status: EventStatus,
    at: datetime,
    fields: dict[str, Any],
    occurrence: str | None = None,
) -> Event:
    """``occurrence`` (default: ``at``) names the alarm in the ingest id: the same alarm
    found again by a repeated pass is a duplicate, never a second event."""
    occurrence = occurrence or at.isoformat()
    return Event(
        tenant_id=ctx.tenant_id,
        source=DETECTOR_SOURCE,
        event_type=EventType.ANOMALY,
        ts=min(at, ctx.now),
        received_at=ctx.now,
        status=status,
        fingerprint=fingerprint,
        ingest_id=ingest_id(DETECTOR_SOURCE, fingerprint, status.value, occurrence),
        **fields,
    )


def metric_severity(score: float, sigmas: float) -> Severity:
    """Strength of a metric anomaly: how far out, and how surely unusual."""
    strength = abs(sigmas)
    if score >= 0.9 and strength >= 8:
        return Severity.CRITICAL
    return Severity.ERROR if strength >= 5 else Severity.WARNING


def _metric_title(watch: MetricWatch, where: str, finding: MetricFinding) -> str:
    s = finding.score
    if finding.kind == "raised":
        return (
            f"{watch.name} on {where}: {finding.value:.4g} is {s.sigmas:+.1f} robust sigmas"
            f" from the expected {s.expected:.4g} (band {s.low:.4g} .. {s.high:.4g})"
        )
    how = "settled at a new level" if finding.level_shift else "back to normal"
    return f"{watch.name} on {where}: {how} ({finding.value:.4g}, expected {s.expected:.4g})"


def _metric_evidence(
    watch: MetricWatch, labels: dict[str, str], finding: MetricFinding
) -> dict[str, Any]:
    s, h = finding.score, finding.health
    evidence: dict[str, Any] = {
        "detector": "metric_anomaly",
        "watch": watch.name,
        "query": watch.query,
        "series": labels,
        "at": _when(finding.ts).isoformat(),
        "value": _num(finding.value),
        "expected": _num(s.expected),
        "band": [_num(s.low), _num(s.high)],
        "sigmas": _num(s.sigmas),
        "score": _num(s.score),
        "level_shift": finding.level_shift,
        "change_point": bool(s.level_shift),
        "new_extreme": bool(s.new_extreme),
        "unusual_for_time": bool(s.unusual_for_time),
        "baseline": {
            "history": h.history,
            "volatility": _num(h.volatility),
            "variance_ratio": _num(h.variance_ratio),
        },
        "slo_relevant": watch.slo_relevant,
    }
    if finding.raised_at is not None:
        evidence["raised_at"] = _when(finding.raised_at).isoformat()
    return evidence


def metric_event(
    watch: MetricWatch, labels: dict[str, str], finding: MetricFinding, ctx: EventContext
) -> Event:
    """A raised metric anomaly, or its return to normal."""
    service = labels.get(watch.service_label) or watch.service
    s, h = finding.score, finding.health
    raised = finding.kind == "raised"
    description = (
        f"PromQL {watch.query!r}, series {labels}. Score {s.score:.2f}; baseline of"
        f" {h.history} points, volatility {h.volatility:.2f}, variance ratio"
        f" {h.variance_ratio:.2f}."
    )
    fields = {
        "entity": _entity(labels, service),
        "severity": metric_severity(s.score, s.sigmas) if raised else Severity.INFO,
        "title": _metric_title(watch, service or watch.name, finding)[:1024],
        "description": description,
        "labels": _labels(labels, "metric_anomaly", watch.name),
        "raw": _metric_evidence(watch, labels, finding),
    }
    fingerprint = series_fingerprint("metric_anomaly", watch.name, labels)
    status = EventStatus.FIRING if raised else EventStatus.RESOLVED
    return _event(ctx, fingerprint, status, _when(finding.ts), fields)


def gone_event(
    watch: MetricWatch,
    labels: dict[str, str],
    detector: str,
    last_seen: float | None,
    ctx: EventContext,
    *,
    idle: float,
) -> Event:
    """The end of a raised metric anomaly or capacity warning whose series stopped
    reporting (a pod gone, a label renamed): nothing will resolve it otherwise. It is
    dated when the series was judged gone (its last point plus ``idle`` seconds)."""
    service = labels.get(watch.service_label) or watch.service
    where = service or watch.name
    last = f"{_when(last_seen):%Y-%m-%d %H:%M:%S}Z" if last_seen is not None else "unknown"
    fields = {
        "entity": _entity(labels, service),
        "severity": Severity.INFO,
        "title": f"{watch.name} on {where}: series gone (no data since {last}); closed"[:1024],
        "description": (
            f"PromQL {watch.query!r}, series {labels}: no point for {idle:g} s, so this"
            " series is no longer watched and what was raised on it is closed."
        ),
        "labels": _labels(labels, detector, watch.name),
        "raw": {
            "detector": detector,
            "watch": watch.name,
            "query": watch.query,
            "series": labels,
            "gone": True,
            "last_seen": _when(last_seen).isoformat() if last_seen is not None else None,
        },
    }
    at = _when(last_seen + idle) if last_seen is not None else ctx.now
    fingerprint = series_fingerprint(detector, watch.name, labels)
    return _event(ctx, fingerprint, EventStatus.RESOLVED, at, fields)


@dataclass(frozen=True, slots=True)
class RetiredAlarm:
    """A raised alarm that no watch looks at any more; ``occurrence`` names it, so that a
    repeated pass finds the same closing event."""

    detector: str
    watch: str
    labels: dict[str, str]
    service: str | None
    occurrence: str | None


def retired_event(ctx: EventContext, alarm: RetiredAlarm, reason: str) -> Event:
    """The end of an alarm that no watch looks at any more (its watch was removed or
    renamed, or its series is beyond a lowered ``max_series``): nothing would resolve it
    otherwise, and its incident would stay open."""
    detector, watch, labels = alarm.detector, alarm.watch, alarm.labels
    title = f"{watch} on {alarm.service or watch}: no longer watched ({reason}); closed"
    fields = {
        "entity": _entity(labels, alarm.service),
        "severity": Severity.INFO,
        "title": title[:1024],
        "description": (
            f"Series {labels} of the {detector} watch {watch!r} is no longer watched"
            f" ({reason}), so what was raised on it is closed."
        ),
        "labels": _labels(labels, detector, watch[:255]),
        "raw": {"detector": detector, "watch": watch, "series": labels, "retired": reason},
    }
    fingerprint = series_fingerprint(detector, watch, labels)
    return _event(ctx, fingerprint, EventStatus.RESOLVED, ctx.now, fields, alarm.occurrence)


def _labels(labels: dict[str, str], detector: str, watch: str) -> dict[str, str]:
    out = {k[:255]: v for k, v in labels.items() if k}
    out.update(vigil_detector=detector, vigil_watch=watch)
    return out


def forecast_severity(forecast: CapacityForecast) -> Severity:
    """Sooner is worse: already beyond, within 6 h, later."""
    if forecast.horizon is None or forecast.horizon.total_seconds() == 0:
        return Severity.CRITICAL
    return Severity.ERROR if forecast.horizon.total_seconds() <= 6 * 3600 else Severity.WARNING


def forecast_event(
    watch: MetricWatch, labels: dict[str, str], forecast: CapacityForecast, ctx: EventContext
) -> Event:
    """A capacity warning (the forecast crosses the threshold), or its all-clear."""
    service = labels.get(watch.service_label) or watch.service
    where = service or watch.name
    side = "above" if forecast.direction == "upper" else "below"
    crossing = forecast.crossing_at
    if forecast.warning and crossing is not None and crossing <= forecast.as_of:
        title = f"{watch.name} on {where}: already {side} {forecast.threshold:g}"
    elif forecast.warning:
        when = f"{crossing:%Y-%m-%d %H:%M}Z" if crossing else "soon"
        title = f"{watch.name} on {where}: forecast {side} {forecast.threshold:g} by {when}"
    else:
        title = f"{watch.name} on {where}: forecast stays clear of {forecast.threshold:g}"
    evidence = {
        "detector": "capacity_forecast",
        "watch": watch.name,
        "query": watch.query,
        "series": labels,
        **forecast.model_dump(mode="json", exclude={"series_id"}),
    }
    fields = {
        "entity": _entity(labels, service),
        "severity": forecast_severity(forecast) if forecast.warning else Severity.INFO,
        "title": title[:1024],
        "description": forecast.reason,
        "labels": _labels(labels, "capacity_forecast", watch.name),
        "raw": evidence,
    }
    fingerprint = series_fingerprint("capacity_forecast", watch.name, labels)
    status = EventStatus.FIRING if forecast.warning else EventStatus.RESOLVED
    return _event(ctx, fingerprint, status, forecast.as_of, fields)


def log_severity(signal: LogSignal) -> Severity:
    """A new or surging error pattern is an error, any other new or surging pattern a
    warning; a steady line that stopped (e.g. requests no longer served) is a warning."""
    if signal.kind == "rate_decrease":
        return Severity.WARNING
    erroneous = signal.erroneous or signal.category.value != "none"
    return Severity.ERROR if erroneous else Severity.WARNING


def _rate(per_minute: float) -> str:
    return f"{per_minute:.3g}/min"


def _drop_text(signal: LogSignal, firing: bool, current_rate: float | None) -> tuple[str, str]:
    """Title head and description of a fall of a template's rate, or of its end."""
    before, after = _rate(signal.baseline_rate), _rate(signal.window_rate)
    minutes = signal.expected_count / signal.baseline_rate if signal.baseline_rate else 0.0
    last = f"{signal.last_seen:%Y-%m-%d %H:%M:%S}Z" if signal.last_seen else "unknown"
    if firing:
        head = f"rate dropped to {after} from {before}"
    elif current_rate is None:
        head = f"quiet since {last}, now taken as normal (was {before})"
    elif current_rate >= RECOVERED_SHARE * signal.baseline_rate:
        head = f"rate back to {_rate(current_rate)} after a drop from {before} to {after}"
    else:
        head = f"settled at {_rate(current_rate)}, now taken as normal (was {before})"
    description = (
        f"Log lines of this template fell from {before} (baseline) to {after} over the last"
        f" {minutes:.3g} min: {signal.window_count} line(s) where about"
        f" {signal.expected_count:.3g} were expected (Poisson p = {signal.p_value:.2g})."
        f" Last seen at {last}; latest line(s):"
    )
    return head, "\n".join([description, *signal.examples])


def log_labels(signal: LogSignal) -> dict[str, str]:
    """The labels that identify a log pattern's alarm (with its watch, its fingerprint)."""
    labels = {"service": signal.service, "template_key": signal.template_key[:255]}
    if signal.kind == "rate_decrease":
        labels["log_signal"] = "drop"  # its own alarm: a template can surge, recover, fall
    return labels


def log_event(
    watch_key: str,
    signal: LogSignal,
    ctx: EventContext,
    *,
    firing: bool,
    current_rate: float | None = None,
    occurrence: str | None = None,
) -> Event:
    """A log pattern that appeared or changed rate (firing), or that calmed down. For the
    end of a drop, `current_rate` (lines per minute) says whether it came back or settled
    lower; None that it stayed silent until no longer counted. `occurrence` names the
    raise (both its firing and its resolved event), so that a repeated pass, which runs
    at another time, finds the same events."""
    labels = log_labels(signal)
    description = "\n".join(signal.examples)
    if signal.kind == "rate_decrease":
        head, description = _drop_text(signal, firing, current_rate)
    elif signal.kind == "new_template":
        change = f"new pattern ({signal.window_count} lines)"
        head = change if firing else f"back to normal after {change}"
    else:
        change = (
            f"rate {_rate(signal.window_rate)} vs {_rate(signal.baseline_rate)}"
            f" ({signal.ratio:.3g}x)"
        )
        head = change if firing else f"back to normal after {change}"
    title = f"{signal.service} logs: {head}: {signal.template[:300]}"
    evidence = {"detector": "log_pattern", "watch": watch_key, **signal.model_dump(mode="json")}
    if current_rate is not None:
        evidence["current_rate"] = _num(current_rate)
    fields = {
        "entity": Entity(service=signal.service[:255]),
        "severity": log_severity(signal) if firing else Severity.INFO,
        "title": title[:1024],
        "description": description,
        "labels": _labels(labels, "log_pattern", watch_key[:255]),
        "raw": evidence,
    }
    fingerprint = series_fingerprint("log_pattern", watch_key, labels)
    status = EventStatus.FIRING if firing else EventStatus.RESOLVED
    at = signal.first_seen if signal.kind == "new_template" and firing else ctx.now
    return _event(ctx, fingerprint, status, at, fields, occurrence)
