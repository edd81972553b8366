"""Evaluation runners that score Vigil on labelled datasets."""

from vigil.interfaces.evaluation.rca import (
    CaseRow,
    WindowOptions,
    iter_nezha,
    nezha_kind,
    run_baselines,
    run_case,
    run_nezha,
    summarise,
)

__all__ = [
    "CaseRow",
    "WindowOptions",
    "iter_nezha",
    "nezha_kind",
    "run_baselines",
    "run_case",
    "run_nezha",
    "summarise",
]
