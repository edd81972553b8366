"""Log template mining: header split, masking, drain3 clustering and low-cardinality refinement.

A line goes through four steps. (1) The source's header format, when configured, splits
off timestamp, level and component (:mod:`vigil.analysis.log_format`). (2) The content's
variables are masked by regular expressions (:mod:`vigil.analysis.log_masking`) inside a
``drain3.TemplateMiner`` built from an in-memory config. (3) Drain clusters the masked
tokens (:class:`~vigil.analysis.log_drain.MaskAwareDrain`). (4) Drain merges messages that
differ in one word (``VM Started`` / ``VM Paused``); a wildcard position that has taken at
most ``max_constant_values`` distinct plain words is treated as part of the template, so
the key of a line is its cluster plus the words at those positions. A position that shows
more values, or any masked token, is a variable for good. Keys therefore only ever get
coarser as more lines arrive; :meth:`LogTemplateMiner.resolve` re-keys an earlier match
with what has been learnt since. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from drain3 import TemplateMiner
from drain3.masking import MaskingInstruction
from drain3.template_miner_config import TemplateMinerConfig
from pydantic import BaseModel, ConfigDict, Field

from vigil.analysis.log_drain import DrainState, MaskAwareDrain, drain_state, restore_drain
from vigil.analysis.log_format import LogFormat, ParsedLine
from vigil.analysis.log_masking import DEFAULT_MASKS, MASK, MaskRule, strip_annotations

__all__ = ["LogTemplateMiner", "MinerSettings", "MinerState", "TemplateMatch"]

_KEY_SEPARATOR = "\x1f"


class MinerSettings(BaseModel):
    """Per-source template mining settings (drain3 names in the descriptions)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    log_format: str | None = Field(default=None, description="header format with <Content>")
    masks: tuple[MaskRule, ...] = DEFAULT_MASKS
    sim_th: float = Field(default=0.5, ge=0.0, le=1.0, description="drain sim_th")
    depth: int = Field(default=4, ge=3, description="drain depth")
    max_children: int = Field(default=100, ge=2, description="drain max_children")
    max_clusters: int | None = Field(default=10_000, ge=1, description="LRU bound; None = off")
    extra_delimiters: tuple[str, ...] = ()
    max_constant_values: int = Field(default=3, ge=0, description="0 turns refinement off")
    strip_annotations: bool = True


@dataclass(frozen=True, slots=True)
class TemplateMatch:
    """Which template a message belongs to, as known when it was matched."""

    cluster_id: int
    key: str
    template: str
    tokens: tuple[str, ...]
    new_cluster: bool = False


class MinerState(BaseModel):
    """A JSON-able snapshot of a :class:`LogTemplateMiner`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    settings: MinerSettings
    drain: DrainState
    positions: dict[int, dict[int, list[str] | None]]


def _config(settings: MinerSettings) -> TemplateMinerConfig:
    config = TemplateMinerConfig()
    config.profiling_enabled = False
    config.drain_sim_th = settings.sim_th
    config.drain_depth = settings.depth
    config.drain_max_children = settings.max_children
    config.drain_max_clusters = settings.max_clusters
    config.drain_extra_delimiters = list(settings.extra_delimiters)
    config.mask_prefix, config.mask_suffix = MASK[0], MASK[-1]
    # Every rule masks with ``<*>``: Drain's own wildcard, so masked and learnt variables
    # look alike in templates and the similarity treats them the same way.
    config.masking_instructions = [
        MaskingInstruction(m.pattern, MASK[1:-1]) for m in settings.masks
    ]
    return config


def _copy_positions(
    positions: dict[int, dict[int, list[str] | None]],
) -> dict[int, dict[int, list[str] | None]]:
    return {
        cluster: {p: None if words is None else list(words) for p, words in slots.items()}
        for cluster, slots in positions.items()
    }


class LogTemplateMiner:
    """Streaming template miner for one log source (not thread-safe)."""

    def __init__(self, settings: MinerSettings | None = None) -> None:
        self.settings = settings or MinerSettings()
        self._format = LogFormat(self.settings.log_format)
        config = _config(self.settings)
        self._miner = TemplateMiner(config=config)
        self._drain = MaskAwareDrain(
            depth=config.drain_depth,
            sim_th=config.drain_sim_th,
            max_children=config.drain_max_children,
            max_clusters=config.drain_max_clusters,
            extra_delimiters=config.drain_extra_delimiters,
            param_str=MASK,
        )
        self._miner.drain = self._drain
        # cluster id -> wildcard position -> distinct words seen (None: a variable).
        self._positions: dict[int, dict[int, list[str] | None]] = {}
        # cluster id -> its template after the last message (to see what Drain generalised).
        self._templates: dict[int, tuple[str, ...]] = {}

    @property
    def cluster_count(self) -> int:
        """How many drain clusters are held."""
        return len(self._drain.id_to_cluster)

    def parse(self, line: str) -> ParsedLine:
        """Header fields and content of a raw line (per the configured format)."""
        return self._format.split(line)

    def add(self, content: str) -> TemplateMatch:
        """Mine one message content (without header) and return its template."""
        if self.settings.strip_annotations:
            content = strip_annotations(content)
        masked = self._miner.masker.mask(content)
        tokens = tuple(self._drain.get_content_as_tokens(masked))
        cluster, change = self._drain.add_log_message(masked)
        self._learn(cluster.cluster_id, tokens)
        return self._match(cluster.cluster_id, tokens, change == "cluster_created")

    def add_line(self, line: str) -> TemplateMatch:
        """Split the header off a raw line and mine its content."""
        return self.add(self.parse(line).content)

    def resolve(self, match: TemplateMatch) -> TemplateMatch:
        """``match`` re-keyed with everything learnt since (for batch use)."""
        return self._match(match.cluster_id, match.tokens, match.new_cluster)

    def snapshot(self) -> MinerState:
        """Everything learnt, as plain data (safe to store and to load back)."""
        return MinerState(
            settings=self.settings,
            drain=drain_state(self._drain),
            positions=_copy_positions(self._positions),
        )

    @classmethod
    def restore(cls, state: MinerState) -> LogTemplateMiner:
        """A miner that continues from ``state``."""
        miner = cls(state.settings)
        restore_drain(miner._drain, state.drain)
        miner._positions = _copy_positions(state.positions)
        miner._templates = {c.cluster_id: c.tokens for c in state.drain.clusters}
        return miner

    def _learn(self, cluster_id: int, tokens: tuple[str, ...]) -> None:
        """Record the words seen at the cluster's wildcard positions."""
        template = self._drain.id_to_cluster[cluster_id].log_template_tokens
        before = self._templates.get(cluster_id)
        self._templates[cluster_id] = template
        limit = self.settings.max_constant_values
        if limit == 0:
            return
        positions = self._positions.setdefault(cluster_id, {})
        for position, (slot, token) in enumerate(zip(template, tokens, strict=True)):
            if slot != MASK:
                continue
            if position not in positions:
                # Newly generalised: every earlier line had the old template's word here.
                old = before[position] if before is not None else token
                positions[position] = None if MASK in old else [old]
            values = positions[position]
            if values is None or token in values:
                continue
            values.append(token)
            if MASK in token or len(values) > limit:
                positions[position] = None
        self._forget_evicted()

    def _forget_evicted(self) -> None:
        """Drop word statistics of clusters drain3's LRU bound has evicted."""
        if len(self._templates) <= 2 * max(self.cluster_count, 1):
            return
        alive = self._drain.id_to_cluster
        self._positions = {c: s for c, s in self._positions.items() if c in alive}
        self._templates = {c: t for c, t in self._templates.items() if c in alive}

    def rekey(self, cluster_id: int, tokens: Sequence[str]) -> tuple[str, str]:
        """The current key and template of a message (or template) of ``cluster_id``.

        ``tokens`` may be the masked message or the template a match reported earlier:
        only the words at the cluster's constant wildcard positions are read.
        """
        cluster = self._drain.id_to_cluster.get(cluster_id)
        template = list(cluster.log_template_tokens) if cluster is not None else list(tokens)
        words = []
        for position, values in sorted(self._positions.get(cluster_id, {}).items()):
            if values is not None and position < len(tokens) and tokens[position] != MASK:
                template[position] = tokens[position]
                words.append(tokens[position])
        return _KEY_SEPARATOR.join([str(cluster_id), *words]), " ".join(template)

    def _match(self, cluster_id: int, tokens: tuple[str, ...], new: bool) -> TemplateMatch:
        key, template = self.rekey(cluster_id, tokens)
        return TemplateMatch(cluster_id, key, template, tokens, new)
