"""What cameras call, each request signed with the device key: config, bundle, ingest, stats.

Ingest is all or nothing: every record in a batch is parsed, checked
against its camera's signature and a live epoch, and only then stored, in
one transaction with the request's nonce and the audit entry. A record id
already stored with the same bytes is a duplicate (the camera retried) and
is acknowledged; the same id with other bytes is refused.

Stats are the camera's hourly aggregate counts (frames, reads, passes, hits,
seconds up and healthy): numbers only, so nothing about any vehicle.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Final, TypeVar

from fastapi import APIRouter, Query, Request, Response
from nacl.public import PublicKey
from nacl.signing import VerifyKey
from pydantic import Field, ValidationError
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from underseal.bundle import build_bundle, seal_bundle
from underseal.encoding import b64d, b64e, parse_canonical_json
from underseal.epochs import epoch_end, epoch_of, epoch_start
from underseal.errors import Malformed
from underseal.sealed import SealedRecord
from underseal.signed_requests import MAX_SKEW, SignedRequest
from underseal.tokens import TokenKey, TokenScheme
from underseal_server import auditlog
from underseal_server.api_errors import ApiError
from underseal_server.camera_auth import read_body, verify_camera
from underseal_server.db import session_scope
from underseal_server.records.hotlist import REF_BYTES, live_entries
from underseal_server.records.models import (
    Alert,
    BundleSerial,
    Camera,
    CameraHour,
    Custodian,
    Dispatcher,
    EpochKey,
    Record,
    SeenNonce,
)
from underseal_server.records.state import Server, ServerState
from underseal_server.retention import expired_epochs_before
from underseal_server.schemas import Identifier, Strict

router = APIRouter(prefix="/v1/camera", tags=["camera"])

MAX_ALERT_BYTES: Final = 4096
T = TypeVar("T")


def _camera_key(server: ServerState) -> Callable[[str], VerifyKey | None]:
    def key_for(camera_id: str) -> VerifyKey | None:
        return server.camera_keys.get(camera_id, lambda: _load_camera_key(server, camera_id))

    return key_for


def _load_camera_key(server: ServerState, camera_id: str) -> VerifyKey | None:
    with Session(server.engine) as session:
        camera = session.get(Camera, camera_id)
    if camera is None or not camera.active:
        return None
    return VerifyKey(camera.verify_key)


def _remember_nonce(session: Session, signed: SignedRequest) -> None:
    session.add(
        SeenNonce(camera_id=signed.camera_id, nonce=signed.nonce, expires_at=signed.expires)
    )


def _replay_safe(server: ServerState, signed: SignedRequest, work: Callable[[Session], T]) -> T:
    """Run ``work(session)`` in one transaction with the request's nonce; all or nothing.

    Raises:
        ApiError: 409 ``replay`` if the nonce was seen; 409 ``conflict`` if a
            concurrent request stored the same record first (retry it).
    """
    try:
        with session_scope(server.engine) as session:
            _remember_nonce(session, signed)
            return work(session)
    except IntegrityError:
        with Session(server.engine) as session:
            seen = session.exec(
                select(SeenNonce).where(
                    SeenNonce.camera_id == signed.camera_id, SeenNonce.nonce == signed.nonce
                )
            ).first()
        if seen is not None:
            raise ApiError(
                409, "replay", "this request was already received (nonce reused)"
            ) from None
        raise ApiError(
            409, "conflict", "a concurrent request stored the same record; retry"
        ) from None


async def _signed(request: Request, server: ServerState, limit: int) -> tuple[bytes, SignedRequest]:
    body = await read_body(request, limit)
    signed = await run_in_threadpool(
        verify_camera,
        request,
        body,
        key_for=_camera_key(server),
        now=server.clock(),
    )
    return body, signed


# --- configuration and bundles -------------------------------------------------------


class EpochOut(Strict):
    epoch: int
    certificate: str


class KeyOut(Strict):
    id: str
    key: str


class CustodianKeyOut(Strict):
    id: str
    index: int
    verify_key: str


class CameraConfig(Strict):
    camera_id: str
    now: int
    epochs: list[EpochOut]
    dispatchers: list[KeyOut]
    custodians: list[CustodianKeyOut]
    authority_key: str


@router.get("/config")
async def config(request: Request, server: Server) -> CameraConfig:
    """Epoch certificates (today and the days ahead), dispatchers' and custodians' keys."""
    _, signed = await _signed(request, server, 0)

    def work(session: Session) -> CameraConfig:
        today = epoch_of(server.clock())
        epochs = session.exec(
            select(EpochKey)
            .where(
                col(EpochKey.epoch) >= today - 1,
                col(EpochKey.epoch) <= today + 7,
                col(EpochKey.destroyed_at).is_(None),
            )
            .order_by(col(EpochKey.epoch))
        ).all()
        return CameraConfig(
            camera_id=signed.camera_id,
            now=server.clock(),
            epochs=[EpochOut(epoch=e.epoch, certificate=b64e(e.certificate)) for e in epochs],
            dispatchers=[
                KeyOut(id=d.id, key=b64e(d.box_key)) for d in session.exec(select(Dispatcher)).all()
            ],
            custodians=[
                CustodianKeyOut(id=c.id, index=c.index, verify_key=b64e(c.verify_key))
                for c in session.exec(select(Custodian).order_by(col(Custodian.index))).all()
            ],
            authority_key=b64e(bytes(server.authority.verify_key)),
        )

    return await run_in_threadpool(_replay_safe, server, signed, work)


def token_key_of(row: EpochKey) -> TokenKey:
    """The live token key of an epoch row (the caller checked it is not destroyed)."""
    assert row.token_key is not None
    return TokenKey(
        row.token_key, TokenScheme.from_json(parse_canonical_json(row.token_scheme.encode()))
    )


@router.get("/bundle", response_class=Response)
async def bundle(
    request: Request,
    server: Server,
    epoch: Annotated[int | None, Query(ge=0, lt=1 << 32)] = None,
) -> Response:
    """This camera's hotlist bundle for ``epoch`` (default today), sealed to it and signed."""
    _, signed = await _signed(request, server, 0)

    def work(session: Session) -> Response:
        now = server.clock()
        wanted = epoch_of(now) if epoch is None else epoch
        if not epoch_of(now) <= wanted <= epoch_of(now) + server.settings.bundle_days:
            raise ApiError(422, "bad_epoch", "bundles are served for today and the next days only")
        row = session.get(EpochKey, wanted)
        if row is None or row.token_key is None:
            raise ApiError(404, "no_epoch_key", "no key ceremony has prepared this epoch yet")
        camera = session.get(Camera, signed.camera_id)
        assert camera is not None
        token_key = token_key_of(row)
        serial_row = session.exec(
            select(BundleSerial).where(BundleSerial.camera_id == camera.id).with_for_update()
        ).first()
        serial = 1 if serial_row is None else serial_row.serial + 1
        session.merge(BundleSerial(camera_id=camera.id, serial=serial))
        entries = live_entries(session, now)
        built = build_bundle(
            ((token_key.token(e.plate), e.ref) for e in entries),
            camera_id=camera.id,
            serial=serial,
            epoch=wanted,
            # The whole day: a camera whose clock trails the server's by a second
            # must not find its fresh bundle "not yet valid". Serials stop rollback.
            not_before=epoch_start(wanted),
            not_after=epoch_end(wanted),
            token_key=token_key,
            ref_len=REF_BYTES,
        )
        sealed = seal_bundle(built, authority=server.authority, camera=PublicKey(camera.box_key))
        auditlog.append(
            session,
            kind="bundle.issue",
            actor=camera.id,
            now=now,
            details={"epoch": wanted, "serial": serial, "entries": built.header.count},
        )
        return Response(
            sealed,
            media_type="application/octet-stream",
            headers={"x-underseal-serial": str(serial), "x-underseal-epoch": str(wanted)},
        )

    return await run_in_threadpool(_replay_safe, server, signed, work)


# --- ingest ----------------------------------------------------------------------------


class AlertIn(Strict):
    record_id: str = Field(max_length=32)
    dispatcher_id: Identifier
    sealed: str = Field(max_length=2 * MAX_ALERT_BYTES)


class IngestIn(Strict):
    records: list[str] = Field(min_length=1, max_length=10_000)
    alerts: list[AlertIn] = Field(default_factory=list, max_length=10_000)


class IngestOut(Strict):
    stored: int
    duplicates: int
    alerts: int


@router.post("/records")
async def ingest(request: Request, server: Server) -> IngestOut:
    """Store a batch of sealed records (idempotent by record id) and relay their alerts."""
    body, signed = await _signed(request, server, 64 << 20)
    # Parsing and checking a batch is CPU work: off the event loop, like the database.
    return await run_in_threadpool(_ingest, server, body, signed)


def _ingest(server: ServerState, body: bytes, signed: SignedRequest) -> IngestOut:
    try:
        batch = IngestIn.model_validate_json(body)
    except ValidationError:
        raise ApiError(
            422, "invalid_request", "ingest body must be {records: [...], alerts: [...]}"
        ) from None
    if len(batch.records) > server.settings.max_batch:
        raise ApiError(
            413, "too_large", f"a batch holds at most {server.settings.max_batch} records"
        )
    # 1. Parse and check every record before touching the database.
    camera_key = _camera_key(server)(signed.camera_id)
    assert camera_key is not None
    parsed: dict[bytes, tuple[SealedRecord, bytes]] = {}
    for number, text in enumerate(batch.records):
        try:
            data = b64d(text, field="record")
            record = SealedRecord.from_bytes(data)
        except Malformed as error:
            raise ApiError(422, "malformed_record", f"record {number}: {error.message}") from None
        if record.header.camera_id != signed.camera_id:
            raise ApiError(403, "wrong_camera", f"record {number} names another camera")
        record.verify(camera_key)
        if record.header.record_id in parsed:
            raise ApiError(422, "duplicate_in_batch", f"record {number} repeats a record id")
        parsed[record.header.record_id] = (record, data)
    alerts: list[tuple[bytes, str, bytes]] = []
    for number, alert in enumerate(batch.alerts):
        record_id = b64d(alert.record_id, size=16, field="record_id")
        sealed = b64d(alert.sealed, field="sealed alert")
        if record_id not in parsed:
            raise ApiError(422, "orphan_alert", f"alert {number} is for no record in this batch")
        if len(sealed) != parsed[record_id][0].header.alert_size or len(sealed) > MAX_ALERT_BYTES:
            raise ApiError(
                422, "alert_size", f"alert {number} does not match its record's alert size"
            )
        alerts.append((record_id, alert.dispatcher_id, sealed))

    def work(session: Session) -> IngestOut:
        now = server.clock()
        # 2. Every epoch is live (ceremony done, not destroyed) and not in the future.
        horizon = expired_epochs_before(now, server.settings.retention)
        for epoch in sorted({record.header.epoch for record, _ in parsed.values()}):
            # FOR SHARE: a retention run destroying this epoch waits for us, or we for it.
            row = session.exec(
                select(EpochKey).where(EpochKey.epoch == epoch).with_for_update(read=True)
            ).first()
            if row is None or row.destroyed_at is not None or epoch < horizon:
                raise ApiError(409, "dead_epoch", "a record's epoch has no live key on this server")
            if epoch > epoch_of(now) + 1:
                raise ApiError(409, "future_epoch", "a record is dated in a future epoch")
        # 3. Idempotency by record id.
        existing = {
            r.record_id: r.data
            for r in session.exec(
                select(Record).where(col(Record.record_id).in_(list(parsed)))
            ).all()
        }
        rows = []
        for record_id, (record, data) in parsed.items():
            if record_id in existing:
                if existing[record_id] != data:
                    raise ApiError(
                        409, "conflict", "a record id was stored before with other bytes"
                    )
                continue
            rows.append(
                {
                    "record_id": record_id,
                    "camera_id": record.header.camera_id,
                    "epoch": record.header.epoch,
                    "match_token": record.header.match_token,
                    "received_at": now,
                    "data": data,
                }
            )
        if rows:
            # One executemany, not an ORM object per record: a third of ingest's CPU.
            session.execute(insert(Record.__table__), rows)  # type: ignore[attr-defined]
        stored = len(rows)
        relayed = 0
        for record_id, dispatcher_id, sealed in alerts:
            if record_id in existing:
                continue
            if session.get(Dispatcher, dispatcher_id) is None:
                raise ApiError(422, "unknown_dispatcher", "an alert names no enrolled dispatcher")
            session.add(
                Alert(
                    dispatcher_id=dispatcher_id,
                    camera_id=signed.camera_id,
                    record_id=record_id,
                    sealed=sealed,
                    created_at=now,
                    expires_at=now + server.settings.alert_ttl_seconds,
                )
            )
            relayed += 1
        if stored:
            auditlog.append(
                session,
                kind="ingest.batch",
                actor=signed.camera_id,
                now=now,
                details={
                    "records": stored,
                    "record_ids": sorted(b64e(r) for r in parsed if r not in existing),
                },
            )
        return IngestOut(stored=stored, duplicates=len(parsed) - stored, alerts=relayed)

    return _replay_safe(server, signed, work)


# --- hourly aggregates ------------------------------------------------------------------

HOUR: Final = 3600
MAX_STATS_HOURS: Final = 48
"""Hours per stats request: the camera keeps its last 48 hours."""
MAX_HOURLY_COUNT: Final = 10_000_000
"""More than any camera counts in an hour (2,800 frames a second): a bound, not a goal."""
MAX_STATS_AGE: Final = 7 * 86_400
"""How far back a camera may report an hour (it keeps only two days; older is a bad clock)."""
MAX_STATS_BODY: Final = 64 << 10
STATS_COUNTS: Final = ("frames", "reads", "passes", "hits", "uptime_seconds", "healthy_seconds")

Count = Annotated[int, Field(ge=0, le=MAX_HOURLY_COUNT)]
Seconds = Annotated[int, Field(ge=0, le=HOUR)]


class HourStatsIn(Strict):
    """One hour of a camera's aggregate counts; any other field (a plate, a token) is refused."""

    hour: int = Field(ge=0, lt=1 << 40, description="unix seconds of the hour's first second")
    frames: Count = Field(description="frames read by the plate reader")
    reads: Count = Field(description="plate reads (before grouping into passes)")
    passes: Count = Field(description="vehicle passes (one voted read per plate in view)")
    hits: Count = Field(description="passes that matched the hotlist and were sealed")
    uptime_seconds: Seconds = Field(description="seconds of the hour the camera was running")
    healthy_seconds: Seconds = Field(description="of those, seconds it could match and seal")


class StatsIn(Strict):
    hours: list[HourStatsIn] = Field(min_length=1, max_length=MAX_STATS_HOURS)


class StatsOut(Strict):
    hours: int


def _parse_stats(body: bytes) -> StatsIn:
    """The report, or the specific reason it is refused (the input is never echoed)."""
    try:
        return StatsIn.model_validate_json(body)
    except ValidationError as error:
        kinds = {(e["type"], tuple(e["loc"])) for e in error.errors()}
    if any(kind == "extra_forbidden" for kind, _ in kinds):
        raise ApiError(
            422, "unknown_field", "stats hold counts only: " + ", ".join(STATS_COUNTS)
        ) from None
    if ("too_long", ("hours",)) in kinds:
        raise ApiError(
            413, "too_many_hours", f"a stats report holds at most {MAX_STATS_HOURS} hours"
        ) from None
    raise ApiError(
        422,
        "invalid_stats",
        f"stats must be {{hours: [{{hour, {', '.join(STATS_COUNTS)}}}]}} with 1 to "
        f"{MAX_STATS_HOURS} hours and counts between 0 and {MAX_HOURLY_COUNT} "
        f"(seconds at most {HOUR})",
    ) from None


def _check_stats(report: StatsIn, now: int) -> None:
    seen: set[int] = set()
    for number, h in enumerate(report.hours):
        if h.hour % HOUR:
            raise ApiError(422, "bad_hour", f"hour {number} does not start on a whole hour")
        # A camera's clock may run up to MAX_SKEW ahead (signed requests allow as much).
        if h.hour > now + MAX_SKEW:
            raise ApiError(422, "future_hour", f"hour {number} has not begun yet")
        if h.hour < now - MAX_STATS_AGE:
            raise ApiError(422, "stale_hour", f"hour {number} is more than 7 days old")
        if h.hour in seen:
            raise ApiError(422, "duplicate_hour", f"hour {number} repeats an hour")
        if h.hits > h.passes or h.healthy_seconds > h.uptime_seconds:
            raise ApiError(
                422,
                "inconsistent_counts",
                f"hour {number}: more hits than passes or more healthy seconds than uptime",
            )
        seen.add(h.hour)


@router.post("/stats")
async def report_stats(request: Request, server: Server) -> StatsOut:
    """Store this camera's hourly aggregate counts (idempotent: each count keeps its largest).

    A camera re-sends an hour while it is still growing. Keeping the largest
    value of each count makes a report order-free and repeatable: a delayed
    or retried older report cannot undo a newer one, and a camera restarted
    without its counters cannot lower an hour it already reported.
    """
    body, signed = await _signed(request, server, MAX_STATS_BODY)
    report = _parse_stats(body)
    _check_stats(report, server.clock())

    def work(session: Session) -> StatsOut:
        now = server.clock()
        hours = [h.hour for h in report.hours]
        existing = {
            row.hour: row
            for row in session.exec(
                select(CameraHour).where(
                    CameraHour.camera_id == signed.camera_id, col(CameraHour.hour).in_(hours)
                )
            ).all()
        }
        for h in report.hours:
            row = existing.get(h.hour)
            if row is None:
                row = CameraHour(
                    camera_id=signed.camera_id,
                    hour=h.hour,
                    day=epoch_of(h.hour),
                    received_at=now,
                    **{name: getattr(h, name) for name in STATS_COUNTS},
                )
            else:
                for name in STATS_COUNTS:
                    setattr(row, name, max(getattr(row, name), getattr(h, name)))
                row.received_at = now
            session.add(row)
        # No audit entry: a camera reports every few seconds, and counts are no access to
        # anyone's data (the log records decisions about records, keys and the hotlist).
        return StatsOut(hours=len(report.hours))

    return await run_in_threadpool(_replay_safe, server, signed, work)
