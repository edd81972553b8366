"""The running service's parts, as the interfaces see them (built by vigil.wiring)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from vigil.detection import DetectionService
from vigil.incidents import IncidentService
from vigil.pipeline import DeadLetterReplayer, IntakeService, IntakeWriter, Processor
from vigil.pipeline.intake import StoredIntake
from vigil.pipeline.outbox import prepare_outbox
from vigil.platform import Clock, Database, IdFactory, Metrics, Settings
from vigil.platform.bus import NatsBus
from vigil.platform.migrate import upgrade
from vigil.sources import SourceRegistry

__all__ = ["ExternalProcessing", "NotifyRelay", "Runtime", "RuntimeFactory"]


class NotifyRelay:
    """The intake writer's "stored" callback, pointed at whichever processor runs."""

    def __init__(self, target: Callable[[list[StoredIntake]], None]) -> None:
        self.target = target

    def __call__(self, stored: list[StoredIntake]) -> None:
        self.target(stored)


class ExternalProcessing(Protocol):
    """Processing run outside this process (`vigil serve`'s child): started with the
    runtime, woken (never blocking) when intake was stored, and stopped after the batch
    in hand."""

    def start(self) -> None: ...
    def notify(self, stored: list[StoredIntake]) -> None: ...
    async def stop(self) -> None: ...


@dataclass
class Runtime:
    """Everything a request, job or command needs; `start` resumes pending work."""

    settings: Settings
    db: Database
    outbox: Database  # where intake is: `db`, or embedded its own file (pipeline.outbox)
    relay: NotifyRelay  # the intake writer's wake-up, to whichever processor runs
    clock: Clock
    ids: IdFactory
    metrics: Metrics
    sources: SourceRegistry
    writer: IntakeWriter
    intake: IntakeService
    processor: Processor
    replayer: DeadLetterReplayer
    incidents: IncidentService
    bus: NatsBus | None = None
    detection: DetectionService | None = None
    # Processing elsewhere (`vigil serve`: a child process) instead of a task on this loop.
    processing_elsewhere: ExternalProcessing | None = None
    _elsewhere: bool = False
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None
    _detection_task: asyncio.Task[None] | None = None

    async def start(self, *, migrate: bool = True, background: bool | None = None) -> None:
        """Migrate, start the intake writer and the bus, and process what a previous run
        left pending. `background=None` processes in this process unless a bus hands the
        work to `vigil worker`s."""
        if migrate:
            await upgrade(self.db)
        if self.outbox is not self.db:
            await prepare_outbox(self.outbox, self.db, move=migrate)
        await self.writer.start()
        if self.bus is not None:
            await self.bus.start()
        if background or (background is None and self.bus is None):
            self._start_processing()
        if self.detection is not None and background is not False:
            self._stop.clear()
            detect = self.detection.run(self._stop)
            self._detection_task = asyncio.create_task(detect, name="vigil-detection")

    def _start_processing(self) -> None:
        if self.processing_elsewhere is not None:
            self.processing_elsewhere.start()
            self.relay.target = self.processing_elsewhere.notify
            self._elsewhere = True
            return
        self._stop.clear()
        self._task = asyncio.create_task(self.processor.run(self._stop), name="vigil-processor")

    def wake_processing(self) -> None:
        """Something was stored for processing elsewhere than through the intake writer."""
        self.relay([])

    async def stop(self) -> None:
        if self._detection_task is not None:
            self._stop.set()
            with contextlib.suppress(asyncio.CancelledError):
                await self._detection_task
            self._detection_task = None
        if self.detection is not None:
            await self.detection.aclose()
        if self.bus is not None:
            await self.bus.stop()  # an in-flight batch is stored and acknowledged first
        await self.writer.stop()
        if self.processing_elsewhere is not None and self._elsewhere:
            await self.processing_elsewhere.stop()
            self.relay.target = self.processor.notify
            self._elsewhere = False
        if self._task is not None:
            self._stop.set()
            self.wake_processing()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.processor.close()
        await self.db.dispose()
        if self.outbox is not self.db:
            await self.outbox.dispose()


class RuntimeFactory(Protocol):
    """Builds a runtime from settings (`vigil.wiring.build_runtime`); a clock may be given,
    e.g. a fake one to replay recorded traffic at its own pace."""

    def __call__(self, settings: Settings, *, clock: Clock | None = None) -> Runtime: ...
