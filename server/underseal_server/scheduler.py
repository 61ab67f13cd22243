"""The in-process retention scheduler: the same code cron runs, every ``interval`` seconds.

A deployment may use either (or both: a run finds nothing left to destroy
the second time). A failing run is logged and retried at the next tick; it
never stops the service.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

__all__ = ["retention_lifespan"]

log = logging.getLogger(__name__)


def retention_lifespan(
    job: Callable[[], object], interval: int
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """A lifespan that runs ``job`` at start-up and then every ``interval`` seconds (0: never)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async def loop() -> None:
            while True:
                try:
                    await run_in_threadpool(job)
                except Exception:  # the next tick retries; the service stays up
                    log.exception("retention run failed; retrying in %d s", interval)
                await asyncio.sleep(interval)

        task = asyncio.create_task(loop()) if interval > 0 else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()

    return lifespan
