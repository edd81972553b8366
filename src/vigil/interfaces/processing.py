"""`vigil serve`'s processing in a child process of its own.

Processing is Python CPU work (parsing, dedup, correlation) between database calls. On the
event loop that answers webhooks, each batch held every request waiting for its 2xx for as
long as the batch took; on a thread, the two still share one interpreter lock. A child
process (`vigil process`) has its own core: the edge only parses, stores intake (its own
SQLite file, `vigil.pipeline.outbox`) and answers.

The parent wakes the child by writing a byte to its stdin whenever intake was committed;
the child also looks by itself every second. End of stdin (the parent stopped, or died)
stops the child after the batch in hand. The child writes its metrics to a snapshot file
every second, which the parent's `/metrics` adds in. A child that dies is started again.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO

from vigil.interfaces.runtime import Runtime
from vigil.pipeline.intake import StoredIntake

__all__ = ["ProcessingChild", "run_processing_child"]

log = logging.getLogger(__name__)

SNAPSHOT_ENV = "VIGIL_METRICS_SNAPSHOT"
_RESTART_AFTER = 2.0  # seconds between restarts of a child that keeps dying
_SNAPSHOT_EVERY = 1.0


class ProcessingChild:
    """Supervises `vigil [global options] process` (parent side)."""

    def __init__(self, global_args: list[str]) -> None:
        self._args = [sys.executable, "-m", "vigil", *global_args, "process"]
        self._folder = Path(tempfile.mkdtemp(prefix="vigil-processing-"))
        self.snapshot = self._folder / "metrics.json"
        self._proc: subprocess.Popen[bytes] | None = None
        self._watch: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        self._spawn()
        self._watch = asyncio.get_running_loop().create_task(self._supervise())

    def notify(self, _stored: list[StoredIntake]) -> None:
        """Wake the child (never blocks: a full pipe already holds wake-ups enough)."""
        stdin = self._proc.stdin if self._proc is not None else None
        if stdin is not None:
            with contextlib.suppress(BlockingIOError, BrokenPipeError, ValueError, OSError):
                os.write(stdin.fileno(), b".")

    async def stop(self, grace: float = 60.0) -> None:
        """Close its stdin and wait: it finishes the batch in hand and exits."""
        self._stopping = True
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        proc = self._proc
        if proc is not None:
            if proc.stdin is not None:
                with contextlib.suppress(OSError):
                    proc.stdin.close()
            try:
                await asyncio.to_thread(proc.wait, grace)
            except subprocess.TimeoutExpired:
                log.error("processing child did not stop within %ss; killing it", grace)
                proc.kill()
                await asyncio.to_thread(proc.wait)
        shutil.rmtree(self._folder, ignore_errors=True)

    def _spawn(self) -> None:
        env = {**os.environ, SNAPSHOT_ENV: str(self.snapshot)}
        self._proc = subprocess.Popen(self._args, stdin=subprocess.PIPE, env=env)
        stdin = self._proc.stdin
        assert stdin is not None
        flags = fcntl.fcntl(stdin.fileno(), fcntl.F_GETFL)
        fcntl.fcntl(stdin.fileno(), fcntl.F_SETFL, flags | os.O_NONBLOCK)
        log.info("processing in child process %d", self._proc.pid)

    async def _supervise(self) -> None:
        while not self._stopping:
            await asyncio.sleep(1.0)
            proc = self._proc
            if proc is None or proc.poll() is None or self._stopping:
                continue
            log.error("processing child exited with %s; starting another", proc.returncode)
            await asyncio.sleep(_RESTART_AFTER)
            if not self._stopping:
                self._spawn()


async def run_processing_child(runtime: Runtime, stdin: IO[bytes] | None = None) -> None:
    """The child's side: process until stdin ends, waking on every byte read."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    processor = runtime.processor

    class _Wakes(asyncio.Protocol):
        def data_received(self, data: bytes) -> None:
            processor.notify([])

        def connection_lost(self, exc: Exception | None) -> None:
            stop.set()

    await runtime.start(migrate=False, background=False)
    transport, _ = await loop.connect_read_pipe(_Wakes, stdin or sys.stdin.buffer)
    snapshot = os.environ.get(SNAPSHOT_ENV)
    dumping = (
        asyncio.create_task(_dump_metrics(runtime, Path(snapshot), stop)) if snapshot else None
    )
    try:
        await processor.run(stop)
    finally:
        transport.close()
        if dumping is not None:
            stop.set()
            await dumping
        await runtime.stop()


async def _dump_metrics(runtime: Runtime, path: Path, stop: asyncio.Event) -> None:
    while True:
        runtime.metrics.dump(path)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), _SNAPSHOT_EVERY)
        if stop.is_set():
            runtime.metrics.dump(path)
            return
