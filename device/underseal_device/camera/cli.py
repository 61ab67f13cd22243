"""``underseal-device``: enrol a camera, run it, show its status, make synthetic traffic.

Every command takes ``--state-dir`` (the camera's keys, trust, bundles and
outbox; default ``./underseal-camera``). Errors are one line on stderr and a
non-zero exit; no error or status line ever holds a plate, a token or a key.
"""

from __future__ import annotations

import importlib
import json
import logging
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import httpx2 as httpx
import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from underseal.errors import UndersealError
from underseal_device.camera.capture import MotionGate, Sampler, open_source
from underseal_device.camera.counters import Counters
from underseal_device.camera.errors import NotEnrolled
from underseal_device.camera.outbox import Outbox
from underseal_device.camera.readers import WORKERS, load_reader
from underseal_device.camera.runtime import CameraRuntime
from underseal_device.camera.state import DeviceSettings, StateDir
from underseal_device.errors import DeviceError

__all__ = ["app", "main"]

app = typer.Typer(
    name="underseal-device",
    help=(
        "The underseal camera: reads plates on the device, matches them against a sealed "
        "hotlist, and sends only sealed hits. Non-hits are dropped at once."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

StateOption = Annotated[
    Path,
    typer.Option(
        "--state-dir", help="The camera's state directory (keys, trust, bundles, outbox)."
    ),
]
DEFAULT_STATE = Path("underseal-camera")


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", markup=True, soft_wrap=True)
    return typer.Exit(code)


@app.command()
def enroll(
    camera_id: Annotated[str, typer.Option(help="This camera's id, as enrolled on the server.")],
    latitude: Annotated[float, typer.Option(min=-90, max=90, help="Degrees north.")],
    longitude: Annotated[float, typer.Option(min=-180, max=180, help="Degrees east.")],
    state_dir: StateOption = DEFAULT_STATE,
    server: Annotated[str, typer.Option(help="The records server's URL (stored).")] = "",
    outbox_max_mb: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Cap the outbox file at this many MB (stored); past it, and on a full disk, "
            "hits wait in memory until there is room. Default: no cap.",
        ),
    ] = None,
) -> None:
    """Make this camera's keys (mode 0600) and print what the server's administrator needs.

    Prints the public signing key (Ed25519) and box key (X25519) in base64url,
    with the position, as JSON ready for the records server's POST /v1/cameras
    (add agency, direction, field of view and a description). Refuses a
    state directory that already holds keys.
    """
    try:
        settings = DeviceSettings(
            camera_id=camera_id,
            latitude_e6=round(latitude * 1_000_000),
            longitude_e6=round(longitude * 1_000_000),
            server=server,
            outbox_max_mb=outbox_max_mb,
        )
    except ValueError:
        raise _fail(
            "camera id must be 1-64 letters, digits, '.', '_', ':' or '-', starting with "
            "a letter or digit"
        ) from None
    try:
        keys = StateDir(state_dir).enroll(settings)
    except DeviceError as error:
        raise _fail(str(error)) from None
    out.print_json(
        json.dumps({"id": camera_id, **keys.public, "latitude": latitude, "longitude": longitude})
    )
    err.print(
        f"Keys written to {state_dir}/keys (mode 0600). Enrol the camera on the records server "
        "and at every custodian with these public keys, then run `underseal-device run`."
    )


def _runtime(state: StateDir, server: str) -> CameraRuntime:
    """The camera's runtime talking to ``server`` (tests swap this for an in-process server)."""
    if not server.startswith(("http://", "https://")):
        raise _fail("--server must be an http:// or https:// URL")
    return CameraRuntime(state, client=httpx.Client(base_url=server, timeout=10.0))


def _status_line(counters: Counters, depth: int) -> str:
    health = "ok" if counters.healthy else f"UNHEALTHY ({counters.health_reason})"
    waiting = counters.outbox_in_memory
    memory = f" ({waiting} in memory: DISK FULL)" if waiting else ""
    return (
        f"{counters.fps:5.1f} fps | frames {counters.frames_in} "
        f"(read {counters.frames_processed}, still {counters.frames_still}, "
        f"dropped {counters.frames_dropped}) | "
        f"reads {counters.reads} | passes {counters.passes} | hits {counters.hits} | "
        f"outbox {depth}{memory} | {health}"
    )


def _deliver_forever(runtime: CameraRuntime, stop: threading.Event, interval: float) -> None:
    """Each round: the outbox's hits, then the hourly counts that write_status published."""
    # Its own SQLite connection: connections are per thread.
    with runtime.outbox.sibling() as outbox:
        while True:
            last = stop.is_set()
            try:
                runtime.uplink.deliver(outbox, retry=False)
                runtime.report_stats(retry=False)
            except DeviceError as error:
                logging.getLogger(__name__).warning("delivery failed (%s)", error.code)
            if last:
                break
            stop.wait(interval)


@app.command()
def run(
    source: Annotated[
        str, typer.Option(help="Video file, rtsp:// or http:// URL, camera index, or image folder.")
    ],
    server: Annotated[str, typer.Option(help="The records server's URL.")] = "",
    state_dir: StateOption = DEFAULT_STATE,
    reader: Annotated[
        str | None,
        typer.Option(help="Plate reader as module:factory (default: underseal_device.detect)."),
    ] = None,
    fps: Annotated[
        float | None, typer.Option(min=0.1, help="Process at most this many frames/s.")
    ] = None,
    every: Annotated[int, typer.Option(min=1, help="Process every n-th frame.")] = 1,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=16,
            help="Frames read at once, one per core. A --reader must allow calls "
            "from this many threads at once.",
        ),
    ] = WORKERS,
    motion: Annotated[
        bool, typer.Option(help="Skip frames in which nothing moves (motion gating).")
    ] = True,
    candidates: Annotated[
        int, typer.Option(min=1, max=8, help="Readings of a pass checked against the hotlist.")
    ] = 3,
    min_probability: Annotated[
        float, typer.Option(min=0.01, max=1.0, help="Weakest reading checked.")
    ] = 0.2,
    sync_interval: Annotated[
        float, typer.Option(min=5, help="Seconds between configuration/bundle refreshes.")
    ] = 300,
    deliver_interval: Annotated[
        float, typer.Option(min=0.1, help="Seconds between outbox deliveries.")
    ] = 2.0,
    max_frames: Annotated[int | None, typer.Option(min=1, help="Stop after this many.")] = None,
    quiet: Annotated[bool, typer.Option(help="No live status line.")] = False,
) -> None:
    """Run the camera: capture, read, track, match, seal hits, deliver them and the hourly counts.

    Shows a live status line (frames per second, reads, passes, hits, outbox
    depth, health). Syncs configuration and bundles at start and every
    --sync-interval seconds; with the server down it goes on with what it has
    (it matches nothing without a valid bundle) and delivers when it is back.
    """
    state = StateDir(state_dir)
    try:
        settings = state.settings()
        server = server or settings.server
        if not server:
            raise _fail("no --server given and none stored at enrolment")
        the_reader = load_reader(reader, workers=workers)
        frames = open_source(source)
        runtime = _runtime(state, server)
    except DeviceError as error:
        raise _fail(str(error), 2) from None
    try:
        runtime.sync()
    except (DeviceError, UndersealError) as error:
        err.print(f"warning: sync failed ({error}); going on with the stored bundle")
    try:
        pipeline = runtime.pipeline(
            the_reader,
            k=candidates,
            min_probability=min_probability,
            sampler=Sampler(fps=fps, every=every),
            motion=MotionGate() if motion else None,
            workers=workers,
        )
    except NotEnrolled as error:
        raise _fail(str(error), 2) from None
    stop = threading.Event()
    deliverer = threading.Thread(
        target=_deliver_forever,
        args=(runtime, stop, deliver_interval),
        name="underseal-uplink",
        daemon=True,
    )
    deliverer.start()
    last_sync = last_status = time.monotonic()
    counters = pipeline.counters
    live = Live("starting…", console=err, refresh_per_second=4, transient=False)
    if not quiet:
        live.start()

    def after_frame(counters: Counters) -> None:
        nonlocal last_sync, last_status
        now = time.monotonic()
        if now - last_sync >= sync_interval:
            last_sync = now
            try:
                runtime.sync()
            except (DeviceError, UndersealError) as error:
                logging.getLogger(__name__).warning("sync failed (%s)", type(error).__name__)
        if now - last_status >= 0.5:
            last_status = now
            runtime.write_status(counters)
            if not quiet:
                live.update(_status_line(counters, counters.outbox_depth))

    try:
        # run() finishes the frames taken in and the open tracks, and closes the source.
        pipeline.run(frames, on_frame=after_frame, max_frames=max_frames)
    except KeyboardInterrupt:
        pass
    except DeviceError as error:
        raise _fail(str(error)) from None
    finally:
        runtime.write_status(counters)  # the final hours, for the last delivery round
        stop.set()
        deliverer.join(timeout=30)
        runtime.write_status(counters)
        if not quiet:
            live.update(_status_line(counters, counters.outbox_depth))
            live.stop()
        runtime.close()


@app.command()
def status(state_dir: StateOption = DEFAULT_STATE) -> None:
    """Show the camera's health, aggregate counters and outbox depth (no plate, ever).

    Exits 1 when the camera is unhealthy (no valid bundle, no epoch key), so
    it can serve as a health check.
    """
    state = StateDir(state_dir)
    try:
        settings = state.settings()
    except DeviceError as error:
        raise _fail(str(error), 2) from None
    data: dict[str, Any] = state.read_json("status.json") or {}
    with Outbox(state.outbox_path) as outbox:
        depth = outbox.depth()
        refused = len(outbox.refused())
    table = Table(title=f"camera {settings.camera_id}", show_header=False)
    reason = data.get("health_reason", "never run")
    table.add_row("health", "ok" if data.get("healthy") else f"unhealthy ({reason})")
    table.add_row("outbox", f"{depth} waiting ({refused} refused by the server)")
    for key in ("fps", "frames_in", "frames_dropped", "frames_processed", "frames_still",
                "reads", "passes", "passes_unreadable", "passes_unchecked", "hits", "hits_unsealed",
                "hits_repeated", "hits_lost", "outbox_in_memory"):  # fmt: skip
        if key in data:
            table.add_row(key.replace("_", " "), str(data[key]))
    if "written_at" in data:
        written = time.gmtime(data["written_at"])
        table.add_row("as of", time.strftime("%Y-%m-%d %H:%M:%S UTC", written))
    out.print(table)
    if not data.get("healthy"):
        raise typer.Exit(1)


@app.command()
def simulate(
    out_path: Annotated[
        Path, typer.Option("--out", help="Video to write (.mp4 or .avi); its truth goes beside it.")
    ],
    seconds: Annotated[float, typer.Option(min=1, max=3600, help="Length of the video.")] = 60,
    hotlist: Annotated[
        list[str] | None,
        typer.Option(help="A plate on the hotlist (repeat the option); these pass the camera."),
    ] = None,
    fps: Annotated[float, typer.Option(min=1, max=120, help="Frames per second.")] = 15,
    seed: Annotated[int, typer.Option(min=0, help="Random seed (same seed, same video).")] = 0,
) -> None:
    """Write a synthetic traffic video (1280×720) and the ground truth of every pass.

    Vehicles with rendered plates drive through a street scene; the --hotlist
    plates appear on some of them. The truth file (JSON, beside the video)
    lists every pass: its plate, its frames and whether it is on the hotlist.
    Uses the synthetic traffic generator (underseal_device.synth.traffic).
    """
    try:
        traffic = importlib.import_module("underseal_device.synth.traffic")
    except ImportError:
        raise _fail(
            "the synthetic traffic generator (underseal_device.synth.traffic) is not "
            "installed yet; `simulate` needs it",
            2,
        ) from None
    try:
        spec = traffic.TrafficSpec(
            seed=seed, seconds=seconds, fps=fps, hotlist=tuple(hotlist or ())
        )
        truth = traffic.write_video(spec, out_path)
    except (ValueError, OSError) as error:
        # The generator's messages name a hotlist entry by position, never by text.
        raise _fail(str(error), 2) from None
    out.print(
        f"wrote {out_path} and {traffic.truth_path(out_path)}: {truth.frames} frames, "
        f"{len(truth.passes)} passes, {len(truth.hits)} of them hotlist plates"
    )


def main() -> None:
    """Entry point of ``underseal-device``."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app()
