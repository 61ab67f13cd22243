"""Alerts for dispatchers: sealed to their key, relayed by long poll, gone after a short TTL.

Delivery is by acknowledgement, not by "ids after the last one seen": on
PostgreSQL two ingests can commit their alerts out of id order, and a
cursor would skip the one that committed late. A dispatcher gets every
unacknowledged live alert until it acknowledges it.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import Field
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


def _pending(server: ServerState, dispatcher: str) -> list[AlertOut]:
    now = server.clock()
    with session_scope(server.engine, write=False) as session:
        rows = session.exec(
            select(Alert)
            .where(
                Alert.dispatcher_id == dispatcher,
                col(Alert.acked_at).is_(None),
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
    wait: Annotated[float, Query(ge=0, le=30)] = 0,
) -> list[AlertOut]:
    """Unacknowledged live alerts; waits up to ``wait`` seconds for one to arrive (long poll)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        found = await run_in_threadpool(_pending, server, dispatcher.id)
        if found or loop.time() >= deadline:
            return found
        await asyncio.sleep(min(0.25, max(deadline - loop.time(), 0)))


class AckIn(Strict):
    # Each id within SQL's 64-bit integers (a larger one was a 500 from the driver).
    ids: list[Annotated[int, Field(ge=-(1 << 63), lt=1 << 63)]] = Field(
        min_length=1, max_length=1000
    )


class AckOut(Strict):
    acknowledged: int


@router.post("/ack")
def acknowledge(body: AckIn, server: Server, dispatcher: DispatcherCaller) -> AckOut:
    """Mark alerts as received (only this dispatcher's); they are not delivered again."""
    now = server.clock()
    with session_scope(server.engine) as session:
        rows = session.exec(
            select(Alert).where(
                col(Alert.id).in_(body.ids),
                Alert.dispatcher_id == dispatcher.id,
                col(Alert.acked_at).is_(None),
            )
        ).all()
        for row in rows:
            row.acked_at = now
            session.add(row)
    return AckOut(acknowledged=len(rows))
