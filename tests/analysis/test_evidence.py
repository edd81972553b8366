"""Robust statistics and evidence ids."""

from __future__ import annotations

import numpy as np

from vigil.analysis import RobustScale, evidence_id
from vigil.analysis.evidence import robust_center_scale


def test_center_and_scale_ignore_nan_and_floor_flat_series() -> None:
    center, scale = robust_center_scale(np.array([1.0, 2.0, 3.0, np.nan]))
    assert center == 2.0
    assert scale == 1.4826
    flat_center, flat_scale = robust_center_scale(np.array([10.0] * 5), RobustScale(relative=0.1))
    assert (flat_center, flat_scale) == (10.0, 1.0)


def test_empty_baseline_is_nan() -> None:
    center, scale = robust_center_scale(np.array([np.nan]))
    assert np.isnan(center)
    assert np.isnan(scale)


def test_ids_are_stable() -> None:
    assert evidence_id("a", 1) == evidence_id("a", 1)
    assert evidence_id("a", 1) != evidence_id("a", 2)
