"""The ``underseal-device`` command line: enroll, run, status, simulate."""

from __future__ import annotations

import json
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
from typer.testing import CliRunner, Result
from underseal_device.camera.capture import Frame, NewestFrames
from underseal_device.camera.cli import app
from underseal_device.camera.runtime import CameraRuntime

from tests.camera import traffic
from tests.camera.conftest import HOT, CameraWorld
from underseal.encoding import b64d

runner = CliRunner()


def test_help_explains_every_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("enroll", "run", "status", "simulate"):
        assert command in result.output
    run_help = runner.invoke(app, ["run", "--help"]).output
    assert "--source" in run_help
    assert "live status line" in run_help


def test_enroll_makes_private_keys_and_prints_the_public_ones(tmp_path: Path) -> None:
    state = tmp_path / "cam"
    result = runner.invoke(
        app,
        ["enroll", "--state-dir", str(state), "--camera-id", "cam-7",
         "--latitude", "39.78", "--longitude", "-89.65"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["id"] == "cam-7"
    assert len(b64d(printed["verify_key"], size=32)) == 32
    assert len(b64d(printed["box_key"], size=32)) == 32
    for key in ("device.key", "box.key"):
        mode = (state / "keys" / key).stat().st_mode
        assert stat.S_IMODE(mode) == 0o600
        private = (state / "keys" / key).read_text()
        assert private not in result.output  # the private key is never printed
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    again = runner.invoke(
        app,
        ["enroll", "--state-dir", str(state), "--camera-id", "cam-7",
         "--latitude", "0", "--longitude", "0"],
    )  # fmt: skip
    assert again.exit_code == 1
    assert "already holds device keys" in again.output


def test_enroll_refuses_a_bad_camera_id(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["enroll", "--state-dir", str(tmp_path / "c"), "--camera-id", "bad id!",
         "--latitude", "0", "--longitude", "0"],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "camera id must be" in result.output
    assert not (tmp_path / "c").exists()


def test_status_of_a_camera_that_never_ran_is_unhealthy(tmp_path: Path) -> None:
    state = tmp_path / "cam"
    runner.invoke(
        app,
        ["enroll", "--state-dir", str(state), "--camera-id", "cam-7",
         "--latitude", "0", "--longitude", "0"],
    )  # fmt: skip
    result = runner.invoke(app, ["status", "--state-dir", str(state)])
    assert result.exit_code == 1
    assert "unhealthy" in result.output
    missing = runner.invoke(app, ["status", "--state-dir", str(tmp_path / "nope")])
    assert missing.exit_code == 2
    assert "not an enrolled camera" in missing.output


def test_simulate_writes_a_video_and_its_truth_or_says_what_is_missing(tmp_path: Path) -> None:
    video = tmp_path / "sim.avi"
    result = runner.invoke(
        app, ["simulate", "--out", str(video), "--seconds", "6", "--fps", "2",
              "--hotlist", "7ABC123"],
    )  # fmt: skip
    try:
        import underseal_device.synth.traffic  # noqa: F401
    except ImportError:
        assert result.exit_code == 2
        assert "underseal_device.synth.traffic" in result.output
        return
    assert result.exit_code == 0, result.output
    assert video.stat().st_size > 0
    truth = json.loads(video.with_suffix(".json").read_text())
    assert truth["frames"] == 12
    assert "7ABC123" not in result.output
    bad = runner.invoke(app, ["simulate", "--out", str(tmp_path / "x.mkv"), "--seconds", "1"])
    assert bad.exit_code == 2
    assert "must end in" in bad.output


def test_run_without_a_reader_installed_is_a_clear_error(
    tmp_path: Path, camera_world: CameraWorld
) -> None:
    folder = traffic.write_folder(tmp_path / "f", traffic.render([], 3))
    result = runner.invoke(
        app,
        ["run", "--state-dir", str(camera_world.state.root), "--source", str(folder),
         "--server", "http://127.0.0.1:9", "--reader", "no.such.module:reader"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "cannot be imported" in result.output


# A reader for `run --reader tests.camera.test_cli:scripted_reader`.
VEHICLES = [traffic.Vehicle(traffic.colour(0), start=1, frames=6, lane=0, readings=((HOT, 0.9),))]


def scripted_reader() -> traffic.ColourReader:
    return traffic.ColourReader(VEHICLES)


def _run_in_process(
    cw: CameraWorld, monkeypatch: pytest.MonkeyPatch, source: str, *options: str
) -> Result:
    """``underseal-device run`` on ``source`` with the scripted reader and the test's server."""
    # The CLI's HTTP client reaches the in-process server through the test's tap.
    from underseal_device.camera import cli

    cw.runtime.close()
    monkeypatch.setattr(
        cli,
        "_runtime",
        lambda state, server: CameraRuntime(state, client=cw.client(), clock=cw.world.clock),
    )
    return runner.invoke(
        app,
        ["run", "--state-dir", str(cw.state.root), "--source", source,
         "--server", "http://testserver", "--reader", "tests.camera.test_cli:scripted_reader",
         *options],
    )  # fmt: skip


@pytest.mark.parametrize("workers", ["1", "2"])
def test_run_reads_a_folder_seals_the_hit_and_delivers_it(
    tmp_path: Path, camera_world: CameraWorld, monkeypatch: pytest.MonkeyPatch, workers: str
) -> None:
    cw = camera_world
    folder = traffic.write_folder(tmp_path / "f", traffic.render(VEHICLES, 12))
    result = _run_in_process(
        cw, monkeypatch, str(folder), "--deliver-interval", "0.1", "--workers", workers
    )
    assert result.exit_code == 0, result.output
    assert "hits 1" in result.output
    assert "outbox 0" in result.output or "outbox 1" in result.output
    status = json.loads((cw.state.root / "status.json").read_text())
    assert status["hits"] == 1
    assert status["outbox_depth"] == 0
    assert HOT not in result.output
    shown = runner.invoke(app, ["status", "--state-dir", str(cw.state.root)])
    assert shown.exit_code == 0, shown.output
    assert "hits" in shown.output
    assert isinstance(cw.client(), httpx.Client)


def test_run_stops_after_max_frames_with_every_frame_taken_in_read(
    tmp_path: Path, camera_world: CameraWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    cw = camera_world
    folder = traffic.write_folder(tmp_path / "f", traffic.render(VEHICLES, 12))
    result = _run_in_process(cw, monkeypatch, str(folder), "--max-frames", "5", "--no-motion")
    assert result.exit_code == 0, result.output
    status = json.loads((cw.state.root / "status.json").read_text())
    assert status["frames_in"] == status["frames_processed"] == 5


def test_run_counts_the_frames_a_live_source_sent_while_the_pipeline_was_busy(
    tmp_path: Path, camera_world: CameraWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    cw = camera_world
    images = traffic.render(VEHICLES, 12)

    class Burst:
        """A stream that sends one frame, then eleven at once, faster than any pipeline."""

        def frames(self) -> Iterator[Frame]:
            for i, image in enumerate(images):
                yield Frame(i, i / 30, image)
                if i == 0:
                    time.sleep(0.2)  # the pipeline takes frame 0 and is busy with it

        def close(self) -> None:
            pass

    source = NewestFrames(Burst())
    from underseal_device.camera import cli

    monkeypatch.setattr(cli, "open_source", lambda spec: source)
    result = _run_in_process(cw, monkeypatch, "rtsp://camera.test/live")
    assert result.exit_code == 0, result.output
    status = json.loads((cw.state.root / "status.json").read_text())
    # Every frame sent was either read into the pipeline or counted as dropped.
    assert status["frames_dropped"] == source.dropped > 0
    assert status["frames_in"] + status["frames_dropped"] == len(images)
    assert f"dropped {source.dropped}" in result.output


def test_the_default_reader_hook_builds_the_detector_or_says_why_not() -> None:
    from underseal_device.camera.readers import default_reader
    from underseal_device.errors import DeviceError

    code = "built"
    try:
        reader = default_reader()
        assert callable(reader.read)
    except DeviceError as error:  # not installed, or its model files are not shipped yet
        code = error.code
    assert code in {"built", "reader_unavailable", "model_integrity"}
