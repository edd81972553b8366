"""RCAEval's metric-only baselines BARO and NSigma, to score beside Vigil.

RCAEval (Pham et al., WWW'25) ships both as ``RCAEval.e2e.baro.baro`` and
``RCAEval.e2e.nsigma``. With the ``bench`` extra installed (the ``rcaeval`` wheel without
its ``default`` extra, which pins over 400 packages, plus what ``RCAEval.e2e`` imports
eagerly on Python 3.11: scikit-learn, matplotlib, causal-learn, requests),
:func:`active_baselines` runs RCAEval's own functions on the same wide frame. Without it,
the re-implementation below runs instead; it follows RCAEval's code step by step:

1. Split a wide frame (one column per ``<service>_<metric>``, one row per sample) at the
   injection time: ``time < inject`` is normal, the rest anomalous.
2. Drop the ``time`` column and, in each half separately, every column that is constant
   (RCAEval's ``preprocess``/``drop_constant``); keep the columns both halves still have.
3. Fit a scaler on the normal half and score each column by its largest scaled value in
   the anomalous half: BARO uses scikit-learn's ``RobustScaler`` (median, inter-quartile
   range), NSigma its ``StandardScaler`` (mean, population standard deviation); a zero
   scale becomes 1, as in scikit-learn.
4. Sort columns by score, highest first; a service's rank is that of its best column.

Deviations, for data with gaps: constant means "no two different finite values"
(pandas compares NaN as unequal to itself, which would keep all-NaN columns), the
statistics ignore NaN (as scikit-learn's scalers do), and the score is the largest
*finite* value (Python's ``max`` over an array with NaN depends on where the NaN sits).

Neither baseline predicts a fault kind. On frames without gaps the two implementations
rank alike (a test checks it when RCAEval is installed); on frames with gaps RCAEval's own
code keeps all-NaN columns and takes the maximum of an array with NaN in it, which
depends on where the NaN sits, so its rankings can differ from the re-implementation's.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import warnings
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "BASELINES",
    "Baseline",
    "active_baselines",
    "baro",
    "column_scores",
    "nsigma",
    "services_of",
    "wide_metrics",
]

Scaler = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
Baseline = Callable[[pd.DataFrame, datetime], list[str]]
# RCAEval's preprocess drops the time and constant columns only for a named dataset; the
# name itself selects nothing else (no dataset-specific branch matches it).
_RCAEVAL_DATASET = "nezha"


def _robust(normal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median and inter-quartile range per column (``RobustScaler`` defaults)."""
    q25, median, q75 = np.nanpercentile(normal, [25, 50, 75], axis=0)
    return median, q75 - q25


def _standard(normal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and population standard deviation per column (``StandardScaler``)."""
    return np.nanmean(normal, axis=0), np.nanstd(normal, axis=0)


def _varying(frame: pd.DataFrame) -> list[str]:
    """Columns with at least two different finite values."""
    counts = frame.nunique(dropna=True)
    return [str(c) for c in counts.index[counts > 1]]


def column_scores(data: pd.DataFrame, inject_time: datetime, scaler: Scaler) -> pd.Series:
    """Per metric column: the largest scaled anomalous value, highest first."""
    moment = pd.Timestamp(inject_time)
    normal = data[data["time"] < moment].drop(columns=["time"])
    anomal = data[data["time"] >= moment].drop(columns=["time"])
    varying = set(_varying(anomal))
    kept = [c for c in _varying(normal) if c in varying]
    if not kept:
        return pd.Series(dtype=float)
    center, scale = scaler(normal[kept].to_numpy(dtype=float))
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
    z = (anomal[kept].to_numpy(dtype=float) - center) / scale
    finite = np.where(np.isfinite(z), z, -np.inf)
    scores = pd.Series(finite.max(axis=0), index=kept)
    return scores[np.isfinite(scores)].sort_values(ascending=False, kind="stable")


def services_of(columns: Iterable[object]) -> list[str]:
    """Services in the order their first ``<service>_<metric>`` column comes (columns
    sorted by score give the services by their best column)."""
    return list(dict.fromkeys(str(column).split("_", 1)[0] for column in columns))


def baro(data: pd.DataFrame, inject_time: datetime) -> list[str]:
    """BARO: robust z-score (median/IQR of the normal period), services best first."""
    return services_of(column_scores(data, inject_time, _robust).index)


def nsigma(data: pd.DataFrame, inject_time: datetime) -> list[str]:
    """NSigma: z-score (mean/std of the normal period), services best first."""
    return services_of(column_scores(data, inject_time, _standard).index)


BASELINES: dict[str, Baseline] = {"baro": baro, "nsigma": nsigma}


def _rcaeval(method: Callable[..., dict[str, Any]]) -> Baseline:
    """One of RCAEval's methods on our wide frame (``time`` as epoch seconds, as its own
    datasets have it), its ranked columns folded into services."""

    def run(data: pd.DataFrame, inject_time: datetime) -> list[str]:
        moment = pd.Timestamp(inject_time)
        if not ((data["time"] < moment).any() and (data["time"] >= moment).any()):
            return []  # nothing to compare (RCAEval's own code fails on an empty half)
        frame = data.assign(time=data["time"].map(pd.Timestamp.timestamp).astype(float))
        ranks = method(frame, inject_time=moment.timestamp(), dataset=_RCAEVAL_DATASET)["ranks"]
        return services_of(ranks)

    return run


def active_baselines() -> tuple[dict[str, Baseline], str]:
    """RCAEval's own BARO and NSigma when the package is installed, else the
    re-implementation; and a line saying which runs."""
    try:
        with warnings.catch_warnings():  # RCAEval.e2e silences all warnings on import
            baro_module = importlib.import_module("RCAEval.e2e.baro")
            e2e = importlib.import_module("RCAEval.e2e")
    except ImportError as missing:
        reason = f"re-implementation (RCAEval not importable: {missing}; pip install '.[bench]')"
        return BASELINES, reason
    version = importlib.metadata.version("rcaeval")
    chosen = {"baro": _rcaeval(baro_module.baro), "nsigma": _rcaeval(e2e.nsigma)}
    return chosen, f"RCAEval {version} (RCAEval.e2e.baro.baro, RCAEval.e2e.nsigma)"


def wide_metrics(metrics: pd.DataFrame) -> pd.DataFrame:
    """A bundle's long metric table as RCAEval's wide frame: ``time`` + ``<service>_<metric>``.

    Samples are grouped per minute (pods of one scrape differ by a second or two) and
    each row's ``time`` is the earliest sample of its minute, so a minute counts as
    anomalous only when all its samples were taken after the injection. Several
    instances of one service are averaged.
    """
    if metrics.empty:
        return pd.DataFrame({"time": pd.Series(dtype="datetime64[ns, UTC]")})
    frame = metrics.assign(minute=metrics["time"].dt.floor("min"))
    wide = frame.pivot_table(
        index="minute", columns=["service", "metric"], values="value", aggfunc="mean"
    )
    wide.columns = ["_".join(map(str, pair)) for pair in wide.columns.to_flat_index()]
    stamps = frame.groupby("minute")["time"].min().reindex(wide.index)
    wide.insert(0, "time", stamps.to_numpy())
    return wide.reset_index(drop=True)
