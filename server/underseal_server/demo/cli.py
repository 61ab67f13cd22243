"""``underseal``: the project's show-and-tell commands (``demo``; ``compare`` comes later).

``underseal demo`` plays the whole system on loopback and leaves the
transparency portal running until Ctrl-C; ``underseal demo --check`` runs
the same steps non-interactively, asserts each, stops everything and exits
non-zero naming the step that failed (what CI and ``tests/demo`` run).
"""

from __future__ import annotations

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
    help="See underseal work end to end: `demo` (and, later, `compare`).",
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


# `underseal compare` (issue 8, "The comparison") is added here as its own command.


def main() -> None:
    """Entry point of ``underseal``."""
    app()


if __name__ == "__main__":
    main()
