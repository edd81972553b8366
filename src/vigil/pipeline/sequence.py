"""Runs stages in order; isolates a poison item instead of failing the whole batch."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from vigil.pipeline.base import Batch, Item, Stage, StageContext, StageFailure

__all__ = ["Outcome", "Sequence"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of a batch: stored items, dropped ones (with reason) and failures."""

    stored: list[Item]
    dropped: list[Item]
    failed: list[Item]


class Sequence:
    """Stages composed top to bottom; the order is written once, in wiring.py."""

    def __init__(self, stages: Iterable[Stage]) -> None:
        self.stages = list(stages)
        names = [stage.name for stage in self.stages]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate stage names in {names}")

    async def __call__(self, batch: Batch, ctx: StageContext) -> Outcome:
        live = [item for item in batch if item.live]
        done = [item for item in batch if not item.live]
        for stage in self.stages:
            if not live:
                break
            result = await self._run(stage, live, ctx)
            live = [item for item in result if item.live]
            done.extend(item for item in result if not item.live)
        return Outcome(
            stored=live,
            dropped=[item for item in done if item.dropped is not None],
            failed=[item for item in done if item.failure is not None],
        )

    async def _run(self, stage: Stage, batch: Batch, ctx: StageContext) -> Batch:
        if stage.transactional:
            return await stage(batch, ctx)
        try:
            return await stage(batch, ctx)
        except Exception:
            # Run item by item to find the poison one(s); the others go on.
            out: Batch = []
            for item in batch:
                try:
                    out.extend(await stage([item], ctx))
                except Exception as exc:
                    item.failure = StageFailure(stage.name, "", f"{type(exc).__name__}: {exc}")
                    out.append(item)
            return out
