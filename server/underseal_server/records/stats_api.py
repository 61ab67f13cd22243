"""Public aggregates: what cameras processed, per day and per camera (counts only).

Cameras report hourly counts (``POST /v1/camera/stats``); this sums them to
UTC days for the transparency portal. Hours are not served: a day per camera
is the finest grain the public sees.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Final

from fastapi import APIRouter, Query
from pydantic import Field
from sqlalchemy import func, select
from sqlmodel import col

from underseal.epochs import epoch_of
from underseal_server.api_errors import ApiError
from underseal_server.db import session_scope
from underseal_server.records.models import CameraHour
from underseal_server.records.state import Server
from underseal_server.schemas import Identifier, Strict

__all__ = ["router"]

router = APIRouter(prefix="/v1/public/stats", tags=["transparency"])

MAX_DAYS: Final = 366
DEFAULT_DAYS: Final = 30
_UNIX_DAY_ZERO: Final = dt.date(1970, 1, 1)


class CameraDayOut(Strict):
    date: str = Field(description="UTC day, YYYY-MM-DD")
    camera_id: str
    frames: int
    reads: int
    passes: int
    hits: int
    hours: int = Field(description="hours of the day the camera reported")
    uptime_seconds: int
    healthy_seconds: int


class DailyStatsOut(Strict):
    since: str
    until: str
    days: list[CameraDayOut]


def _day(date: dt.date) -> int:
    return (date - _UNIX_DAY_ZERO).days


@router.get("/daily")
def daily(
    server: Server,
    since: Annotated[dt.date | None, Query(description="first UTC day (until - 29)")] = None,
    until: Annotated[dt.date | None, Query(description="last UTC day (default: today)")] = None,
    camera: Annotated[Identifier | None, Query(description="one camera only")] = None,
) -> DailyStatsOut:
    """Each camera's frames, reads, passes and hits per UTC day, summed from its hourly reports.

    Raises:
        ApiError: 422 ``bad_range`` when ``since`` is after ``until``, before
            1970, or more than 366 days before it.
    """
    last = _day(until) if until is not None else epoch_of(server.clock())
    first = _day(since) if since is not None else max(0, last - DEFAULT_DAYS + 1)
    if not 0 <= first <= last or last - first >= MAX_DAYS:
        raise ApiError(
            422, "bad_range", f"since must be on or before until, from 1970, within {MAX_DAYS} days"
        )
    sums = [
        func.sum(col(getattr(CameraHour, name)))
        for name in ("frames", "reads", "passes", "hits", "uptime_seconds", "healthy_seconds")
    ]
    query = (
        select(col(CameraHour.day), col(CameraHour.camera_id), func.count(), *sums)
        .where(col(CameraHour.day) >= first, col(CameraHour.day) <= last)
        .group_by(col(CameraHour.day), col(CameraHour.camera_id))
        .order_by(col(CameraHour.day), col(CameraHour.camera_id))
    )
    if camera is not None:
        query = query.where(col(CameraHour.camera_id) == camera)
    with session_scope(server.engine, write=False) as session:
        rows = session.execute(query).all()
    return DailyStatsOut(
        since=(_UNIX_DAY_ZERO + dt.timedelta(days=first)).isoformat(),
        until=(_UNIX_DAY_ZERO + dt.timedelta(days=last)).isoformat(),
        days=[
            CameraDayOut(
                date=(_UNIX_DAY_ZERO + dt.timedelta(days=day)).isoformat(),
                camera_id=camera_id,
                hours=int(hours),
                frames=int(frames),
                reads=int(reads),
                passes=int(passes),
                hits=int(hits),
                uptime_seconds=int(uptime),
                healthy_seconds=int(healthy),
            )
            for day, camera_id, hours, frames, reads, passes, hits, uptime, healthy in rows
        ],
    )
