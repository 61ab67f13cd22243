"""What a running records server holds: settings, engine, keys and clock, built once per app."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from nacl.signing import SigningKey
from sqlalchemy import Engine

from underseal.encoding import b64d
from underseal_server.clock import Clock
from underseal_server.identity import Principal, Role, require
from underseal_server.records.settings import RecordsSettings

__all__ = [
    "Admin",
    "Approver",
    "CourtCaller",
    "DispatcherCaller",
    "HotlistReader",
    "Investigator",
    "Officer",
    "Server",
    "ServerState",
]


@dataclass(frozen=True, slots=True)
class ServerState:
    """The records server's runtime state (no import-time singletons)."""

    settings: RecordsSettings
    engine: Engine
    clock: Clock
    authority: SigningKey
    log_key: SigningKey

    def __repr__(self) -> str:
        return f"ServerState(log_id={self.settings.log_id!r})"

    @classmethod
    def build(cls, settings: RecordsSettings, engine: Engine, clock: Clock) -> ServerState:
        """Load the signing keys from the settings' secrets."""
        seed = settings.authority_key.get_secret_value()
        log_seed = settings.log_key.get_secret_value()
        return cls(
            settings=settings,
            engine=engine,
            clock=clock,
            authority=SigningKey(b64d(seed, size=32, field="authority key")),
            log_key=SigningKey(b64d(log_seed, size=32, field="log key")),
        )


def _state(request: Request) -> ServerState:
    state: ServerState = request.app.state.records
    return state


Server = Annotated[ServerState, Depends(_state)]
Admin = Annotated[Principal, Depends(require(Role.ADMINISTRATOR))]
Officer = Annotated[Principal, Depends(require(Role.HOTLIST_OFFICER))]
Approver = Annotated[Principal, Depends(require(Role.HOTLIST_APPROVER))]
HotlistReader = Annotated[Principal, Depends(require(Role.HOTLIST_OFFICER, Role.HOTLIST_APPROVER))]
DispatcherCaller = Annotated[Principal, Depends(require(Role.DISPATCHER))]
Investigator = Annotated[Principal, Depends(require(Role.INVESTIGATOR))]
CourtCaller = Annotated[Principal, Depends(require(Role.COURT))]
