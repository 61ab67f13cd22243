"""Retention on the records server: past an epoch's retention, its records and token key go.

The ciphertexts are already unreadable once the custodians destroy their
shares (crypto-shredding, the guarantee); deleting them as well keeps the
database from growing and leaves a backup nothing to brute-force either.
Records under a legal hold stay (re-sealed to their case key by then).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete
from sqlmodel import col, select

from underseal_server import auditlog
from underseal_server.db import erase_free_space, session_scope
from underseal_server.records.models import Alert, EpochKey, Record, SeenNonce
from underseal_server.records.state import ServerState
from underseal_server.retention import expired_epochs_before

__all__ = ["PurgeReport", "purge"]


@dataclass(frozen=True, slots=True)
class PurgeReport:
    """What one retention run destroyed."""

    epochs: tuple[int, ...]
    records: int
    alerts: int


def purge(server: ServerState, *, actor: str = "retention") -> PurgeReport:
    """Destroy every epoch past retention at the server's clock; then expire alerts and nonces."""
    now = server.clock()
    horizon = expired_epochs_before(now, server.settings.retention)
    destroyed: list[int] = []
    records = 0
    with session_scope(server.engine) as session:
        due = session.exec(
            select(EpochKey).where(
                col(EpochKey.epoch) < horizon, col(EpochKey.destroyed_at).is_(None)
            )
        ).all()
        for epoch in due:
            result = session.exec(
                delete(Record).where(
                    col(Record.epoch) == epoch.epoch, col(Record.held_for).is_(None)
                )
            )
            count = int(result.rowcount or 0)
            epoch.token_key = None
            epoch.destroyed_at = now
            session.add(epoch)
            auditlog.append(
                session,
                kind="retention.destroy",
                actor=actor,
                now=now,
                details={
                    "epoch": epoch.epoch,
                    "records_deleted": count,
                    "retention_days": server.settings.retention,
                },
            )
            destroyed.append(epoch.epoch)
            records += count
        alerts = session.exec(delete(Alert).where(col(Alert.expires_at) <= now))
        session.exec(delete(SeenNonce).where(col(SeenNonce.expires_at) <= now))
        alert_count = int(alerts.rowcount or 0)
    if destroyed:
        erase_free_space(server.engine)
    return PurgeReport(tuple(destroyed), records, alert_count)
