"""`vigil eval correlation`: grouping quality on the seeded alert-storm corpus."""

from __future__ import annotations

import asyncio
import json
import statistics
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from vigil.interfaces.cli import State
from vigil.interfaces.evaluation.correlation import GroupingReport, comparison_table
from vigil.interfaces.evaluation.correlation_run import evaluate_correlation
from vigil.testing.alert_corpus import CorpusSpec, generate_alert_corpus

__all__ = ["register_eval"]

console = Console(width=140)
_START = datetime(2026, 11, 2, 8, tzinfo=UTC)


def register_eval(eval_app: typer.Typer) -> None:
    @eval_app.command("correlation")
    def correlation(
        ctx: typer.Context,
        seeds: Annotated[str, typer.Option(help="Comma-separated corpus seeds")] = "1,2,3,4,5",
        services: Annotated[int, typer.Option(min=20, max=50)] = 40,
        failures: Annotated[int, typer.Option(min=1, max=12)] = 8,
        json_file: Annotated[Path | None, typer.Option("--json")] = None,
    ) -> None:
        """Replay generated alert storms through the real pipeline; print alerts in,
        incidents out, noise reduction, pairwise P/R/F1 and ARI against the ground truth,
        beside Alertmanager's group_by (alertname, service) in the same run."""
        state: State = ctx.obj
        settings = state.settings(database_url="sqlite://")
        rows: list[dict[str, object]] = []
        vigil: list[GroupingReport] = []
        for seed in (int(s) for s in seeds.split(",")):
            spec = CorpusSpec(seed=seed, services=services, failures=failures)
            corpus = generate_alert_corpus(spec, start=_START)
            run = asyncio.run(evaluate_correlation(corpus, state.factory, settings))
            console.print(comparison_table(run.reports, title=f"seed {seed}: "
                          f"{corpus.alerts_in} notifications, {len(corpus.truth)} alerts, "
                          f"{len(set(corpus.truth.values()))} true groups"))  # fmt: skip
            console.print(f"  {corpus.alerts_in / run.seconds:,.0f} alert notifications/s "
                          f"through the pipeline ({run.seconds:.1f} s)")  # fmt: skip
            vigil.append(run.reports[1])
            rows.extend({"seed": seed, **r.model_dump()} for r in run.reports)
        median = {k: statistics.median(getattr(r.per_alert, k) for r in vigil)
                  for k in ("precision", "recall", "f1", "ari")}  # fmt: skip
        reduction = statistics.median(r.noise_reduction for r in vigil)
        console.print(
            f"[bold]vigil, median over {len(vigil)} seeds[/]: noise reduction {reduction:.1%}, "
            f"pairwise P {median['precision']:.3f} R {median['recall']:.3f} "
            f"F1 {median['f1']:.3f}, ARI {median['ari']:.3f}"
        )
        if json_file:
            summary = {"noise_reduction": reduction, **median}
            json_file.write_text(json.dumps({"runs": rows, "median": summary}, indent=2))
