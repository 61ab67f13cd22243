"""What a running records server holds: settings, engine, keys and clock, built once per app."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from nacl.signing import SigningKey, VerifyKey
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
    "Importer",
    "Investigator",
    "Officer",
    "Server",
    "ServerState",
]


class KeyCache:
    """Camera keys for a few seconds: one database read per camera, not per request.

    A camera that is disabled or re-keyed is refused within ``ttl`` seconds.
    """

    def __init__(self, ttl: float = 5.0) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[float, VerifyKey | None]] = {}
        self._lock = threading.Lock()

    def get(self, camera_id: str, load: Callable[[], VerifyKey | None]) -> VerifyKey | None:
        """The cached key, or ``load()``'s result (cached too, misses included)."""
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(camera_id)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        key = load()
        with self._lock:
            if len(self._entries) > 100_000:  # unknown ids cannot grow it without bound
                self._entries.clear()
            self._entries[camera_id] = (now, key)
        return key


@dataclass(frozen=True, slots=True)
class ServerState:
    """The records server's runtime state (no import-time singletons)."""

    settings: RecordsSettings
    engine: Engine
    clock: Clock
    authority: SigningKey
    log_key: SigningKey
    camera_keys: KeyCache = field(default_factory=KeyCache)

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
Importer = Annotated[Principal, Depends(require(Role.HOT_FILE_IMPORTER))]
HotlistReader = Annotated[Principal, Depends(require(Role.HOTLIST_OFFICER, Role.HOTLIST_APPROVER))]
DispatcherCaller = Annotated[Principal, Depends(require(Role.DISPATCHER))]
Investigator = Annotated[Principal, Depends(require(Role.INVESTIGATOR))]
CourtCaller = Annotated[Principal, Depends(require(Role.COURT))]
