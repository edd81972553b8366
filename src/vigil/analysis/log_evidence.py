"""Log evidence: drain3 templates per service, new templates and rate shifts vs baseline.

Messages are cut to their first tokens and masked (free-standing numbers, hex ids, UUIDs;
a number glued to a word such as ``Impl#372`` is kept, since it names the log statement),
then de-duplicated so drain3 only sees distinct shapes, which keeps mining fast.

Per service, a template's share of the service's requests in the window is compared
with its baseline share (binomial z), so a change in overall load does not look like an
anomaly; a template never seen in the baseline counts as fully new. Four choices keep
common causes of false evidence (each seen on real data) out:

* **Requests, not log lines.** A unit is a request (the service's top-most span, see
  :mod:`vigil.analysis.call_context`), and requests that logged nothing count too (from
  the traces, in traces that logged anything), so an endpoint that now fails before its
  first log line shows as that line vanishing.
* **Per caller.** Shares are taken per caller and the expectations summed: a line logged
  for one caller's requests is compared with that caller's requests only, so a shift in
  the callers' mix does not look like a change inside the service, while a change every
  caller sees adds up as before. (Strata by endpoint as well were tried and dropped: an
  endpoint that fails before its first log line leaves nothing to compare within it.)
* **One statement, one template.** Lines that name their code location keep one
  template however their parameters vary (see :func:`_by_location`).
* **Recovery is not a fault.** An error or warning line that becomes rarer, or stops
  following its anchor, is recovery (often from the previous fault, still in the
  baseline) and yields no evidence.

Error and warning lines are joined to spans by trace and span id, so the evidence names
the operation that logged them. Lines that stop following their usual predecessor are
found by :mod:`vigil.analysis.log_sequence`.
"""

from __future__ import annotations

import re
from datetime import datetime

import numpy as np
import pandas as pd
from drain3 import TemplateMiner
from drain3.template_miner_config import TemplateMinerConfig

from vigil.analysis.call_context import ENTRY, span_context
from vigil.analysis.evidence import Evidence, evidence_id
from vigil.analysis.log_sequence import SequenceLines, sequence_evidence

__all__ = ["log_evidence", "mine_templates"]

MIN_LINES = 5
MAX_TOKENS = 12
MIN_STRENGTH = 2.0
_MASK = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|\b[0-9a-fA-F]{12,}\b|(?<![#\w])\d+(\.\d+)?"
)
_ERROR_LEVELS = {"error", "warn"}
# A first token naming a code location: ``pkg.Class#123`` (logback) or ``file.py:42``.
_LOCATION = re.compile(r"^(\S*[A-Za-z]\S*(?:#\d+|\.[A-Za-z]\w*:\d+))(?:\s|$)")


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
    return _by_location(services, text, ids.map(final).fillna(""))


def _by_location(services: pd.Series, messages: pd.Series, templates: pd.Series) -> pd.Series:
    """One template per log statement when the line names its code location.

    drain3 clusters by token count, so one statement whose parameters vary in length
    (a date with or without a time, a list) splits into several templates, and a shift
    in parameter values then reads as one template vanishing and another appearing.
    Lines that start with a code location (``SeatServiceImpl#137``, ``views.py:42``)
    name their statement, so all templates of one (service, location) become the most
    frequent of them.
    """
    location = messages.str.extract(_LOCATION, expand=False)
    located = location.notna()
    if not located.any():
        return templates
    keys = services.astype(str)[located] + "\x1f" + location[located]
    chosen = pd.DataFrame({"key": keys, "template": templates[located]})
    sizes = chosen.groupby(["key", "template"]).size().sort_values(ascending=False, kind="stable")
    first = sizes.reset_index().drop_duplicates("key")
    common = pd.Series(first["template"].to_numpy(), index=first["key"].to_numpy())
    out = templates.copy()
    out[located] = keys.map(common).to_numpy()
    return out


def _units(lines: pd.DataFrame) -> pd.DataFrame:
    """One row per (request, template): a request logging a line ten times counts once.

    Lines come in bursts per request, so counting lines overstates the evidence. The
    request is the service's top-most span (lines logged in inner spans of one request
    belong together); a line whose span is unknown counts by its span id, a line without
    span id individually (``linked`` False).
    """
    by_span = lines["trace_id"] + ":" + lines["span_id"]
    by_request = lines["trace_id"] + ":" + lines["request"]
    linked = lines["span_id"] != ""
    unit = by_request.where(lines["request"] != "", by_span)
    unit = unit.where(linked, pd.Series(lines.index.astype(str), lines.index))
    out = lines.assign(unit=unit, linked=linked)
    return out.drop_duplicates(["is_window", "unit", "template"])


def _template_shifts(units: pd.DataFrame, requests: pd.DataFrame) -> pd.DataFrame:
    """Per (service, template): counts and the binomial z of the share, caller by caller.

    The expected window count is summed over the service's callers (strata): each
    caller's window units times the template's baseline share for that caller, shrunk
    towards the service's pooled share by one pseudo-unit. Callers with fewer than
    ``MIN_LINES`` baseline units are left out: a new caller may well ask for something
    else. A template that moves the same way for every caller adds up; one whose share
    only moved because the callers' mix did cancels out.
    """
    strata = ["service", "caller"]
    sizes = units.groupby([*strata, "template", "is_window"]).size()
    counts: pd.DataFrame = sizes.unstack(fill_value=0).reindex(columns=[False, True], fill_value=0)
    every = pd.concat([units[[*strata, "is_window", "unit"]], requests], ignore_index=True)
    distinct = every.groupby([*strata, "is_window"])["unit"].nunique()
    totals: pd.DataFrame = distinct.unstack(fill_value=0)
    totals = totals.reindex(columns=[False, True], fill_value=0)
    grid = _strata_grid(pd.MultiIndex.from_frame(counts.index.to_frame(index=False)), totals.index)
    counts = counts.reindex(grid, fill_value=0)
    own = grid.droplevel("template")
    frame = pd.DataFrame(
        {
            "b": counts[False].to_numpy(dtype=float),
            "w": counts[True].to_numpy(dtype=float),
            "nb": totals[False].reindex(own).to_numpy(dtype=float),
            "nw": totals[True].reindex(own).to_numpy(dtype=float),
        },
        index=grid,
    )
    pooled = frame.groupby(level=["service", "template"])
    prior = (pooled["b"].transform("sum") + 0.5) / (pooled["nb"].transform("sum") + 1.0)
    share = (frame["b"] + prior) / (frame["nb"] + 1.0)
    frame = frame.assign(expected=share * frame["nw"], variance=share * (1 - share) * frame["nw"])
    frame = frame[frame["nb"] >= MIN_LINES]
    summed = frame.groupby(level=["service", "template"])[
        ["b", "w", "nb", "nw", "expected", "variance"]
    ].sum()
    summed["z"] = (summed["w"] - summed["expected"]) / np.sqrt(summed["variance"] + 1.0)
    eligible = summed["nw"] >= 1
    summed["tests"] = summed.groupby(level="service")["z"].transform("size")
    return summed[eligible & (summed["z"].abs() >= MIN_STRENGTH)]


def _strata_grid(found: pd.MultiIndex, strata: pd.Index) -> pd.MultiIndex:
    """Every (service, caller, template) whose service has that caller and that template."""
    templates = found.droplevel("caller").unique().to_frame(index=False)
    present = strata.unique().to_frame(index=False)
    grid = present.merge(templates, on="service")[["service", "caller", "template"]]
    return pd.MultiIndex.from_frame(grid)


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
                    "template": template,
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
    reference_spans: pd.DataFrame | None = None,
) -> list[Evidence]:
    """Template evidence per service; baseline = reference logs + pre-boundary logs.

    ``spans`` (and ``reference_spans``, the spans of the ``reference`` logs) join lines to
    operations, callers and requests.
    """
    moment = pd.Timestamp(boundary)
    frames = [logs.assign(is_window=logs["time"] >= moment)]
    if reference is not None and not reference.empty:
        frames.append(reference.assign(is_window=False))
    data = pd.concat(frames, ignore_index=True)
    if data.empty or not data["is_window"].any():
        return []
    data["template"] = mine_templates(data["service"], data["message"]).to_numpy()
    traced = [_with_context(spans).assign(is_window=spans["start"] >= moment)]
    if reference_spans is not None and not reference_spans.empty:
        traced.append(_with_context(reference_spans).assign(is_window=False))
    every = pd.concat(traced, ignore_index=True)
    known = every.drop_duplicates(["trace_id", "span_id"]).set_index(["trace_id", "span_id"])
    keys = pd.MultiIndex.from_arrays([data["trace_id"], data["span_id"]])
    context = ["operation", "caller", "request"]
    data[context] = known[context].reindex(keys).fillna(ENTRY).to_numpy()
    units = _units(data)
    shifts = _template_shifts(units, _silent_requests(every, data))
    found = _shift_evidence(shifts, data[data["is_window"]]) + _sequences(units)
    # An error line that becomes rarer or stops following its anchor is recovery (of
    # this fault or an earlier one still in the baseline), not a new defect.
    errors = set(data.loc[data["level"].isin(_ERROR_LEVELS), "template"])
    return [e for e in found if e.direction == "up" or _missing(e) not in errors]


def _with_context(spans: pd.DataFrame) -> pd.DataFrame:
    """Spans with their ``caller`` and ``request``, unless they already have them."""
    if {"caller", "request"} <= set(spans.columns):
        return spans
    return pd.concat([spans, span_context(spans)], axis=1)


def _missing(item: Evidence) -> str:
    """The template an item says became rarer."""
    return str(item.details.get("missing", item.details.get("template", "")))


def _silent_requests(spans: pd.DataFrame, lines: pd.DataFrame) -> pd.DataFrame:
    """Requests (a service's top-most spans) as units, also those that logged nothing.

    A code path that aborts before its first log line leaves no line at all, so counting
    only requests that logged hides it. Only requests of traces with at least one log
    line count, so minutes whose log file is missing do not look silent.
    """
    logged = set(lines.loc[lines["trace_id"] != "", "trace_id"])
    roots = spans[(spans["request"] == spans["span_id"]) & spans["trace_id"].isin(logged)]
    roots = roots[roots["service"].isin(set(lines["service"]))]
    unit = roots["trace_id"] + ":" + roots["span_id"]
    return roots[["service", "caller", "is_window"]].assign(unit=unit)


def _sequences(units: pd.DataFrame) -> list[Evidence]:
    """Missing-line evidence per service, on integer codes (no per-group frame copies)."""
    with_ids = (units["linked"] & (units["trace_id"] != "")).to_numpy()
    span_codes = np.where(with_ids, pd.factorize(units["unit"])[0], -1)
    template_codes, names = pd.factorize(units["template"])
    stratum_codes = pd.factorize(units["caller"])[0]
    in_window = units["is_window"].to_numpy(dtype=bool)
    found: list[Evidence] = []
    for service, rows in sorted(units.groupby("service").indices.items()):
        base_lines = int((~in_window[rows]).sum())
        if base_lines >= MIN_LINES:
            found += sequence_evidence(
                str(service),
                SequenceLines(
                    spans=span_codes[rows],
                    templates=template_codes[rows],
                    strata=stratum_codes[rows],
                    in_window=in_window[rows],
                ),
                np.asarray(names, dtype=object),
            )
    return found
