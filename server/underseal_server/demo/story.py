"""The demo's story: every step of DESIGN §3 on loopback, narrated, each one checked.

Each step is a method of :class:`Demo`, run in order by :meth:`Demo.run`.
A step that finds something wrong raises :class:`StepFailed`, which names
the step; ``underseal demo --check`` turns that into a non-zero exit, so CI
learns which step broke. Plates: the demo prints the hotlist it loads (the
agency's own list), the plates in the alerts the dispatcher opens, and the
plate a warrant opens, each marked as a hit. It never prints or logs any
other plate: the traffic's truth file holds every plate in the video, and
only its counts are read from it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import queue
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2 as httpx
from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, SealedBox
from nacl.signing import SigningKey
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from underseal.encoding import b64d, b64e
from underseal.epochs import epoch_of
from underseal.evidence import Evidence
from underseal.warrant import Warrant, WarrantScope, sign_warrant
from underseal_server.demo.processes import Children, CliFailed, device_cli, run_cli, server_cli
from underseal_server.demo.server_process import ServerProcess, ServiceFailed, serve_command
from underseal_server.investigator import investigate

__all__ = ["HOTLIST", "Demo", "Options", "StepFailed"]

DAY = 86_400
#: The demo agency's hotlist (synthetic plates; California's 1ABC234 form).
HOTLIST = ("7ABC123", "5KLM482", "6TRW905")
#: The listed plates that drive past the camera in the synthetic traffic.
DRIVING = HOTLIST[:2]
CAMERA_ID = "cam-main-st"
AGENCY = "Springfield PD"
CASE = "SPD-2026-0042"
CUSTODIANS = 3
THRESHOLD = 2
#: How far the clock jumps: past the default 30-day retention for today and tomorrow.
CLOCK_JUMP_DAYS = 32


class StepFailed(Exception):
    """A step of the demo did not do what it shows; ``step`` names it."""

    def __init__(self, step: str, reason: str) -> None:
        super().__init__(f"step '{step}' failed: {reason}")
        self.step = step
        self.reason = reason


@dataclass(frozen=True)
class Options:
    """What ``underseal demo`` was asked for."""

    check: bool = False
    workdir: Path | None = None
    keep: bool = False
    port: int = 8400
    seconds: float = 20.0
    seed: int = 7
    camera_fps: float | None = None
    reader: str | None = None


@dataclass
class Keys:
    """Secrets as environment lines, and the public halves, from ``underseal-server keygen``."""

    env: dict[str, str]
    public: dict[str, str]


@dataclass
class Alert:
    """An alert the dispatcher opened: a hit, so its plate may be shown."""

    alert_id: int
    record_id: str
    plate: str
    observed_at: int
    confidence_pm: int


@dataclass
class Demo:
    """The whole demo; :meth:`run` plays it and :meth:`close` stops every child."""

    options: Options
    console: Console
    children: Children = field(default_factory=Children)
    root: Path = field(init=False)
    _temporary: bool = field(init=False, default=False)
    _step_number: int = field(init=False, default=0)
    _step: str = field(init=False, default="start")
    _clients: list[httpx.Client] = field(init=False, default_factory=list)
    records: ServerProcess = field(init=False)
    custodians: list[ServerProcess] = field(init=False, default_factory=list)
    tokens: dict[str, str] = field(init=False, default_factory=dict)
    custodian_admin: dict[str, str] = field(init=False, default_factory=dict)
    custodian_detective: dict[str, str] = field(init=False, default_factory=dict)
    alerts: list[Alert] = field(init=False, default_factory=list)
    dispatch_box: PrivateKey = field(init=False)
    window: tuple[int, int] = field(init=False, default=(0, 0))
    _dealer_seed: str = field(init=False, default="")
    _court_key: SigningKey = field(init=False)
    _custodian_box: dict[str, str] = field(init=False, default_factory=dict)

    STEPS = 14

    # --- plumbing ---------------------------------------------------------------------

    def _begin(self, name: str, title: str) -> None:
        self._step_number += 1
        self._step = f"{self._step_number}/{self.STEPS} {name}"
        self.console.print()
        self.console.rule(f"[bold]{self._step_number}/{self.STEPS} · {title}", align="left")

    def _say(self, text: str) -> None:
        self.console.print(text, highlight=False)

    def _command(self, text: str) -> None:
        self.console.print(f"  [dim]$ {text}[/dim]", highlight=False, markup=True)

    def _check(self, condition: bool, reason: str) -> None:
        if not condition:
            raise StepFailed(self._step, reason)

    def _client(self, url: str, token: str | None = None) -> httpx.Client:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        client = httpx.Client(base_url=url, headers=headers, timeout=60.0)
        self._clients.append(client)
        return client

    def _ok(self, reply: httpx.Response, status: int = 201) -> dict[str, Any]:
        if reply.status_code != status:
            raise StepFailed(
                self._step,
                f"{reply.request.method} {reply.request.url.path} answered "
                f"{reply.status_code}: {reply.text[:300]}",
            )
        body: dict[str, Any] = reply.json()
        return body

    def _base_env(self) -> dict[str, str]:
        return {k: v for k, v in os.environ.items() if not k.startswith("UNDERSEAL_")}

    def _cli(self, *args: str, env: dict[str, str] | None = None, timeout: float = 180) -> str:
        try:
            return run_cli([*server_cli(), *args], env=env or self._base_env(), timeout=timeout)
        except CliFailed as error:
            raise StepFailed(self._step, str(error)) from None

    @property
    def offset_file(self) -> Path:
        return self.root / "clock-offset"

    def close(self, *, failed: bool = False) -> Path | None:
        """Stop every child process and close clients; returns the work folder if it is kept.

        A temporary folder is removed unless ``--keep`` was given or a step
        failed (its logs say why).
        """
        for client in self._clients:
            client.close()
        self.children.stop_all()
        if not hasattr(self, "root"):
            return None
        if self._temporary and not self.options.keep and not failed:
            shutil.rmtree(self.root, ignore_errors=True)
            return None
        return self.root

    # --- the story --------------------------------------------------------------------

    def run(self, *, on_ready: Callable[[str], None] | None = None) -> str:
        """Play every step; returns the portal's URL (its server still running).

        Raises:
            StepFailed: a step did not do what it shows.
        """
        self.preflight()
        if self.options.workdir is None:
            self.root = Path(tempfile.mkdtemp(prefix="underseal-demo-"))
            self._temporary = True
        else:
            self.root = self.options.workdir.resolve()
            if self.root.exists() and any(self.root.iterdir()):
                raise StepFailed("start", f"{self.root} is not empty: give an empty or new folder")
            self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)
        self.offset_file.write_text("0")
        self._say(f"  work folder: {self.root}")
        keys = self.make_keys()
        self.start_services(keys)
        self.enrol(keys)
        self.key_ceremony()
        camera_dir = self.enrol_camera()
        self.load_hotlist()
        video, listed_passes = self.make_traffic()
        self.run_camera(camera_dir, video, listed_passes)
        plate, records = self.warrant_and_decrypt(keys)
        self.out_of_scope(keys, plate, records)
        self.retention(records)
        self.audit(keys)
        return self.portal()

    # 1 ---------------------------------------------------------------------------------

    def preflight(self) -> None:
        self._begin("preflight", "Preflight: the camera's CLI and its models")
        if shutil.which(device_cli()[0]) is None and not Path(device_cli()[0]).exists():
            raise StepFailed(self._step, "underseal-device is not installed: run `make setup`")
        if self.options.reader is None:
            spec = importlib.util.find_spec("underseal_device")  # locates; imports nothing
            if spec is None or not spec.submodule_search_locations:
                raise StepFailed(self._step, "the camera package is not installed: `make setup`")
            models = Path(next(iter(spec.submodule_search_locations))) / "models"
            for name, make in (("plate_detector", "train-detector"), ("plate_ocr", "train-ocr")):
                missing = [s for s in (".onnx", ".json") if not (models / f"{name}{s}").exists()]
                if missing:
                    raise StepFailed(
                        self._step,
                        f"the {name.replace('_', ' ')} model is missing "
                        f"({models / name}{missing[0]}): run `make {make}` first "
                        "(or pass --reader module:factory)",
                    )
            self._say(f"  detector and recognizer found in {models}")
        else:
            self._say(f"  camera reader: {self.options.reader}")

    # 2 ---------------------------------------------------------------------------------

    def _keygen(self, kind: str, name: str) -> Keys:
        path = self.root / "keys" / f"{name}.env"
        path.parent.mkdir(exist_ok=True, mode=0o700)
        self._cli("keygen", kind, "--out", str(path))
        env: dict[str, str] = {}
        public: dict[str, str] = {}
        for line in path.read_text().splitlines():
            if line.startswith("# public: "):
                label, value = line.removeprefix("# public: ").split()
                public[label] = value
            elif "=" in line:
                key, value = line.split("=", 1)
                env[key] = value
        return Keys(env, public)

    def make_keys(self) -> dict[str, Keys]:
        self._begin("keys", "Keys for every party")
        self._command("underseal-server keygen records|custodian|dealer|court --out FILE")
        keys = {"records": self._keygen("records", "records")}
        for index in range(1, CUSTODIANS + 1):
            keys[f"custodian-{index}"] = self._keygen("custodian", f"custodian-{index}")
        keys["dealer"] = self._keygen("dealer", "dealer")
        keys["court"] = self._keygen("court", "court")
        self._say(
            f"  records server (hotlist authority, log), {CUSTODIANS} custodians, the key "
            f"ceremony's dealer and the court: secrets in {self.root / 'keys'} (mode 0600)"
        )
        self.dispatch_box = PrivateKey.generate()  # the demo plays the dispatcher
        self._dealer_seed = keys["dealer"].env["UNDERSEAL_DEALER_KEY"]
        self._court_key = SigningKey(
            b64d(keys["court"].env["UNDERSEAL_COURT_KEY"], size=32, field="court key")
        )
        self._custodian_box = {
            f"custodian-{i}": keys[f"custodian-{i}"].public["box_key"]
            for i in range(1, CUSTODIANS + 1)
        }
        return keys

    # 3 ---------------------------------------------------------------------------------

    def start_services(self, keys: dict[str, Keys]) -> None:
        self._begin(
            "services", "Start the records server and three custodians (separate processes)"
        )
        base = self._base_env()
        self.records = ServerProcess(
            "records",
            serve_command("records"),
            env={
                **base,
                **keys["records"].env,
                "UNDERSEAL_RECORDS_DATABASE_URL": f"sqlite:///{self.root / 'records.db'}",
                "UNDERSEAL_RECORDS_UNSAFE_CLOCK_OFFSET_FILE": str(self.offset_file),
            },
            log=self.root / "records.log",
            port=self.options.port or 0,
            stop_timeout=10,
            children=self.children,
        )
        dealer_public = keys["dealer"].public["verify_key"]
        self.custodians = []
        for index in range(1, CUSTODIANS + 1):
            name = f"custodian-{index}"
            self.custodians.append(
                ServerProcess(
                    name,
                    serve_command("custodian"),
                    env={
                        **base,
                        **keys[name].env,
                        "UNDERSEAL_CUSTODIAN_CUSTODIAN_ID": name,
                        "UNDERSEAL_CUSTODIAN_SHARE_INDEX": str(index),
                        "UNDERSEAL_CUSTODIAN_DATABASE_URL": f"sqlite:///{self.root / name}.db",
                        "UNDERSEAL_CUSTODIAN_DEALER_KEY": dealer_public,
                        "UNDERSEAL_CUSTODIAN_UNSAFE_CLOCK_OFFSET_FILE": str(self.offset_file),
                    },
                    log=self.root / f"{name}.log",
                    stop_timeout=10,
                    children=self.children,
                )
            )
        self._command("underseal-server records add-principal admin")
        self.tokens["admin"] = self._service_cli(self.records, "records", "add-principal", "admin")
        for service in self.custodians:
            self.custodian_admin[service.name] = self._service_cli(
                service, "custodian", "add-principal", "admin"
            )
        self._command("underseal-server records serve --port P   (and custodian serve × 3)")
        try:
            self.records.start()
            for service in self.custodians:
                service.start()
        except ServiceFailed as error:
            raise StepFailed(self._step, str(error)) from None
        table = Table("service", "URL", "database", box=None, padding=(0, 2))
        for service in (self.records, *self.custodians):
            table.add_row(service.name, service.url, f"{service.name}.db (SQLite)")
        self.console.print(table)
        if self.options.port and self.records.port != self.options.port:
            self._say(
                f"  (port {self.options.port} was in use: the records server took a free one)"
            )

    def _service_cli(self, service: ServerProcess, *args: str) -> str:
        """``underseal-server ARGS`` with ``service``'s settings; its stdout, stripped."""
        return self._cli(*args, env=service.env).strip()

    # 4 ---------------------------------------------------------------------------------

    def enrol(self, keys: dict[str, Keys]) -> None:
        self._begin("enrol", "Enrol people, the court, the dispatcher and the custodians")
        admin = self._client(self.records.url, self.tokens["admin"])
        for principal, role in [
            ("officer", "hotlist_officer"),
            ("approver", "hotlist_approver"),
            ("dispatch", "dispatcher"),
            ("detective", "investigator"),
            ("superior-court", "court"),
        ]:
            reply = admin.post(
                "/v1/principals", json={"id": principal, "role": role, "agency": AGENCY}
            )
            self.tokens[principal] = str(self._ok(reply)["token"])
        court_key = keys["court"].public["verify_key"]
        self._ok(
            admin.post(
                "/v1/courts",
                json={"id": "superior-court", "name": "Superior Court", "verify_key": court_key},
            )
        )
        self._ok(
            admin.post(
                "/v1/dispatchers",
                json={
                    "id": "dispatch",
                    "box_key": b64e(bytes(self.dispatch_box.public_key)),
                    "agency": AGENCY,
                },
            )
        )
        for index, service in enumerate(self.custodians, 1):
            public = keys[service.name].public
            self._ok(
                admin.post(
                    "/v1/custodians",
                    json={
                        "id": service.name,
                        "index": index,
                        "verify_key": public["verify_key"],
                        "box_key": public["box_key"],
                    },
                )
            )
            c_admin = self._client(service.url, self.custodian_admin[service.name])
            # Each custodian registers the court in its own registry: a compromised
            # records server cannot vouch for a court.
            self._ok(
                c_admin.post("/v1/courts", json={"id": "superior-court", "verify_key": court_key})
            )
            account = self._ok(
                c_admin.post("/v1/principals", json={"id": "detective", "role": "investigator"})
            )
            self.custodian_detective[service.name] = str(account["token"])
        self._say(
            "  records server: officer, approver (two-person hotlist rule), dispatcher, "
            "detective, court; the court's key and the dispatcher's box key"
        )
        self._say(
            "  each custodian: the court's key in its own registry, an account for the detective"
        )

    # 5 ---------------------------------------------------------------------------------

    def key_ceremony(self) -> None:
        self._begin(
            "ceremony",
            f"Key ceremony: today's and tomorrow's epoch keys, {THRESHOLD} of {CUSTODIANS}",
        )
        env = {
            **self._base_env(),
            "UNDERSEAL_DEALER_KEY": self._dealer_seed,
            "UNDERSEAL_RECORDS_TOKEN": self.tokens["admin"],
        }
        specs: list[str] = []
        for index, service in enumerate(self.custodians, 1):
            env["UNDERSEAL_CUSTODIAN_TOKEN_" + service.name.upper().replace("-", "_")] = (
                self.custodian_admin[service.name]
            )
            box = self._custodian_box[service.name]
            specs += ["--custodian", f"{service.name},{index},{service.url},{box}"]
        self._command(
            f"underseal-server ceremony --records {self.records.url} "
            f"--custodian ID,INDEX,URL,BOX_KEY ×{CUSTODIANS} --days 2 --threshold {THRESHOLD}"
        )
        result = self._cli(
            "ceremony",
            "--records",
            self.records.url,
            *specs,
            "--days",
            "2",
            "--threshold",
            str(THRESHOLD),
            env=env,
        )
        self._say(f"  {result.strip()}")
        today = epoch_of(int(time.time()))
        epochs = self._ok(self._client(self.custodians[0].url).get("/v1/public/epochs"), 200)
        self._check(str(today) in json.dumps(epochs), "custodian-1 holds no share of today")
        self._say(
            "  each custodian checked its share against the public commitments and endorsed "
            "the epoch key; the whole epoch private keys existed only inside the ceremony"
        )

    # 6 ---------------------------------------------------------------------------------

    def enrol_camera(self) -> Path:
        self._begin(
            "camera-enrol", "Enrol the camera: keys made on the device, public halves registered"
        )
        state = self.root / "camera"
        argv = [
            *device_cli(),
            "enroll",
            "--state-dir",
            str(state),
            "--camera-id",
            CAMERA_ID,
            "--latitude",
            "39.7817",
            "--longitude",
            "-89.6501",
            "--server",
            self.records.url,
        ]
        self._command(
            f"underseal-device enroll --state-dir camera --camera-id {CAMERA_ID} "
            f"--latitude 39.7817 --longitude -89.6501 --server {self.records.url}"
        )
        try:
            public = json.loads(run_cli(argv, env=self._base_env()))
        except (CliFailed, ValueError) as error:
            raise StepFailed(self._step, str(error)) from None
        admin = self._client(self.records.url, self.tokens["admin"])
        self._ok(
            admin.post(
                "/v1/cameras",
                json={
                    "id": CAMERA_ID,
                    "verify_key": public["verify_key"],
                    "box_key": public["box_key"],
                    "agency": AGENCY,
                    "latitude": 39.7817,
                    "longitude": -89.6501,
                    "direction": 90.0,
                    "field_of_view": 40.0,
                    "description": "Main St at 5th, eastbound (demo)",
                },
            )
        )
        for service in self.custodians:
            c_admin = self._client(service.url, self.custodian_admin[service.name])
            self._ok(
                c_admin.post(
                    "/v1/cameras", json={"id": CAMERA_ID, "verify_key": public["verify_key"]}
                )
            )
        self._say(
            f"  {CAMERA_ID}: signing and box keys stay in camera/keys (mode 0600); enrolled on "
            "the records server and at each custodian"
        )
        return state

    # 7 ---------------------------------------------------------------------------------

    def load_hotlist(self) -> None:
        self._begin("hotlist", "Load the hotlist: an officer enters, another person approves")
        officer = self._client(self.records.url, self.tokens["officer"])
        approver = self._client(self.records.url, self.tokens["approver"])
        expires = int(time.time()) + 90 * DAY
        for plate in HOTLIST:
            entry = self._ok(
                officer.post(
                    "/v1/hotlist",
                    json={
                        "plate": plate,
                        "reason": "stolen_vehicle",
                        "case_number": CASE,
                        "expires_at": expires,
                    },
                )
            )
            self._ok(approver.post(f"/v1/hotlist/{entry['id']}/approve"), 200)
        self._say(
            f"  {len(HOTLIST)} listed plates (the agency's own list, shown on purpose): "
            + ", ".join(HOTLIST)
        )
        self._say(
            "  the camera never receives these plates: only keyed tokens in a bundle "
            "signed by the records server and sealed to the camera"
        )

    # 8 ---------------------------------------------------------------------------------

    def make_traffic(self) -> tuple[Path, int]:
        self._begin("traffic", "Synthetic traffic: a street, some vehicles carrying listed plates")
        video = self.root / "traffic.mp4"
        argv = [
            *device_cli(),
            "simulate",
            "--out",
            str(video),
            "--seconds",
            f"{self.options.seconds:g}",
            "--seed",
            str(self.options.seed),
        ]
        for plate in DRIVING:
            argv += ["--hotlist", plate]
        self._command(
            f"underseal-device simulate --out traffic.mp4 --seconds {self.options.seconds:g} "
            f"--seed {self.options.seed} --hotlist … ×{len(DRIVING)}"
        )
        try:
            with self.console.status("  rendering the video…"):
                said = run_cli(argv, env=self._base_env(), timeout=600)
        except CliFailed as error:
            raise StepFailed(self._step, str(error)) from None
        self._say(f"  {said.strip()}")
        # The truth file holds every plate in the video: only counts are read from it.
        truth = json.loads(video.with_suffix(".json").read_text())
        listed = sum(1 for p in truth["passes"] if p.get("hotlist"))
        self._check(listed >= 1, "the video has no pass with a listed plate")
        return video, listed

    # 9 ---------------------------------------------------------------------------------

    def _open_alert(self, item: dict[str, Any]) -> Alert:
        try:
            plain = SealedBox(self.dispatch_box).decrypt(b64d(item["sealed"], field="alert"))
        except CryptoError:
            raise StepFailed(
                self._step, "an alert did not open with the dispatcher's key"
            ) from None
        body = json.loads(plain)
        return Alert(
            alert_id=int(item["id"]),
            record_id=str(item["record_id"]),
            plate=str(body["plate"]),
            observed_at=int(body["observed_at"]),
            confidence_pm=int(body["confidence_pm"]),
        )

    @contextmanager
    def _dispatcher(self) -> Iterator[queue.Queue[Alert | StepFailed]]:
        """Long-poll the alerts as the dispatcher in a thread; opened alerts go on a queue."""
        arrived: queue.Queue[Alert | StepFailed] = queue.Queue()
        stop = threading.Event()
        client = self._client(self.records.url, self.tokens["dispatch"])

        def poll() -> None:
            while not stop.is_set():
                try:
                    reply = client.get("/v1/alerts", params={"wait": 1})
                    if reply.status_code != 200:
                        arrived.put(StepFailed(self._step, f"alerts answered {reply.status_code}"))
                        return
                    items = reply.json()
                    for item in items:
                        arrived.put(self._open_alert(item))
                    if items:
                        client.post("/v1/alerts/ack", json={"ids": [i["id"] for i in items]})
                except StepFailed as error:
                    arrived.put(error)
                    return
                except httpx.HTTPError:
                    stop.wait(0.5)

        thread = threading.Thread(target=poll, name="demo-dispatcher", daemon=True)
        thread.start()
        try:
            yield arrived
        finally:
            stop.set()
            thread.join(timeout=10)

    def _show_alerts(self, arrived: queue.Queue[Alert | StepFailed]) -> None:
        while True:
            try:
                item = arrived.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, StepFailed):
                raise item
            self.alerts.append(item)
            seen = time.strftime("%H:%M:%S", time.localtime(item.observed_at))
            self._say(
                f"  [bold red]ALERT[/bold red] to dispatch: hotlist hit [bold]{item.plate}[/bold] "
                f"at {CAMERA_ID}, {seen}, confidence {item.confidence_pm / 10:.1f}% "
                "[dim](a hit: the dispatcher is meant to see it)[/dim]"
            )

    def run_camera(self, state: Path, video: Path, listed_passes: int) -> None:
        self._begin("camera", "The camera: reads stay on the device, only sealed hits leave")
        argv = [
            *device_cli(),
            "run",
            "--state-dir",
            str(state),
            "--source",
            str(video),
            "--quiet",
            "--deliver-interval",
            "0.5",
        ]
        if self.options.camera_fps is not None:
            argv += ["--fps", f"{self.options.camera_fps:g}"]
        if self.options.reader is not None:
            argv += ["--reader", self.options.reader]
        self._command(
            "underseal-device run --state-dir camera --source traffic.mp4 --quiet"
            + (f" --fps {self.options.camera_fps:g}" if self.options.camera_fps else "")
        )
        log = self.root / "camera.log"
        status_file = state / "status.json"
        started = time.monotonic()
        with self._dispatcher() as arrived:
            process = self.children.spawn(argv, env=self._base_env(), log=log)
            with self.console.status("  camera starting…") as spinner:
                while process.poll() is None:
                    self._show_alerts(arrived)
                    counts = _read_json(status_file)
                    if counts:
                        spinner.update(
                            f"  camera: {counts.get('frames_in', 0)} frames, "
                            f"{counts.get('reads', 0)} reads, {counts.get('passes', 0)} passes, "
                            f"{counts.get('hits', 0)} hits, outbox {counts.get('outbox_depth', 0)}"
                        )
                    time.sleep(0.25)
            self.children.stop(process)
            if process.returncode != 0:
                tail = log.read_text(errors="replace").strip().splitlines()[-6:]
                raise StepFailed(
                    self._step,
                    f"the camera exited with {process.returncode}:\n" + "\n".join(tail),
                )
            counts = _read_json(status_file)
            hits = int(counts.get("hits", 0))
            # The camera delivered before it exited; wait for the alerts to arrive.
            deadline = time.monotonic() + 30
            while len(self.alerts) < hits and time.monotonic() < deadline:
                self._show_alerts(arrived)
                time.sleep(0.2)
            self._show_alerts(arrived)
        elapsed = time.monotonic() - started
        self._say(
            f"  the camera read {counts.get('frames_in', 0)} frames in {elapsed:.0f} s: "
            f"{counts.get('reads', 0)} plate reads, {counts.get('passes', 0)} vehicles passed, "
            f"{hits} hotlist hits ({listed_passes} passes in the video carried a listed plate)"
        )
        self._say(
            f"  every other read was dropped on the camera at once: "
            f"{int(counts.get('passes', 0)) - hits} passes left nothing but a count"
        )
        self._check(int(counts.get("outbox_depth", 0)) == 0, "hits are still in the outbox")
        self._check(hits >= 1, "the camera matched no listed plate (no hit to investigate)")
        self._check(
            len(self.alerts) == hits,
            f"{len(self.alerts)} alerts reached the dispatcher for {hits} hits",
        )
        self._check(
            len({a.record_id for a in self.alerts}) == len(self.alerts), "an alert came twice"
        )
        self._check(
            all(a.plate in HOTLIST for a in self.alerts),
            "an alert names a plate that is not on the hotlist",
        )
        self._check(
            hits <= listed_passes,
            f"{hits} hits for {listed_passes} listed passes (a pass counted twice?)",
        )

    # 10 --------------------------------------------------------------------------------

    def _court_grants(
        self, warrant_id: str, plate: str, purpose: str, window: tuple[int, int]
    ) -> None:
        detective = self._client(self.records.url, self.tokens["detective"])
        now = int(time.time())
        self._ok(
            detective.post(
                "/v1/warrant-requests",
                json={
                    "id": warrant_id,
                    "case": CASE,
                    "purpose": purpose,
                    "plates": [plate],
                    "time_from": window[0],
                    "time_to": window[1],
                    "max_records": 20,
                },
            )
        )
        warrant = sign_warrant(
            Warrant(
                id=warrant_id,
                court_id="superior-court",
                investigator="detective",
                case=CASE,
                issued_at=now,
                # Valid past the clock jump, so that what refuses later is retention.
                not_after=now + 60 * DAY,
                scope=WarrantScope(
                    plates=(plate,), time_from=window[0], time_to=window[1], purpose=purpose
                ),
                max_records=20,
            ),
            self._court_key,
        )
        court = self._client(self.records.url, self.tokens["superior-court"])
        self._ok(
            court.post(
                f"/v1/warrant-requests/{warrant_id}/grant",
                json={"warrant": b64e(warrant.to_bytes())},
            ),
            200,
        )

    def _investigate_cli(self, warrant_id: str, names: list[str], out: Path) -> str:
        env = {**self._base_env(), "UNDERSEAL_INVESTIGATOR_TOKEN": self.tokens["detective"]}
        specs: list[str] = []
        for service in self.custodians:
            if service.name in names:
                env["UNDERSEAL_CUSTODIAN_TOKEN_" + service.name.upper().replace("-", "_")] = (
                    self.custodian_detective[service.name]
                )
                specs += ["--custodian", f"{service.name},{service.url}"]
        self._command(
            f"underseal-server investigate {warrant_id} --records {self.records.url} "
            + " ".join(f"--custodian {n},URL" for n in names)
            + f" --out {out.name}"
        )
        return self._cli(
            "investigate", warrant_id, "--records", self.records.url, *specs, "--out", str(out),
            env=env,
        ).strip()  # fmt: skip

    def warrant_and_decrypt(self, keys: dict[str, Keys]) -> tuple[str, list[str]]:
        self._begin(
            "warrant", f"A court-signed warrant, opened with {THRESHOLD} of {CUSTODIANS} custodians"
        )
        plate = self.alerts[0].plate
        expected = sorted(a.observed_at for a in self.alerts if a.plate == plate)
        now = int(time.time())
        self.window = (now - 2 * 3600, now + 3600)
        self._court_grants("W-1", plate, "stolen vehicle recovery", self.window)
        self._say(
            "  the detective filed request W-1 (one listed plate, the last two hours); "
            "the Superior Court signed the warrant with its key"
        )
        alone = investigate(
            "W-1",
            records=self._client(self.records.url, self.tokens["detective"]),
            custodians=[("custodian-1", self._client(self.custodians[0].url, self._detective(0)))],
        )
        self._say(
            f"  with custodian-1 alone: {len(alone.opened)} records open "
            f"({alone.unopened} stay sealed: one share is not enough)"
        )
        self._check(not alone.opened, "one custodian alone opened a record")
        out = self.root / "evidence"
        said = self._investigate_cli("W-1", ["custodian-1", "custodian-3"], out)
        self._say(f"  {said}   [dim](custodian-2 was not asked)[/dim]")
        opened = [Evidence.from_bytes(p.read_bytes()) for p in sorted(out.glob("W-1-*.json"))]
        for evidence in opened:
            seen = time.strftime("%H:%M:%S", time.localtime(evidence.observed_at))
            self._say(
                f"  opened: [bold]{evidence.plate}[/bold] at {evidence.camera_id}, {seen}, "
                f"crop {len(evidence.crop_jpeg)} base64 chars "
                "[dim](the hit plate the warrant named: shown on purpose)[/dim]"
            )
        self._check(
            all(e.plate == plate for e in opened), "the warrant opened a record of another plate"
        )
        self._check(
            sorted(e.observed_at for e in opened) == expected,
            f"the warrant opened {len(opened)} records; {len(expected)} hits of its plate arrived",
        )
        search = self._ok(
            self._client(self.records.url, self.tokens["detective"]).post(
                "/v1/warrants/W-1/search"
            ),
            200,
        )
        records = [str(r) for r in search["records"]]
        self._check(len(records) == len(expected), "the search found another number of records")
        return plate, records

    def _detective(self, index: int) -> str:
        return self.custodian_detective[self.custodians[index].name]

    def _present(
        self, warrant_id: str, index: int, records: list[str]
    ) -> tuple[str, httpx.Response, dict[str, Any]]:
        """Show ``records`` under a granted warrant straight to one custodian, as the detective."""
        warrant = self._ok(
            self._client(self.records.url, self.tokens["detective"]).get(
                f"/v1/warrant-requests/{warrant_id}"
            ),
            200,
        )["warrant"]
        reply = self._client(self.custodians[index].url, self._detective(index)).post(
            "/v1/partials", json={"warrant": warrant, "records": records}
        )
        return self.custodians[index].name, reply, _error_of(reply)

    # 11 --------------------------------------------------------------------------------

    def out_of_scope(self, keys: dict[str, Keys], plate: str, records: list[str]) -> None:
        self._begin("out-of-scope", "An out-of-scope request is refused")
        other = next(p for p in HOTLIST if p != plate)
        self._court_grants("W-2", other, "another case", self.window)
        self._say(
            "  warrant W-2 names another listed plate; the detective presents W-1's record "
            "under W-2, hoping the custodians will not look"
        )
        for index in (0, 2):
            name, reply, error = self._present("W-2", index, records[:1])
            self._say(
                f"  {name}: HTTP {reply.status_code} {error.get('code')} "
                f"(reason: {error.get('reason', '-')}) — no partial decryption, refusal logged"
            )
            self._check(
                reply.status_code == 403 and error.get("code") == "out_of_scope",
                f"{name} answered {reply.status_code} {error.get('code')}, not 403 out_of_scope",
            )

    # 12 --------------------------------------------------------------------------------

    def retention(self, records: list[str]) -> None:
        self._begin("retention", f"{CLOCK_JUMP_DAYS} days later: retention destroys the keys")
        self.offset_file.write_text(str(CLOCK_JUMP_DAYS * DAY))
        self._say(
            f"  every service's clock moved {CLOCK_JUMP_DAYS} days forward "
            "(UNDERSEAL_*_UNSAFE_CLOCK_OFFSET_FILE: demos and tests only)"
        )
        today = str(epoch_of(int(time.time())))
        self._command("underseal-server records retention")
        said = self._service_cli(self.records, "records", "retention")
        self._say(f"  records server: {said}")
        self._check(today in said, "the records server did not destroy today's epoch")
        for service in self.custodians:
            said = self._service_cli(service, "custodian", "retention")
            self._say(f"  {service.name}: {said}")
            self._check(today in said, f"{service.name} did not destroy today's share")
        out = self.root / "evidence-after"
        said = self._investigate_cli("W-1", ["custodian-1", "custodian-3"], out)
        self._say(f"  the same warrant W-1 again: {said}")
        self._check(not list(out.glob("W-1-*.json")), "a record still opened after retention")
        for index in (0, 2):
            name, reply, error = self._present("W-1", index, records[:1])
            self._say(
                f"  a copy of the ciphertext kept from before, shown to {name}: "
                f"HTTP {reply.status_code} {error.get('code')}"
            )
            self._check(
                reply.status_code == 410 and error.get("code") == "epoch_destroyed",
                f"{name} answered {reply.status_code} {error.get('code')}, not 410",
            )
        self._say("  the shares are gone: no one, with any warrant, can open those records again")

    # 13 --------------------------------------------------------------------------------

    def audit(self, keys: dict[str, Keys]) -> None:
        self._begin("audit", "Verify the audit logs as an outside auditor")
        pinned = {"records": keys["records"].public["log"]}
        for service in self.custodians:
            pinned[service.name] = keys[service.name].public["verify_key"]
        for service in (self.records, *self.custodians):
            state = self.root / f"audit-{service.name}.bin"
            if service is self.records:
                self._command(f"underseal-server audit {service.url} --log-key KEY --state FILE")
            said = self._cli(
                "audit", service.url, "--log-key", pinned[service.name], "--state", str(state)
            )
            first = said.strip().splitlines()[0]
            self._say(f"  {service.name}: {first}")
            self._check("entries verified" in first, f"{service.name}'s log did not verify")
            if service is self.records:
                kinds = json.loads(said.strip().splitlines()[-1])
                for kind in ("hotlist.approve", "ingest.batch", "warrant.grant",
                             "warrant.search", "retention.destroy"):  # fmt: skip
                    self._check(kinds.get(kind, 0) >= 1, f"no {kind} entry in the records log")
                self._say(
                    "    entries by kind: "
                    + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
                )

    # 14 --------------------------------------------------------------------------------

    def portal(self) -> str:
        self._begin("portal", "The transparency portal")
        url = f"{self.records.url}/portal"
        reply = self._client(self.records.url).get("/portal")
        self._check(reply.status_code == 200, f"/portal answered {reply.status_code}")
        for plate in HOTLIST:
            self._check(plate not in reply.text, "the portal shows a plate")
        self.console.print(Panel(f"[bold]{url}[/bold]", title="portal", expand=False))
        self._say(
            "  cameras (with a map and GeoJSON), usage, the audit log and the policy in force, "
            "each page also as JSON and CSV; no plate on any of them"
        )
        return url


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _error_of(reply: httpx.Response) -> dict[str, Any]:
    try:
        error = reply.json()["error"]
    except (ValueError, KeyError, TypeError):
        return {}
    return error if isinstance(error, dict) else {}
