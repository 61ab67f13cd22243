"""underseal, in process: cameras that keep only hits, a records database that holds ciphertext.

Real keys and real records: per day a fresh epoch key dealt 2 of 3
(``underseal.threshold.deal``) and endorsed by three custodian keys, a fresh
token key (``underseal.tokens``), one Ed25519 key per camera, and each hit
sealed with ``underseal.sealed.seal_record`` around an
``underseal.evidence.Evidence``. Records are stored in the records server's
own tables (``underseal_server.records.models``) through its engine
settings (WAL, ``secure_delete``), so what is measured is what the server
would hold. No HTTP: the camera-to-server hop is a function call.

The camera's matching is the bundle's: the token of each read looked up in
the day's set of hotlist tokens (``underseal.bundle`` does the same lookup
from a sealed file). A non-hit is dropped at once and counted only in the
camera's hourly totals (``camera_hour``).
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from nacl.public import PrivateKey, PublicKey, SealedBox
from nacl.signing import SigningKey
from sqlalchemy import text
from sqlmodel import Session, SQLModel, select

from underseal.custody import partial_for_warrant
from underseal.encoding import b64e, canonical_json, parse_canonical_json
from underseal.epochs import EpochCertificate, endorse, epoch_end, epoch_of, epoch_start
from underseal.evidence import Evidence
from underseal.sealed import (
    RECORD_ID_BYTES,
    RecordHeader,
    SealedRecord,
    open_record_with_shared_point,
    seal_record,
)
from underseal.threshold import DealtEpoch, combine_partials, deal
from underseal.tokens import TokenKey
from underseal.warrant import Warrant, WarrantScope, sign_warrant
from underseal_server.db import make_engine
from underseal_server.demo.compare.traffic import Read, Traffic
from underseal_server.records.models import (
    Alert,
    Camera,
    CameraHour,
    EpochKey,
    HotlistEntry,
    Record,
)

__all__ = ["CROP_BYTES", "DELIVERY_SECONDS", "UndersealStore", "WarrantResult"]

#: Size of the plate crop in each record's evidence (an assumption: a JPEG of a
#: plate at 1280x720 is a few KiB). Random bytes stand in for it.
CROP_BYTES = 4_096
#: Seconds from a hit to the record reaching the server (the camera delivers at once).
DELIVERY_SECONDS = 2
_TABLES = [Camera, EpochKey, HotlistEntry, Record, Alert, CameraHour]
_CUSTODIANS = ("custodian-1", "custodian-2", "custodian-3")
_COURT = "court-1"


@dataclass(frozen=True, slots=True)
class WarrantResult:
    """What one warrant opened."""

    found_by_token: int
    opened: int
    in_scope: int


class UndersealStore:
    """The cameras, the records database and the keys of one simulated underseal deployment."""

    def __init__(self, path: Path, traffic: Traffic) -> None:
        self.path = path
        self.traffic = traffic
        config = traffic.config
        self.engine = make_engine(f"sqlite:///{path}")
        SQLModel.metadata.create_all(self.engine, tables=[t.__table__ for t in _TABLES])  # type: ignore[attr-defined]
        self.camera_keys = [SigningKey.generate() for _ in traffic.camera_cells]
        self.custodian_keys = {c: SigningKey.generate() for c in _CUSTODIANS}
        self.court = SigningKey.generate()
        self.dispatcher = PrivateKey.generate()
        self.epochs: dict[int, tuple[DealtEpoch, TokenKey]] = {}
        self.refs = {plate: os.urandom(12) for plate in traffic.hotlist}
        self.hits = 0
        self.non_hits = 0
        self.alerts_delivered: list[tuple[str, str, int]] = []
        start = epoch_start(config.first_epoch)
        with Session(self.engine) as session:
            for i in range(len(traffic.camera_cells)):
                lat, lon = traffic.camera_position(i)
                session.add(
                    Camera(
                        id=traffic.camera_id(i),
                        verify_key=bytes(self.camera_keys[i].verify_key),
                        box_key=bytes(PrivateKey.generate().public_key),
                        agency="Springfield PD",
                        latitude=lat / 1e6,
                        longitude=lon / 1e6,
                        direction=0.0,
                        field_of_view=360.0,
                        enrolled_at=start,
                    )
                )
            for n, plate in enumerate(traffic.hotlist):
                session.add(
                    HotlistEntry(
                        id=f"H-{n + 1:05d}",
                        plate=plate,
                        reason="stolen-vehicle",
                        case_number=f"C-{n + 1:05d}",
                        source="NCIC",
                        expires_at=epoch_end(config.first_epoch + config.days + 30),
                        entered_by="importer",
                        entered_at=start,
                        status="active",
                        ref=self.refs[plate],
                    )
                )
            session.commit()

    # -- the key ceremony, one day ahead -------------------------------------------------------

    def prepare_epoch(self, epoch: int) -> None:
        """Deal the day's epoch key 2 of 3, have it endorsed, and publish it with the token key."""
        dealt = deal(epoch=epoch, threshold=2, custodians=len(_CUSTODIANS))
        endorsements = dict(
            endorse(dealt.shares[i], custodian_id=c, key=self.custodian_keys[c])
            for i, c in enumerate(_CUSTODIANS)
        )
        token_key = TokenKey.generate()
        self.epochs[epoch] = (dealt, token_key)
        with Session(self.engine) as session:
            session.add(
                EpochKey(
                    epoch=epoch,
                    certificate=EpochCertificate(epoch, dealt.commitments, endorsements).to_bytes(),
                    token_key=token_key.secret_bytes(),
                    token_scheme=canonical_json(token_key.scheme.to_json()).decode(),
                    created_at=epoch_start(epoch) - 86_400,
                )
            )
            session.commit()

    def bundle(self, epoch: int) -> dict[bytes, str]:
        """The day's hotlist as a camera holds it: token → listed plate's entry (here, the plate).

        The camera's real bundle holds only the tokens and opaque references;
        the plate is kept here only so the simulation can fill the evidence
        the way the camera's reader would (it read that plate).
        """
        _, key = self.epochs[epoch]
        return {key.token(p): p for p in self.traffic.hotlist}

    # -- a day of traffic through the cameras ----------------------------------------------------

    def run_day(self, reads: list[Read], epoch: int) -> int:
        """Every read through its camera: token, match, seal the hits, deliver. Returns hits."""
        dealt, key = self.epochs[epoch]
        tokens = self.bundle(epoch)
        hourly: Counter[tuple[int, int]] = Counter()
        hits: Counter[tuple[int, int]] = Counter()
        records: list[Record] = []
        alerts: list[Alert] = []
        dispatch = SealedBox(self.dispatcher.public_key)
        t = self.traffic
        for r in reads:
            hour = r.at - r.at % 3600
            hourly[r.camera, hour] += 1
            token = key.token(r.plate)
            if token not in tokens:
                self.non_hits += 1  # dropped: nothing about it is kept
                continue
            hits[r.camera, hour] += 1
            record, alert = self._seal(r, token, dealt, epoch, dispatch)
            received = r.at + DELIVERY_SECONDS
            records.append(
                Record(
                    record_id=record.header.record_id,
                    camera_id=t.camera_id(r.camera),
                    epoch=epoch,
                    match_token=token,
                    received_at=received,
                    data=record.to_bytes(),
                )
            )
            alerts.append(
                Alert(
                    dispatcher_id="dispatch-1",
                    camera_id=t.camera_id(r.camera),
                    record_id=record.header.record_id,
                    sealed=alert,
                    created_at=received,
                    expires_at=received + 600,
                )
            )
        with Session(self.engine) as session:
            session.add_all(records)
            session.add_all(alerts)
            for (camera, hour), n in hourly.items():
                # A day arrives in chunks: an hour already reported grows.
                row = session.get(CameraHour, (t.camera_id(camera), hour))
                if row is not None:
                    row.frames += n * 30
                    row.reads += n
                    row.passes += n
                    row.hits += hits[camera, hour]
                    session.add(row)
                    continue
                session.add(
                    CameraHour(
                        camera_id=t.camera_id(camera),
                        hour=hour,
                        day=hour // 86_400,
                        frames=n * 30,
                        reads=n,
                        passes=n,
                        hits=hits[camera, hour],
                        uptime_seconds=3600,
                        healthy_seconds=3600,
                        received_at=hour + 3600,
                    )
                )
            session.commit()
        self._dispatch_and_expire()
        self.hits += len(records)
        return len(records)

    def _seal(
        self, r: Read, token: bytes, dealt: DealtEpoch, epoch: int, dispatch: SealedBox[PublicKey]
    ) -> tuple[SealedRecord, bytes]:
        t = self.traffic
        camera = t.camera_id(r.camera)
        lat, lon = t.camera_position(r.camera)
        record_id = os.urandom(RECORD_ID_BYTES)
        ref = b64e(self.refs[r.plate])
        alert = canonical_json(
            {
                "version": 1,
                "camera_id": camera,
                "record_id": b64e(record_id),
                "plate": r.plate,
                "confidence_pm": 950,
                "observed_at": r.at,
                "latitude_e6": lat,
                "longitude_e6": lon,
                "hotlist_ref": ref,
            }
        )
        sealed_alert = bytes(dispatch.encrypt(alert))
        evidence = Evidence(
            plate=r.plate,
            confidence_pm=950,
            observed_at=r.at,
            camera_id=camera,
            latitude_e6=lat,
            longitude_e6=lon,
            hotlist_ref=ref,
            crop_jpeg=b64e(os.urandom(CROP_BYTES)),
        )
        header = RecordHeader(
            record_id=record_id,
            camera_id=camera,
            epoch=epoch,
            match_token=token,
            alert_size=len(sealed_alert),
        )
        record = seal_record(
            header=header,
            evidence=evidence.to_bytes(),
            epoch_key=dealt.public_key,
            device=self.camera_keys[r.camera],
        )
        return record, sealed_alert

    def _dispatch_and_expire(self) -> None:
        """The dispatcher opens every alert; then the alerts' TTL runs out and they go."""
        opener = SealedBox(self.dispatcher)
        with Session(self.engine) as session:
            for alert in session.exec(select(Alert)).all():
                body = parse_canonical_json(opener.decrypt(alert.sealed), what="alert")
                self.alerts_delivered.append(
                    (str(body["plate"]), str(body["camera_id"]), int(body["observed_at"]))
                )
                session.delete(alert)
            session.commit()

    # -- measurement -------------------------------------------------------------------------------

    def checkpoint(self) -> None:
        """Fold the WAL into the database file, so the file's size is the whole database."""
        with self.engine.connect() as conn:
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))

    def records(self) -> int:
        """Sealed records stored."""
        with Session(self.engine) as session:
            return len(session.exec(select(Record.record_id)).all())

    def record_bytes(self) -> int:
        """Bytes of the sealed records themselves (header, ciphertext, signature)."""
        with self.engine.connect() as conn:
            (n,) = conn.execute(text("SELECT coalesce(sum(length(data)), 0) FROM record")).one()
        return int(n)

    def size(self) -> int:
        """Bytes of the database file after a checkpoint (plus any WAL left)."""
        self.checkpoint()
        wal = self.path.with_name(self.path.name + "-wal")
        return self.path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)

    # -- a warrant, opened as the investigator's client does -----------------------------------

    def open_warrant(self, plate: str, time_from: int, time_to: int, *, now: int) -> WarrantResult:
        """A court-signed warrant for ``plate`` in ``[time_from, time_to)``, opened by 2 of 3.

        The server finds records by match token (the scope's plate under each
        day's token key), two custodians each verify the warrant, the camera's
        signature and the scope and answer with a partial decryption, and the
        client combines them, opens, and keeps what the exact scope covers.
        """
        scope = WarrantScope(
            plates=(plate,), time_from=time_from, time_to=time_to, purpose="comparison"
        )
        warrant = sign_warrant(
            Warrant(
                id="W-1",
                court_id=_COURT,
                investigator="detective-1",
                case="C-1",
                issued_at=now,
                not_after=now + 86_400,
                scope=scope,
                max_records=10_000,
            ),
            self.court,
        ).to_bytes()
        courts = {_COURT: self.court.verify_key}
        devices = {self.traffic.camera_id(i): k.verify_key for i, k in enumerate(self.camera_keys)}
        found = opened = in_scope = 0
        with Session(self.engine) as session:
            for epoch in range(epoch_of(time_from), epoch_of(time_to - 1) + 1):
                if epoch not in self.epochs:
                    continue
                dealt, key = self.epochs[epoch]
                token = key.token(plate)
                query = select(Record).where(Record.epoch == epoch, Record.match_token == token)
                rows = session.exec(query).all()
                for row in rows:
                    found += 1
                    record = SealedRecord.from_bytes(row.data)
                    partials = [
                        partial_for_warrant(
                            dealt.shares[i],
                            record,
                            warrant=warrant,
                            courts=courts,
                            device=devices[row.camera_id],
                            token_key=key,
                            now=now,
                        )
                        for i in (0, 2)  # custodian-1 and custodian-3
                    ]
                    shared = combine_partials(
                        partials, record.ephemeral, commitments=dealt.commitments
                    )
                    evidence = Evidence.from_bytes(
                        open_record_with_shared_point(record, shared, dealt.public_key)
                    )
                    opened += 1
                    if scope.covers(
                        plate=evidence.plate,
                        observed_at=evidence.observed_at,
                        camera_id=evidence.camera_id,
                    ):
                        in_scope += 1
        return WarrantResult(found, opened, in_scope)

    def close(self) -> None:
        """Checkpoint and release the database."""
        self.checkpoint()
        self.engine.dispose()
