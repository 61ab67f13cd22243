"""The hotlist: entries with a reason and a case, a second approver, CSV hot-file import.

A manually entered plate goes live only when a hotlist approver other than
the officer who entered it approves it; an imported hot file (NCIC or the
state's) is already vetted upstream and goes live at import. Every change
is an audit entry, which names the entry and the people, never the plate.
"""

from __future__ import annotations

import csv
import io
import os
import uuid
from enum import StrEnum
from typing import Annotated, Final

from fastapi import APIRouter, Body, Query
from pydantic import Field
from sqlmodel import Session, col, select

from underseal.errors import InvalidPlate
from underseal.plates import canonical, plausible
from underseal_server import auditlog
from underseal_server.api_errors import ApiError
from underseal_server.db import session_scope
from underseal_server.oversight import sealed_terms
from underseal_server.records.models import HotlistEntry
from underseal_server.records.state import Approver, HotlistReader, Importer, Officer, Server
from underseal_server.schemas import Identifier, Strict

router = APIRouter(prefix="/v1/hotlist", tags=["hotlist"])

REF_BYTES: Final = 8
MAX_IMPORT_ROWS: Final = 2_000_000


class Reason(StrEnum):
    """Why a plate is on the list (the portal counts entries by reason)."""

    STOLEN_VEHICLE = "stolen_vehicle"
    STOLEN_PLATE = "stolen_plate"
    AMBER_ALERT = "amber_alert"
    SILVER_ALERT = "silver_alert"
    FELONY_WARRANT = "felony_warrant"
    MISSING_PERSON = "missing_person"
    PROTECTION_ORDER = "protection_order"


class Status(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    REMOVED = "removed"


class EntryIn(Strict):
    plate: str = Field(min_length=1, max_length=16)
    reason: Reason = Field(strict=False)
    case_number: str = Field(min_length=1, max_length=100)
    expires_at: int = Field(ge=0, lt=1 << 40)


class EntryOut(Strict):
    id: str
    plate: str
    reason: str
    case_number: str
    source: str
    expires_at: int
    entered_by: str
    entered_at: int
    approved_by: str | None
    status: str


class ImportResult(Strict):
    imported: int
    source: str


def _out(e: HotlistEntry) -> EntryOut:
    return EntryOut(**e.model_dump(exclude={"ref"}))


def _checked_plate(text: str, row: int | None = None) -> str:
    where = f" (row {row})" if row is not None else ""
    try:
        plate = canonical(text)
    except InvalidPlate:
        raise ApiError(422, "invalid_plate", f"plate is not A-Z/0-9 text{where}") from None
    verdict = plausible(plate)
    if not verdict:
        raise ApiError(422, "implausible_plate", f"plate fails the plate grammar{where}")
    return plate


def _new_entry(
    *, plate: str, body: EntryIn, source: str, actor: str, now: int, status: Status
) -> HotlistEntry:
    return HotlistEntry(
        id=uuid.uuid4().hex,
        plate=plate,
        reason=body.reason.value,
        case_number=body.case_number,
        source=source,
        expires_at=body.expires_at,
        entered_by=actor,
        entered_at=now,
        status=status.value,
        ref=os.urandom(REF_BYTES),
    )


@router.post("", status_code=201)
def add_entry(body: EntryIn, server: Server, officer: Officer) -> EntryOut:
    """Enter a plate; it stays pending until a second person approves it."""
    now = server.clock()
    plate = _checked_plate(body.plate)
    if body.expires_at <= now:
        raise ApiError(422, "expired", "the entry's expiry is in the past")
    entry = _new_entry(
        plate=plate, body=body, source="manual", actor=officer.id, now=now, status=Status.PENDING
    )
    with session_scope(server.engine) as session:
        session.add(entry)
        auditlog.append(
            session,
            kind="hotlist.add",
            actor=officer.id,
            now=now,
            details={
                "entry": entry.id,
                "reason": entry.reason,
                **sealed_terms(server.settings.oversight_box_key, {"case": entry.case_number}),
            },
        )
    return _out(entry)


def _get(session: Session, entry_id: str) -> HotlistEntry:
    entry = session.get(HotlistEntry, entry_id)
    if entry is None:
        raise ApiError(404, "not_found", "no hotlist entry with this id")
    return entry


@router.post("/{entry_id}/approve")
def approve(entry_id: Identifier, server: Server, approver: Approver) -> EntryOut:
    """Approve a pending entry; the approver must not be the officer who entered it."""
    now = server.clock()
    with session_scope(server.engine) as session:
        entry = _get(session, entry_id)
        if entry.status != Status.PENDING:
            raise ApiError(409, "not_pending", "only a pending entry can be approved")
        if entry.entered_by == approver.id:
            raise ApiError(403, "same_person", "an entry needs a second person to approve it")
        entry.status = Status.ACTIVE.value
        entry.approved_by = approver.id
        session.add(entry)
        auditlog.append(
            session, kind="hotlist.approve", actor=approver.id, now=now, details={"entry": entry.id}
        )
    return _out(entry)


@router.delete("/{entry_id}")
def remove(entry_id: Identifier, server: Server, caller: HotlistReader) -> EntryOut:
    """Take an entry off the list (officers and approvers); it leaves the next bundles."""
    now = server.clock()
    with session_scope(server.engine) as session:
        entry = _get(session, entry_id)
        if entry.status == Status.REMOVED:
            raise ApiError(409, "removed", "the entry is already removed")
        entry.status = Status.REMOVED.value
        session.add(entry)
        auditlog.append(
            session, kind="hotlist.remove", actor=caller.id, now=now, details={"entry": entry.id}
        )
    return _out(entry)


@router.get("")
def list_entries(
    server: Server,
    caller: HotlistReader,
    status: Annotated[Status | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, lt=1 << 63)] = 0,  # SQL integers are 64-bit
) -> list[EntryOut]:
    """Entries, newest first (officers and approvers only)."""
    with session_scope(server.engine) as session:
        query = select(HotlistEntry)
        if status is not None:
            query = query.where(HotlistEntry.status == status.value)
        rows = session.exec(
            query.order_by(col(HotlistEntry.entered_at).desc(), col(HotlistEntry.id))
            .offset(offset)
            .limit(limit)
        ).all()
    return [_out(e) for e in rows]


@router.post("/import", status_code=201)
def import_hot_file(
    server: Server,
    importer: Importer,
    source: Annotated[str, Query(pattern=r"^[A-Za-z0-9._:-]{1,64}$")],
    body: Annotated[str, Body(media_type="text/csv", max_length=64 << 20)],
) -> ImportResult:
    """Import a hot file (CSV: plate,reason,case_number,expires_at); all rows or none.

    Hot-file entries are vetted upstream (NCIC, the state), so they are live
    at once. Only the feed's own service account (role ``hot_file_importer``)
    may import: an officer who could "import" a one-line file would skip the
    second approver. The source is recorded on every entry and in the log.
    """
    now = server.clock()
    reader = csv.DictReader(io.StringIO(body))
    expected = ["plate", "reason", "case_number", "expires_at"]
    if reader.fieldnames != expected:
        raise ApiError(422, "bad_csv", f"the header row must be {','.join(expected)}")
    entries = []
    try:
        rows = list(reader)
    except csv.Error:
        raise ApiError(
            422, "bad_csv", "the file is not valid CSV (or a field is too long)"
        ) from None
    for number, row in enumerate(rows, start=2):
        if number - 1 > MAX_IMPORT_ROWS:
            raise ApiError(413, "too_large", f"a hot file holds at most {MAX_IMPORT_ROWS} rows")
        try:
            parsed = EntryIn(
                plate=row["plate"] or "",
                reason=Reason(row["reason"]),
                case_number=row["case_number"] or "",
                expires_at=int(row["expires_at"] or ""),
            )
        except (ValueError, TypeError):
            raise ApiError(422, "bad_csv", f"row {number} is not a valid entry") from None
        plate = _checked_plate(parsed.plate, number)
        entries.append(
            _new_entry(
                plate=plate,
                body=parsed,
                source=f"hot_file:{source}",
                actor=importer.id,
                now=now,
                status=Status.ACTIVE,
            )
        )
    with session_scope(server.engine) as session:
        session.add_all(entries)
        auditlog.append(
            session,
            kind="hotlist.import",
            actor=importer.id,
            now=now,
            details={"source": source, "entries": len(entries)},
        )
    return ImportResult(imported=len(entries), source=f"hot_file:{source}")


def live_entries(session: Session, now: int) -> list[HotlistEntry]:
    """Active, unexpired entries: what goes into a bundle."""
    return list(
        session.exec(
            select(HotlistEntry).where(
                HotlistEntry.status == Status.ACTIVE.value, HotlistEntry.expires_at > now
            )
        ).all()
    )
