"""Score the log template miner on Loghub-2k: grouping accuracy per system and lines/s.

Layout (``shared/datasets/loghub/README.md``): ``<System>/<System>_2k.log`` holds the raw
lines and ``<System>/<System>_2k.log_structured.csv`` their ground-truth ``EventId``. The
miner sees only the raw lines. The only per-system configuration is the header
format, taken from logpai/logparser's benchmark settings (Zhu et al., ICSE-SEIP 2019);
masking rules, ``sim_th``, ``depth`` and every other setting are the same for all
systems (logparser's per-system Drain ``sim_th``/``depth`` can be used instead, for
comparison), and the ground truth is read only to score.

Grouping accuracy (GA): a line counts as correct when the set of lines the parser put
with it is exactly the set of lines sharing its ground-truth event. Lines are mined in
file order as a stream; each line is then keyed with the miner's final knowledge
(:meth:`~vigil.analysis.log_templates.LogTemplateMiner.resolve`), as a batch parser would.
"""

from __future__ import annotations

import csv
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from vigil.analysis.log_templates import LogTemplateMiner, MinerSettings

__all__ = [
    "LOGPARSER_DRAIN",
    "LOG_FORMATS",
    "SystemResult",
    "evaluate_system",
    "grouping_accuracy",
    "read_system",
    "run_loghub",
    "system_settings",
]


# Header formats as in logpai/logparser's benchmark settings (the only per-system input).
LOG_FORMATS: dict[str, str] = {
    "HDFS": "<Date> <Time> <Pid> <Level> <Component>: <Content>",
    "Hadoop": r"<Date> <Time> <Level> \[<Process>\] <Component>: <Content>",
    "Spark": "<Date> <Time> <Level> <Component>: <Content>",
    "Zookeeper": r"<Date> <Time> - <Level>  \[<Node>:<Component>@<Id>\] - <Content>",
    "BGL": "<Label> <Timestamp> <Date> <Node> <Time> <NodeRepeat> <Type> <Component> <Level>"
    " <Content>",
    "HPC": "<LogId> <Node> <Component> <State> <Time> <Flag> <Content>",
    "Thunderbird": r"<Label> <Timestamp> <Date> <User> <Month> <Day> <Time> <Location>"
    r" <Component>(\[<PID>\])?: <Content>",
    "Windows": "<Date> <Time>, <Level>                  <Component>    <Content>",
    "Linux": r"<Month> <Date> <Time> <Level> <Component>(\[<PID>\])?: <Content>",
    "Android": "<Date> <Time>  <Pid>  <Tid> <Level> <Component>: <Content>",
    "HealthApp": r"<Time>\|<Component>\|<Pid>\|<Content>",
    "Apache": r"\[<Time>\] \[<Level>\] <Content>",
    "Proxifier": r"\[<Time>\] <Program> - <Content>",
    "OpenSSH": r"<Date> <Day> <Time> <Component> sshd\[<Pid>\]: <Content>",
    "OpenStack": r"<Logrecord> <Date> <Time> <Pid> <Level> <Component> \[<ADDR>\] <Content>",
    "Mac": r"<Month>  <Date> <Time> <User> <Component>\[<PID>\]( \(<Address>\))?: <Content>",
}

# logparser's per-system Drain (sim_th, depth), for comparison only (``tuned=True``);
# by default every system uses MinerSettings' sim_th 0.5 and depth 4.
LOGPARSER_DRAIN: dict[str, tuple[float, int]] = {
    "Windows": (0.7, 5),
    "Linux": (0.39, 6),
    "Android": (0.2, 6),
    "HealthApp": (0.2, 4),
    "Proxifier": (0.6, 3),
    "OpenSSH": (0.6, 5),
    "OpenStack": (0.5, 5),
    "Mac": (0.7, 6),
}


def system_settings(system: str, tuned: bool = False) -> MinerSettings:
    """The miner settings of a Loghub system: its header format (and logparser's Drain)."""
    if system not in LOG_FORMATS:
        raise ValueError(f"no log format for {system!r}; known: {sorted(LOG_FORMATS)}")
    settings = MinerSettings(log_format=LOG_FORMATS[system], max_clusters=None)
    if tuned:
        sim_th, depth = LOGPARSER_DRAIN.get(system, (0.5, 4))
        settings = settings.model_copy(update={"sim_th": sim_th, "depth": depth})
    return settings


class SystemResult(BaseModel):
    """The figures of one Loghub system."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    system: str
    lines: int
    templates: int
    truth_templates: int
    grouping_accuracy: float
    unsplit_lines: int
    seconds: float
    lines_per_second: float


def grouping_accuracy(truth: Sequence[str], predicted: Sequence[str]) -> float:
    """Share of lines whose predicted group is exactly their ground-truth group."""
    if len(truth) != len(predicted):
        raise ValueError(f"{len(truth)} ground-truth labels for {len(predicted)} lines")
    if not truth:
        return 0.0
    truth_sizes = Counter(truth)
    groups: dict[str, list[str]] = defaultdict(list)
    for label, group in zip(truth, predicted, strict=True):
        groups[group].append(label)
    correct = 0
    for labels in groups.values():
        first = labels[0]
        if truth_sizes[first] == len(labels) and all(label == first for label in labels):
            correct += len(labels)
    return correct / len(truth)


def read_system(root: Path, system: str) -> tuple[list[str], list[str]]:
    """Raw lines and ground-truth event ids of ``root/<system>``."""
    folder = root / system
    text = (folder / f"{system}_2k.log").read_text(encoding="utf-8", errors="replace")
    lines = [line.rstrip("\r") for line in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    with (folder / f"{system}_2k.log_structured.csv").open(encoding="utf-8", newline="") as f:
        events = [row["EventId"] for row in csv.DictReader(f)]
    if len(lines) != len(events):
        raise ValueError(f"{system}: {len(lines)} log lines but {len(events)} labelled rows")
    return lines, events


def evaluate_system(
    system: str, lines: list[str], truth: list[str], settings: MinerSettings
) -> SystemResult:
    """Mine ``lines`` with ``settings`` and score the grouping against ``truth``."""
    miner = LogTemplateMiner(settings)
    started = time.perf_counter()
    unsplit = 0
    matches = []
    for line in lines:
        parsed = miner.parse(line)
        unsplit += not parsed.header
        matches.append(miner.add(parsed.content))
    keys = [miner.resolve(match).key for match in matches]
    seconds = time.perf_counter() - started
    return SystemResult(
        system=system,
        lines=len(lines),
        templates=len(set(keys)),
        truth_templates=len(set(truth)),
        grouping_accuracy=grouping_accuracy(truth, keys),
        unsplit_lines=unsplit,
        seconds=seconds,
        lines_per_second=len(lines) / seconds if seconds > 0 else 0.0,
    )


def run_loghub(
    root: Path, systems: Sequence[str] | None = None, tuned: bool = False
) -> dict[str, Any]:
    """Evaluate every known system present under ``root``; per-system rows and averages.

    ``tuned`` uses logparser's per-system Drain ``sim_th``/``depth`` instead of one setting.
    """
    names = [s for s in (systems or LOG_FORMATS) if (root / s).is_dir()]
    settings = {name: system_settings(name, tuned) for name in names}
    rows = [evaluate_system(name, *read_system(root, name), settings[name]) for name in names]
    total_lines = sum(r.lines for r in rows)
    total_seconds = sum(r.seconds for r in rows)
    average = sum(r.grouping_accuracy for r in rows) / len(rows) if rows else 0.0
    return {
        "systems": [r.model_dump() for r in rows],
        "average_grouping_accuracy": average,
        "settings": "logparser per-system sim_th/depth" if tuned else "uniform",
        "lines": total_lines,
        "lines_per_second": total_lines / total_seconds if total_seconds > 0 else 0.0,
    }
