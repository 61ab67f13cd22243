"""The recognizer ensemble: one graph that averages its members, built and reused by train-ocr."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

from typer.testing import CliRunner  # noqa: E402
from underseal_device.errors import ModelIntegrityError  # noqa: E402
from underseal_device.ocr import Recognizer  # noqa: E402
from underseal_device.ocr.recognizer import DEFAULT_MODEL  # noqa: E402
from underseal_device.train.ensemble import combine  # noqa: E402
from underseal_device.train.ocr import (  # noqa: E402
    Result,
    app,
    export,
    export_ensemble,
    train,
)
from underseal_device.train.ocr_model import PlateCTC  # noqa: E402


def _tiny(seed: int) -> tuple[PlateCTC, Result]:
    return train(steps=2, batch=4, seed=seed, width=16, lr=1e-3, val=4, workers=0)


@pytest.fixture(scope="module")
def members(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two tiny networks trained alike from seeds 1 and 2, exported as the camera loads them."""
    root = tmp_path_factory.mktemp("members")
    out = []
    for seed in (1, 2):
        model, result = _tiny(seed)
        out.append(export(model, result, root / f"seed-{seed}"))
    return out


def _graph(manifest: Path) -> bytes:
    return (manifest.parent / "plate_ocr.onnx").read_bytes()


def test_the_ensemble_graph_runs_every_member_in_order(members: list[Path], tmp_path: Path) -> None:
    manifest = export_ensemble(members, tmp_path, holdout_seed=3, val=4)
    ensemble = Recognizer(manifest, unsafe_trust_manifest=True)
    singles = [Recognizer(m, unsafe_trust_manifest=True) for m in members]
    batch = np.random.default_rng(7).random((6, 1, 32, 128), dtype=np.float32)
    probs = ensemble.run(batch)
    assert probs.shape == (6, 2, 32, 37)
    for m, single in enumerate(singles):
        np.testing.assert_allclose(probs[:, m : m + 1], single.run(batch), atol=1e-6)


def test_the_manifest_and_card_name_every_member(members: list[Path], tmp_path: Path) -> None:
    manifest = export_ensemble(members, tmp_path, holdout_seed=3, val=4)
    spec = json.loads(manifest.read_text())
    training = spec["training"]
    member_shas = [json.loads(m.read_text())["sha256"] for m in members]
    assert spec["members"] == 2
    assert training["ensemble"] == 2
    assert [m["sha256"] for m in training["members"]] == member_shas
    assert [m["seed"] for m in training["members"]] == [1, 2]
    assert training["validation_seed"] == 3
    assert len(training["member_synthetic_accuracy"]) == 2
    assert spec["sha256"] not in member_shas
    card = (tmp_path / "plate_ocr.md").read_text()
    assert card.count(spec["sha256"]) == 1
    assert "ensemble of 2 networks" in card
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "plate_ocr.json", "plate_ocr.md", "plate_ocr.onnx",
    ]  # fmt: skip


def test_combining_is_deterministic_and_order_matters_only_to_names(members: list[Path]) -> None:
    a, b = (_graph(m) for m in members)
    assert combine([a, b]) == combine([a, b])
    assert combine([a, b]) != combine([b, a])  # the prefixes follow the order


@pytest.mark.parametrize(
    ("graphs", "message"),
    [
        (lambda a: [], "at least one member"),
        (lambda a: [a, b"not onnx at all"], "member 1 is not an ONNX model"),
        (lambda a: [a, DEFAULT_MODEL.with_name("plate_detector.onnx").read_bytes()],
         "member 1 is not a recognizer graph"),
    ],
)  # fmt: skip
def test_bad_members_are_refused(members: list[Path], graphs: object, message: str) -> None:
    assert callable(graphs)
    with pytest.raises(ValueError, match=message):
        combine(graphs(_graph(members[0])))


def test_an_altered_member_is_refused_and_nothing_is_written(
    members: list[Path], tmp_path: Path
) -> None:
    altered = tmp_path / "altered"
    altered.mkdir()
    for name in ("plate_ocr.json", "plate_ocr.onnx"):
        (altered / name).write_bytes((members[1].parent / name).read_bytes())
    graph = bytearray((altered / "plate_ocr.onnx").read_bytes())
    graph[-1] ^= 1
    (altered / "plate_ocr.onnx").write_bytes(bytes(graph))
    out = tmp_path / "out"
    with pytest.raises(ModelIntegrityError, match="SHA-256"):
        export_ensemble([members[0], altered / "plate_ocr.json"], out, holdout_seed=3, val=4)
    assert not out.exists() or not any(out.iterdir())


def test_train_ocr_keeps_each_network_and_reuses_it_when_the_recipe_matches(
    tmp_path: Path,
) -> None:
    work, out = tmp_path / "work", tmp_path / "out"
    args = ["--steps", "2", "--batch", "4", "--width", "16", "--val", "4", "--workers", "0",
            "--members", "2", "--work", str(work), "--out", str(out)]  # fmt: skip
    runner = CliRunner()
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    kept = {p: p.stat().st_mtime_ns for p in work.glob("seed-*/plate_ocr.onnx")}
    assert sorted(p.parent.name for p in kept) == ["seed-1", "seed-2"]
    shipped = json.loads((out / "plate_ocr.json").read_text())

    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert again.output.count("reusing") == 2
    assert {p: p.stat().st_mtime_ns for p in kept} == kept
    assert json.loads((out / "plate_ocr.json").read_text())["sha256"] == shipped["sha256"]

    # Another recipe (here a third network) trains only what it lacks.
    more = runner.invoke(app, [*args[:-6], "--members", "3", *args[-4:]])
    assert more.exit_code == 0, more.output
    assert more.output.count("reusing") == 2
    assert "seed 3): training" in more.output
    assert json.loads((out / "plate_ocr.json").read_text())["training"]["ensemble"] == 3


def test_train_ocr_refuses_zero_members(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["--members", "0", "--out", str(tmp_path)])
    assert result.exit_code != 0
    assert "members must be positive" in result.output


def test_one_member_ships_as_a_plain_network(tmp_path: Path) -> None:
    work, out = tmp_path / "work", tmp_path / "out"
    args = ["--steps", "2", "--batch", "4", "--width", "16", "--val", "4", "--workers", "0",
            "--members", "1", "--work", str(work), "--out", str(out)]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    spec = json.loads((out / "plate_ocr.json").read_text())
    assert "members" not in spec
    assert spec["training"]["seed"] == 1
    kept = work / "seed-1"
    assert (out / "plate_ocr.onnx").read_bytes() == (kept / "plate_ocr.onnx").read_bytes()
    recognizer = Recognizer(out / "plate_ocr.json", unsafe_trust_manifest=True)
    assert recognizer.run(np.zeros((1, 1, 32, 128), np.float32)).shape == (1, 1, 32, 37)
