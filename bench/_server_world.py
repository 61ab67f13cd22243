"""The records server as a separate process, and the deployment it serves (for bench_server).

The deployment (camera, ceremony, hotlist) is prepared in the bench process
with the tests' :class:`Deployment`, on SQLite files; the records server is
then started (:func:`records_server`) as ``python -m bench._server_world serve
SETTINGS PORT``, a real uvicorn process over the same database file with the
same keys (read from ``SETTINGS``, a JSON file in the scratch directory) and
the system clock. The bench process keeps the camera's signing key and plays
the camera.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from nacl.signing import SigningKey
from underseal_server.demo.server_process import Argv, ServerProcess, serve_command

from tests.server.deployment import CAMERA, Deployment
from underseal.bundle import HotlistBundle
from underseal.encoding import b64e
from underseal.epochs import EpochCertificate, epoch_of
from underseal.evidence import Evidence
from underseal.sealed import RecordHeader, SealedRecord, seal_record
from underseal.signed_requests import sign_request

__all__ = [
    "PLATE",
    "Prepared",
    "ingest_body",
    "ingest_request",
    "prepare",
    "records_server",
    "seal_hits",
    "signed_headers",
    "write_settings",
]

PLATE = "7ABC123"
INGEST_PATH = "/v1/camera/records"
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class Prepared:
    """A deployment ready for ingest: what the camera holds, and the server's settings file."""

    world: Deployment
    bundle: HotlistBundle
    certificate: EpochCertificate
    settings: Path


def prepare(root: Path, database: Callable[[str], str] | None = None) -> Prepared:
    """Enrol the camera, run the ceremony and list :data:`PLATE`, at the real time of day.

    The records server in the other process runs on the system clock, so the
    deployment's clock is set to it before the ceremony.
    """
    world = Deployment(root, database_url=database)
    world.clock.now = int(time.time())
    world.ceremony(days=2)
    world.list_plate(PLATE)
    bundle = world.bundle()
    certificate = world.certificate(epoch_of(world.clock()))
    path = write_settings(world, root)
    # The server process owns the database from here on.
    world.close()
    return Prepared(world, bundle, certificate, path)


def write_settings(world: Deployment, root: Path) -> Path:
    """The records server's settings as JSON in ``root`` (owner only), for records_server."""
    settings = world.records_app.state.records.settings
    path = root / "records-settings.json"
    path.write_text(
        json.dumps(
            {
                "database_url": settings.database_url,
                "authority_key": settings.authority_key.get_secret_value(),
                "log_key": settings.log_key.get_secret_value(),
                "retention_days": settings.retention,
            }
        )
    )
    path.chmod(0o600)
    return path


def seal_hits(
    prepared: Prepared,
    count: int,
    *,
    crop_bytes: int,
    camera_id: str = CAMERA,
    camera_key: SigningKey | None = None,
    plates: Sequence[str] = (PLATE,),
) -> list[SealedRecord]:
    """``count`` hits, sealed and signed now as camera ``camera_id`` does (the deployment's
    own camera by default); hit ``i`` is on ``plates[i % len(plates)]``, each plate listed."""
    matches = [prepared.bundle.match(plate) for plate in plates]
    key = prepared.certificate.public_key()
    device = prepared.world.camera_key if camera_key is None else camera_key
    crop = b64e(os.urandom(crop_bytes)) if crop_bytes else ""
    records = []
    for i in range(count):
        plate, match = plates[i % len(plates)], matches[i % len(plates)]
        assert match is not None, "the plate is not on the hotlist"
        now = int(time.time())
        evidence = Evidence(
            plate=plate,
            confidence_pm=970,
            observed_at=now,
            camera_id=camera_id,
            latitude_e6=39_780_000,
            longitude_e6=-89_650_000,
            hotlist_ref=b64e(match.ref),
            crop_jpeg=crop,
        )
        header = RecordHeader(
            record_id=os.urandom(16), camera_id=camera_id, epoch=key.epoch, match_token=match.token
        )
        records.append(
            seal_record(
                header=header,
                evidence=evidence.to_bytes(),
                epoch_key=key,
                device=device,
            )
        )
    return records


def ingest_request(
    camera: SigningKey, records: list[SealedRecord], *, camera_id: str = CAMERA
) -> tuple[bytes, dict[str, str]]:
    """The body and signed headers of one ingest request for ``records``, signed now."""
    body = ingest_body(records)
    return body, signed_headers(camera, camera_id, "POST", INGEST_PATH, body)


def ingest_body(records: list[SealedRecord]) -> bytes:
    """The JSON body of an ingest request for ``records``."""
    return json.dumps({"records": [b64e(r.to_bytes()) for r in records]}).encode()


def signed_headers(
    camera: SigningKey, camera_id: str, method: str, path: str, body: bytes = b""
) -> dict[str, str]:
    """Camera ``camera_id``'s signed request headers for ``method path body``, signed now."""
    headers = sign_request(
        camera, camera_id=camera_id, method=method, path=path, body=body, now=int(time.time())
    )
    headers["content-type"] = "application/json"
    return headers


def records_server(settings: Path, *, log: Path, workers: int = 1) -> ServerProcess:
    """The records server over ``settings``, output in ``log``: ``with`` it for a block.

    One worker: this module's :func:`serve`. Several: the operator CLI's
    uvicorn workers, the settings in the environment.
    """
    if workers == 1:
        env = dict(os.environ)
        command = _serve_here(settings)
    else:
        fields = json.loads(settings.read_text())
        env = {k: v for k, v in os.environ.items() if not k.startswith("UNDERSEAL_")}
        env |= {f"UNDERSEAL_RECORDS_{k.upper()}": str(v) for k, v in fields.items()}
        env["UNDERSEAL_RECORDS_RETENTION_INTERVAL_SECONDS"] = "0"
        cli = [sys.executable, "-m", "underseal_server.cli"]
        command = serve_command("records", workers=workers, cli=cli)
    return ServerProcess(
        "records server",
        command,
        env=env,
        log=log,
        cwd=ROOT,
        start_timeout=60,
        stop_timeout=15,
    )


def _serve_here(settings: Path) -> Argv:
    """``python -m bench._server_world serve SETTINGS PORT``, given the port."""
    here = [sys.executable, "-m", "bench._server_world", "serve", str(settings)]
    return lambda port: [*here, str(port)]


def serve(settings_path: Path, port: int) -> None:
    """Run the records server over the settings in ``settings_path`` on 127.0.0.1:``port``."""
    import uvicorn
    from underseal_server.records.app import create_app
    from underseal_server.records.settings import RecordsSettings

    settings = RecordsSettings(**json.loads(settings_path.read_text()))
    app = create_app(settings)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "serve":
        sys.exit("usage: python -m bench._server_world serve SETTINGS_JSON PORT")
    serve(Path(sys.argv[2]), int(sys.argv[3]))
