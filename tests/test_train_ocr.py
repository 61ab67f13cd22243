"""The training pipeline runs end to end: a few steps, export, load through the camera's loader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from underseal_device.errors import ModelIntegrityError  # noqa: E402
from underseal_device.ocr import Recognizer  # noqa: E402
from underseal_device.synth import PlateSampler  # noqa: E402
from underseal_device.train.ocr import export, train  # noqa: E402


def test_train_export_load(tmp_path: Path) -> None:
    model, result = train(steps=3, batch=4, seed=1, width=16, lr=1e-3, val=8, workers=0)
    manifest = export(model, result, tmp_path)
    spec = json.loads(manifest.read_text())
    assert spec["training"]["steps"] == 3
    assert (tmp_path / "plate_ocr.md").read_text().count(spec["sha256"]) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "plate_ocr.json", "plate_ocr.md", "plate_ocr.onnx",
    ]  # fmt: skip
    trained = Recognizer(manifest, unsafe_trust_manifest=True)
    reads = trained.recognize([PlateSampler(seed=2).sample_at(0).image])
    assert len(reads) == 1  # an untrained model reads nonsense, but it loads and runs


def test_training_is_reproducible_from_its_seed() -> None:
    a, _ = train(steps=2, batch=4, seed=5, width=16, lr=1e-3, val=4, workers=0)
    b, _ = train(steps=2, batch=4, seed=5, width=16, lr=1e-3, val=4, workers=0)
    for pa, pb in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb)


def test_a_model_not_pinned_in_code_does_not_load_by_default(tmp_path: Path) -> None:
    model, result = train(steps=1, batch=2, seed=1, width=16, lr=1e-3, val=2, workers=0)
    manifest = export(model, result, tmp_path)
    with pytest.raises(ModelIntegrityError, match="the code pins"):
        Recognizer(manifest)
