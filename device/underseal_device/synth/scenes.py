"""Synthetic road scenes: whole camera frames with every plate's box known.

:class:`SceneSampler` draws a 1280x720 (by default) frame of a street as a
roadside or vehicle-mounted camera sees it: sky, buildings and trees along
the horizon, a road with lane markings, poles and road signs, and 0-4
vehicles seen from behind or in front, each carrying a plate from
:func:`~.plates.render_plate`, placed in perspective on the vehicle. Shop
signs, text on trucks, bumper stickers and words painted on the road are
the hard negatives. Paint is mostly white, black, grey or silver, as on
real roads, and glossy (light falls off down the face and a band of sky
reflects across it). Chrome sits around the plate (a strip, a maker's oval,
a trim badge such as SPORT or AWD), and the bumper has its own edges (rear:
creases, a black valance with reflectors, exhaust tips; front: the slatted
or meshed intake a front plate sits on, fog lamps), so the plate is not the
only sharp, bright thing on a vehicle. By day a plate in its recess is
duller than printed, its top often shadowed. Light (day, dusk, night,
infrared) and the camera (blur, noise, JPEG) come last, over the whole
frame.

Geometry. Everything is drawn from polygons in an unrolled image plane, then
rolled by the scene's camera roll, so nothing is resampled but the plates
and sign panels. A plate's four corners (:attr:`PlateBox.quad`) are where
the corners of the :func:`~.plates.render_plate` image land; its pixels are
written only inside :attr:`PlateBox.box`, which is the quad's bounding box
grown by one pixel (to hold the anti-aliased edge) and clipped to the
frame. The box therefore contains every pixel the plate changed, by
construction; ``tests/test_scenes.py`` checks it by rendering each plate
twice in flat black and flat white. (The camera's blur, applied last,
spreads a plate's edge by a pixel or two past its box, as a real camera
does.) Vehicles, vehicle shadows and occluders are drawn far to near, and
every pixel remembers which plate or sign it shows, so how much of a plate
is covered is counted, not estimated.

Speed. About 30 scenes per second at 1280x720 on one core (``python -m
bench scenes``): polygons are filled by OpenCV with sub-pixel precision,
only plates and sign panels are warped (into their own boxes), and noise
comes from a cached field.

Ground truth. Scene ``i`` of seed ``s`` depends on ``(s, i)`` only. Plate
texts are canonical (``underseal.plates.canonical(text) == text``); a plate
is *readable* when it is at least :data:`READABLE_MIN_WIDTH` pixels wide and
at least :data:`READABLE_MIN_VISIBLE` of it is in the frame and uncovered.
Training data only: nothing here runs on the camera's reading path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import cv2
import numpy as np

from underseal.plates import canonical

from .dataset import SIGN_TEXTS
from .degrade import _gamma_lut, _glare, _rounded  # the crop renderer's, shared not copied
from .fonts import banner_fonts, plate_fonts, text_mask
from .plates import Color, random_layout, render_plate
from .texts import sample_text

__all__ = [
    "LIGHTINGS",
    "NEGATIVE_KINDS",
    "NEGATIVE_TEXTS",
    "READABLE_MIN_VISIBLE",
    "READABLE_MIN_WIDTH",
    "NegativeBox",
    "PlateBox",
    "Scene",
    "SceneSampler",
]

#: A plate narrower than this (pixels, mean of its top and bottom edges) is
#: not counted as readable.
READABLE_MIN_WIDTH = 40.0
#: Share of a plate that must be inside the frame and uncovered for it to be
#: counted as readable.
READABLE_MIN_VISIBLE = 0.85
#: The light a scene is drawn in; :attr:`Scene.lighting` is one of these.
LIGHTINGS: tuple[str, ...] = ("day", "dusk", "night", "infrared")
#: What a hard negative is; :attr:`NegativeBox.kind` is one of these.
NEGATIVE_KINDS: tuple[str, ...] = ("road_sign", "shop_sign", "truck", "sticker", "road_paint")

_SPEEDS = ("15", "20", "25", "30", "35", "40", "45", "50", "55", "65")
_SHOP_TEXTS: tuple[str, ...] = (
    "OPEN", "PIZZA", "SALE", "HOTEL", "DINER", "PHARMACY", "LIQUOR", "CAFE", "BAKERY", "TAXI",
    "DELI", "MOTEL", "COFFEE", "TIRES", "BAR", "PARKING", "CAR WASH", "ATM", "BOOKS",
    "LAUNDROMAT", "BARBER", "GROCERY", "AUTO PARTS", "NAILS", "TACOS", "DENTIST", "PAWN",
)  # fmt: skip
_TRUCK_TEXTS: tuple[str, ...] = (
    "MOVING", "FRESH PRODUCE", "EXPRESS", "FREIGHT", "PLUMBING", "RENT ME", "ICE CREAM",
    "DELIVERY", "USDOT 2741836", "USDOT 918273", "CALL 555 0142", "555 0199", "KEEP BACK 200 FT",
    "WIDE TURNS", "HOW IS MY DRIVING", "FLEET 42", "UNIT 7731", "CITY BUS", "ROUTE 42",
)  # fmt: skip
_STICKER_TEXTS: tuple[str, ...] = (
    "HONK IF", "STUDENT DRIVER", "BABY ON BOARD", "COEXIST", "26.2", "13.1", "I BRAKE",
    "MY OTHER CAR", "GO TEAM", "CITY AUTO", "VOTE", "PARK PASS", "4X4", "HYBRID", "AWD",
)  # fmt: skip
_PAINT_TEXTS: tuple[str, ...] = ("STOP", "ONLY", "BUS ONLY", "SLOW", "XING", "SCHOOL", "BIKE")
#: Trim badges on a vehicle's rear (generic words, no maker's mark): text beside the plate.
_BADGE_TEXTS: tuple[str, ...] = (
    "SPORT", "LIMITED", "HYBRID", "TOURING", "TURBO", "PLATINUM", "DIESEL", "ELECTRIC", "AWD",
    "4WD", "V6", "GT", "LX", "EX", "SE", "XLE", "ECO", "PLUS",
)  # fmt: skip

#: Every text a hard negative may show, as printed. :attr:`NegativeBox.text`
#: is always the canonical form of one of these.
NEGATIVE_TEXTS: tuple[str, ...] = tuple(
    dict.fromkeys(
        (
            *SIGN_TEXTS,
            *(f"SPEED LIMIT {s}" for s in _SPEEDS),
            *_SHOP_TEXTS,
            *_TRUCK_TEXTS,
            *_STICKER_TEXTS,
            *_PAINT_TEXTS,
        )
    )
)

_ROAD_SIGN_TEXTS = tuple(t for t in SIGN_TEXTS if t not in _SHOP_TEXTS and t != "SPEED LIMIT")

Box = tuple[int, int, int, int]


@dataclass(frozen=True, slots=True, eq=False)
class PlateBox:
    """One plate in a scene.

    ``quad`` holds the plate's corners in frame pixels (float32, shape (4, 2),
    OpenCV's convention: pixel (x, y) is centred on integer coordinates),
    in the order top-left, top-right, bottom-right, bottom-left of the plate
    as printed. ``box`` is ``(x0, y0, x1, y1)``: ``image[y0:y1, x0:x1]`` holds
    every pixel the plate changed (x1 and y1 exclusive), clipped to the
    frame. ``text`` is canonical. ``visible`` is the share of the plate
    inside the frame and not covered (0-1). ``readable`` is
    ``width >= READABLE_MIN_WIDTH and visible >= READABLE_MIN_VISIBLE``.
    """

    quad: np.ndarray
    box: Box
    text: str
    visible: float
    readable: bool

    @property
    def width(self) -> float:
        """Mean length in pixels of the plate's top and bottom edges."""
        return _width(self.quad)


def _width(quad: np.ndarray) -> float:
    q = quad.astype(np.float64)
    return float((np.hypot(*(q[1] - q[0])) + np.hypot(*(q[2] - q[3]))) / 2)


@dataclass(frozen=True, slots=True, eq=False)
class NegativeBox:
    """A region of text that is no plate: a sign panel, a sticker, a truck's lettering.

    ``quad`` and ``box`` follow :class:`PlateBox`'s conventions; ``text`` is
    the canonical form of one of :data:`NEGATIVE_TEXTS`; ``kind`` is one of
    :data:`NEGATIVE_KINDS`. A negative's box never overlaps a plate's box.
    """

    quad: np.ndarray
    box: Box
    text: str
    kind: str


@dataclass(frozen=True, slots=True, eq=False)
class Scene:
    """A rendered frame (BGR uint8, H x W x 3) and its ground truth."""

    image: np.ndarray
    plates: tuple[PlateBox, ...]
    negatives: tuple[NegativeBox, ...]
    lighting: str


# ---------------------------------------------------------------------------
# Geometry helpers
# ---------------------------------------------------------------------------


def _apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """``pts`` (N, 2) mapped through the 3x3 homography ``m``."""
    p = np.asarray(pts, np.float64)
    h = p @ m[:, :2].T + m[:, 2]
    out: np.ndarray = h[:, :2] / h[:, 2:3]
    return out


def _box_of(quad: np.ndarray, w: int, h: int) -> Box:
    """The quad's bounding box grown by one pixel, clipped to a w x h frame (may be empty)."""
    x0 = max(0, math.floor(float(quad[:, 0].min()) - 1.0))
    y0 = max(0, math.floor(float(quad[:, 1].min()) - 1.0))
    x1 = min(w, math.floor(float(quad[:, 0].max()) + 1.0) + 1)
    y1 = min(h, math.floor(float(quad[:, 1].max()) + 1.0) + 1)
    return x0, y0, x1, y1


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _inter(a: Box, b: Box) -> int:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return max(0, w) * max(0, h)


def _area(b: Box) -> int:
    return max(0, b[2] - b[0]) * max(0, b[3] - b[1])


def _rect(x0: float, h0: float, x1: float, h1: float) -> np.ndarray:
    """A rectangle in a vehicle's local frame: x across, h up from the ground (y = -h)."""
    return np.array([[x0, -h1], [x1, -h1], [x1, -h0], [x0, -h0]], np.float64)


def _rounded_rect(x0: float, h0: float, x1: float, h1: float, r: float) -> np.ndarray:
    r = min(r, (x1 - x0) / 2, (h1 - h0) / 2)
    c = r * 0.29  # a chamfer between two points of each corner's arc
    return np.array(
        [
            [x0 + r, -h1], [x1 - r, -h1], [x1 - c, -h1 + c], [x1, -h1 + r],
            [x1, -h0 - r], [x1 - c, -h0 - c], [x1 - r, -h0], [x0 + r, -h0],
            [x0 + c, -h0 - c], [x0, -h0 - r], [x0, -h1 + r], [x0 + c, -h1 + c],
        ],
        np.float64,
    )  # fmt: skip


def _trap(xb: float, xt: float, h0: float, h1: float, dx: float = 0.0) -> np.ndarray:
    """A symmetric trapezoid: half-width ``xb`` at height h0, ``xt`` at h1, shifted by dx."""
    return np.array([[dx - xt, -h1], [dx + xt, -h1], [dx + xb, -h0], [dx - xb, -h0]], np.float64)


def _shade(c: Color, k: float) -> Color:
    return (min(255, int(c[0] * k)), min(255, int(c[1] * k)), min(255, int(c[2] * k)))


def _pick(rng: np.random.Generator, items: tuple[Color, ...]) -> Color:
    return items[int(rng.integers(len(items)))]


def _jit(rng: np.random.Generator, c: Color, amount: int = 15) -> Color:
    d = rng.integers(-amount, amount + 1, 3).tolist()
    return (
        min(255, max(0, c[0] + d[0])),
        min(255, max(0, c[1] + d[1])),
        min(255, max(0, c[2] + d[2])),
    )


# ---------------------------------------------------------------------------
# The canvas: the frame plus what later stages need to know about each pixel
# ---------------------------------------------------------------------------


class _Canvas:
    """The frame being drawn and its side layers.

    ``ids`` says which labelled item (plate ``1 + k``, negative ``128 + k``)
    each pixel shows, so occlusion is counted, not guessed. ``retro`` is how
    retroreflective a pixel is (plates and road signs, 0-255): they shine
    under the camera's illuminator. ``emit`` holds light sources (lamps,
    lit windows, neon), added back after darkening and blurred into glow.
    ``g`` is the camera roll, applied to every polygon.
    """

    def __init__(self, w: int, h: int, g: np.ndarray) -> None:
        self.w, self.h, self.g = w, h, g
        self.img = np.empty((h, w, 3), np.uint8)
        self.ids = np.zeros((h, w), np.uint8)
        self.retro = np.zeros((h, w), np.uint8)
        self.emit = np.zeros((h, w, 3), np.uint8)
        self.any_emit = False

    def to_px(self, pts: np.ndarray, m: np.ndarray | None = None) -> np.ndarray:
        """Vertices in unrolled (or, with ``m``, local) coordinates as fixed-point pixels."""
        full = self.g if m is None else self.g @ m
        return np.round(_apply(full, pts) * 16).astype(np.int32)

    def poly(
        self,
        polys: list[np.ndarray] | np.ndarray,
        color: Color,
        m: np.ndarray | None = None,
        *,
        occlude: bool = False,
        emit: Color | None = None,
    ) -> None:
        """Fill polygons (anti-aliased); ``occlude`` hides labelled items under them."""
        if len(polys) == 0:
            return
        if isinstance(polys, np.ndarray):  # (N, k, 2): many alike, one transform
            n, k = polys.shape[:2]
            px = list(self.to_px(polys.reshape(n * k, 2), m).reshape(n, k, 2))
        elif len(polys) == 1:
            px = [self.to_px(polys[0], m)]
        else:
            cut = np.cumsum([len(p) for p in polys])[:-1]
            px = np.split(self.to_px(np.concatenate(polys), m), cut)
        cv2.fillPoly(self.img, px, color, cv2.LINE_AA, shift=4)
        if occlude:
            cv2.fillPoly(self.ids, px, 0, cv2.LINE_8, shift=4)
            cv2.fillPoly(self.retro, px, 0, cv2.LINE_8, shift=4)
            if self.any_emit:
                cv2.fillPoly(self.emit, px, (0, 0, 0), cv2.LINE_8, shift=4)
        if emit is not None:
            cv2.fillPoly(self.emit, px, emit, cv2.LINE_AA, shift=4)
            self.any_emit = True

    def sheen(
        self,
        polys: list[np.ndarray],
        m: np.ndarray,
        gain: tuple[float, float],
        band: tuple[float, float, float],
    ) -> None:
        """Glossy paint over polygons (local frame ``m``): light falls off from top to bottom.

        ``gain`` multiplies the top and the bottom rows (linear between);
        ``band`` ``(at, width, add)`` adds a soft horizontal reflection of
        the sky at ``at`` (0 top, 1 bottom), as shares of the polygons' height.
        """
        px = [self.to_px(p, m) for p in polys]
        pts = np.concatenate(px).astype(np.float64) / 16
        top, bottom = float(pts[:, 1].min()), float(pts[:, 1].max())
        x0, x1 = max(0, math.floor(pts[:, 0].min())), min(self.w, math.ceil(pts[:, 0].max()) + 1)
        y0, y1 = max(0, math.floor(top)), min(self.h, math.ceil(bottom) + 1)
        if x1 <= x0 or y1 <= y0:
            return
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        shift = np.array([x0 * 16, y0 * 16], np.int32)
        cv2.fillPoly(mask, [p - shift for p in px], 255, cv2.LINE_AA, shift=4)
        t = (np.arange(y0, y1, dtype=np.float32) - top) / max(bottom - top, 1.0)
        at, width, add = band
        scale = gain[0] + (gain[1] - gain[0]) * t
        light = np.float32(add * 255) * np.exp(-0.5 * ((t - at) / width) ** 2)
        region = self.img[y0:y1, x0:x1].astype(np.float32)
        shaded = region * scale[:, None, None] + light[:, None, None]
        a = mask.astype(np.float32)[..., None] * np.float32(1 / 255)
        self.img[y0:y1, x0:x1] = np.clip(region + a * (shaded - region), 0, 255).astype(np.uint8)

    def paste(
        self, src: np.ndarray, alpha: np.ndarray, quad: np.ndarray, label: int, retro: int
    ) -> int:
        """Warp ``src`` (its alpha ``alpha``) onto ``quad``; returns the pixels it now owns.

        Pixels are written only inside ``_box_of(quad)``: the warp's output
        is exactly that box.
        """
        x0, y0, x1, y1 = _box_of(quad, self.w, self.h)
        if x1 <= x0 or y1 <= y0:
            return 0
        q = quad.astype(np.float64)
        tw = max(np.hypot(*(q[1] - q[0])), np.hypot(*(q[2] - q[3])))
        th = max(np.hypot(*(q[3] - q[0])), np.hypot(*(q[2] - q[1])))
        tw, th = max(2, math.ceil(tw)), max(2, math.ceil(th))
        # Shrink first: a perspective warp alone aliases (as in degrade._place).
        while src.shape[1] >= 2 * tw and src.shape[0] >= 2 * th:
            src, alpha = cv2.pyrDown(src), cv2.pyrDown(alpha)
        if src.shape[1] > tw or src.shape[0] > th:
            size = (min(src.shape[1], tw), min(src.shape[0], th))
            src = cv2.resize(src, size, interpolation=cv2.INTER_AREA)
            alpha = cv2.resize(alpha, size, interpolation=cv2.INTER_AREA)
        sh, sw = src.shape[:2]
        s = np.array([[-0.5, -0.5], [sw - 0.5, -0.5], [sw - 0.5, sh - 0.5], [-0.5, sh - 0.5]])
        m = cv2.getPerspectiveTransform(s.astype(np.float32), (q - (x0, y0)).astype(np.float32))
        size = (x1 - x0, y1 - y0)
        warped = cv2.warpPerspective(src, m, size, flags=cv2.INTER_LINEAR)
        a = cv2.warpPerspective(alpha, m, size, flags=cv2.INTER_LINEAR)
        af = a.astype(np.float32) * np.float32(1 / 255)
        region = self.img[y0:y1, x0:x1]
        region[:] = cv2.blendLinear(warped, region, af, 1.0 - af)
        solid = a > 127
        self.ids[y0:y1, x0:x1][solid] = label
        r = self.retro[y0:y1, x0:x1]
        r[:] = cv2.blendLinear(np.full_like(r, retro), r, af, 1.0 - af)
        return int(np.count_nonzero(solid))


def _in_frame(quad: np.ndarray, w: int, h: int) -> float:
    """Share of the quad's area inside a w x h frame."""
    q = quad.astype(np.float32)
    area = abs(float(cv2.contourArea(q)))
    if area <= 0:
        return 0.0
    frame = np.array([[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, h - 0.5], [-0.5, h - 0.5]])
    inside, _ = cv2.intersectConvexConvex(q, frame.astype(np.float32))
    return min(1.0, float(inside) / area)


# ---------------------------------------------------------------------------
# Text panels: signs, shop boards, stickers, truck lettering
# ---------------------------------------------------------------------------

_SIGN_SCHEMES: tuple[tuple[Color, Color], ...] = (
    ((245, 245, 245), (20, 20, 20)),  # white regulatory
    ((20, 210, 240), (20, 20, 20)),  # yellow warning
    ((40, 230, 200), (20, 20, 20)),  # yellow-green school
    ((245, 245, 245), (30, 30, 190)),  # NO PARKING
    ((0, 130, 240), (20, 20, 20)),  # orange road work
    ((60, 110, 20), (245, 245, 245)),  # green guide
    ((130, 60, 10), (245, 245, 245)),  # blue services
    ((20, 20, 20), (245, 245, 245)),  # black
)
_SHOP_COLORS: tuple[Color, ...] = (
    (30, 30, 170), (20, 20, 20), (240, 240, 240), (140, 60, 20), (40, 110, 30), (20, 160, 230),
    (90, 30, 110), (200, 200, 200), (0, 90, 200),
)  # fmt: skip


def _lines(text: str, rng: np.random.Generator, max_lines: int) -> list[str]:
    words = text.split(" ")
    if max_lines < 2 or len(words) < 2 or (len(text) <= 9 and rng.random() < 0.6):
        return [text]
    if max_lines >= 3 and len(words) >= 3 and rng.random() < 0.5:
        return words[:3] if len(words) == 3 else [words[0], words[1], " ".join(words[2:])]
    cut = len(words) // 2
    return [" ".join(words[:cut]), " ".join(words[cut:])]


def _write(
    img: np.ndarray,
    lines: list[str],
    font: str,
    ink: Color,
    box: tuple[int, int, int, int],
    fill: float = 0.75,
) -> None:
    """Write ``lines`` centred in ``box`` (x0, y0, x1, y1) of ``img``, as large as fits."""
    x0, y0, x1, y1 = box
    bw, bh = x1 - x0, y1 - y0
    lh = bh / len(lines)
    for i, line in enumerate(lines):
        mask = text_mask(font, line, 48)
        h = lh * fill
        w = mask.shape[1] * h / mask.shape[0]
        if w > bw * 0.94:
            h, w = h * bw * 0.94 / w, bw * 0.94
        w, h = max(1, round(w)), max(1, round(h))
        m = cv2.resize(mask, (w, h), interpolation=cv2.INTER_AREA)
        x, y = x0 + (bw - w) // 2, round(y0 + i * lh + (lh - h) / 2)
        region = img[y : y + h, x : x + w]
        a = m[: region.shape[0], : region.shape[1]].astype(np.float32) * np.float32(1 / 255)
        inked = np.empty_like(region)
        inked[:] = ink
        region[:] = cv2.blendLinear(inked, region, a, 1.0 - a)


def _sign_panel(
    text: str, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, float, Color | None]:
    """A road sign: (BGR image, alpha, width / height, glow colour or None)."""
    font = plate_fonts()[int(rng.integers(len(plate_fonts())))]
    if text == "STOP":
        s = 128
        img = np.full((s, s, 3), (30, 30, 190), np.uint8)
        alpha = np.zeros((s, s), np.uint8)
        a = np.deg2rad(22.5 + 45 * np.arange(8))
        pts = np.stack([s / 2 + s / 2 * np.cos(a), s / 2 + s / 2 * np.sin(a)], 1) * 16
        cv2.fillPoly(alpha, [np.round(pts).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
        inner = np.stack([s / 2 + s * 0.44 * np.cos(a), s / 2 + s * 0.44 * np.sin(a)], 1) * 16
        cv2.polylines(img, [np.round(inner).astype(np.int32)], True, (240,) * 3, 3, cv2.LINE_AA, 4)
        _write(img, [text], font, (240, 240, 240), (14, 40, 114, 88), 0.95)
        return img, alpha, 1.0, None
    if text.startswith("SPEED LIMIT"):
        w, h = 100, 128
        img = np.full((h, w, 3), 240, np.uint8)
        cv2.rectangle(img, (4, 4), (w - 5, h - 5), (20, 20, 20), 3, cv2.LINE_AA)
        _write(img, ["SPEED", "LIMIT"], font, (20, 20, 20), (8, 8, w - 8, 60), 0.8)
        _write(img, [text.rsplit(" ", 1)[1]], font, (20, 20, 20), (8, 60, w - 8, h - 10), 0.9)
        return img, np.full((h, w), 255, np.uint8), w / h, None
    bg, ink = _SIGN_SCHEMES[int(rng.integers(len(_SIGN_SCHEMES)))]
    if bg == (20, 210, 240) or rng.random() < 0.15:  # a warning diamond
        s = 128
        img = np.full((s, s, 3), bg, np.uint8)
        alpha = np.zeros((s, s), np.uint8)
        pts = np.array([[s / 2, 0], [s, s / 2], [s / 2, s], [0, s / 2]]) * 16
        cv2.fillPoly(alpha, [np.round(pts).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
        _write(img, _lines(text, rng, 2), font, ink, (26, 34, 102, 94), 0.8)
        return img, alpha, 1.0, None
    lines = _lines(text, rng, 3)
    h = 40 * len(lines) + 16
    longest = max(len(t) for t in lines)
    w = int(np.clip(longest * 20 + 24, 70, 260))
    img = np.full((h, w, 3), bg, np.uint8)
    cv2.rectangle(img, (4, 4), (w - 5, h - 5), ink, 2, cv2.LINE_AA)
    _write(img, lines, font, ink, (8, 8, w - 8, h - 8), 0.78)
    return img, np.full((h, w), 255, np.uint8), w / h, None


def _board(
    text: str, rng: np.random.Generator, *, sticker: bool = False
) -> tuple[np.ndarray, np.ndarray, float, Color | None]:
    """A shop board or a bumper sticker: one line on a coloured band."""
    fonts = banner_fonts()
    font = fonts[int(rng.integers(len(fonts)))]
    bg = _pick(rng, _SHOP_COLORS)
    ink = (245, 245, 245) if sum(bg) < 360 else (25, 25, 25)
    if rng.random() < 0.3:
        ink = _pick(rng, _SHOP_COLORS)
        if abs(sum(ink) - sum(bg)) < 200:
            ink = (245, 245, 245) if sum(bg) < 360 else (25, 25, 25)
    lines = _lines(text, rng, 2) if sticker else [text]
    longest = max(len(t) for t in lines)
    h = 44 * len(lines) + 8
    w = max(60, longest * 26 + 20)
    img = np.full((h, w, 3), bg, np.uint8)
    _write(img, lines, font, ink, (4, 4, w - 4, h - 4), 0.8)
    glow = ink if (not sticker and rng.random() < 0.5) else None
    return img, np.full((h, w), 255, np.uint8), w / h, glow


def _lettering(text: str, rng: np.random.Generator, ink: Color) -> tuple[np.ndarray, np.ndarray]:
    """Text straight on a surface (a truck door, paint on the road): ink and its mask."""
    fonts = plate_fonts()
    font = fonts[int(rng.integers(len(fonts)))]
    mask = text_mask(font, text, 48)
    pad = 4
    alpha = cv2.copyMakeBorder(mask, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    img = np.empty((*alpha.shape, 3), np.uint8)
    img[:] = ink
    return img, alpha


# ---------------------------------------------------------------------------
# Vehicles
# ---------------------------------------------------------------------------

_PAINT: tuple[Color, ...] = (
    (235, 235, 235), (30, 30, 30), (160, 160, 165), (110, 110, 115), (30, 30, 160),
    (120, 60, 20), (40, 60, 30), (60, 120, 170), (20, 20, 60), (200, 200, 190), (50, 50, 55),
    (180, 180, 185), (25, 90, 180), (90, 40, 30),
)  # fmt: skip
#: How often each paint is drawn (weights, in order): about three cars in four
#: on real roads are white, black, grey or silver; here the neutrals have 76 %.
_PAINT_W = np.array([20, 18, 10, 8, 3.4, 3.4, 3.4, 3.4, 3.4, 3, 7, 10, 3.4, 3.4])
_PAINT_P = _PAINT_W / _PAINT_W.sum()
_GLASS: tuple[Color, ...] = ((55, 45, 40), (80, 70, 60), (40, 35, 35), (95, 90, 80))


@dataclass(frozen=True, slots=True)
class _Kind:
    width_m: float
    length_m: float
    body: float  # top of the lower body, in vehicle widths above the ground
    top: float  # roof height
    cab_bottom: float  # half-width of the cabin at its base
    cab_top: float  # half-width at the roof
    plate_h: float  # plate centre height (rear view)
    weight: float  # how often it appears


_KINDS: dict[str, _Kind] = {
    "sedan": _Kind(1.8, 4.6, 0.50, 0.78, 0.45, 0.34, 0.33, 0.35),
    "suv": _Kind(1.9, 4.7, 0.56, 0.95, 0.47, 0.40, 0.42, 0.27),
    "pickup": _Kind(2.0, 5.6, 0.58, 0.98, 0.38, 0.33, 0.30, 0.12),
    "van": _Kind(2.0, 5.2, 0.55, 1.10, 0.49, 0.45, 0.36, 0.10),
    "truck": _Kind(2.5, 7.5, 0.42, 1.45, 0.50, 0.50, 0.22, 0.10),
    "bus": _Kind(2.55, 12.0, 0.35, 1.25, 0.50, 0.50, 0.26, 0.06),
}
_KIND_NAMES = tuple(_KINDS)
_KIND_P = np.array([k.weight for k in _KINDS.values()]) / sum(k.weight for k in _KINDS.values())

_PLATE_W_M = 0.305  # a US plate is 12" x 6"


@dataclass
class _Item:
    """A labelled thing to paste: a plate or a hard negative, with its image."""

    quad: np.ndarray  # final (rolled) pixel corners, float32 (4, 2)
    text: str  # canonical
    kind: str  # "plate" or one of NEGATIVE_KINDS
    img: np.ndarray
    alpha: np.ndarray
    glow: Color | None = None  # lit at night (neon shop boards)
    pole: np.ndarray | None = None  # a road sign's post: polygon, unrolled


@dataclass
class _Vehicle:
    kind: str
    view: str  # "rear" or "front"
    m: np.ndarray  # local (vehicle widths, y down from the ground) -> unrolled pixels
    vp: np.ndarray  # the road's vanishing point, unrolled
    zeta: float  # how far the far face shrinks towards the vanishing point
    depth: float  # ground line y, unrolled: larger is nearer
    plate: int  # index into the scene's plates, or -1
    plate_local: np.ndarray | None  # plate corners in the local frame
    occluder: str  # "none", "hitch" or "rack"
    extras: list[int] = field(default_factory=list)  # indices into the scene's negatives


def _face_matrix(
    wv: float, yaw: float, dist: float, roll: float, anchor: tuple[float, float], at: np.ndarray
) -> np.ndarray:
    """Local -> unrolled pixels: the face yawed (keystone), scaled, rolled, ``at`` on ``anchor``."""
    c, s = math.cos(yaw), math.sin(yaw)
    k = np.array([[c * wv, 0, 0], [0, wv, 0], [s / dist, 0, 1]], np.float64)
    p = _apply(k, at[None])[0]
    cr, sr = math.cos(roll), math.sin(roll)
    rot = np.array(
        [
            [cr, -sr, anchor[0] - cr * p[0] + sr * p[1]],
            [sr, cr, anchor[1] - sr * p[0] - cr * p[1]],
            [0, 0, 1],
        ]
    )
    out: np.ndarray = rot @ k
    return out


def _far(v: _Vehicle, pts_local: np.ndarray) -> np.ndarray:
    """The same points on the vehicle's far end, in unrolled pixels."""
    near = _apply(v.m, pts_local)
    return np.asarray(v.vp + (near - v.vp) * v.zeta)


def _draw_vehicle(cv: _Canvas, v: _Vehicle, rng: np.random.Generator, lit: bool) -> None:
    k = _KINDS[v.kind]
    paint = _jit(rng, _PAINT[int(rng.choice(len(_PAINT), p=_PAINT_P))], 10)
    if v.kind == "truck":
        paint = _jit(rng, _pick(rng, ((235, 235, 235), (200, 200, 205), (40, 120, 200))), 8)
    glass = _jit(rng, _pick(rng, _GLASS), 8)
    m = v.m
    rear = v.view == "rear"
    # The far face and the hull joining both: sides and roof, in shadow.
    outline = np.concatenate(
        [_rect(-0.5, 0.02, 0.5, k.body), _trap(k.cab_bottom, k.cab_top, k.body, k.top)]
    )
    near = _apply(m, outline)
    far = _far(v, outline)
    hull = cv2.convexHull(np.concatenate([near, far]).astype(np.float32))[:, 0].astype(np.float64)
    cv.poly([hull], _shade(paint, 0.62), occlude=True)
    # Side windows on the side the camera sees.
    side = 1.0 if v.vp[0] > _apply(m, np.array([[0.0, 0.0]]))[0, 0] else -1.0
    if v.kind not in ("truck",):
        band = np.array(
            [
                [side * k.cab_bottom, -k.body - 0.02],
                [side * k.cab_top, -k.top + 0.05],
            ]
        )
        n, f = _apply(m, band), _far(v, band)
        win = np.array([n[0], n[1], f[1] + (n[1] - f[1]) * 0.15, f[0] + (n[0] - f[0]) * 0.15])
        cv.poly([win], _shade(glass, 0.9))
    # Wheels along the side the camera sees, where it sees that side at all.
    foot = _apply(m, np.array([[side * 0.5, 0.0]]))[0]
    far_foot = v.vp + (foot - v.vp) * v.zeta
    wv = float(
        np.hypot(*(_apply(m, np.array([[0.5, 0.0]])) - _apply(m, np.array([[-0.5, 0.0]])))[0])
    )
    reach = abs(float(far_foot[0] - foot[0]))
    if reach > 3:
        squeeze = reach / (reach + wv)
        axles = (0.18, 0.82) if v.kind not in ("truck", "bus") else (0.15, 0.3, 0.85)
        wheels, hubs = [], []
        for d in axles:
            shrink = 1.0 / (1.0 + d * (1.0 / v.zeta - 1.0))
            cx, cy = (float(t) for t in v.vp + (foot - v.vp) * shrink)
            r = 0.34 / k.width_m * wv * shrink
            axes = (max(1, round(r * squeeze * 16)), max(1, round(r * 16)))
            centre = (round(cx * 16), round((cy - r) * 16))
            wheels.append(
                np.asarray(cv2.ellipse2Poly(centre, axes, 0, 0, 360, 20), np.float64) / 16
            )
            hub_axes = (max(1, axes[0] // 2), max(1, axes[1] // 2))
            hubs.append(
                np.asarray(cv2.ellipse2Poly(centre, hub_axes, 0, 0, 360, 30), np.float64) / 16
            )
        cv.poly(wheels, (25, 25, 25))
        cv.poly(hubs, (120, 120, 125))
    # Tyres, then the face.
    tyre = (22, 22, 22)
    cv.poly([_rect(-0.46, 0.0, -0.26, 0.2), _rect(0.26, 0.0, 0.46, 0.2)], tyre, m)
    if v.kind == "truck":
        cv.poly([_rect(-0.5, 0.28, 0.5, 0.42)], (35, 35, 35), m)  # chassis
        box = _rounded_rect(-0.5, k.body, 0.5, k.top, 0.02)
        cv.poly([box], paint, m)
        cv.poly([_rect(-0.004, k.body + 0.03, 0.004, k.top - 0.03)], _shade(paint, 0.5), m)
        ribs = [_rect(-0.48, h, 0.48, h + 0.008) for h in np.linspace(k.body + 0.1, k.top - 0.1, 4)]
        cv.poly(ribs, _shade(paint, 0.8), m)
        cv.poly([_rect(-0.5, 0.16, 0.5, 0.22)], (40, 40, 40), m)  # under-ride bar
        body_top = k.body
    else:
        cv.poly([_rounded_rect(-0.5, 0.08, 0.5, k.body, 0.06)], paint, m)
        # Flat shading in bands: the lower body faces the road and is darker.
        cv.poly([_rect(-0.5, 0.1, 0.5, 0.1 + 0.4 * (k.body - 0.1))], _shade(paint, 0.86), m)
        cv.poly([_rect(-0.47, k.body - 0.05, 0.47, k.body - 0.02)], _shade(paint, 1.18), m)
        cab = _trap(k.cab_bottom, k.cab_top, k.body - 0.005, k.top)
        cv.poly([cab], paint, m)
        if v.kind == "bus":
            win_poly = _rect(-0.44, k.top - 0.4, 0.44, k.top - 0.08)
        else:
            inset = 0.06 if v.kind != "pickup" else 0.1
            h0, h1 = k.body + 0.03, k.top - 0.035
            win_poly = _trap(k.cab_bottom - inset, k.cab_top - inset * 0.8, h0, h1)
            if v.kind == "pickup" and rear:
                win_poly = _trap(0.26, 0.24, k.top - 0.2, k.top - 0.06)
        cv.poly([win_poly], glass, m)
        cv.poly([_trap(0.2, 0.16, k.top - 0.12, k.top - 0.08, -0.1)], _shade(glass, 1.5), m)
        bumper = (30, 30, 32) if rng.random() < 0.5 else _shade(paint, 0.8)
        cv.poly([_rounded_rect(-0.5, 0.08, 0.5, 0.2, 0.04)], bumper, m)
        body_top = k.body
        if rng.random() < 0.85:  # real paint is glossy: light falls off, the sky reflects
            cv.sheen(
                [_rounded_rect(-0.5, 0.08, 0.5, k.body, 0.06), cab], m,
                (float(rng.uniform(1.0, 1.3)), float(rng.uniform(0.65, 0.95))),
                (float(rng.uniform(0.05, 0.6)), float(rng.uniform(0.03, 0.12)),
                 float(rng.uniform(0.05, 0.35)) * (0.3 if lit else 1.0)),
            )  # fmt: skip
        if v.kind != "bus":
            _bumper(cv, v, rng, paint)
    # Lights: red tail lights behind, white headlights in front; lit at night.
    lh0, lh1 = (body_top - 0.16, body_top - 0.05) if v.kind != "truck" else (0.24, 0.3)
    if v.kind == "bus":
        lh0, lh1 = 0.4, 0.55
    if rear:
        color, emit = (30, 30, 200), ((60, 60, 255) if lit else None)
        lamps = [_rect(-0.49, lh0, -0.33, lh1), _rect(0.33, lh0, 0.49, lh1)]
    else:
        color, emit = (215, 225, 230), ((230, 245, 255) if lit else None)
        lamps = [_rect(-0.47, lh0, -0.3, lh1), _rect(0.3, lh0, 0.47, lh1)]
        if v.kind != "truck":
            grille = _rounded_rect(-0.24, lh0 - 0.06, 0.24, lh1, 0.02)
            cv.poly([grille], (35, 35, 38), m)
            bars = [_rect(-0.22, h, 0.22, h + 0.01) for h in np.linspace(lh0 - 0.03, lh1 - 0.03, 3)]
            cv.poly(bars, (90, 90, 95), m)
    cv.poly(lamps, color, m, emit=emit)
    if v.kind != "truck" and v.plate_local is not None:
        _trim(cv, v, rng, paint, body_top - 0.03)
    if v.plate_local is not None:  # the recess the plate sits in
        pl = v.plate_local
        mx, my = 0.1 * float(np.ptp(pl[:, 0])), 0.12 * float(np.ptp(pl[:, 1]))
        recess = _rect(
            float(pl[:, 0].min()) - mx, -float(pl[:, 1].max()) - my,
            float(pl[:, 0].max()) + mx, -float(pl[:, 1].min()) + my,
        )  # fmt: skip
        cv.poly([recess], _shade(paint, 0.7) if rear else (30, 30, 32), m)


def _bumper(cv: _Canvas, v: _Vehicle, rng: np.random.Generator, paint: Color) -> None:
    """The bumper's own detail: creases, a black lower valance, reflectors, an air intake.

    A real plate sits among strong edges: a front plate on a meshed intake,
    a rear one above a crease and a black valance. The plate's recess is
    drawn over this later, so it all stays around the plate, never on it.
    """
    m = v.m
    if v.view == "rear":
        if rng.random() < 0.6:  # a crease: a highlight over a shadow line
            h = float(rng.uniform(0.2, 0.27))
            cv.poly([_rect(-0.49, h, 0.49, h + 0.008)], _shade(paint, 1.3), m)
            cv.poly([_rect(-0.49, h - 0.01, 0.49, h)], _shade(paint, 0.6), m)
        if rng.random() < 0.5:  # a black plastic valance with reflectors at its ends
            top = float(rng.uniform(0.11, 0.14))
            cv.poly([_rounded_rect(-0.48, 0.08, 0.48, top, 0.01)], _jit(rng, (28, 28, 30), 6), m)
            red = _jit(rng, (40, 40, 150), 15)
            cv.poly([_rect(-0.46, top - 0.025, -0.4, top - 0.01),
                     _rect(0.4, top - 0.025, 0.46, top - 0.01)], red, m)  # fmt: skip
        if rng.random() < 0.3:  # exhaust tips
            x = float(rng.uniform(0.22, 0.38)) * (1.0 if rng.random() < 0.5 else -1.0)
            cv.poly([_rounded_rect(x - 0.04, 0.085, x + 0.04, 0.115, 0.014)], (15, 15, 15), m)
        return
    if v.plate_local is not None and rng.random() < 0.7:  # the intake the plate sits on
        mid = -float(v.plate_local[:, 1].mean())
        h0, h1 = (
            max(0.085, mid - float(rng.uniform(0.06, 0.1))),
            mid + float(rng.uniform(0.05, 0.09)),
        )
        half = float(rng.uniform(0.28, 0.42))
        cv.poly([_rounded_rect(-half, h0, half, h1, 0.02)], _jit(rng, (22, 22, 24), 6), m)
        bar = _jit(rng, (75, 75, 80), 20)
        n = int(rng.integers(3, 8))
        step = (h1 - h0) / (n + 1)
        ys = h0 + step * np.arange(1, n + 1)
        bars = [_rect(-half + 0.01, float(y), half - 0.01, float(y) + step * 0.3) for y in ys]
        if rng.random() < 0.4:  # a mesh, not slats
            cols = int(rng.integers(8, 20))
            xs = np.linspace(-half + 0.01, half - 0.01, cols)
            bars += [_rect(float(x), h0 + 0.005, float(x) + 0.006, h1 - 0.005) for x in xs]
        cv.poly(bars, bar, m)
    if rng.random() < 0.4:  # fog lamps at the corners
        h = float(rng.uniform(0.12, 0.2))
        lamp = _jit(rng, (190, 195, 200), 20)
        cv.poly([_rounded_rect(-0.47, h, -0.4, h + 0.035, 0.012),
                 _rounded_rect(0.4, h, 0.47, h + 0.035, 0.012)], lamp, m)  # fmt: skip


def _plate_light(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A plate by day: in its recess, under the boot lid, it is duller than it was printed.

    Often darker as a whole, and its top often in the overhang's shadow.
    """
    out = None  # a plate left as printed is returned as it is, not converted
    if rng.random() < 0.6:
        out = img.astype(np.float32)
        out *= np.float32(rng.uniform(0.55, 0.95))
    if rng.random() < 0.4:
        out = img.astype(np.float32) if out is None else out
        rows = out.shape[0]
        ramp = np.ones(rows, np.float32)
        reach = max(2, int(rows * rng.uniform(0.2, 0.5)))
        ramp[:reach] = np.linspace(float(rng.uniform(0.45, 0.8)), 1.0, reach)
        out *= ramp[:, None, None]
    return img if out is None else np.clip(out, 0, 255).astype(np.uint8)


def _trim(cv: _Canvas, v: _Vehicle, rng: np.random.Generator, paint: Color, top: float) -> None:
    """Chrome around the plate, clear of it: a strip, a maker's oval and a trim badge.

    Real plates sit among such bright, edged details; without them, a plate
    is the only sharp thing on a rendered vehicle's face.
    """
    assert v.plate_local is not None
    m = v.m
    pl = v.plate_local
    px0, px1 = float(pl[:, 0].min()), float(pl[:, 0].max())
    above = -float(pl[:, 1].min()) + 0.12 * float(np.ptp(pl[:, 1]))  # the recess's top
    chrome = _jit(rng, (205, 205, 210), 25)
    room = top - above  # the face between the recess and the boot's edge
    if rng.random() < 0.35 and room > 0.06:  # a strip across the boot
        h = above + room * float(rng.uniform(0.35, 0.8))
        cv.poly([_rect(-0.32, h, 0.32, h + float(rng.uniform(0.008, 0.02)))], chrome, m)
    if rng.random() < 0.6 and room > 0.05:  # the maker's oval, centred over the plate
        cx, h = (px0 + px1) / 2, above + min(room * 0.5, 0.06)
        ring = _rounded_rect(cx - 0.05, h - 0.018, cx + 0.05, h + 0.018, 0.018)
        inner = _rounded_rect(cx - 0.04, h - 0.011, cx + 0.04, h + 0.011, 0.011)
        cv.poly([ring], chrome, m)
        cv.poly([inner], _shade(paint, float(rng.uniform(0.6, 1.1))), m)
    if rng.random() < 0.45 and v.view == "rear":  # a trim badge beside the plate
        text = _BADGE_TEXTS[int(rng.integers(len(_BADGE_TEXTS)))]
        img, alpha = _lettering(text, rng, chrome)
        hgt = float(rng.uniform(0.025, 0.045))
        wid = hgt * alpha.shape[1] / alpha.shape[0]
        side = 1.0 if rng.random() < 0.5 else -1.0
        x0 = px1 + 0.06 if side > 0 else px0 - 0.06 - wid
        if x0 >= -0.3 and x0 + wid <= 0.3 and room > hgt:  # clear of the lamps
            h0 = (above + top) / 2 - hgt / 2
            quad = _apply(cv.g @ m, _rect(x0, h0, x0 + wid, h0 + hgt)).astype(np.float32)
            cv.paste(img, alpha, quad, 0, 0)


# ---------------------------------------------------------------------------
# The sampler
# ---------------------------------------------------------------------------


_GRAIN_SIGMAS = (3, 5, 8, 12)


@lru_cache(maxsize=len(_GRAIN_SIGMAS))
def _grain(sigma: int) -> tuple[np.ndarray, np.ndarray]:
    """Grey Gaussian noise as its positive and negative parts, three-channel uint8.

    A fixed field cut at random places: fresh noise for a 720p frame costs
    more than all the other camera effects, and saturating uint8 adds are
    the cheapest way to apply it.
    """
    n = np.random.default_rng(sigma).standard_normal((900, 1600), dtype=np.float32) * sigma
    grey = np.clip(np.round(n), -255, 255)
    pos = np.repeat(np.clip(grey, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
    neg = np.repeat(np.clip(-grey, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
    return pos, neg


def _add_noise(img: np.ndarray, rng: np.random.Generator, sigma: int) -> np.ndarray:
    """``img`` plus grey Gaussian noise of about ``sigma`` (rounded to a cached level)."""
    h, w = img.shape[:2]
    sigma = min(_GRAIN_SIGMAS, key=lambda s: abs(s - sigma))
    pos, neg = _grain(sigma)
    if h > pos.shape[0] or w > pos.shape[1]:
        g = np.round(rng.standard_normal((h, w), dtype=np.float32) * sigma).astype(np.int16)
        out: np.ndarray = cv2.add(img, cv2.merge((g, g, g)), dtype=cv2.CV_8U)
        return out
    y = int(rng.integers(0, pos.shape[0] - h + 1))
    x = int(rng.integers(0, pos.shape[1] - w + 1))
    out = cv2.add(img, pos[y : y + h, x : x + w])
    return cv2.subtract(out, neg[y : y + h, x : x + w])


def _lowfreq(rng: np.random.Generator, w: int, h: int, lo: float, hi: float) -> np.ndarray:
    grid = rng.uniform(lo, hi, (5, 8)).astype(np.float32)
    out: np.ndarray = cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
    return out


@dataclass(frozen=True, slots=True)
class _World:
    """The camera and the street: everything the layout of a scene hangs on."""

    w: int
    h: int
    lighting: str
    zoom: bool  # a long lens: big plates, the horizon above the frame
    y_h: float  # horizon row, unrolled
    cam_h: float  # camera height above the road, metres
    focal: float  # pixels
    yaw: float  # radians between the camera's axis and the road
    g: np.ndarray  # camera roll: unrolled -> frame pixels
    vp: np.ndarray  # the road's vanishing point, unrolled
    road_half: float  # metres from the road's axis to its kerbs
    road_axis: float  # metres from the camera's axis to the road's
    walls: float  # metres from the kerb to the building fronts (0: none)

    @property
    def lit(self) -> bool:
        return self.lighting != "day"

    def ppm(self, y: float) -> float:
        """Pixels per metre at unrolled row ``y`` of the road."""
        return max(1e-3, (y - self.y_h) / self.cam_h)

    def ground(self, x_m: float, z_m: float, up_m: float = 0.0) -> tuple[float, float]:
        """Unrolled pixel of the point ``x_m`` across, ``z_m`` ahead, ``up_m`` above the road."""
        return (
            float(self.vp[0] + self.focal * x_m / z_m),
            float(self.y_h + self.focal * (self.cam_h - up_m) / z_m),
        )

    def z_near(self) -> float:
        # The depth whose road row lies well below the frame.
        return self.focal * self.cam_h / (2.5 * self.h + abs(self.y_h))


def _sample_world(rng: np.random.Generator, w: int, h: int) -> _World:
    lighting = LIGHTINGS[int(rng.choice(4, p=[0.52, 0.14, 0.18, 0.16]))]
    zoom = bool(rng.random() < 0.45)
    if zoom:
        y_h = float(rng.uniform(-0.8, 0.12)) * h
        cam_h = float(rng.uniform(1.0, 3.0))
        focal = float(rng.uniform(1.5, 4.0)) * w
    else:
        y_h = float(rng.uniform(0.3, 0.52)) * h
        cam_h = float(rng.uniform(1.1, 2.4))
        focal = float(rng.uniform(0.6, 1.2)) * w
    yaw = 0.0 if rng.random() < 0.45 else float(np.deg2rad(rng.uniform(-25, 25)))
    roll = float(rng.normal(0, 2.5) if rng.random() < 0.7 else rng.uniform(-10, 10))
    cr, sr = math.cos(np.deg2rad(roll)), math.sin(np.deg2rad(roll))
    cx, cy = w / 2, h / 2
    g = np.array([[cr, -sr, cx - cr * cx + sr * cy], [sr, cr, cy - sr * cx - cr * cy], [0, 0, 1]])
    vp = np.array([w / 2 - focal * math.tan(yaw), y_h])
    return _World(
        w=w,
        h=h,
        lighting=lighting,
        zoom=zoom,
        y_h=y_h,
        cam_h=cam_h,
        focal=focal,
        yaw=yaw,
        g=g,
        vp=vp,
        road_half=float(rng.uniform(5.0, 11.0)),
        road_axis=float(rng.uniform(-3.0, 3.0)),
        walls=float(rng.uniform(2.5, 7.0)) if rng.random() < 0.55 else 0.0,
    )


def _rect_px(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64)


def _plan_vehicles(
    world: _World, rng: np.random.Generator, plate_rng: list[np.random.Generator]
) -> tuple[list[_Vehicle], list[_Item], list[_Item]]:
    """Vehicles (in no order), their plates and the negatives they carry."""
    w, h, g = world.w, world.h, world.g
    n_plates = int(rng.choice(5, p=[0.10, 0.27, 0.27, 0.20, 0.16]))
    n_bare = int(rng.choice(3, p=[0.7, 0.22, 0.08]))
    if n_plates == 0 and rng.random() < 0.5:
        n_bare = 0  # an empty road
    vehicles: list[_Vehicle] = []
    plates: list[_Item] = []
    negs: list[_Item] = []
    bodies: list[Box] = []
    w_min, w_max = 28 * w / 1280, 360 * w / 1280
    for slot in range(n_plates + n_bare):
        has_plate = slot < n_plates
        for _try in range(80):
            kind = _KIND_NAMES[int(rng.choice(len(_KIND_NAMES), p=_KIND_P))]
            view = "rear" if (has_plate and rng.random() < 0.72) else "front"
            if kind == "truck" and view == "front":
                kind = "van"
            kd = _KINDS[kind]
            lo = max(0.1 * h, world.y_h + 4)
            y_p = lo + (0.97 * h - lo) * float(rng.random()) ** 1.3
            plate_hm = (kd.plate_h if view == "rear" else 0.2) * kd.width_m
            plate_hm *= float(rng.uniform(0.9, 1.1))
            if world.cam_h - plate_hm < 0.25:
                continue
            scale = (y_p - world.y_h) / (world.cam_h - plate_hm) * float(rng.uniform(0.9, 1.1))
            pw = _PLATE_W_M * scale
            if has_plate and not w_min <= pw <= w_max:
                continue
            if not has_plate and not 0.5 * w_min <= pw <= w_max:
                continue
            wv = kd.width_m * scale
            edge = rng.random() < 0.06  # now and then a plate cut by the frame's edge
            x_p = float(rng.uniform(-0.01, 1.01) if edge else rng.uniform(0.04, 0.96)) * w
            x_m = (x_p - world.vp[0]) / scale
            if abs(x_m - world.road_axis) > world.road_half + 1.0 and rng.random() < 0.85:
                continue  # vehicles keep to the road
            yaw = world.yaw + float(np.deg2rad(rng.normal(0, 4)))
            roll = float(np.deg2rad(rng.normal(0, 2.0)))
            dist = max(2.0, world.focal / wv)
            pw_local = _PLATE_W_M / kd.width_m
            px_local = 0.0 if rng.random() < 0.8 else float(rng.uniform(-0.15, 0.15))
            if kind == "truck":
                px_local = float(rng.uniform(-0.3, 0.3))
            centre = np.array([px_local, -plate_hm / kd.width_m])
            m = _face_matrix(wv, yaw, dist, roll, (x_p, y_p), centre)
            tilt = float(np.deg2rad(rng.normal(0, 1.5)))
            ct, st = math.cos(tilt), math.sin(tilt)
            corners = np.array([[-0.5, -0.25], [0.5, -0.25], [0.5, 0.25], [-0.5, 0.25]])
            corners = corners * pw_local @ np.array([[ct, st], [-st, ct]]) + centre
            quad = _apply(g @ m, corners).astype(np.float32)
            box = _box_of(quad, w, h)
            if has_plate and _in_frame(quad, w, h) < 0.6:
                continue
            sil = np.concatenate(
                [_rect(-0.5, 0.0, 0.5, kd.body), _trap(kd.cab_bottom, kd.cab_top, kd.body, kd.top)]
            )
            # The whole body, far end and sides included, as the camera sees it.
            zeta = 1.0 / (1.0 + kd.length_m * scale / world.focal)
            near = _apply(m, sil)
            hull = np.concatenate([near, world.vp + (near - world.vp) * zeta])
            sbox = _box_of(_apply(g, hull), w, h)
            depth = float(_apply(m, np.array([[0.0, 0.0]]))[0, 1])
            # Refuse poses where a plate would be mostly hidden by another
            # vehicle (a few partial occlusions are wanted), or plates touch.
            allow = 0.3 if rng.random() < 0.15 else 0.0
            bad = False
            for j, other in enumerate(vehicles):
                hidden = _inter(box, bodies[j]) > allow * _area(box)
                if has_plate and other.depth > depth and hidden:
                    bad = True
                if other.plate >= 0:
                    ob = _box_of(plates[other.plate].quad, w, h)
                    if depth > other.depth and _inter(ob, sbox) > allow * _area(ob):
                        bad = True
                    if has_plate and _overlap((ob[0] - 6, ob[1] - 6, ob[2] + 6, ob[3] + 6), box):
                        bad = True
            if bad:
                continue
            occluder = "none"
            if has_plate and rng.random() < 0.08:
                occluder = "hitch" if rng.random() < 0.5 else "rack"
            v = _Vehicle(
                kind=kind,
                view=view,
                m=m,
                vp=world.vp,
                zeta=zeta,
                depth=depth,
                plate=len(plates) if has_plate else -1,
                plate_local=corners if has_plate else None,
                occluder=occluder,
            )
            if has_plate:
                prng = plate_rng[len(plates)]
                layout = random_layout(prng)
                text = sample_text(
                    prng, separator=layout.separator, jurisdiction=layout.jurisdiction
                )
                img = render_plate(text.displayed, prng, layout=layout)
                alpha = _rounded(img.shape[1], img.shape[0])
                plates.append(_Item(quad, text.canonical, "plate", img, alpha))
            # Lettering on trucks and buses, stickers on cars.
            panel_rng = np.random.default_rng(int(rng.integers(1 << 62)))
            if kind in ("truck", "bus") and view == "rear" and rng.random() < 0.85:
                shown = _TRUCK_TEXTS[int(rng.integers(len(_TRUCK_TEXTS)))]
                ink = (20, 20, 20) if kind == "truck" else (240, 240, 240)
                img, alpha = _lettering(shown, panel_rng, _jit(rng, ink, 20))
                tw = float(rng.uniform(0.35, 0.85))
                th = tw * img.shape[0] / img.shape[1]
                hc = (
                    float(rng.uniform(0.8, 1.25))
                    if kind == "truck"
                    else float(rng.uniform(0.6, 0.75))
                )
                quad_n = _apply(g @ m, _rect(-tw / 2, hc - th / 2, tw / 2, hc + th / 2))
                v.extras.append(len(negs))
                negs.append(_Item(quad_n.astype(np.float32), canonical(shown), "truck", img, alpha))
            elif view == "rear" and kind not in ("truck", "bus") and rng.random() < 0.3:
                shown = _STICKER_TEXTS[int(rng.integers(len(_STICKER_TEXTS)))]
                img, alpha, _aspect, _glow = _board(shown, panel_rng, sticker=True)
                sw = float(rng.uniform(0.13, 0.2))
                sh = sw * img.shape[0] / img.shape[1]
                sx = float(rng.choice([-1.0, 1.0])) * float(rng.uniform(0.22, 0.3))
                hc = float(rng.uniform(0.12, 0.16)) if rng.random() < 0.6 else kd.body - 0.1
                quad_n = _apply(g @ m, _rect(sx - sw / 2, hc - sh / 2, sx + sw / 2, hc + sh / 2))
                v.extras.append(len(negs))
                negs.append(
                    _Item(quad_n.astype(np.float32), canonical(shown), "sticker", img, alpha)
                )
            vehicles.append(v)
            bodies.append(sbox)
            break
    return vehicles, plates, negs


def _plan_background_negatives(world: _World, rng: np.random.Generator) -> list[_Item]:
    """Road signs on posts, shop boards on the building fronts, words painted on the road."""
    out: list[_Item] = []
    g = world.g
    zn = world.z_near()
    for _ in range(int(rng.choice(4, p=[0.25, 0.35, 0.25, 0.15]))):
        z = float(np.exp(rng.uniform(np.log(max(zn, 4.0)), np.log(80.0))))
        side = -1.0 if rng.random() < 0.5 else 1.0
        x_m = world.road_axis + side * (world.road_half + float(rng.uniform(0.4, 1.5)))
        r = rng.random()
        if r < 0.15:
            shown = "STOP"
        elif r < 0.35:
            shown = f"SPEED LIMIT {_SPEEDS[int(rng.integers(len(_SPEEDS)))]}"
        else:
            shown = _ROAD_SIGN_TEXTS[int(rng.integers(len(_ROAD_SIGN_TEXTS)))]
        img, alpha, aspect, glow = _sign_panel(
            shown, np.random.default_rng(int(rng.integers(1 << 62)))
        )
        size = float(rng.uniform(0.6, 0.9))
        sw, sh = size * math.sqrt(aspect), size / math.sqrt(aspect)
        bottom = float(rng.uniform(1.8, 2.5))
        tl = world.ground(x_m - sw / 2, z, bottom + sh)
        br = world.ground(x_m + sw / 2, z, bottom)
        quad = _apply(g, _rect_px(tl[0], tl[1], br[0], br[1])).astype(np.float32)
        foot = world.ground(x_m, z)
        s = world.focal / z
        pole = _rect_px(foot[0] - 0.03 * s, br[1], foot[0] + 0.03 * s, foot[1])
        out.append(_Item(quad, canonical(shown), "road_sign", img, alpha, glow, pole))
    if world.walls > 0 and rng.random() < 0.75:
        for _ in range(int(rng.integers(1, 4))):
            shown = _SHOP_TEXTS[int(rng.integers(len(_SHOP_TEXTS)))]
            img, alpha, aspect, glow = _board(
                shown, np.random.default_rng(int(rng.integers(1 << 62)))
            )
            side = -1.0 if rng.random() < 0.5 else 1.0
            x_m = world.road_axis + side * (world.road_half + world.walls)
            hgt = float(rng.uniform(0.5, 1.0))
            length = hgt * aspect
            z0 = float(np.exp(rng.uniform(np.log(max(zn, 5.0)), np.log(60.0))))
            up = float(rng.uniform(2.6, 4.5))
            # On the left wall the text runs towards the camera, on the right away.
            za, zb = (z0 + length, z0) if side < 0 else (z0, z0 + length)
            pts = [
                world.ground(x_m, za, up + hgt),
                world.ground(x_m, zb, up + hgt),
                world.ground(x_m, zb, up),
                world.ground(x_m, za, up),
            ]
            quad = _apply(g, np.array(pts)).astype(np.float32)
            out.append(_Item(quad, canonical(shown), "shop_sign", img, alpha, glow))
    if rng.random() < 0.35:
        shown = _PAINT_TEXTS[int(rng.integers(len(_PAINT_TEXTS)))]
        img, alpha = _lettering(
            shown, np.random.default_rng(int(rng.integers(1 << 62))), (215,) * 3
        )
        alpha = (alpha.astype(np.float32) * float(rng.uniform(0.55, 0.9))).astype(np.uint8)
        z0 = float(rng.uniform(max(zn, 5.0), 30.0))
        half = float(rng.uniform(0.7, 1.1))
        length = 2 * half * img.shape[0] / img.shape[1] * float(rng.uniform(2.5, 4.0))
        lane = world.road_axis + float(rng.uniform(-0.6, 0.6)) * world.road_half
        pts = [
            world.ground(lane - half, z0 + length),
            world.ground(lane + half, z0 + length),
            world.ground(lane + half, z0),
            world.ground(lane - half, z0),
        ]
        quad = _apply(g, np.array(pts)).astype(np.float32)
        out.append(_Item(quad, canonical(shown), "road_paint", img, alpha))
    return out


# ---------------------------------------------------------------------------
# Drawing
# ---------------------------------------------------------------------------

_SKIES: dict[str, tuple[tuple[Color, Color], ...]] = {
    "day": (
        ((200, 140, 80), (235, 215, 190)),  # clear
        ((190, 188, 182), (222, 222, 218)),  # overcast
        ((215, 165, 110), (240, 228, 210)),  # hazy
    ),
    "dusk": (((95, 55, 60), (120, 170, 235)), ((120, 80, 70), (150, 160, 200))),
    "night": (((35, 18, 12), (70, 55, 50)), ((25, 20, 20), (55, 60, 70))),
    "infrared": (((60, 60, 60), (90, 90, 90)),),
}
_BUILDINGS: tuple[Color, ...] = (
    (170, 170, 165), (60, 80, 150), (150, 185, 205), (140, 120, 100), (75, 75, 80),
    (120, 140, 160), (200, 205, 210), (90, 110, 140),
)  # fmt: skip
_GREENS: tuple[Color, ...] = ((40, 95, 55), (30, 70, 40), (60, 125, 85), (45, 110, 90))
_ASPHALT: tuple[Color, ...] = ((95, 95, 96), (70, 70, 72), (118, 116, 113), (85, 88, 90))


def _sky(cv: _Canvas, world: _World, rng: np.random.Generator) -> None:
    top, horizon = _SKIES[world.lighting][int(rng.integers(len(_SKIES[world.lighting])))]
    gx, gy = np.meshgrid(np.linspace(0, cv.w, 16), np.linspace(0, cv.h, 9))
    inv = np.linalg.inv(world.g)
    y_u = _apply(inv, np.stack([gx.ravel(), gy.ravel()], 1))[:, 1].reshape(gy.shape)
    t = np.clip((world.y_h - y_u) / (0.7 * cv.h), 0, 1)[..., None]
    grid = np.asarray(horizon, np.float32) * (1 - t) + np.asarray(top, np.float32) * t
    cv.img[:] = cv2.resize(grid.astype(np.uint8), (cv.w, cv.h), interpolation=cv2.INTER_LINEAR)


def _skyline(cv: _Canvas, world: _World, rng: np.random.Generator) -> None:
    """Buildings and trees along the horizon, when the horizon is in view."""
    w, h, y_h = cv.w, cv.h, world.y_h
    if y_h < -0.05 * h:
        return
    night = world.lighting in ("night", "infrared")
    x = -0.3 * w
    while x < 1.3 * w:
        bw = float(rng.uniform(0.04, 0.2)) * w
        if rng.random() < 0.35:  # trees
            c = _pick(rng, _GREENS)
            blobs = []
            for _ in range(int(rng.integers(2, 6))):
                r = float(rng.uniform(0.02, 0.07)) * h
                cx, cy = x + float(rng.uniform(0, bw)), y_h - float(rng.uniform(0.2, 1.6)) * r
                ell = cv2.ellipse2Poly((int(cx), int(cy)), (int(r * 1.2), int(r)), 0, 0, 360, 30)
                blobs.append(np.asarray(ell, np.float64))
            cv.poly(blobs, _shade(c, float(rng.uniform(0.8, 1.1))))
        else:
            bh = float(rng.uniform(0.04, 0.4)) * h
            base = y_h + float(rng.uniform(0.0, 0.01)) * h
            c = _jit(rng, _pick(rng, _BUILDINGS), 12)
            cv.poly([_rect_px(x, base - bh, x + bw, base)], c)
            rows, cols = int(bh / max(6.0, 0.025 * h)), int(bw / max(6.0, 0.02 * w))
            if rows > 1 and cols > 1 and rng.random() < 0.8:
                ii, jj = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
                x0 = (x + (jj.ravel() + 0.22) * bw / cols)[:, None]
                y0 = (base - bh + (ii.ravel() + 0.25) * bh / rows)[:, None]
                ww, wh = bw / cols * 0.55, bh / rows * 0.5
                wins = np.stack(
                    [np.hstack([x0, x0 + ww, x0 + ww, x0]), np.hstack([y0, y0, y0 + wh, y0 + wh])],
                    -1,
                )
                on = rng.random(len(wins)) < (0.3 if night else 0.0)
                cv.poly(wins[~on], _shade(c, 0.55))
                cv.poly(wins[on], (120, 200, 235), emit=(60, 110, 140))
        x += bw * float(rng.uniform(0.9, 1.1))


def _ground(cv: _Canvas, world: _World, rng: np.random.Generator) -> tuple[list[np.ndarray], Color]:
    """Verge, road, kerbs, walls, markings, street lights; returns shadows and the asphalt."""
    zn, zf = world.z_near(), 3000.0
    ground_c = _pick(rng, ((150, 155, 155), (60, 120, 80), (120, 135, 140)))
    far_l, far_r = world.ground(-4000, zf), world.ground(4000, zf)
    big = np.array(
        [[far_l[0], world.y_h], [far_r[0], world.y_h], [far_r[0], 4 * cv.h], [far_l[0], 4 * cv.h]]
    )
    cv.poly([big], _jit(rng, ground_c, 10))

    def strip(x0: float, x1: float, z0: float = zn, z1: float = zf) -> np.ndarray:
        return np.array(
            [world.ground(x0, z1), world.ground(x1, z1), world.ground(x1, z0), world.ground(x0, z0)]
        )

    a, rh = world.road_axis, world.road_half
    walk = world.walls if world.walls > 0 else float(rng.uniform(1.5, 3.5))
    walk_c = _jit(rng, (165, 170, 170), 12)
    cv.poly([strip(a - rh - walk, a - rh), strip(a + rh, a + rh + walk)], walk_c)
    asphalt = _jit(rng, _pick(rng, _ASPHALT), 6)
    cv.poly([strip(a - rh, a + rh)], asphalt)
    kerb = _shade(walk_c, 1.1)
    cv.poly([strip(a - rh - 0.15, a - rh), strip(a + rh, a + rh + 0.15)], kerb)
    shadows: list[np.ndarray] = []
    # Walls of the buildings along the street, seen at a glancing angle.
    if world.walls > 0:
        for side in (-1.0, 1.0):
            x_m = a + side * (rh + world.walls)
            up = float(rng.uniform(6, 20))
            c = _jit(rng, _pick(rng, _BUILDINGS), 12)
            wall = np.array(
                [world.ground(x_m, zf, up), world.ground(x_m, zn, up),
                 world.ground(x_m, zn), world.ground(x_m, zf)]
            )  # fmt: skip
            cv.poly([wall], c)
            # Storeys: window bands and door-height shop fronts.
            bands = [
                np.array([world.ground(x_m, zf, u + 1.4), world.ground(x_m, zn, u + 1.4),
                          world.ground(x_m, zn, u), world.ground(x_m, zf, u)])
                for u in np.arange(4.0, up - 1.5, 3.2)
            ]  # fmt: skip
            if bands:
                cv.poly(bands, _shade(c, 0.55))
            front = np.array([world.ground(x_m, zf, 2.4), world.ground(x_m, zn, 2.4),
                              world.ground(x_m, zn, 0.2), world.ground(x_m, zf, 0.2)])  # fmt: skip
            cv.poly([front], _jit(rng, (70, 65, 60), 15))
            step = float(rng.uniform(3, 8))
            posts = [
                np.array([world.ground(x_m, z, 2.5), world.ground(x_m, z + 0.4, 2.5),
                          world.ground(x_m, z + 0.4, 0), world.ground(x_m, z, 0)])
                for z in np.arange(max(zn, 1.0), 120, step)
            ]  # fmt: skip
            cv.poly(posts, c)
            if world.lighting == "day" and rng.random() < 0.5:
                reach = float(rng.uniform(2, 2 * rh))
                x_s = a + side * (rh + world.walls - reach)
                shadows.append(strip(min(x_m, x_s), max(x_m, x_s), zn, zf))
    # Lane markings: dashed white between lanes, edge lines, a yellow centre line.
    white = _jit(rng, (225, 228, 228), 8)
    yellow = (40, 190, 225)
    lanes = max(1, round(2 * rh / 3.6))
    lane_w = 2 * rh / lanes
    dash, gap = 3.0, float(rng.uniform(6.0, 10.0))
    phase = float(rng.uniform(0, dash + gap))
    dashes, solid_w, solid_y = [], [], []
    centre = lanes // 2 if rng.random() < 0.5 else -1
    for i in range(1, lanes):
        x = a - rh + i * lane_w
        if i == centre:
            solid_y.append(strip(x - 0.2, x - 0.1))
            solid_y.append(strip(x + 0.1, x + 0.2))
            continue
        z = max(zn, 0.5) - phase
        while z < 200:
            z0 = max(z, zn)
            if z + dash > z0:
                dashes.append(strip(x - 0.07, x + 0.07, z0, z + dash))
            z += dash + gap
    solid_w += [strip(a - rh + 0.2, a - rh + 0.35), strip(a + rh - 0.35, a + rh - 0.2)]
    cv.poly(dashes + solid_w, white)
    if solid_y:
        cv.poly(solid_y, yellow)
    if rng.random() < 0.25:  # a crosswalk and its stop line
        zc = float(rng.uniform(max(zn, 6.0), 40.0))
        bars = [strip(x, x + 0.5, zc, zc + 3.0) for x in np.arange(a - rh + 0.3, a + rh - 0.5, 1.1)]
        bars.append(strip(a - rh, a + rh, zc + 4.0, zc + 4.5))
        cv.poly(bars, white)
    # Cracks and patches in the asphalt.
    patches = []
    for _ in range(int(rng.integers(0, 5))):
        x0 = a + float(rng.uniform(-rh, rh - 1))
        z0 = float(rng.uniform(max(zn, 3.0), 60))
        patches.append(
            strip(x0, x0 + float(rng.uniform(0.5, 3)), z0, z0 + float(rng.uniform(0.5, 4)))
        )
    if patches:
        cv.poly(patches, _shade(asphalt, float(rng.uniform(0.75, 1.2))))
    # Street lights along the kerb; their posts cast shadows by day.
    side = -1.0 if rng.random() < 0.5 else 1.0
    x_m = a + side * (rh + 0.6)
    step = float(rng.uniform(15, 35))
    z = max(zn, 4.0) + float(rng.uniform(0, step))
    posts, heads = [], []
    while z < 150:
        top = float(rng.uniform(7, 9))
        p0, p1 = world.ground(x_m - 0.1, z, top), world.ground(x_m + 0.1, z)
        posts.append(_rect_px(p0[0], p0[1], p1[0], p1[1]))
        arm_end = world.ground(x_m - side * 1.8, z, top)
        q0 = world.ground(x_m, z, top + 0.12)
        posts.append(np.array([q0, (arm_end[0], q0[1]), arm_end, p0]))
        h0, h1 = (
            world.ground(x_m - side * 1.9, z, top - 0.05),
            world.ground(x_m - side * 1.2, z, top),
        )
        heads.append(_rect_px(min(h0[0], h1[0]), h1[1], max(h0[0], h1[0]), h0[1]))
        if world.lighting == "day":
            fx, fz = float(rng.uniform(-0.6, 0.6)), float(rng.uniform(0.3, 0.8))
            shadows.append(
                np.array([world.ground(x_m - 0.1, z), world.ground(x_m + 0.1, z),
                          world.ground(x_m + 0.1 + fx * top, z + fz * top),
                          world.ground(x_m - 0.1 + fx * top, z + fz * top)])
            )  # fmt: skip
        z += step
    if posts:
        cv.poly(posts, (70, 72, 75))
        cv.poly(heads, (200, 205, 210), emit=(170, 220, 250) if world.lit else None)
    return shadows, asphalt


def _illumination(
    cv: _Canvas, world: _World, rng: np.random.Generator, shadows: list[np.ndarray]
) -> None:
    """Multiply the frame by slow light changes and cast shadows (drawn at quarter size)."""
    qw, qh = max(4, cv.w // 4), max(4, cv.h // 4)
    light = _lowfreq(rng, qw, qh, 0.85, 1.12)
    if shadows:
        mask = np.zeros((qh, qw), np.uint8)
        q = np.diag([0.25, 0.25, 1.0]) @ world.g
        cv2.fillPoly(mask, [np.round(_apply(q, s) * 16).astype(np.int32) for s in shadows], 255,
                     cv2.LINE_AA, shift=4)  # fmt: skip
        soft = cv2.GaussianBlur(mask, (0, 0), 1.2).astype(np.float32)
        light *= 1.0 - soft * np.float32(float(rng.uniform(0.35, 0.55)) / 255)
    small = np.clip(light * 128, 0, 255).astype(np.uint8)
    f8 = cv2.resize(small, (cv.w, cv.h), interpolation=cv2.INTER_LINEAR)
    cv.img[:] = cv2.multiply(cv.img, cv2.merge((f8, f8, f8)), scale=1 / 128)


def _vehicle_shadow(v: _Vehicle) -> np.ndarray:
    """The dark patch on the road under a vehicle, unrolled."""
    k = _KINDS[v.kind]
    base = np.array([[-0.52, 0.0], [0.52, 0.0], [0.52, -0.03], [-0.52, -0.03]])
    near = _apply(v.m, base)
    far = v.vp + (near - v.vp) * v.zeta
    pts = np.concatenate([near, far, near + np.array([0.0, 0.02 * k.width_m])])
    hull: np.ndarray = cv2.convexHull(pts.astype(np.float32))[:, 0].astype(np.float64)
    return hull


def _occluder(cv: _Canvas, v: _Vehicle) -> None:
    """A tow hitch or a bike rack over part of the plate, drawn after it."""
    assert v.plate_local is not None
    pl = v.plate_local
    x0, x1 = float(pl[:, 0].min()), float(pl[:, 0].max())
    top, bottom = -float(pl[:, 1].min()), -float(pl[:, 1].max())  # heights
    pw, ph = x1 - x0, top - bottom
    metal = (45, 45, 48)
    if v.occluder == "hitch":
        cx = (x0 + x1) / 2
        r = 0.3 * ph
        ring = cv2.ellipse2Poly((0, 0), (1000, 1000), 0, 0, 360, 20)
        ball = np.asarray(ring, np.float64) / 1000 * r
        ball += (cx, -(bottom + 0.15 * ph))
        shank = _rect(cx - 0.12 * ph, 0.1, cx + 0.12 * ph, bottom + 0.1 * ph)
        cv.poly([shank, ball], metal, v.m, occlude=True)
    else:
        xs = (x0 + 0.25 * pw, x0 + 0.75 * pw) if pw > 0 else (x0, x1)
        bars = [_rect(x - 0.02 * pw, 0.08, x + 0.02 * pw, top + 0.4 * ph) for x in xs]
        bars.append(_rect(x0 - 0.1 * pw, top + 0.3 * ph, x1 + 0.1 * pw, top + 0.4 * ph))
        cv.poly(bars, metal, v.m, occlude=True)


def _channel_lut(gamma: float, gains: tuple[float, float, float]) -> np.ndarray:
    """A (1, 256, 3) table for cv2.LUT: gamma, then a gain per channel (B, G, R)."""
    x = (np.arange(256, dtype=np.float32) / 255) ** gamma * 255
    table = np.stack([np.clip(x * k, 0, 255) for k in gains], -1)
    return table.astype(np.uint8)[None]


def _effects(img: np.ndarray, cv: _Canvas, world: _World, rng: np.random.Generator) -> np.ndarray:
    """Light and camera over the whole frame: time of day, glow, blur, noise, JPEG."""
    lighting = world.lighting
    if lighting == "dusk":
        gamma, gain = float(rng.uniform(1.1, 1.4)), float(rng.uniform(0.6, 0.8))
        img = cv2.LUT(img, _channel_lut(gamma, (0.9 * gain, 0.95 * gain, 1.08 * gain)))
    elif lighting == "night":
        retro = cv.retro.astype(np.float32) * np.float32(rng.uniform(0.5, 0.95) / 255)
        dark = cv2.LUT(img, _gamma_lut(float(rng.uniform(1.5, 2.2)), float(rng.uniform(0.3, 0.5))))
        # The camera's illuminator (and headlights) light retroreflective plates and signs.
        lit = cv2.convertScaleAbs(img, alpha=float(rng.uniform(0.8, 1.1)))
        img = cv2.blendLinear(lit, dark, retro, 1.0 - retro)
    elif lighting == "infrared":
        retro = cv.retro.astype(np.float32) * np.float32(1 / 255)
        grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        # The illuminator lights the middle of the view best.
        ys, xs = np.ogrid[-1 : 1 : complex(0, 9), -1 : 1 : complex(0, 16)]
        spot = np.clip((1.0 - 0.45 * (xs**2 + ys**2)) * 255, 0, 255).astype(np.uint8)
        spot = cv2.resize(spot, (cv.w, cv.h), interpolation=cv2.INTER_LINEAR)
        bg = cv2.multiply(grey, spot, scale=float(rng.uniform(0.25, 0.55)) / 255)
        # Retroreflective sheeting sends the flash back: the plate's ground
        # nearly white, its ink (which does not reflect) stays dark.
        alpha, beta = float(rng.uniform(1.2, 1.7)), float(rng.uniform(40, 90))
        bright = cv2.convertScaleAbs(grey, alpha=alpha, beta=beta)
        img = cv2.cvtColor(cv2.blendLinear(bright, bg, retro, 1.0 - retro), cv2.COLOR_GRAY2BGR)
    elif rng.random() < 0.5:  # day: white balance off
        b, g, r = (float(x) for x in rng.uniform(0.88, 1.12, 3))
        img = cv2.LUT(img, _channel_lut(1.0, (b, g, r)))
    if world.lit and cv.any_emit:
        emit: np.ndarray = cv.emit
        if lighting == "infrared":
            e = cv2.cvtColor(emit, cv2.COLOR_BGR2GRAY)
            emit = cv2.cvtColor(e, cv2.COLOR_GRAY2BGR)
        img = cv2.max(img, emit)
        qw, qh = max(4, cv.w // 4), max(4, cv.h // 4)
        small = cv2.resize(emit, (qw, qh), interpolation=cv2.INTER_AREA)
        glow = cv2.GaussianBlur(small, (0, 0), float(rng.uniform(2.0, 5.0)))
        glow = cv2.resize(glow, (cv.w, cv.h), interpolation=cv2.INTER_LINEAR)
        img = cv2.scaleAdd(glow, float(rng.uniform(0.8, 2.0)), img)
    elif rng.random() < 0.06:  # sun glare
        img = _glare(img, rng, float(rng.uniform(0.5, 1.0)))
    if rng.random() < 0.2:  # motion blur (traffic crosses the view)
        img = cv2.blur(img, (int(rng.integers(3, 12)), 1))
    if rng.random() < 0.3:
        img = cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.5, 1.6)))
    if rng.random() < 0.12:
        f = float(rng.uniform(0.45, 0.8))
        small = cv2.resize(img, (round(cv.w * f), round(cv.h * f)), interpolation=cv2.INTER_AREA)
        img = cv2.resize(small, (cv.w, cv.h), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.75:
        sigma = int(
            rng.integers(6, 15) if world.lighting in ("night", "infrared") else rng.integers(2, 8)
        )
        img = _add_noise(img, rng, sigma)
    if rng.random() < 0.6:
        quality = int(rng.integers(30, 93))
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
        decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else None
        if decoded is not None:
            img = decoded
    return img


class SceneSampler:
    """An endless, seeded stream of road scenes with every plate's box known.

    ``scene_at(i)`` depends on ``(seed, i)`` only (as
    :meth:`~.dataset.PlateSampler.sample_at` does), so data-loader workers
    can split indices between them and any scene can be rebuilt. About 10 %
    of scenes hold no plate; the rest hold 1-4, more small plates (30-100
    px wide at 1280x720) than large ones (up to ~350 px).

    Raises:
        ValueError: ``seed`` is negative, or ``width``/``height`` is outside 64-4096.
    """

    def __init__(self, seed: int, width: int = 1280, height: int = 720) -> None:
        if seed < 0:
            raise ValueError("seed must be non-negative")
        if not (64 <= width <= 4096 and 64 <= height <= 4096):
            raise ValueError("width and height must be between 64 and 4096 pixels")
        self._seed = seed
        self._w = width
        self._h = height
        self._next = 0

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of every frame."""
        return self._w, self._h

    def scene(self) -> Scene:
        """The next scene (indices 0, 1, 2, ...)."""
        self._next += 1
        return self.scene_at(self._next - 1)

    def scene_at(self, index: int) -> Scene:
        """Scene number ``index`` (>= 0) of this seed; pure in ``(seed, index)``.

        Raises:
            ValueError: ``index`` is negative.
        """
        return self._render(index)[0]

    def _render(
        self, index: int, probe: tuple[str, int, int] | None = None
    ) -> tuple[Scene, list[int], list[int]]:
        """Scene ``index``, and the plan indices of the plates and negatives it kept.

        With ``probe = (what, k, value)`` (``what`` is "plate" or
        "negative"), planned item ``k`` is drawn in flat grey ``value`` and
        no whole-frame effect is applied; all geometry stays as it was, so
        tests render twice and check that the pixels that differ lie in the
        item's box.
        """
        if index < 0:
            raise ValueError("index must be non-negative")
        w, h = self._w, self._h
        plan = np.random.default_rng((self._seed, 2, index, 0))
        tex = np.random.default_rng((self._seed, 2, index, 1))
        fx = np.random.default_rng((self._seed, 2, index, 3))
        world = _sample_world(plan, w, h)
        plate_rng = [np.random.default_rng((self._seed, 2, index, 2, k)) for k in range(4)]
        vehicles, plates, negs = _plan_vehicles(world, plan, plate_rng)
        negs += _plan_background_negatives(world, plan)
        pole_at = int(plan.integers(len(plates))) if plates and plan.random() < 0.04 else -1
        pole_cover = float(plan.uniform(0.1, 0.35))
        pole_from = float(plan.uniform(-0.1, 0.9))
        # A negative never overlaps a plate: drop those that would (before drawing).
        plate_boxes = [_box_of(p.quad, w, h) for p in plates]
        for n in negs:
            b = _box_of(n.quad, w, h)
            if b[2] - b[0] < 6 or b[3] - b[1] < 4 or any(_overlap(b, pb) for pb in plate_boxes):
                n.kind = ""  # not drawn
        if probe is not None:
            what, k, value = probe
            item = (plates if what == "plate" else negs)[k]
            item.img = np.full_like(item.img, value)

        cv = _Canvas(w, h, world.g)
        _sky(cv, world, tex)
        _skyline(cv, world, tex)
        shadows, asphalt = _ground(cv, world, tex)
        drawn_negs: list[tuple[int, int]] = []  # (plan index, pixels owned when drawn)
        for i, n in enumerate(negs):
            if n.kind in ("road_sign", "shop_sign", "road_paint"):
                if n.pole is not None:
                    cv.poly([n.pole], (90, 92, 95))
                retro = 230 if n.kind == "road_sign" else 0
                drawn_negs.append((i, cv.paste(n.img, n.alpha, n.quad, 128 + i, retro)))
                if n.glow is not None and world.lit:
                    cv.poly(
                        [_apply(np.linalg.inv(world.g), n.quad)], n.glow, emit=_shade(n.glow, 0.5)
                    )
                    cv.paste(n.img, n.alpha, n.quad, 128 + i, 0)
        # Grain of the asphalt and walls: finer than any drawn detail.
        cv.img[:] = _add_noise(cv.img, tex, 3)
        cv.poly([_vehicle_shadow(v) for v in vehicles], _shade(asphalt, 0.4))
        plate_px = [0] * len(plates)
        for v in sorted(vehicles, key=lambda v: v.depth):
            _draw_vehicle(cv, v, tex, world.lit)
            if v.plate >= 0:
                p = plates[v.plate]
                img = _plate_light(p.img, tex) if world.lighting == "day" else p.img
                plate_px[v.plate] = cv.paste(img, p.alpha, p.quad, 1 + v.plate, 255)
                if v.occluder != "none":
                    _occluder(cv, v)
            for i in v.extras:
                n = negs[i]
                if n.kind:
                    drawn_negs.append((i, cv.paste(n.img, n.alpha, n.quad, 128 + i, 0)))
        if pole_at >= 0:
            q = plates[pole_at].quad.astype(np.float64)
            x0, x1 = float(q[:, 0].min()), float(q[:, 0].max())
            xa = x0 + (x1 - x0) * pole_from
            pole = _rect_px(xa, -10.0, xa + (x1 - x0) * pole_cover, h + 10.0)
            inv = np.linalg.inv(world.g)
            cv.poly([_apply(inv, pole)], (60, 62, 66), occlude=True)

        # Uneven light and cast shadows, over the vehicles too.
        _illumination(cv, world, tex, shadows)
        kept_plates: list[int] = []
        out_plates: list[PlateBox] = []
        for k, p in enumerate(plates):
            now = int(np.count_nonzero(cv.ids == 1 + k))
            if now == 0 or plate_px[k] == 0:
                continue
            visible = min(1.0, now / plate_px[k]) * _in_frame(p.quad, w, h)
            readable = _width(p.quad) >= READABLE_MIN_WIDTH and visible >= READABLE_MIN_VISIBLE
            box = _box_of(p.quad, w, h)
            out_plates.append(PlateBox(p.quad, box, p.text, visible, readable))
            kept_plates.append(k)
        kept_negs: list[int] = []
        out_negs: list[NegativeBox] = []
        for i, px in sorted(drawn_negs):
            n = negs[i]
            now = int(np.count_nonzero(cv.ids == 128 + i))
            if px == 0 or now < 0.4 * px or _in_frame(n.quad, w, h) < 0.5:
                continue  # mostly hidden or out of view: no longer a hard negative
            out_negs.append(NegativeBox(n.quad, _box_of(n.quad, w, h), n.text, n.kind))
            kept_negs.append(i)
        img = cv.img if probe is not None else _effects(cv.img, cv, world, fx)
        scene = Scene(
            image=img, plates=tuple(out_plates), negatives=tuple(out_negs), lighting=world.lighting
        )
        return scene, kept_plates, kept_negs
