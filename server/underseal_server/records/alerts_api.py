"""Alerts for dispatchers: sealed to their key, relayed by long poll, gone after a short TTL."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query
from sqlmodel import col, select
from starlette.concurrency import run_in_threadpool

from underseal.encoding import b64e
from underseal_server.db import session_scope
from underseal_server.records.models import Alert
from underseal_server.records.state import DispatcherCaller, Server, ServerState
from underseal_server.schemas import Strict

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])


class AlertOut(Strict):
    id: int
    camera_id: str
    record_id: str
    sealed: str
    created_at: int


def _pending(server: ServerState, dispatcher: str, after: int) -> list[AlertOut]:
    now = server.clock()
    with session_scope(server.engine, write=False) as session:
        rows = session.exec(
            select(Alert)
            .where(
                Alert.dispatcher_id == dispatcher,
                col(Alert.id) > after,
                Alert.expires_at > now,
            )
            .order_by(col(Alert.id))
            .limit(100)
        ).all()
    return [
        AlertOut(
            id=a.id or 0,
            camera_id=a.camera_id,
            record_id=b64e(a.record_id),
            sealed=b64e(a.sealed),
            created_at=a.created_at,
        )
        for a in rows
    ]


@router.get("")
async def poll(
    server: Server,
    dispatcher: DispatcherCaller,
    after: Annotated[int, Query(ge=0)] = 0,
    wait: Annotated[float, Query(ge=0, le=30)] = 0,
) -> list[AlertOut]:
    """Alerts after id ``after``; waits up to ``wait`` seconds for one to arrive (long poll)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        found = await run_in_threadpool(_pending, server, dispatcher.id, after)
        if found or loop.time() >= deadline:
            return found
        await asyncio.sleep(min(0.25, max(deadline - loop.time(), 0)))
