"""Retention on the records server: past an epoch's retention, its records and token key go.

The ciphertexts are already unreadable once the custodians destroy their
shares (crypto-shredding, the guarantee); deleting them as well keeps the
database from growing and leaves a backup nothing to brute-force either.
Records under a legal hold stay (re-sealed to their case key by then).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, exists
from sqlmodel import Session, col, select

from underseal_server import auditlog
from underseal_server.db import erase_free_space, session_scope
from underseal_server.records.models import Alert, EpochKey, Record, RecordHold, SeenNonce
from underseal_server.records.state import ServerState
from underseal_server.retention import expired_epochs_before

__all__ = ["PurgeReport", "purge"]


@dataclass(frozen=True, slots=True)
class PurgeReport:
    """What one retention run destroyed."""

    epochs: tuple[int, ...]
    records: int
    alerts: int


def _delete_unheld(session: Session, epochs: list[int]) -> int:
    if not epochs:
        return 0
    held = select(RecordHold.record_id).where(RecordHold.record_id == Record.record_id)
    result = session.exec(delete(Record).where(col(Record.epoch).in_(epochs), ~exists(held)))
    return int(result.rowcount or 0)


def purge(server: ServerState, *, actor: str = "retention") -> PurgeReport:
    """Destroy every epoch past retention at the server's clock; then expire alerts and nonces."""
    now = server.clock()
    horizon = expired_epochs_before(now, server.settings.retention)
    destroyed: list[int] = []
    records = 0
    with session_scope(server.engine) as session:
        # FOR UPDATE: an ingest of these epochs (FOR SHARE) finishes first or waits,
        # then finds them destroyed; no record slips in after the delete.
        due = session.exec(
            select(EpochKey)
            .where(col(EpochKey.epoch) < horizon, col(EpochKey.destroyed_at).is_(None))
            .with_for_update()
        ).all()
        for epoch in due:
            count = _delete_unheld(session, [epoch.epoch])
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
        # Records of epochs destroyed earlier whose last hold was released since.
        gone = list(
            session.exec(
                select(EpochKey.epoch).where(col(EpochKey.destroyed_at).is_not(None))
            ).all()
        )
        released = _delete_unheld(session, [e for e in gone if e not in destroyed])
        records += released
        alerts = session.exec(delete(Alert).where(col(Alert.expires_at) <= now))
        session.exec(delete(SeenNonce).where(col(SeenNonce.expires_at) <= now))
        alert_count = int(alerts.rowcount or 0)
    if destroyed or released:
        erase_free_space(server.engine)
    return PurgeReport(tuple(destroyed), records, alert_count)
