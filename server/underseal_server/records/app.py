"""``create_app(settings)``: the records server as a FastAPI app, built with no globals."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import Engine

from underseal_server import auditlog
from underseal_server.api_errors import install_error_handlers
from underseal_server.body_limit import BodyLimit
from underseal_server.clock import Clock, OffsetFileClock, system_clock
from underseal_server.db import make_engine
from underseal_server.log_api import LogHost
from underseal_server.log_api import router as log_router
from underseal_server.migrations import migrate
from underseal_server.portal import router as portal_router
from underseal_server.records import (
    alerts_api,
    camera_api,
    enrolment,
    epochs_api,
    hotlist,
    stats_api,
    warrants,
)
from underseal_server.records.purge import PurgeReport, purge
from underseal_server.records.settings import RecordsSettings
from underseal_server.records.state import Admin, Server, ServerState
from underseal_server.scheduler import retention_lifespan
from underseal_server.schemas import Strict

__all__ = ["app_from_environment", "create_app"]


class PurgeOut(Strict):
    epochs: list[int]
    records: int
    alerts: int


def create_app(
    settings: RecordsSettings, *, clock: Clock | None = None, engine: Engine | None = None
) -> FastAPI:
    """A records server over ``settings.database_url`` (or ``engine``), on ``clock``."""
    if clock is None:
        offset = settings.unsafe_clock_offset_file
        clock = system_clock if offset is None else OffsetFileClock(offset)
    engine = make_engine(settings.database_url) if engine is None else engine
    migrate(engine, "records")
    auditlog.initialise(engine)
    state = ServerState.build(settings, engine, clock)
    app = FastAPI(
        lifespan=retention_lifespan(lambda: purge(state), settings.retention_interval_seconds),
        title="underseal records server",
        version="1",
        description="Sealed hotlist hits, warrants and the audit log. It cannot open a record.",
    )
    app.state.engine = engine
    app.state.records = state
    app.state.log_host = LogHost(settings.log_id, engine, clock, state.log_key)
    install_error_handlers(app)
    app.add_middleware(BodyLimit, limit=64 << 20)
    for module in (enrolment, epochs_api, hotlist, camera_api, alerts_api, warrants, stats_api):
        app.include_router(module.router)
    app.include_router(log_router)
    app.include_router(portal_router)

    @app.post("/v1/retention/run", tags=["retention"])
    def run_retention(server: Server, admin: Admin) -> PurgeOut:
        """Destroy what is past retention now (cron and the scheduler call the same code)."""
        report: PurgeReport = purge(server, actor=admin.id)
        return PurgeOut(epochs=list(report.epochs), records=report.records, alerts=report.alerts)

    @app.get("/v1/health", tags=["health"])
    def health() -> dict[str, str]:
        """Liveness."""
        return {"status": "ok"}

    return app


def app_from_environment() -> FastAPI:
    """The app from ``UNDERSEAL_*`` environment settings (uvicorn's factory, one per worker)."""
    return create_app(RecordsSettings())  # fields come from the environment
