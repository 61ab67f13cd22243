"""``underseal``: the project's show-and-tell commands, ``demo`` and ``compare``.

``underseal demo`` plays the whole system on loopback and leaves the
transparency portal running until Ctrl-C; ``underseal demo --check`` runs
the same steps non-interactively, asserts each, stops everything and exits
non-zero naming the step that failed (what CI and ``tests/demo`` run).
``underseal compare`` runs one simulated city week through a conventional
ALPR and through underseal and writes the side-by-side report.
"""

from __future__ import annotations

import dataclasses
import signal
import time
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console

from underseal_server.demo.story import Demo, Options, StepFailed

__all__ = ["app", "main"]

app = typer.Typer(
    name="underseal",
    help="See underseal work end to end (`demo`), and beside a conventional ALPR (`compare`).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """See underseal work end to end."""


def _sigterm_as_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@app.command()
def demo(
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            "--ci",
            help="Non-interactive: assert every step, do not leave the portal running, "
            "exit non-zero naming the step that failed.",
        ),
    ] = False,
    workdir: Annotated[
        Path | None,
        typer.Option(help="An empty or new folder for the databases, keys and logs (kept)."),
    ] = None,
    keep: Annotated[
        bool, typer.Option(help="Keep the temporary work folder after the demo.")
    ] = False,
    port: Annotated[
        int,
        typer.Option(
            min=0, max=65535, help="Records server and portal port (a free one if in use; 0: any)."
        ),
    ] = 8400,
    seconds: Annotated[
        float, typer.Option(min=5, max=600, help="Length of the synthetic traffic video.")
    ] = 20.0,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the synthetic traffic.")] = 7,
    camera_fps: Annotated[
        float | None,
        typer.Option(min=0.5, help="The camera processes at most this many frames a second."),
    ] = None,
    reader: Annotated[
        str | None,
        typer.Option(help="The camera's plate reader as module:factory (default: the shipped)."),
    ] = None,
) -> None:
    """Run the records server, three custodians and a camera on loopback, and tell the story.

    Key ceremony (2 of 3), hotlist, synthetic traffic through the camera, hits
    and dispatcher alerts, a court-signed warrant opened with two custodians,
    an out-of-scope request refused, retention 32 days later, the audit log
    verified, and the transparency portal left running at a printed URL.
    Ctrl-C stops every process the demo started.
    """
    console = Console(highlight=False, soft_wrap=True)
    signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    options = Options(
        check=check,
        workdir=workdir,
        keep=keep or workdir is not None,
        port=port,
        seconds=seconds,
        seed=seed,
        camera_fps=camera_fps,
        reader=reader,
    )
    story = Demo(options, console)
    started = time.monotonic()
    code = 0
    try:
        url = story.run()
        took = time.monotonic() - started
        if check:
            console.print(f"\n[bold green]demo check passed[/bold green]: every step, {took:.0f} s")
        else:
            console.print(
                f"\n[bold]The portal is running at {url}[/bold] — open it in a browser. "
                "Press Ctrl-C to stop every service."
            )
            while True:
                time.sleep(3600)
    except StepFailed as error:
        console.print(f"\n[bold red]demo failed at step '{error.step}':[/bold red] {error.reason}")
        code = 1
    except KeyboardInterrupt:
        console.print("\nstopping every service the demo started…")
        code = 0 if not check else 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut cleanup short
        kept = story.close(failed=code == 1)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if kept is not None:
            console.print(f"work folder (databases, keys, logs): {kept}")
    if code:
        raise typer.Exit(code)


@app.command()
def compare(
    out: Annotated[
        Path, typer.Option(help="Folder for the report (README.md and PNG charts).")
    ] = Path("docs/comparison"),
    workdir: Annotated[
        Path | None,
        typer.Option(help="Folder for the two databases (kept); default: a temporary folder."),
    ] = None,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the simulated city and traffic.")] = 7,
    quick: Annotated[
        bool, typer.Option(help="A small city (20 cameras, 600 reads a day each): seconds.")
    ] = False,
    cameras: Annotated[
        int | None, typer.Option(min=2, max=1000, help="Fixed cameras (default 64; quick 20).")
    ] = None,
    days: Annotated[int, typer.Option(min=1, max=30, help="Days simulated.")] = 7,
    reads_per_camera_day: Annotated[
        int | None,
        typer.Option(min=10, max=50_000, help="Mean reads per camera per day (default 5,800)."),
    ] = None,
    hotlist_size: Annotated[
        int | None, typer.Option(min=1, max=1_000_000, help="Plates on the hotlist.")
    ] = None,
) -> None:
    """Run one simulated city week through a conventional ALPR and through underseal.

    The conventional design keeps every read in plaintext, searchable (a
    SQLite table); underseal's cameras keep only hotlist hits, sealed with
    real epoch keys into the records server's own tables. The report, in
    OUT, counts records and bytes, what the operator, a breach, a stolen
    camera and a rogue query can read, what a warrant recovers and the
    alerts delivered (the same in both), and states its assumptions. Reads
    are simulated as text (no vision at city scale); no plate is printed.
    """
    import tempfile

    from underseal_server.demo.compare.report import write_report
    from underseal_server.demo.compare.run import run_comparison
    from underseal_server.demo.compare.traffic import CityConfig

    console = Console(highlight=False, soft_wrap=True)
    base = CityConfig(grid=12, cameras=20, reads_per_camera_day=600, hotlist_size=200)
    if not quick:
        base = CityConfig()
    config = CityConfig(
        seed=seed,
        grid=base.grid,
        cameras=cameras if cameras is not None else base.cameras,
        days=days,
        reads_per_camera_day=reads_per_camera_day or base.reads_per_camera_day,
        hotlist_size=hotlist_size if hotlist_size is not None else base.hotlist_size,
    )
    if config.cameras > config.grid * config.grid:
        config = dataclasses.replace(config, grid=int((config.cameras * 9) ** 0.5) + 1)
    command = _compare_command(out, seed, quick, cameras, days, reads_per_camera_day, hotlist_size)
    console.print(
        f"[bold]underseal compare[/bold]: {config.cameras} cameras, {config.days} days, "
        f"about {config.target_reads:,} reads, seed {config.seed}"
    )
    with tempfile.TemporaryDirectory(prefix="underseal-compare-") as tmp:
        folder = workdir if workdir is not None else Path(tmp)
        results = run_comparison(config, folder, console=console)
        path = write_report(results, out, command=command)
    last = results.days[-1]
    console.print(
        f"conventional: {last.conventional_records:,} records; underseal: "
        f"{last.underseal_records:,} records; alerts {results.conventional_alerts:,} and "
        f"{results.underseal_alerts:,} ({'identical' if results.alerts_identical else 'DIFFER'})"
    )
    console.print(f"report: {path} ({results.seconds:.0f} s)")
    if not results.alerts_identical:
        raise typer.Exit(1)


def _compare_command(
    out: Path,
    seed: int,
    quick: bool,
    cameras: int | None,
    days: int,
    reads: int | None,
    hotlist: int | None,
) -> str:
    parts = ["underseal compare", f"--out {out}", f"--seed {seed}"]
    if quick:
        parts.append("--quick")
    if cameras is not None:
        parts.append(f"--cameras {cameras}")
    if days != 7:
        parts.append(f"--days {days}")
    if reads is not None:
        parts.append(f"--reads-per-camera-day {reads}")
    if hotlist is not None:
        parts.append(f"--hotlist-size {hotlist}")
    return " ".join(parts)


def main() -> None:
    """Entry point of ``underseal``."""
    app()


if __name__ == "__main__":
    main()
