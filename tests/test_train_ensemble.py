"""The shipped recognizer's build: networks kept and reused, quantized to int8, run by one graph."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

from typer.testing import CliRunner  # noqa: E402
from underseal_device.errors import ModelIntegrityError  # noqa: E402
from underseal_device.ocr import Recognizer  # noqa: E402
from underseal_device.ocr.recognizer import DEFAULT_MODEL  # noqa: E402
from underseal_device.train.ensemble import combine  # noqa: E402
from underseal_device.train.ocr import Result, app, export, export_model, train  # noqa: E402
from underseal_device.train.ocr_model import PlateCTC  # noqa: E402
from underseal_device.train.quantize import calibration_batch, quantize  # noqa: E402

TINY = ["--steps", "2", "--batch", "4", "--width", "16", "--val", "4", "--workers", "0"]


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


def test_the_ensemble_graph_runs_every_network_in_order(
    members: list[Path], tmp_path: Path
) -> None:
    manifest = export_model(members, tmp_path, holdout_seed=3, val=4, calibration_seed=None)
    ensemble = Recognizer(manifest, unsafe_trust_manifest=True)
    singles = [Recognizer(m, unsafe_trust_manifest=True) for m in members]
    batch = np.random.default_rng(7).random((6, 1, 32, 128), dtype=np.float32)
    probs = ensemble.run(batch)
    assert probs.shape == (6, 2, 32, 37)
    for m, single in enumerate(singles):
        np.testing.assert_allclose(probs[:, m : m + 1], single.run(batch), atol=1e-6)


def test_the_manifest_and_card_name_every_network(members: list[Path], tmp_path: Path) -> None:
    manifest = export_model(
        members, tmp_path, holdout_seed=3, val=4, calibration_seed=4, calibration_plates=32
    )
    spec = json.loads(manifest.read_text())
    training = spec["training"]
    member_shas = [json.loads(m.read_text())["sha256"] for m in members]
    assert spec["members"] == 2
    assert training["networks"] == 2
    assert [m["sha256"] for m in training["members"]] == member_shas
    assert [m["seed"] for m in training["members"]] == [1, 2]
    assert training["validation_seed"] == 3
    assert len(training["network_synthetic_accuracy"]) == 2
    assert len(training["float_network_synthetic_accuracy"]) == 2
    assert training["quantization"]["calibration_seed"] == 4
    assert training["quantization"]["calibration_plates"] == 32
    assert spec["sha256"] not in member_shas
    card = (tmp_path / "plate_ocr.md").read_text()
    assert card.count(spec["sha256"]) == 1
    assert "ensemble of 2 networks" in card
    assert "int8 weights" in card
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "plate_ocr.json", "plate_ocr.md", "plate_ocr.onnx",
    ]  # fmt: skip


def test_quantizing_keeps_the_classifier_in_float_and_is_deterministic(
    members: list[Path],
) -> None:
    graph = _graph(members[0])
    calibration = calibration_batch(4, 32)
    int8 = quantize(graph, calibration)
    assert quantize(graph, calibration) == int8
    model = onnx.load_model_from_string(int8)
    ops = [n.op_type for n in model.graph.node]
    assert "QuantizeLinear" in ops
    assert "DequantizeLinear" in ops
    # The classifier's weight is fed straight in, not through a DequantizeLinear.
    classifier = [n for n in model.graph.node if n.op_type == "Conv"][-1]
    produced_by = {o: n.op_type for n in model.graph.node for o in n.output}
    assert produced_by.get(classifier.input[1]) != "DequantizeLinear"


def test_an_int8_network_reads_like_its_float_one(members: list[Path], tmp_path: Path) -> None:
    for name in ("float", "int8"):
        export_model(
            members[:1], tmp_path / name, holdout_seed=2, val=4,
            calibration_seed=4 if name == "int8" else None, calibration_plates=64,
        )  # fmt: skip
    batch = calibration_batch(9, 16)
    outputs = [
        Recognizer(tmp_path / n / "plate_ocr.json", unsafe_trust_manifest=True).logits(batch)
        for n in ("float", "int8")
    ]
    assert outputs[0].shape == outputs[1].shape == (16, 32, 37)  # one network: N×T×C
    assert np.corrcoef(outputs[0].ravel(), outputs[1].ravel())[0, 1] > 0.98


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


def test_an_altered_network_is_refused_and_nothing_is_written(
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
        export_model(
            [members[0], altered / "plate_ocr.json"], out, holdout_seed=3, val=4,
            calibration_seed=None,
        )  # fmt: skip
    assert not out.exists() or not any(out.iterdir())


def test_train_ocr_keeps_each_network_and_reuses_it_when_the_recipe_matches(
    tmp_path: Path,
) -> None:
    work, out = tmp_path / "work", tmp_path / "out"
    args = [*TINY, "--float32", "--members", "2", "--work", str(work), "--out", str(out)]
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
    assert json.loads((out / "plate_ocr.json").read_text())["training"]["networks"] == 3


def test_train_ocr_ships_one_int8_network_in_the_plain_form(tmp_path: Path) -> None:
    work, out = tmp_path / "work", tmp_path / "out"
    result = CliRunner().invoke(
        app, [*TINY, "--members", "1", "--work", str(work), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    spec = json.loads((out / "plate_ocr.json").read_text())
    assert "members" not in spec
    assert spec["training"]["members"][0]["seed"] == 1
    assert spec["training"]["quantization"]["calibration_seed"] == 3  # seed + networks + 1
    assert (out / "plate_ocr.onnx").read_bytes() != (
        work / "seed-1" / "plate_ocr.onnx"
    ).read_bytes()
    recognizer = Recognizer(out / "plate_ocr.json", unsafe_trust_manifest=True)
    assert recognizer.run(np.zeros((1, 1, 32, 128), np.float32)).shape == (1, 1, 32, 37)


def test_train_ocr_refuses_zero_members(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["--members", "0", "--out", str(tmp_path)])
    assert result.exit_code != 0
    assert "members must be positive" in result.output
