"""Log evidence: drain3 templates per service, new templates and rate shifts vs baseline.

Messages are cut to their first tokens and masked (free-standing numbers, hex ids, UUIDs;
a number glued to a word such as ``Impl#372`` is kept, since it names the log statement),
then de-duplicated so drain3 only sees distinct shapes, which keeps mining fast.

Per service, a template's share of the service's requests (spans) in the window is
compared with its baseline share (binomial z), so a change in overall load does not look
like an anomaly; a template never seen in the baseline counts as fully new. Error and
warning lines are joined to spans by trace and span id, so the evidence names the
operation that logged them. Lines that stop following their usual predecessor are found
by :mod:`vigil.analysis.log_sequence`.
"""

from __future__ import annotations

import re
from datetime import datetime

import numpy as np
import pandas as pd
from drain3 import TemplateMiner
from drain3.template_miner_config import TemplateMinerConfig

from vigil.analysis.evidence import Evidence, evidence_id
from vigil.analysis.log_sequence import sequence_evidence

__all__ = ["log_evidence", "mine_templates"]

MIN_LINES = 5
MAX_TOKENS = 12
MIN_STRENGTH = 2.0
_MASK = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|\b[0-9a-fA-F]{12,}\b|(?<![#\w])\d+(\.\d+)?"
)
_ERROR_LEVELS = {"error", "warn"}


def mine_templates(services: pd.Series, messages: pd.Series) -> pd.Series:
    """The drain3 template (prefixed with the service) of each message."""
    config = TemplateMinerConfig()
    config.profiling_enabled = False
    # Keep tokens such as ``Impl#372`` literal: the line number names the log statement.
    config.parametrize_numeric_tokens = False
    # Depth 5 puts the service and the message's first token (often the logger location)
    # on the tree path, so lines of different log statements are never merged.
    config.drain_depth = 5
    miner = TemplateMiner(config=config)
    text = messages.astype(str)
    distinct = pd.Series(pd.unique(text), dtype=object)
    # Only the first MAX_TOKENS tokens: a statement's identity is in its head, while a
    # variable-length tail (lists, dumps) would otherwise split one statement in many.
    heads = distinct.str.split(n=MAX_TOKENS).str[:MAX_TOKENS].str.join(" ")
    shapes = dict(zip(distinct, heads.str.replace(_MASK, "<*>", regex=True), strict=True))
    masked = text.map(shapes)
    # A unit separator, not NUL: pandas 2 drops NUL when it concatenates strings.
    keys = services.astype(str) + "\x1f" + masked
    templates: dict[str, str] = {}
    for key in pd.unique(keys):
        service, shape = str(key).split("\x1f", 1)
        cluster = miner.add_log_message(f"{service} {shape}")
        templates[str(key)] = str(cluster["cluster_id"])
    ids = keys.map(templates)
    # Resolve to each cluster's final template (clusters generalise as lines arrive).
    final = {str(c.cluster_id): c.get_template() for c in miner.drain.clusters}
    return ids.map(final).fillna("")


def _units(lines: pd.DataFrame) -> pd.DataFrame:
    """One row per (span, template): a request logging a line ten times counts once.

    Lines come in bursts per request, so counting lines overstates the evidence; lines
    without span ids count individually.
    """
    keyed = lines["trace_id"] + ":" + lines["span_id"]
    unit = keyed.where(lines["span_id"] != "", pd.Series(lines.index.astype(str), lines.index))
    return lines.assign(unit=unit).drop_duplicates(["is_window", "unit", "template"])


def _template_shifts(units: pd.DataFrame) -> pd.DataFrame:
    """Per (service, template): baseline/window counts and the binomial z of the share."""
    counts = units.groupby(["service", "template", "is_window"]).size().unstack(fill_value=0)
    counts = counts.reindex(columns=[False, True], fill_value=0).rename(
        columns={False: "b", True: "w"}
    )
    totals = units.groupby(["service", "is_window"])["unit"].nunique().unstack(fill_value=0)
    totals = totals.reindex(columns=[False, True], fill_value=0)
    level = counts.index.get_level_values("service")
    base_total = totals[False].reindex(level).to_numpy(dtype=float)
    win_total = totals[True].reindex(level).to_numpy(dtype=float)
    share = (counts["b"] + 0.5) / (base_total + 1.0)
    expected = share * win_total
    counts["z"] = (counts["w"] - expected) / np.sqrt(expected * (1.0 - share) + 1.0)
    eligible = (base_total >= MIN_LINES) & (win_total >= 1)
    counts["tests"] = counts.groupby(level="service")["z"].transform("size")
    return counts[eligible & (counts["z"].abs() >= MIN_STRENGTH)]


def _shift_evidence(shifts: pd.DataFrame, window: pd.DataFrame) -> list[Evidence]:
    keys = ["service", "template"]
    facts = window.groupby(keys).agg(
        onset=("time", "min"),
        operation=("operation", "first"),
        error=("level", lambda levels: bool(levels.isin(_ERROR_LEVELS).any())),
    )
    found = []
    joined = shifts.join(facts, how="left").reset_index()
    for row in joined.to_dict("records"):
        service, template = str(row["service"]), str(row["template"])
        z = float(row["z"])
        onset = row["onset"]
        error = row["error"]
        is_error = z > 0 and isinstance(error, bool | np.bool_) and bool(error)
        found.append(
            Evidence(
                id=evidence_id("log", service, template),
                service=service,
                kind="error_log" if is_error else "log_pattern",
                signal=template[:200],
                strength=abs(z),
                direction="up" if z > 0 else "down",
                onset=None if pd.isna(onset) else onset.to_pydatetime(warn=False),
                details={
                    "baseline_count": float(row["b"]),
                    "window_count": float(row["w"]),
                    "new": "yes" if row["b"] == 0 else "no",
                    "tests": float(row["tests"]),
                    "operation": "" if pd.isna(row["operation"]) else str(row["operation"]),
                },
            )
        )
    return found


def log_evidence(
    logs: pd.DataFrame,
    reference: pd.DataFrame | None,
    spans: pd.DataFrame,
    boundary: datetime,
) -> list[Evidence]:
    """Template evidence per service; baseline = reference logs + pre-boundary logs."""
    moment = pd.Timestamp(boundary)
    frames = [logs.assign(is_window=logs["time"] >= moment)]
    if reference is not None and not reference.empty:
        frames.append(reference.assign(is_window=False))
    data = pd.concat(frames, ignore_index=True)
    if data.empty or not data["is_window"].any():
        return []
    data["template"] = mine_templates(data["service"], data["message"]).to_numpy()
    operations = spans.drop_duplicates(["trace_id", "span_id"]).set_index(["trace_id", "span_id"])
    keys = pd.MultiIndex.from_arrays([data["trace_id"], data["span_id"]])
    data["operation"] = operations["operation"].reindex(keys).fillna("").to_numpy()
    units = _units(data)
    found = _shift_evidence(_template_shifts(units), data[data["is_window"]])
    return found + _sequences(units)


def _sequences(units: pd.DataFrame) -> list[Evidence]:
    """Missing-line evidence per service, on integer codes (no per-group frame copies)."""
    with_ids = ((units["span_id"] != "") & (units["trace_id"] != "")).to_numpy()
    span_codes = pd.factorize(units["trace_id"] + ":" + units["span_id"])[0]
    span_codes = np.where(with_ids, span_codes, -1)
    template_codes, names = pd.factorize(units["template"])
    in_window = units["is_window"].to_numpy(dtype=bool)
    found: list[Evidence] = []
    for service, rows in sorted(units.groupby("service").indices.items()):
        base_lines = int((~in_window[rows]).sum())
        if base_lines >= MIN_LINES:
            found += sequence_evidence(
                str(service),
                span_codes[rows],
                template_codes[rows],
                in_window[rows],
                np.asarray(names, dtype=object),
            )
    return found
