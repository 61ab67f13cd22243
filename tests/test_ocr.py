"""The shipped plate recognizer: integrity, reading, and refusing bad input."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from underseal_device.errors import BadImage, ModelIntegrityError
from underseal_device.ocr import PlateText, Recognizer, recognize
from underseal_device.ocr.images import read_image
from underseal_device.ocr.recognizer import DEFAULT_MODEL, MAX_BATCH, PINNED_SHA256, _beam
from underseal_device.synth import PlateSampler, degrade, random_layout, render_plate

from underseal.plates import fold


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return Recognizer()


def test_the_shipped_model_matches_the_hash_pinned_in_code(recognizer: Recognizer) -> None:
    manifest = json.loads(DEFAULT_MODEL.read_text())
    digest = hashlib.sha256((DEFAULT_MODEL.parent / manifest["file"]).read_bytes()).hexdigest()
    assert digest == PINNED_SHA256 == manifest["sha256"] == recognizer.spec.sha256


def test_a_changed_model_file_is_refused(tmp_path: Path) -> None:
    for name in ("plate_ocr.json", "plate_ocr.onnx"):
        shutil.copy(DEFAULT_MODEL.parent / name, tmp_path / name)
    model = tmp_path / "plate_ocr.onnx"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 1
    model.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="refusing to load"):
        Recognizer(tmp_path / "plate_ocr.json")
    # A model swapped together with its manifest still fails the pin in the code.
    manifest = json.loads((tmp_path / "plate_ocr.json").read_text())
    manifest["sha256"] = hashlib.sha256(model.read_bytes()).hexdigest()
    (tmp_path / "plate_ocr.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelIntegrityError, match="the code pins"):
        Recognizer(tmp_path / "plate_ocr.json")
    model.unlink()
    with pytest.raises(ModelIntegrityError, match="missing"):
        Recognizer(tmp_path / "plate_ocr.json")
    with pytest.raises(ModelIntegrityError, match="manifest"):
        Recognizer(tmp_path / "nothing.json")


@pytest.mark.parametrize("text", ["7ABC123", "5XYZ987", "8KTW472", "3MHP519"])
def test_a_rendered_plate_is_read(recognizer: Recognizer, text: str) -> None:
    # Undegraded, but at the sampled size: seed 1 puts the plate 75 px wide in a
    # loose crop, where the model misreads one character (Y as V, T as I), so
    # two reads of three must be exact and none may be off by more than one.
    exact = 0
    for seed in range(3):
        rng = np.random.default_rng(seed)
        layout = dataclasses.replace(random_layout(rng), stacked="none", separator="", frame=None)
        image = degrade(render_plate(text, rng, layout=layout), rng, strength=0.0)
        read = recognizer.recognize([image])[0]
        exact += read.text == text
        assert len(read.text) == len(text)
        assert sum(a != b for a, b in zip(read.text, text, strict=True)) <= 1
        assert len(read.char_confidences) == len(read.text)
        assert all(0.0 < c <= 1.0 for c in read.char_confidences)
    assert exact >= 2, f"{exact}/3 clean renderings of {text} read exactly"


def test_most_lightly_degraded_plates_are_read(recognizer: Recognizer) -> None:
    # Any layout (stacked characters, emblems, frames), from a seed never trained on.
    # Folded, as the matcher compares: O and 0 are one glyph in many plate fonts.
    sampler = PlateSampler(seed=4242, strength=0.2)
    samples = [sampler.sample_at(i) for i in range(40)]
    reads = recognizer.recognize([s.image for s in samples])
    right = sum(
        bool(r.text) and fold(r.text) == fold(s.text) for r, s in zip(reads, samples, strict=True)
    )
    assert right >= 32, f"{right}/40 lightly degraded synthetic plates read (folded)"


def test_batching_gives_the_same_reads(recognizer: Recognizer) -> None:
    sampler = PlateSampler(seed=7)
    images = [sampler.sample_at(i).image for i in range(5)]
    one_by_one = [recognizer.recognize([im])[0].text for im in images]
    assert [r.text for r in recognizer.recognize(images)] == one_by_one


def test_gray_bgr_and_bgra_inputs_agree(recognizer: Recognizer) -> None:
    image = PlateSampler(seed=3, strength=0.2).sample_at(0).image
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    bgra = cv2.cvtColor(image, cv2.COLOR_BGR2BGRA)
    reads = recognizer.recognize([image, bgra, gray, gray[:, :, None]])
    assert len({r.text for r in reads}) == 1
    assert reads[0].text


def test_large_batches_are_split_and_empty_ones_are_fine(recognizer: Recognizer) -> None:
    sampler = PlateSampler(seed=11)
    images = [sampler.sample_at(i % 3).image for i in range(MAX_BATCH + 1)]
    reads = recognizer.recognize(images)
    assert len(reads) == MAX_BATCH + 1
    assert reads[-1] == reads[(MAX_BATCH) % 3]
    assert recognizer.recognize([]) == []


def test_confidence_is_the_whole_reads(recognizer: Recognizer) -> None:
    image = PlateSampler(seed=3, strength=0.2).sample_at(0).image
    read = recognizer.recognize([image])[0]
    # The greedy path's probability never exceeds any character's own.
    assert 0.0 < read.confidence <= min(read.char_confidences) + 1e-6


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.zeros((0, 0, 3), np.uint8), "too small"),
        (np.zeros((40, 80, 3), np.float32), "uint8"),
        (np.zeros((40, 80, 2), np.uint8), "HxW"),
        (np.zeros((5000, 80), np.uint8), "larger than"),
        ("not an image", "numpy array"),
    ],
)
def test_bad_images_are_refused(recognizer: Recognizer, image: object, message: str) -> None:
    with pytest.raises(BadImage, match=message):
        recognizer.recognize([image])


def test_one_bad_crop_refuses_the_batch(recognizer: Recognizer) -> None:
    good = PlateSampler(seed=3).sample_at(0).image
    with pytest.raises(BadImage):
        recognizer.recognize([good, np.zeros((3, 3), np.float64)])
    with pytest.raises(BadImage, match="sequence"):
        recognizer.recognize(good)  # type: ignore[arg-type]


def test_manifests_cannot_point_elsewhere(tmp_path: Path) -> None:
    manifest = json.loads(DEFAULT_MODEL.read_text())
    manifest["file"] = "../models/plate_ocr.onnx"
    (tmp_path / "m.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelIntegrityError, match="beside it"):
        Recognizer(tmp_path / "m.json")


def test_a_manifest_that_does_not_fit_the_model_is_refused(tmp_path: Path) -> None:
    shutil.copy(DEFAULT_MODEL.parent / "plate_ocr.onnx", tmp_path / "plate_ocr.onnx")
    manifest = json.loads(DEFAULT_MODEL.read_text())
    manifest["alphabet"] = manifest["alphabet"][:-1]
    (tmp_path / "m.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelIntegrityError, match="alphabet"):
        Recognizer(tmp_path / "m.json")


def test_unreadable_files_are_refused(tmp_path: Path) -> None:
    corrupt = tmp_path / "plate.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(BadImage, match="does not decode"):
        read_image(corrupt)
    with pytest.raises(BadImage, match="cannot read"):
        read_image(tmp_path / "missing.png")


def test_reads_never_print_their_text() -> None:
    read = PlateText("7ABC123", (0.9,) * 7, 0.5)
    assert "7ABC123" not in repr(read)
    assert "7ABC123" not in str(read)


def test_module_level_recognize_uses_the_shipped_model() -> None:
    image = PlateSampler(seed=5, strength=0.2).sample_at(1).image
    assert recognize([image])[0].text == Recognizer().recognize([image])[0].text


def test_beam_search_sums_every_path_of_a_reading() -> None:
    # Paths for "A" over two steps: A·blank 0.54, A·A 0.36, blank·A 0.04.
    probs = np.array([[0.1, 0.9, 0.0], [0.6, 0.4, 0.0]], np.float32)
    (best,) = _beam(probs, "AB", k=1, width=4)
    assert best.text == "A"
    assert best.probability == pytest.approx(0.94)
    # A blank between two A's makes "AA"; without it they merge.
    probs = np.array([[0, 1, 0], [1, 0, 0], [0, 1, 0]], np.float32)
    assert _beam(probs, "AB", k=1, width=4)[0].text == "AA"


def _plain_beam(probs: np.ndarray, alphabet: str, k: int, width: int) -> list[tuple[str, float]]:
    """The prefix beam search with nothing pruned but classes under 1e-4: the reference."""
    beams: dict[str, tuple[float, float]] = {"": (1.0, 0.0)}
    for step in probs:
        nxt: dict[str, tuple[float, float]] = {}
        for prefix, (p_b, p_nb) in beams.items():
            b, nb = nxt.get(prefix, (0.0, 0.0))
            nxt[prefix] = (b + (p_b + p_nb) * float(step[0]), nb)
            for c in (c for c in np.flatnonzero(step >= 1e-4).tolist() if c != 0):
                ch, p = alphabet[c - 1], float(step[c])
                if prefix and prefix[-1] == ch:
                    b, nb = nxt[prefix]
                    nxt[prefix] = (b, nb + p_nb * p)
                    b, nb = nxt.get(prefix + ch, (0.0, 0.0))
                    nxt[prefix + ch] = (b, nb + p_b * p)
                else:
                    b, nb = nxt.get(prefix + ch, (0.0, 0.0))
                    nxt[prefix + ch] = (b, nb + (p_b + p_nb) * p)
        beams = dict(sorted(nxt.items(), key=lambda kv: -sum(kv[1]))[:width])
    ranked = sorted(beams.items(), key=lambda kv: -sum(kv[1]))
    return [(text, p_b + p_nb) for text, (p_b, p_nb) in ranked[:k] if text]


@pytest.mark.parametrize("seed", range(4))
def test_the_pruned_beam_search_returns_what_the_plain_one_does(seed: int) -> None:
    # Peaked to flat steps: on a flat one dozens of classes pass 1e-4, as on real scenes.
    rng = np.random.default_rng(seed)
    for _ in range(60):
        steps, classes = int(rng.integers(4, 24)), int(rng.integers(3, 12))
        logits = rng.normal(size=(steps, classes)) * rng.uniform(0.5, 8.0, size=(steps, 1))
        logits[:, 0] += rng.uniform(0, 4)  # blank-heavy, as CTC outputs are
        probs = np.exp(logits - logits.max(axis=1, keepdims=True)).astype(np.float32)
        probs /= probs.sum(axis=1, keepdims=True)
        # Steps where only the blank is possible (no class reaches 1e-4): half of a real crop's.
        quiet = rng.random(steps) < 0.4
        probs[quiet] = rng.uniform(0, 9e-5, size=(int(quiet.sum()), classes))
        probs[quiet, 0] = 1 - probs[quiet, 1:].sum(axis=1)
        alphabet = "ABCDEFGHIJK"[: classes - 1]
        for k, width in ((1, 1), (3, 8), (5, 5), (4, 16)):
            got = [(c.text, c.probability) for c in _beam(probs, alphabet, k, width)]
            want = _plain_beam(probs, alphabet, k, width)
            assert [t for t, _ in got] == [t for t, _ in want]
            assert [p for _, p in got] == pytest.approx([p for _, p in want], rel=1e-9)


def test_candidates_are_ranked_and_bounded(recognizer: Recognizer) -> None:
    sampler = PlateSampler(seed=77)
    samples = [sampler.sample_at(i) for i in range(30)]
    lists = recognizer.candidates([s.image for s in samples], k=3)
    greedy = recognizer.recognize([s.image for s in samples])
    for cands, read in zip(lists, greedy, strict=True):
        assert 1 <= len(cands) <= 3
        probs = [c.probability for c in cands]
        assert probs == sorted(probs, reverse=True)
        assert 0.0 < sum(probs) <= 1.0 + 1e-5
        assert len({c.text for c in cands}) == len(cands)
        assert "7ABC123" not in repr(cands)
        if read.confidence > 0.5:  # a confident greedy reading is among the best three
            assert read.text in {c.text for c in cands}
    with pytest.raises(ValueError, match="k <= width"):
        recognizer.candidates([samples[0].image], k=4, width=3)
