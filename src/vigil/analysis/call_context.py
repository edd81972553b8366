"""Who asked: for every span, the service whose request it serves (its caller).

A service does different work for different callers: in a ticketing system the
high-speed-train query service and the ordinary-train one both call the seat service,
which logs different lines and calls different order services for each. When the callers'
mix shifts (a fault upstream cuts one caller's traffic, a load generator changes its
mix), every template share and call ratio of the shared callee moves, although nothing
in it changed. Log tests therefore compare like with like: within each caller's
stratum, baseline against window.

The caller of a span is the service of its nearest ancestor in *another* service; spans
of an entry service (no remote ancestor) have the caller ``""``. The request of a span is
the service's own top-most span on the way there (where that request came in).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["ENTRY", "MAX_DEPTH", "parent_positions", "span_context"]

ENTRY = ""
# Local call chains deeper than this inside one service are cut (treated as entry spans).
MAX_DEPTH = 32


def _where(known: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` where ``known``, else None (an object array to fill in)."""
    out = np.full(known.shape, None, dtype=object)
    out[known] = values[known]
    return out


def parent_positions(spans: pd.DataFrame) -> np.ndarray:
    """Row position of each span's parent in ``spans`` (-1 when absent).

    One factorisation of ``trace|span`` and ``trace|parent`` strings together, which is a
    few times faster than joining on a (trace, span) MultiIndex.
    """
    size = len(spans)
    trace = spans["trace_id"].to_numpy(dtype=object)
    own = trace + "\x1f" + spans["span_id"].to_numpy(dtype=object)
    parent = trace + "\x1f" + spans["parent_id"].to_numpy(dtype=object)
    codes, uniques = pd.factorize(np.concatenate([own, parent]))
    position = np.full(len(uniques), -1, dtype=np.int64)
    # Reversed, so that the first of duplicated span ids wins.
    position[codes[:size][::-1]] = np.arange(size, dtype=np.int64)[::-1]
    found: np.ndarray = position[codes[size:]]
    return found


def span_context(spans: pd.DataFrame, parents: np.ndarray | None = None) -> pd.DataFrame:
    """Per span (aligned with ``spans``): ``caller`` and ``request``.

    ``caller`` is the service of the nearest ancestor in another service (``""`` for an
    entry service); ``request`` is the span id of the service's own top-most span on the
    way there.
    Needs ``trace_id``, ``span_id``, ``parent_id``, ``service`` and ``operation``; walks
    local parents upwards with vectorised lookups, one level per step. ``parents`` are
    the :func:`parent_positions`, when already known.
    """
    if spans.empty:
        columns: dict[str, list[str]] = {"caller": [], "request": []}
        return pd.DataFrame(columns, index=spans.index, dtype=object)
    parent_pos = parent_positions(spans) if parents is None else parents
    services = spans["service"].astype(str).to_numpy(dtype=object)
    has_parent = parent_pos >= 0
    parent_service = np.where(has_parent, services[np.maximum(parent_pos, 0)], ENTRY)
    local_root = parent_service != services
    caller = _where(local_root, parent_service)
    request = _where(local_root, spans["span_id"].astype(str).to_numpy(dtype=object))
    # Spans with a local parent inherit their parent's caller and request, one level a pass.
    pending = np.flatnonzero(~local_root)
    for _ in range(MAX_DEPTH):
        if pending.size == 0:
            break
        caller[pending] = caller[parent_pos[pending]]
        request[pending] = request[parent_pos[pending]]
        pending = pending[caller[pending] == None]  # noqa: E711 (element-wise)
    caller[pending] = ENTRY
    request[pending] = spans["span_id"].astype(str).to_numpy(dtype=object)[pending]
    return pd.DataFrame({"caller": caller, "request": request}, index=spans.index)
