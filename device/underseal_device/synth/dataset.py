"""Seeded streams of synthetic samples: plates for training, signs for false accepts.

:class:`PlateSampler` pairs every image with its ground truth. Sample ``i``
of seed ``s`` depends on ``(s, i)`` only, so data-loader workers can split
indices between them and any one sample can be rebuilt to look at it.

Road and shop signs (:func:`render_sign`) are the hard negatives: EFF found
ALPR systems logging "CROSSWALK" as a plate. Their ground truth is the
sign's text, so a reader that returns it - instead of rejecting the crop -
can be counted as a false accept.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from underseal.plates import canonical

from .degrade import degrade
from .fonts import plate_fonts, text_mask
from .plates import PLATE_SIZE, PlateLayout, random_layout, render_plate
from .texts import sample_text

__all__ = ["SIGN_TEXTS", "PlateSampler", "Sample", "render_sign"]

#: Sign texts as printed (line breaks are where a sign may wrap). Road signs
#: in :data:`underseal.plates.SIGN_WORDS` and shop-front words.
SIGN_TEXTS: tuple[str, ...] = (
    "STOP", "ONE WAY", "CROSSWALK", "NO PARKING", "YIELD", "DO NOT ENTER", "WRONG WAY",
    "SPEED LIMIT", "SCHOOL ZONE", "BUS ONLY", "FIRE LANE", "TOW AWAY ZONE", "NO TURN ON RED",
    "ROAD WORK", "DETOUR", "EXIT", "ENTRANCE", "RESERVED", "PED XING", "SLOW", "DEAD END",
    "KEEP RIGHT", "LOADING ZONE", "NO OUTLET", "STOP AHEAD", "ROAD CLOSED", "NO U TURN",
    "OPEN", "PIZZA", "SALE", "HOTEL", "DINER", "PHARMACY", "LIQUOR", "CAFE", "BAKERY",
    "TAXI", "DELI", "MOTEL", "COFFEE", "TIRES", "BAR", "PARKING", "CAR WASH", "ATM",
)  # fmt: skip

# (background, ink) pairs, BGR: the colour codes of US signs and shop fronts.
_SIGN_COLORS: tuple[tuple[tuple[int, int, int], tuple[int, int, int]], ...] = (
    ((30, 30, 190), (245, 245, 245)),  # red: STOP, DO NOT ENTER
    ((245, 245, 245), (20, 20, 20)),  # white regulatory
    ((20, 20, 20), (245, 245, 245)),  # ONE WAY
    ((20, 210, 240), (20, 20, 20)),  # yellow warning
    ((40, 230, 200), (20, 20, 20)),  # fluorescent yellow-green: school, pedestrians
    ((245, 245, 245), (30, 30, 190)),  # NO PARKING
    ((0, 130, 240), (20, 20, 20)),  # orange: road work
    ((60, 110, 20), (245, 245, 245)),  # green guide
    ((130, 60, 10), (245, 245, 245)),  # blue services
)


@dataclass(frozen=True, slots=True)
class Sample:
    """One training image and its ground truth.

    ``image`` is a BGR uint8 camera crop. ``text`` is canonical
    (``underseal.plates.canonical(text) == text``): for a plate, its
    registration including any stacked characters in reading order; for a
    sign, the sign's words run together. ``layout`` is the plate's layout,
    ``None`` for a sign; ``is_plate`` tells the two apart.
    """

    image: np.ndarray
    text: str
    layout: PlateLayout | None
    is_plate: bool


def _draw_sign(text: str, rng: np.random.Generator) -> np.ndarray:
    w, h = PLATE_SIZE
    bg, ink = _SIGN_COLORS[int(rng.integers(len(_SIGN_COLORS)))]
    img = np.empty((h, w, 3), np.uint8)
    img[:] = bg
    border = int(rng.integers(3, 9))
    cv2.rectangle(img, (border, border), (w - 1 - border, h - 1 - border), ink, 3, cv2.LINE_AA)
    words = text.split(" ")
    split = len(words) > 1 and (len(text) > 9 or rng.random() < 0.4)
    lines = [" ".join(words[: len(words) // 2]), " ".join(words[len(words) // 2 :])]
    lines = lines if split else [text]
    font = plate_fonts()[int(rng.integers(len(plate_fonts())))]
    box_h = (h - 4 * border) / len(lines)
    for i, line in enumerate(lines):
        mask = text_mask(font, line, 48)
        lh = box_h * rng.uniform(0.6, 0.8)
        lw = min(mask.shape[1] * lh / mask.shape[0], w - 6 * border)
        mask = cv2.resize(
            mask, (max(1, round(lw)), max(1, round(lh))), interpolation=cv2.INTER_AREA
        )
        x = (w - mask.shape[1]) // 2
        y = round(2 * border + i * box_h + (box_h - mask.shape[0]) / 2)
        region = img[y : y + mask.shape[0], x : x + mask.shape[1]]
        a = mask.astype(np.float32) / 255
        ink_img = np.empty_like(region)
        ink_img[:] = ink
        region[:] = cv2.blendLinear(ink_img, region, a, 1.0 - a)
    return img


def render_sign(rng: np.random.Generator, *, strength: float = 1.0) -> Sample:
    """A degraded crop of a road or shop sign on a plate-sized rectangle.

    The sign's text is one of :data:`SIGN_TEXTS`, on one or two lines in a
    plate font; the crop goes through :func:`~.degrade.degrade` like a
    plate, so only the content tells it apart. ``text`` is the canonical
    sign text (``"NOPARKING"``); ``is_plate`` is ``False``. Deterministic
    for the state of ``rng``.
    """
    shown = SIGN_TEXTS[int(rng.integers(len(SIGN_TEXTS)))]
    image = degrade(_draw_sign(shown, rng), rng, strength=strength)
    return Sample(image=image, text=canonical(shown), layout=None, is_plate=False)


class PlateSampler:
    """An endless, seeded stream of degraded plate samples with ground truth.

    Same ``seed`` and index, same bytes: :meth:`sample_at` depends on
    ``(seed, index)`` only, and :meth:`sample` walks the indices 0, 1, 2...
    ``strength`` is the greatest strength passed to :func:`~.degrade.degrade`:
    each plate draws its own, uniform between a quarter of it and all of it,
    so the stream mixes near-clean crops (a camera's close, well-lit
    plates) with hard ones instead of degrading every sample alike.
    """

    def __init__(self, seed: int, *, strength: float = 1.0) -> None:
        if seed < 0:
            raise ValueError("seed must be non-negative")
        if not strength >= 0:
            raise ValueError("strength must be non-negative")
        self._seed = seed
        self._strength = strength
        self._next = 0
        self._next_sign = 0

    def sample_at(self, index: int) -> Sample:
        """Plate sample number ``index`` (>= 0) of this seed; pure in ``(seed, index)``."""
        rng = np.random.default_rng((self._seed, 0, index))
        layout = random_layout(rng)
        text = sample_text(rng, separator=layout.separator, jurisdiction=layout.jurisdiction)
        plate = render_plate(text.displayed, rng, layout=layout)
        strength = self._strength * float(rng.uniform(0.25, 1.0))
        image = degrade(plate, rng, strength=strength)
        return Sample(image=image, text=text.canonical, layout=layout, is_plate=True)

    def sign_at(self, index: int) -> Sample:
        """Sign sample number ``index`` (>= 0); a stream apart from the plates'."""
        return render_sign(np.random.default_rng((self._seed, 1, index)), strength=self._strength)

    def sample(self) -> Sample:
        """The next plate sample."""
        self._next += 1
        return self.sample_at(self._next - 1)

    def sign(self) -> Sample:
        """The next sign sample (a hard negative)."""
        self._next_sign += 1
        return self.sign_at(self._next_sign - 1)
