"""The world every proof runs in: the real records server, custodians and camera, in one process.

A :class:`ProofWorld` is the deployment of ``tests/server/deployment.py``
(records server and three custodians, real FastAPI apps over real SQLite
files, real crypto) with a :class:`ManualClock`, plus, when asked, a real
camera (:class:`CameraRuntime` from its own state directory, talking to the
records server through :class:`WireTap`, which keeps every byte it sends).
The one stand-in is the camera's reader: :class:`ColourReader` finds each
synthetic vehicle's plate rectangle in a rendered frame and answers the
readings the proof scripted for it, because the detector model is not what
these claims are about. Tracking, voting, the grammar, folding, tokens,
matching, sealing, the outbox and the uplink are the camera's own.

The world also plays the omniscient observer the claims are checked
against: it reads the custodians' shares straight from their databases to
open any record (:meth:`ProofWorld.oracle_open`), scans every file and every
byte sent, and captures every log line. It never prints a plate: plates are
drawn by index from fixed pools, and failure messages name indices only.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx2 as httpx
from hypothesis import HealthCheck, Phase, settings
from hypothesis import event as hypothesis_event
from hypothesis.errors import InvalidArgument
from sqlmodel import Session, select
from underseal_device.camera.capture import Frame
from underseal_device.camera.errors import UplinkError
from underseal_device.camera.hits import SealedHit
from underseal_device.camera.pipeline import Pipeline
from underseal_device.camera.runtime import CameraRuntime
from underseal_device.camera.state import StateDir
from underseal_device.camera.tracking import Tracker
from underseal_server.ceremony import prepare_epochs
from underseal_server.custodian.app import _key_share
from underseal_server.custodian.models import Share

from tests.camera.conftest import CAMERA_ID, WireTap, enrol_camera
from tests.camera.traffic import ColourReader, Vehicle, colour, render
from tests.server.deployment import Deployment, ok
from underseal.encoding import b64e
from underseal.epochs import EpochCertificate, epoch_of
from underseal.errors import UndersealError
from underseal.evidence import Evidence
from underseal.plates import fold, sample_plates
from underseal.sealed import SealedRecord, open_record_with_shared_point
from underseal.threshold import KeyShare, combine_partials, partial_decrypt
from underseal.tokens import TokenKey

__all__ = [
    "CAMERA_ID",
    "HOT_POOL",
    "NON_HIT_POOL",
    "PROFILE",
    "LogCapture",
    "ProofWorld",
    "absent",
    "plant_settings",
    "proof_settings",
]

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "dev")


def proof_settings(*, ci: tuple[int, int], thorough: tuple[int, int]) -> settings:
    """Examples and steps per example for this proof, scaled by the hypothesis profile.

    One example stands up a whole deployment (about two seconds), so each
    proof sets its own counts instead of the profile's ``max_examples``.
    """
    examples, steps = thorough if PROFILE == "thorough" else ci
    # A failure under ci is reported as found: shrinking a run of whole deployments can
    # take many minutes. `make proofs` (thorough) shrinks it to a minimal story.
    phases = list(Phase) if PROFILE == "thorough" else [Phase.explicit, Phase.reuse, Phase.generate]
    return settings(
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        phases=phases,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


def plant_settings(examples: int = 6, steps: int = 12) -> settings:
    """For the sensitivity tests: generate only (no shrinking), reproducibly, and stop at the
    first failure; the test asserts that the proof fails under the planted violation."""
    return settings(
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        report_multiple_bugs=False,
        suppress_health_check=list(HealthCheck),
    )


def _pools() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Listed plates and never-listed plates, disjoint even after folding.

    Only 6- and 7-character plates: a shorter string could turn up by
    chance in ciphertext or base64 and make a byte scan cry wolf.
    """
    hot = tuple(p for p in sample_plates(40, seed=807) if len(p) >= 6)[:6]
    folded_hot = {fold(p) for p in hot}
    non_hit: list[str] = []
    for plate in sample_plates(200, seed=8_001):
        if len(plate) >= 6 and fold(plate) not in folded_hot and plate not in non_hit:
            non_hit.append(plate)
    return hot, tuple(non_hit[:24])


HOT_POOL, NON_HIT_POOL = _pools()


class LogCapture(logging.Handler):
    """Every log record of the three packages at DEBUG: message, arguments and traceback."""

    PACKAGES = ("underseal", "underseal_device", "underseal_server")

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self._levels: dict[str, int] = {}

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage() + " " + repr(record.args)
        if record.exc_info:
            text += " " + logging.Formatter().formatException(record.exc_info)
        self.lines.append(text)

    def install(self) -> None:
        logging.getLogger().addHandler(self)
        for name in self.PACKAGES:
            logger = logging.getLogger(name)
            self._levels[name] = logger.level
            logger.setLevel(logging.DEBUG)

    def remove(self) -> None:
        logging.getLogger().removeHandler(self)
        for name, level in self._levels.items():
            logging.getLogger(name).setLevel(level)

    def text(self) -> bytes:
        return "\n".join(self.lines).encode()


def db_files(url: str) -> list[Path]:
    """The SQLite file of ``url`` with its WAL and shared-memory files."""
    base = Path(url.removeprefix("sqlite:///"))
    return sorted(base.parent.glob(base.name + "*"))


def db_dump(url: str, *, skip: frozenset[str] = frozenset()) -> bytes:
    """Every value of every row of every table but ``skip``, in a stable order."""
    path = Path(url.removeprefix("sqlite:///"))
    out: list[bytes] = []
    with sqlite3.connect(path) as db:
        query = "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name"
        for (table,) in db.execute(query).fetchall():
            if table in skip:
                continue
            out.append(f"[{table}]".encode())
            rows = db.execute(f'SELECT * FROM "{table}"').fetchall()
            for row in sorted(rows, key=repr):
                out += [v if isinstance(v, bytes) else str(v).encode() for v in row]
    return b"\n".join(out)


def read_all(paths: list[Path]) -> bytes:
    return b"\n".join(p.read_bytes() for p in paths if p.is_file())


class ProofWorld:
    """Records server + 3 custodians (2 of 3), optionally a camera, on one manual clock."""

    def __init__(self, *, retention_days: int = 30, camera: bool = True) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="underseal-proof-")
        self.root = Path(self._tmp.name)
        (self.root / "server").mkdir()
        self.log = LogCapture()
        self.log.install()
        self.d = Deployment(self.root / "server", retention_days=retention_days)
        self.clock = self.d.clock
        self.retention_days = retention_days
        self.certificates: dict[int, EpochCertificate] = {}
        self.token_keys: dict[int, TokenKey] = {}
        self.dealt: dict[int, list[bytes]] = {}  # epoch → every share scalar ever dealt
        self.prepare_days()
        self.listed: dict[int, str] = {}  # HOT_POOL index → hotlist entry id
        self.backups: list[Path] = []
        self.runtime: CameraRuntime | None = None
        self._t = 0.0
        self._passes = 0
        if camera:
            self.state = StateDir(self.root / "camera")
            enrol_camera(self.d, self.state)
            self.tap = WireTap(self.d.records)
            self.start_camera()

    # --- life cycle ---------------------------------------------------------------------

    def close(self) -> None:
        if self.runtime is not None:
            self.runtime.close()
        self.d.close()
        self.log.remove()
        self._tmp.cleanup()

    def start_camera(self) -> None:
        """(Re)start the camera from its state directory, as after a power cut."""
        if self.runtime is not None:
            self.runtime.close()
        self.runtime = CameraRuntime(
            self.state,
            client=httpx.Client(base_url="http://testserver", transport=self.tap),
            clock=self.clock,
            sleep=lambda _: None,
        )
        self._pipeline: Pipeline | None = None

    @property
    def camera(self) -> CameraRuntime:
        assert self.runtime is not None
        return self.runtime

    # --- the key ceremony, the hotlist, time ------------------------------------------------

    def prepare_days(self) -> None:
        """Hold the key ceremony for today and tomorrow if it has not been held yet."""
        today = epoch_of(self.clock())
        missing = [e for e in (today, today + 1) if e not in self.certificates]
        if missing:
            prepare_epochs(
                missing,
                dealer=self.d.dealer,
                custodians=self.d.endpoints,
                records=self.d.admin,
                threshold=self.d.threshold,
            )
        for epoch in missing:
            self.certificates[epoch] = self.d.certificate(epoch)
            self.token_keys[epoch] = self._token_key(epoch)
        if missing:
            for epoch, scalars in self.all_share_scalars().items():
                self.dealt.setdefault(epoch, scalars)

    def _token_key(self, epoch: int) -> TokenKey:
        with Session(self.d.custodian_apps[0].state.engine) as session:
            row = session.get(Share, epoch)
            assert row is not None
            return _key_share(row)[1]

    def advance(self, seconds: int) -> None:
        self.clock.advance(seconds)
        self.prepare_days()

    def list_plate(self, index: int) -> None:
        if index not in self.listed:
            self.listed[index] = self.d.list_plate(HOT_POOL[index])

    def delist_plate(self, index: int) -> None:
        entry = self.listed.pop(index, None)
        if entry is not None:
            ok(self.d.as_["officer"].delete(f"/v1/hotlist/{entry}"), 200)

    def tokens_of(self, plate: str) -> list[bytes]:
        """The plate's token under every epoch token key dealt so far."""
        return [key.token(plate) for key in self.token_keys.values()]

    # --- the camera -----------------------------------------------------------------------

    def sync(self) -> bool:
        """Camera fetches configuration and bundles; False when the server is unreachable."""
        try:
            self.camera.sync()
        except UplinkError:
            return False
        return True

    def pipeline(self) -> Pipeline:
        if self._pipeline is None:
            self._pipeline = self.camera.pipeline(ColourReader([]), tracker=Tracker(max_gap=0.35))
        return self._pipeline

    def drive(self, readings: tuple[tuple[str, float], ...], *, frames: int = 6) -> list[SealedHit]:
        """One vehicle passes the camera; its plate reads as ``readings`` (best first).

        Six frames at 10 fps: slow enough across the 320-pixel view for the tracker to
        follow it, so one vehicle is one pass.
        """
        self._passes += 1
        vehicle = Vehicle(
            colour(self._passes % 6), start=0, frames=frames, lane=0, readings=readings
        )
        pipeline = self.pipeline()
        pipeline.reader = ColourReader([vehicle])
        hits: list[SealedHit] = []
        for index, image in enumerate(render([vehicle], frames, seed=self._passes)):
            self._t += 0.1
            hits += pipeline.process(Frame(index=index, timestamp=self._t, image=image))
        hits += pipeline.finish()
        self._t += 10.0
        return hits

    def deliver(self) -> None:
        self.camera.deliver(retry=False)

    def camera_files(self) -> bytes:
        return read_all([p for p in self.state.root.rglob("*") if p.is_file()])

    def sent(self) -> bytes:
        return self.tap.everything_sent()

    # --- what the services hold -------------------------------------------------------------

    def records_files(self) -> bytes:
        return read_all(db_files(self.d.records_url))

    def custodian_files(self, index: int) -> bytes:
        return read_all(db_files(self.d.custodian_urls[index]))

    def shares(self, epoch: int) -> list[KeyShare]:
        """Every custodian's live share of ``epoch``, read from its database."""
        found = []
        for app in self.d.custodian_apps:
            with Session(app.state.engine) as session:
                row = session.get(Share, epoch)
                if row is not None:
                    found.append(_key_share(row)[0])
        return found

    def all_share_scalars(self) -> dict[int, list[bytes]]:
        """Epoch → share scalars, for every share any custodian holds now."""
        out: dict[int, list[bytes]] = {}
        for app in self.d.custodian_apps:
            with Session(app.state.engine) as session:
                for row in session.exec(select(Share)).all():
                    out.setdefault(row.epoch, []).append(row.scalar)
        return out

    def oracle_open(self, record: SealedRecord, shares: list[KeyShare]) -> Evidence | None:
        """Open ``record`` with ``shares`` (any number); None when they do not open it."""
        certificate = self.certificates[record.header.epoch]
        usable = [s for s in shares if s.epoch == record.header.epoch]
        try:
            partials = [partial_decrypt(s, record.ephemeral) for s in usable]
            shared = combine_partials(
                partials, record.ephemeral, commitments=certificate.commitments
            )
            plain = open_record_with_shared_point(record, shared, certificate.public_key())
        except UndersealError:
            return None
        return Evidence.from_bytes(plain)

    # --- backups of the records server's database ------------------------------------------

    def backup_records(self) -> Path:
        """Copy the records server's SQLite files as they are on disk (a leaked backup)."""
        target = self.root / f"backup-{len(self.backups)}"
        target.mkdir()
        for path in db_files(self.d.records_url):
            shutil.copy2(path, target / path.name)
        self.backups.append(target)
        return target

    def restore_records(self, backup: Path) -> None:
        """Put a backup back in place of the records server's database (an administrator's
        restore after a disk failure, or a rogue one's attempt to bring records back)."""
        with self.records_offline():
            for path in db_files(self.d.records_url):
                path.unlink()
            for path in backup.iterdir():
                shutil.copy2(path, Path(self.d.records_url.removeprefix("sqlite:///")).parent)
        # Epochs published after the backup are missing from it, and the custodians refuse
        # a second key for a day: the operator re-publishes the same certificate and token
        # key (the custodians hold a copy of it). No tooling does this yet.
        for epoch, certificate in sorted(self.certificates.items()):
            if self.d.records.get(f"/v1/epochs/{epoch}").status_code == 404:
                key = self.token_keys[epoch]
                self.d.admin.post(
                    "/v1/epochs",
                    json={
                        "certificate": b64e(certificate.to_bytes()),
                        "token_key": b64e(key.secret_bytes()),
                        "token_scheme": key.scheme.to_json(),
                    },
                )

    @contextmanager
    def records_offline(self) -> Iterator[None]:
        """The records server's connections closed for the duration (files may be replaced)."""
        self.d.records_app.state.engine.dispose()
        yield
        self.d.records_app.state.engine.dispose()


def absent(needle: bytes, haystack: bytes, message: str) -> None:
    """Fail with ``message`` if ``needle`` occurs in ``haystack``.

    Not a bare ``assert needle not in haystack``: pytest would print both
    operands, and the needle is a plate, a token or a key.
    """
    if needle in haystack:
        raise AssertionError(message)


def event(text: str) -> None:
    """``hypothesis.event`` (counted in ``--hypothesis-show-statistics``), and a no-op when a
    sensitivity test drives a machine's rules by hand, outside a hypothesis run."""
    with suppress(InvalidArgument):
        hypothesis_event(text)
