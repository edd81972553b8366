"""Log pattern signals per service: new templates and template rate shifts, with examples.

:class:`LogPatternDetector` mines each service's lines with its own
:class:`~vigil.analysis.log_templates.LogTemplateMiner` (settings per service, or a
default) and counts them per template in a :class:`~vigil.analysis.log_rates.RateTracker`.
Counts are kept under the template a line had when it was observed; when the miner later
learns that a word position is a variable, :meth:`LogPatternDetector.signals` merges the
counts of the templates that now share a key, so a template becoming more general is
never mistaken for a new one. Lines reporting an HTTP status are counted per status class
(the template then ends ``[5xx]``): a 5xx surge is not a share of the 2xx. Each signal
carries the template, its baseline and window rates, their ratio, the error category,
whether it is an error at all, and a few example lines from the window (for a template
that went quiet, its latest lines and when the last one was seen). A new template that is
no error is signalled only once it has ``min_count`` lines in the window, and at most
``max_new`` new templates per service at a time (errors and the busiest first), so free
text in lines is not a storm. Pure: time is passed in; the detection service turns
signals into Events.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from vigil.analysis.log_categories import ErrorCategory, categorise, is_error_line
from vigil.analysis.log_masking import response_class
from vigil.analysis.log_rates import RateSettings, RateShift, RateState, RateTracker
from vigil.analysis.log_templates import (
    LogTemplateMiner,
    MinerSettings,
    MinerState,
    TemplateMatch,
)

__all__ = ["DetectorSettings", "DetectorState", "LogPatternDetector", "LogSignal", "SourceState"]

SignalKind = Literal["new_template", "rate_increase", "rate_decrease"]
_KINDS: dict[str, SignalKind] = {
    "new": "new_template",
    "increase": "rate_increase",
    "decrease": "rate_decrease",
}
_RAW_SEPARATOR = "\x1e"
_STATUS_SEPARATOR = "\x1d"  # between a template's key and its lines' status class


class DetectorSettings(BaseModel):
    """Mining settings per service (``default`` for the rest), rate test, examples kept."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    default: MinerSettings = MinerSettings()
    services: dict[str, MinerSettings] = Field(default_factory=dict)
    rates: RateSettings = RateSettings()
    examples: int = Field(default=3, ge=0)
    # New templates signalled per service at a time, errors and the busiest first: free
    # text in lines (search terms, user input) must not become a storm of "new" alarms.
    max_new: int = Field(default=10, ge=0)
    max_line_chars: int = Field(default=4096, ge=1)


class LogSignal(BaseModel):
    """A template of a service that is new or whose rate moved; rates are lines per minute."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    service: str
    kind: SignalKind
    template: str
    template_key: str
    category: ErrorCategory
    baseline_rate: float
    window_rate: float
    ratio: float
    window_count: int
    expected_count: float
    p_value: float
    first_seen: datetime
    examples: tuple[str, ...]
    last_seen: datetime | None = None  # of the latest example line
    as_of: datetime | None = None  # when the signal was computed
    erroneous: bool = False  # an error category, or an error by its level or shape


class SourceState(BaseModel):
    """One service's miner, counts and examples, as plain data."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    miner: MinerState
    rates: RateState
    examples: dict[str, list[tuple[float, str]]]


class DetectorState(BaseModel):
    """A JSON-able snapshot of a :class:`LogPatternDetector`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    settings: DetectorSettings
    sources: dict[str, SourceState]


@dataclass
class _Source:
    miner: LogTemplateMiner
    rates: RateTracker
    examples: dict[str, deque[tuple[float, str]]] = field(default_factory=dict)


def _raw_key(cluster_id: int, template: str, status: str | None) -> str:
    """What a line is counted under: its cluster and template, and the class of the HTTP
    status it reports (each class is counted apart, so a 5xx surge shows)."""
    key = f"{cluster_id}{_RAW_SEPARATOR}{template}"
    return f"{key}{_RAW_SEPARATOR}{status}" if status else key


def _seconds(moment: datetime) -> float:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


class LogPatternDetector:
    """Streaming log pattern detection for many services (not thread-safe)."""

    def __init__(self, settings: DetectorSettings | None = None) -> None:
        self.settings = settings or DetectorSettings()
        self._sources: dict[str, _Source] = {}

    def observe(self, ts: datetime, line: str, service: str) -> TemplateMatch:
        """Mine and count one raw line of ``service`` at ``ts``; returns its template.
        Only the first ``max_line_chars`` of a line count (the rest of a megabyte-long
        line is payload, which would cost the miner and the saved examples dearly)."""
        line = line[: self.settings.max_line_chars]
        source = self._source(service)
        match = source.miner.add_line(line)
        raw = _raw_key(match.cluster_id, match.template, response_class(line))
        moment = _seconds(ts)
        source.rates.add(raw, moment)
        if self.settings.examples:
            kept = source.examples.setdefault(raw, deque(maxlen=self.settings.examples))
            kept.append((moment, line))
        return match

    def signals(self, now: datetime, raised: Collection[str] = ()) -> list[LogSignal]:
        """New templates and rate shifts of every service at ``now``, strongest first.
        ``raised``: template keys already raised, which the ``max_new`` cap never drops
        (a raised new template pushed out by busier ones would look resolved)."""
        found: list[LogSignal] = []
        moment = _seconds(now)
        for service, source in sorted(self._sources.items()):
            groups, templates = self._groups(source)
            signals = [
                self._signal(service, source, shift, (groups, templates), moment)
                for shift in source.rates.shifts(moment, groups)
            ]
            found.extend(self._newsworthy(signals, raised))
        return sorted(found, key=lambda s: (s.p_value, s.service, s.template_key))

    def _newsworthy(self, signals: list[LogSignal], raised: Collection[str]) -> list[LogSignal]:
        """One service's signals, less the new templates that are not news: a new line
        that is no error needs ``min_count`` lines in the window (one odd line is not a
        pattern), and at most ``max_new`` new templates are kept, errors and the busiest
        first."""
        min_count = self.settings.rates.min_count
        new = [
            s
            for s in signals
            if s.kind == "new_template" and (s.erroneous or s.window_count >= min_count)
        ]
        kept = [s for s in new if s.template_key in raised]
        others = sorted(
            (s for s in new if s.template_key not in raised),
            key=lambda s: (not s.erroneous, -s.window_count, s.template_key),
        )
        rest = [s for s in signals if s.kind != "new_template"]
        return rest + kept + others[: max(0, self.settings.max_new - len(kept))]

    def window_rate(self, service: str, template_key: str, now: datetime) -> float | None:
        """Lines per minute of a template in the window at ``now``, or None when it is no
        longer counted (silent for the whole baseline horizon) or not known."""
        source = self._sources.get(service)
        if source is None:
            return None
        groups, _ = self._groups(source)
        return source.rates.window_rate(groups.get(template_key, []), _seconds(now))

    def snapshot(self) -> DetectorState:
        """Everything learnt and counted, as plain data (safe to store and load back)."""
        sources = {
            name: SourceState(
                miner=s.miner.snapshot(),
                rates=s.rates.snapshot(),
                examples={k: list(v) for k, v in s.examples.items()},
            )
            for name, s in self._sources.items()
        }
        return DetectorState(settings=self.settings, sources=sources)

    @classmethod
    def restore(cls, state: DetectorState) -> LogPatternDetector:
        """A detector that continues from ``state``."""
        detector = cls(state.settings)
        keep = state.settings.examples or None
        for name, saved in state.sources.items():
            detector._sources[name] = _Source(
                miner=LogTemplateMiner.restore(saved.miner),
                rates=RateTracker.restore(saved.rates),
                examples={k: deque(v, maxlen=keep) for k, v in saved.examples.items()},
            )
        return detector

    def _source(self, service: str) -> _Source:
        source = self._sources.get(service)
        if source is None:
            miner_settings = self.settings.services.get(service, self.settings.default)
            source = _Source(LogTemplateMiner(miner_settings), RateTracker(self.settings.rates))
            self._sources[service] = source
        return source

    def _groups(self, source: _Source) -> tuple[dict[str, list[str]], dict[str, str]]:
        """Counted templates grouped under their current key, and each key's template."""
        groups: dict[str, list[str]] = defaultdict(list)
        templates: dict[str, str] = {}
        for raw in source.rates.templates():
            cluster, template, *status = raw.split(_RAW_SEPARATOR)
            key, current = source.miner.rekey(int(cluster), template.split(" "))
            if status:
                key, current = f"{key}{_STATUS_SEPARATOR}{status[0]}", f"{current} [{status[0]}]"
            groups[key].append(raw)
            templates[key] = current
        # Examples of templates no longer counted are forgotten with them.
        for raw in set(source.examples) - {r for rs in groups.values() for r in rs}:
            del source.examples[raw]
        return dict(groups), templates

    def _signal(
        self,
        service: str,
        source: _Source,
        shift: RateShift,
        grouping: tuple[dict[str, list[str]], dict[str, str]],
        now: float,
    ) -> LogSignal:
        groups, templates = grouping
        rates = self.settings.rates
        window_start = now - rates.window_buckets * rates.bucket_seconds
        kept = sorted(m for raw in groups[shift.key] for m in source.examples.get(raw, ()))
        # The window's own lines; for a template that went quiet, its latest lines.
        recent = [(m, line) for m, line in kept if window_start <= m <= now] or kept
        examples = tuple(line for _, line in recent[-self.settings.examples :]) if recent else ()
        last_seen = datetime.fromtimestamp(kept[-1][0], tz=UTC) if kept else None
        template = templates[shift.key]
        category = categorise(template)
        if category is ErrorCategory.NONE and examples:
            category = categorise(examples[-1])
        erroneous = category is not ErrorCategory.NONE or is_error_line(template)
        return LogSignal(
            service=service,
            kind=_KINDS[shift.kind],
            template=template,
            template_key=shift.key,
            category=category,
            baseline_rate=shift.baseline_rate,
            window_rate=shift.window_rate,
            ratio=shift.ratio,
            window_count=shift.window_count,
            expected_count=shift.expected_count,
            p_value=shift.p_value,
            first_seen=datetime.fromtimestamp(shift.first_seen, tz=UTC),
            examples=examples,
            last_seen=last_seen,
            as_of=datetime.fromtimestamp(now, tz=UTC),
            erroneous=erroneous or any(is_error_line(line) for line in examples),
        )
