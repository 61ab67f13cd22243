"""How an ensemble's networks agree on one read: whole readings ranked by mean CTC probability."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from underseal_device.errors import ModelIntegrityError
from underseal_device.ocr import Recognizer
from underseal_device.ocr.recognizer import DEFAULT_MODEL

from tests.ocr_probs import steps as _steps


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return Recognizer()


def _crop(*members: np.ndarray) -> np.ndarray:
    return np.stack(members)[None]  # 1×M×T×C


def test_the_reading_likelier_over_all_networks_wins_over_the_more_confident_one(
    recognizer: Recognizer,
) -> None:
    # Network 0 reads "AB" (path 0.6) and gives "AC" no chance; network 1 reads "AC"
    # (path 0.7) but gives "AB" 0.3. Mean probability: AB 0.45 against AC 0.35.
    first = _steps({"A": 1.0}, {"B": 0.6}, {})
    second = _steps({"A": 1.0}, {"C": 0.7, "B": 0.3}, {})
    (read,) = recognizer.decode(_crop(first, second))
    assert read.text == "AB"
    # Confidence: the mean of each network's best path for "AB": 0.6 and 0.3.
    assert read.confidence == pytest.approx(0.45)
    assert read.char_confidences == pytest.approx((1.0, 0.6))  # the network that read it
    # The order of the networks does not matter.
    (again,) = recognizer.decode(_crop(second, first))
    assert again.text == "AB"


def test_networks_that_agree_give_their_mean_confidence(recognizer: Recognizer) -> None:
    sure = _steps({"A": 0.9}, {"B": 0.9}, {})
    unsure = _steps({"A": 0.6}, {"B": 0.6}, {})
    (read,) = recognizer.decode(_crop(unsure, sure))
    assert read.text == "AB"
    assert read.confidence == pytest.approx((0.81 + 0.36) / 2)
    assert read.char_confidences == pytest.approx((0.9, 0.9))


def test_a_reading_beats_no_reading(recognizer: Recognizer) -> None:
    blank = _steps({}, {}, {})
    weak = _steps({"7": 0.55}, {}, {})  # "" is likelier over both networks, but it is no read
    (read,) = recognizer.decode(_crop(blank, weak))
    assert read.text == "7"
    (nothing,) = recognizer.decode(_crop(blank, blank))
    assert nothing.text == ""


def test_ensemble_candidates_are_ranked_by_mean_probability(recognizer: Recognizer) -> None:
    first = _steps({"A": 1.0}, {"B": 0.6}, {})
    second = _steps({"A": 1.0}, {"C": 0.7, "B": 0.3}, {})
    ranked = recognizer._ranked(np.stack([first, second]), k=3, width=8)
    assert [c.text for c in ranked][:2] == ["AB", "AC"]
    assert [c.probability for c in ranked][:2] == pytest.approx([0.45, 0.35])
    assert sum(c.probability for c in ranked) <= 1.0 + 1e-6


def test_a_manifest_whose_member_count_does_not_fit_the_model_is_refused(tmp_path: Path) -> None:
    shutil.copy(DEFAULT_MODEL.parent / "plate_ocr.onnx", tmp_path / "plate_ocr.onnx")
    manifest = json.loads(DEFAULT_MODEL.read_text())
    for members, message in ((manifest.get("members", 1) + 1, "network"), (0, "at least 1")):
        manifest["members"] = members
        (tmp_path / "m.json").write_text(json.dumps(manifest))
        with pytest.raises(ModelIntegrityError, match=message):
            Recognizer(tmp_path / "m.json", unsafe_trust_manifest=True)
