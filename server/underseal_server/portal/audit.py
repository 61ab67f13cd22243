"""The audit log page: the latest signed checkpoint, entries by page, and the search audits.

Entries are shown exactly as they were hashed into the tree; the fields a
suspect must not read (plates queried, case numbers, record ids) are
already sealed to the oversight key in them (``terms_sealed``).
"""

from __future__ import annotations

import json
from typing import Any, Final

from sqlalchemy import func
from sqlmodel import Session, col, select

from underseal.encoding import b64e, canonical_json
from underseal.merkle import SignedCheckpoint
from underseal_server import auditlog
from underseal_server.auditlog import AuditEntry
from underseal_server.portal.content import Column, Fact, Page, Section, Table, iso_time
from underseal_server.records.state import ServerState

__all__ = ["PAGE_SIZE", "SEARCH_KINDS", "build", "search_audits"]

PAGE_SIZE: Final = 50
SEARCH_KINDS: Final = (
    "warrant.request",
    "warrant.grant",
    "warrant.deny",
    "warrant.search",
    "hold.escrow",
    "hold.release",
)
"""The log entries a search audit holds: every step from request to released records."""

_ENTRY_COLUMNS: Final = [
    Column("seq", "#", numeric=True),
    Column("time", "Time (UTC)"),
    Column("kind", "Kind"),
    Column("actor", "Actor"),
    Column("details", "Details (as hashed)"),
]


def _row(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "seq": entry["seq"],
        "time": iso_time(entry["time"]),
        "kind": entry["kind"],
        "actor": entry["actor"],
        "details": canonical_json(entry["details"]).decode(),
    }


def search_audits(session: Session) -> Table:
    """Every warrant-related entry, oldest first (what Flock's and Palm Springs' portals call
    search audits), with the warrant, agency, purpose and record count pulled out."""
    rows = session.exec(
        select(AuditEntry)
        .where(col(AuditEntry.kind).in_(SEARCH_KINDS))
        .order_by(col(AuditEntry.seq))
    ).all()
    out = []
    for row in rows:
        entry = json.loads(auditlog.parse_and_keep(row.data))
        details = entry["details"]
        out.append(
            {
                **_row(entry),
                "warrant": details.get("request", details.get("warrant", "")),
                "agency": details.get("agency", ""),
                "purpose": details.get("purpose", ""),
                "records": details.get("records", details.get("records_held", "")),
            }
        )
    return Table(
        name="searches",
        caption="Search audit: every warrant request, decision, search and hold",
        columns=[
            Column("seq", "#", numeric=True),
            Column("time", "Time (UTC)"),
            Column("kind", "Kind"),
            Column("actor", "User"),
            Column("agency", "Agency"),
            Column("warrant", "Warrant"),
            Column("purpose", "Purpose"),
            Column("records", "Records", numeric=True),
            Column("details", "Details (as hashed)"),
        ],
        rows=out,
        note="Query terms, case numbers and record ids are sealed to the oversight body "
        "(terms_sealed): the entry commits to them, the public cannot read them.",
    )


def build(server: ServerState, session: Session, *, now: int, start: int | None) -> Page:
    """The audit page at ``now``; entries from ``start`` (default: the newest page)."""
    signed = SignedCheckpoint.from_bytes(
        auditlog.checkpoint(session, log_id=server.settings.log_id, key=server.log_key, now=now)
    )
    checkpoint = signed.checkpoint
    size = checkpoint.size
    if start is None:
        start = max(0, size - PAGE_SIZE)
    start = min(start, max(0, size - 1))
    entries = auditlog.entries(session, start=start, limit=PAGE_SIZE)
    kinds = session.exec(
        select(AuditEntry.kind, func.count())
        .group_by(col(AuditEntry.kind))
        .order_by(col(AuditEntry.kind))
    ).all()
    log_key = b64e(bytes(server.log_key.verify_key))
    end = start + len(entries)
    pages = {
        "first": 0 if start > 0 else None,
        "older": max(0, start - PAGE_SIZE) if start > 0 else None,
        "newer": end if end < size else None,
        "latest": max(0, size - PAGE_SIZE) if end < size else None,
    }
    return Page(
        name="audit",
        title="Audit log",
        intro=(
            "Every decision about records, keys and the hotlist is an entry in an append-only "
            "Merkle log (RFC 6962), written in the same transaction as the change. The server "
            "signs checkpoints of the whole log; anyone can check that no entry was removed or "
            "rewritten."
        ),
        generated_at=now,
        facts=[
            Fact("log_id", "Log", checkpoint.log_id),
            Fact("size", "Entries", size, "the checkpoint's tree size"),
            Fact("root", "Root hash", b64e(checkpoint.root), "base64url SHA-256 Merkle root"),
            Fact("timestamp", "Signed at (UTC)", iso_time(checkpoint.timestamp)),
            Fact("signature", "Signature", b64e(signed.signature), "Ed25519, base64url"),
            Fact("log_key", "Log key", log_key, "the public key to pin when auditing"),
        ],
        sections=[
            Section(
                "verify",
                "Verify it yourself",
                [
                    "Install underseal and run its auditor against this server, pinning the log "
                    "key shown above. It checks the checkpoint's signature, rehashes every entry "
                    "to the signed root, and, from the second run on, proves the log it saw last "
                    "time is a prefix of today's (nothing removed or rewritten). Keep the state "
                    "file between runs.",
                    "The raw material is public: /v1/log/checkpoint, /v1/log/entries, "
                    "/v1/log/proof/inclusion and /v1/log/proof/consistency.",
                    "Each key custodian keeps its own log in the same format; audit each one "
                    "with its own log key.",
                ],
                code=[
                    f"underseal-server audit SERVER_URL --log-key {log_key} "
                    "--state last-checkpoint.bin"
                ],
            )
        ],
        tables=[
            Table(
                name="entries",
                caption=f"Log entries {start} to {max(start, end - 1)} of {size}",
                columns=_ENTRY_COLUMNS,
                rows=[_row(e) for e in entries],
            ),
            Table(
                name="kinds",
                caption="Entries by kind",
                columns=[Column("kind", "Kind"), Column("entries", "Entries", numeric=True)],
                rows=[{"kind": k, "entries": int(n)} for k, n in kinds],
            ),
            search_audits(session),
        ],
        extra={"checkpoint": b64e(signed.to_bytes()), "start": start, "pages": pages},
    )
