"""The synthetic plate generator: seeded, well-formed, ground truth canonical, every effect runs."""

from __future__ import annotations

import dataclasses
import importlib.util
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from underseal_device.synth import (
    PICTOGRAMS,
    PLATE_SIZE,
    SIGN_TEXTS,
    Effect,
    FontsNotFound,
    PlateSampler,
    degrade,
    display,
    plate_fonts,
    plate_like_fonts,
    random_layout,
    render_plate,
    render_sign,
    sample_text,
)
from underseal_device.synth.texts import MAX_LENGTH, MIN_LENGTH, SEPARATOR_CHOICES

from underseal.plates import canonical

ROOT = Path(__file__).resolve().parents[1]


def _clean_plate(seed: int = 0) -> np.ndarray:
    return render_plate("ABC 1234", np.random.default_rng(seed))


def test_same_seed_same_bytes() -> None:
    a, b = PlateSampler(11), PlateSampler(11)
    for _ in range(5):
        x, y = a.sample(), b.sample()
        assert x.text == y.text
        assert x.layout == y.layout
        assert x.image.shape == y.image.shape
        assert x.image.tobytes() == y.image.tobytes()


def test_sample_at_matches_the_stream_and_seeds_differ() -> None:
    stream = PlateSampler(5)
    seq = [stream.sample() for _ in range(3)]
    again = PlateSampler(5).sample_at(2)
    assert again.image.tobytes() == seq[2].image.tobytes()
    other = PlateSampler(6).sample_at(2)
    assert other.text != seq[2].text or other.image.tobytes() != seq[2].image.tobytes()


def test_samples_are_well_formed_with_canonical_ground_truth() -> None:
    sampler = PlateSampler(1)
    for _ in range(150):
        s = sampler.sample()
        assert s.is_plate
        assert s.layout is not None
        assert s.image.dtype == np.uint8
        assert s.image.ndim == 3
        assert s.image.shape[2] == 3
        assert s.image.shape[0] >= 8
        assert s.image.shape[1] >= 8
        assert canonical(s.text) == s.text
        assert MIN_LENGTH <= len(s.text) <= MAX_LENGTH


@pytest.mark.parametrize("separator", SEPARATOR_CHOICES)
@pytest.mark.parametrize("stacked", ["none", "left", "right"])
@pytest.mark.parametrize("embossed", [False, True])
def test_render_plate_every_layout_path(separator: str, stacked: str, embossed: bool) -> None:
    rng = np.random.default_rng(3)
    layout = dataclasses.replace(
        random_layout(rng), separator=separator, stacked=stacked, embossed=embossed
    )
    text = sample_text(rng, separator=separator)
    img = render_plate(text.displayed, rng, layout=layout)
    assert img.shape == (PLATE_SIZE[1], PLATE_SIZE[0], 3)
    assert img.dtype == np.uint8
    assert img.std() > 10  # something was drawn


def test_every_layout_option_renders() -> None:
    # Forty layouts reach every background, graphic, sticker and frame branch.
    rng = np.random.default_rng(8)
    seen = set()
    for _ in range(40):
        layout = random_layout(rng)
        seen.add(layout.graphic)
        img = render_plate("7XYZ123", rng, layout=layout)
        assert img.shape == (PLATE_SIZE[1], PLATE_SIZE[0], 3)
    assert seen == {"none", "band", "hills", "sun", "stripes"}


@pytest.mark.parametrize("shape", PICTOGRAMS)
@pytest.mark.parametrize("pictogram", ["none", "left", "right"])
def test_pictograms_and_open_fours_render(shape: str, pictogram: str) -> None:
    rng = np.random.default_rng(5)
    layout = dataclasses.replace(
        random_layout(rng), emblem=shape, pictogram=pictogram, open_four=True, separator="\u00b7"
    )
    img = render_plate("4AB\u00b74CD", rng, layout=layout)
    assert img.shape == (PLATE_SIZE[1], PLATE_SIZE[0], 3)
    assert img.std() > 10


def test_plate_like_faces_are_drawn_often_and_narrow() -> None:
    like = set(plate_like_fonts())
    if not like:
        pytest.skip("no plate-like face installed (fonts-bebas-neue, fonts-opendin)")
    assert like <= set(plate_fonts())
    rng = np.random.default_rng(0)
    layouts = [random_layout(rng) for _ in range(300)]
    share = sum(layout.font in like for layout in layouts) / len(layouts)
    assert 0.45 < share < 0.8  # half picked among them, the rest uniform over all faces
    assert all(0.45 <= layout.char_width <= 1.1 for layout in layouts)


@pytest.mark.parametrize("bad", ["", " - ", "ABC*12", "ÄBC123"])
def test_render_plate_rejects_bad_text(bad: str) -> None:
    with pytest.raises(ValueError, match="plate text"):
        render_plate(bad, np.random.default_rng(0))


@given(
    text=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=5, max_size=8),
    separator=st.sampled_from(SEPARATOR_CHOICES),
    seed=st.integers(0, 2**32),
)
def test_displayed_text_has_the_canonical_ground_truth(
    text: str, separator: str, seed: int
) -> None:
    shown = display(text, separator, np.random.default_rng(seed))
    assert canonical(shown) == text
    assert len(shown) == len(text) + len(separator)
    assert not shown.startswith(separator or "x")
    assert not shown.endswith(separator or "x")


def test_display_rejects_unknown_separator() -> None:
    with pytest.raises(ValueError, match="separator"):
        display("ABC123", "/", np.random.default_rng(0))


@pytest.mark.parametrize("effect", list(Effect))
def test_every_effect_runs_and_changes_the_crop(effect: Effect) -> None:
    plate = _clean_plate()
    plain = degrade(plate, np.random.default_rng(4), strength=0.0)
    forced = degrade(plate, np.random.default_rng(4), strength=0.0, force=[effect])
    assert forced.dtype == np.uint8
    assert forced.ndim == 3
    assert forced.shape[2] == 3
    assert plain.shape != forced.shape or not np.array_equal(plain, forced)


def test_infrared_is_grey() -> None:
    out = degrade(_clean_plate(), np.random.default_rng(2), strength=0.0, force=["infrared"])
    assert np.array_equal(out[..., 0], out[..., 1])
    assert np.array_equal(out[..., 1], out[..., 2])


def test_strong_degradation_still_well_formed() -> None:
    rng = np.random.default_rng(9)
    for _ in range(20):
        out = degrade(_clean_plate(), rng, strength=2.0, force=list(Effect))
        assert out.dtype == np.uint8
        assert out.shape[2] == 3


def test_weak_strengths_degrade_without_error() -> None:
    # Samplers draw strengths down to a quarter of theirs: every effect's range
    # must stay valid there (about 8 of these 240 crops hit low-res, 6 low-light).
    rng = np.random.default_rng(12)
    plate = _clean_plate()
    for i in range(240):
        out = degrade(plate, rng, strength=0.1 + 0.2 * (i % 2))
        assert out.dtype == np.uint8


def test_degrade_rejects_bad_input() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="uint8"):
        degrade(np.zeros((10, 10), np.uint8), rng)
    with pytest.raises(ValueError, match="strength"):
        degrade(_clean_plate(), rng, strength=-1)
    with pytest.raises(ValueError, match="not a valid Effect"):
        degrade(_clean_plate(), rng, force=["sparkles"])


def test_signs_are_negatives_with_their_text() -> None:
    texts = {canonical(t) for t in SIGN_TEXTS}
    sampler = PlateSampler(2)
    for _ in range(15):
        s = sampler.sign()
        assert not s.is_plate
        assert s.layout is None
        assert s.text in texts
        assert s.image.dtype == np.uint8
    a = render_sign(np.random.default_rng(1))
    b = render_sign(np.random.default_rng(1))
    assert a.text == b.text
    assert a.image.tobytes() == b.image.tobytes()


def test_missing_fonts_say_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(FontsNotFound, match="fonts-dejavu-core"):
        plate_fonts(dirs=[str(tmp_path)])


def test_preview_script_writes_a_sheet(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "synth_preview", ROOT / "scripts/synth_preview.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "sheet.png"
    assert module.main([str(out), "--rows", "2", "--cols", "3", "--signs", "0.3"]) == 0
    assert out.stat().st_size > 1000


def test_throughput_is_reported() -> None:
    # Not a timed assertion (machines differ); the figure is for people.
    sampler = PlateSampler(0)
    sampler.sample()  # warm the glyph caches
    n = 100
    start = time.perf_counter()
    for _ in range(n):
        sampler.sample()
    rate = n / (time.perf_counter() - start)
    print(f"\nsynth throughput: {rate:.0f} samples/s (render + degrade, one process)")
    assert rate > 0
