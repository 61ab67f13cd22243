"""What a roadside camera does to a clean plate: geometry, light, blur, noise, dirt.

:func:`degrade` takes a clean plate (from :func:`~.plates.render_plate`), puts
it on a car-like background seen at an angle, crops around it with tight or
loose margins, and applies camera effects, each with some probability.
Everything is drawn from the caller's ``numpy.random.Generator``, so a
sample is reproducible from its seed.

Effects never make the ground truth wrong: occluders cover at most an
edge strip (never a whole character) and crops cut at most 2 % of the
plate's width from a side and 12 % (top) or 10 % (bottom) of its height,
which hold only margin, banner and slogan there.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from functools import lru_cache
from typing import NamedTuple

import cv2
import numpy as np

__all__ = ["EFFECT_PROBABILITY", "Effect", "degrade"]


class Effect(StrEnum):
    """The camera effects :func:`degrade` can apply; names for ``force=``."""

    PERSPECTIVE = "perspective"  # tilt, yaw and pitch of the plate
    OCCLUSION = "occlusion"  # a bar or hitch ball over an edge strip
    DIRT = "dirt"  # dark blotches, heavier towards the bottom
    INFRARED = "infrared"  # grey, bright plate, dark surroundings
    COLOR = "color"  # white balance and contrast off
    LOW_LIGHT = "low_light"  # dark with a gamma curve
    GLARE = "glare"  # a bright elliptical blob
    MOTION_BLUR = "motion_blur"  # a line kernel, mostly horizontal
    FOCUS_BLUR = "focus_blur"  # Gaussian
    LOW_RES = "low_res"  # down- and up-sampled, as a distant plate is
    NOISE = "noise"  # Gaussian and shot noise
    JPEG = "jpeg"  # re-encoded at quality 20-90


#: Chance of each effect at ``strength=1``; scaled by ``strength`` (capped at 1).
EFFECT_PROBABILITY: dict[Effect, float] = {
    Effect.PERSPECTIVE: 0.8,
    Effect.OCCLUSION: 0.08,
    Effect.DIRT: 0.2,
    Effect.INFRARED: 0.12,
    Effect.COLOR: 0.5,
    Effect.LOW_LIGHT: 0.15,
    Effect.GLARE: 0.1,
    Effect.MOTION_BLUR: 0.2,
    Effect.FOCUS_BLUR: 0.25,
    Effect.LOW_RES: 0.15,
    Effect.NOISE: 0.6,
    Effect.JPEG: 0.6,
}

# Car paint and bumper colours (BGR) behind the plate.
_PAINT: tuple[tuple[int, int, int], ...] = (
    (235, 235, 235), (30, 30, 30), (160, 160, 165), (110, 110, 115), (30, 30, 160),
    (120, 60, 20), (40, 60, 30), (60, 120, 170), (20, 20, 60), (200, 200, 190),
)  # fmt: skip


def _luma(img: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)


@lru_cache(maxsize=512)
def _rounded(w: int, h: int) -> np.ndarray:
    """Alpha (float32 0-1) of a plate's rounded rectangle at (w, h)."""
    mask = np.zeros((h, w), np.uint8)
    r = max(1, round(0.035 * w))
    cv2.rectangle(mask, (r, 0), (w - 1 - r, h - 1), 255, -1)
    cv2.rectangle(mask, (0, r), (w - 1, h - 1 - r), 255, -1)
    for cx, cy in ((r, r), (w - 1 - r, r), (r, h - 1 - r), (w - 1 - r, h - 1 - r)):
        cv2.circle(mask, (cx, cy), r, 255, -1, cv2.LINE_AA)
    return mask


def _car(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """A car-paint or bumper-like background, shaded at low frequency."""
    base = np.asarray(_PAINT[int(rng.integers(len(_PAINT)))], np.float32)
    # Linear upsampling of a coarse grid: cubic is 10x slower for a shading
    # nobody looks at closely.
    shade = cv2.resize(
        rng.uniform(0.55, 1.25, (4, 6)).astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR
    )
    img: np.ndarray = cv2.convertScaleAbs(cv2.merge([shade * c for c in base]))
    # Bumper seams, the recess edge and the boot lid: a few horizontal lines.
    for _ in range(int(rng.integers(0, 4))):
        y = int(rng.integers(0, h))
        tone = int(rng.integers(0, 256))
        cv2.line(
            img, (0, y), (w, y + int(rng.integers(-3, 4))), (tone,) * 3, int(rng.integers(1, 4))
        )
    if rng.random() < 0.25:  # a tail light at one side
        x = 0 if rng.random() < 0.5 else w
        cv2.ellipse(img, (x, h // 2), (w // 8, h // 3), 0, 0, 360, (30, 30, 200), -1, cv2.LINE_AA)
    return img


def _occlude(img: np.ndarray, rng: np.random.Generator) -> None:
    """Cover one edge strip: at most 4 % of the width at a side, 15 % of the height.

    Characters lie between 5 % and 95 % of the width and 25 % and 81 % of
    the height (see render_plate), so an occluder can clip a character's
    edge but never hide a whole one.
    """
    h, w = img.shape[:2]
    color = (int(rng.integers(0, 80)),) * 3 if rng.random() < 0.7 else (
        tuple(int(c) for c in rng.integers(0, 256, 3))
    )  # fmt: skip
    side = int(rng.integers(5))
    if side == 0:  # left
        x1 = int(rng.uniform(0.015, 0.04) * w)
        y0, y1 = sorted(int(v) for v in rng.integers(0, h, 2))
        cv2.rectangle(img, (0, min(y0, h // 3)), (x1, max(y1, 2 * h // 3)), color, -1)
    elif side == 1:  # right
        x0 = w - int(rng.uniform(0.015, 0.04) * w)
        y0, y1 = sorted(int(v) for v in rng.integers(0, h, 2))
        cv2.rectangle(img, (x0, min(y0, h // 3)), (w, max(y1, 2 * h // 3)), color, -1)
    elif side == 2:  # top
        y1 = int(rng.uniform(0.05, 0.15) * h)
        x0 = int(rng.uniform(0, 0.5) * w)
        cv2.rectangle(img, (x0, 0), (x0 + int(rng.uniform(0.3, 0.8) * w), y1), color, -1)
    elif side == 3:  # bottom
        y0 = h - int(rng.uniform(0.05, 0.15) * h)
        x0 = int(rng.uniform(0, 0.5) * w)
        cv2.rectangle(img, (x0, y0), (x0 + int(rng.uniform(0.3, 0.8) * w), h), color, -1)
    else:  # a tow-hitch ball rising from below the plate
        r = int(rng.uniform(0.10, 0.15) * h)
        cx = int(rng.uniform(0.3, 0.7) * w)
        cv2.circle(img, (cx, h + r // 3), r, color, -1, cv2.LINE_AA)


def _dirt(img: np.ndarray, rng: np.random.Generator, s: float) -> np.ndarray:
    h, w = img.shape[:2]
    field = cv2.resize(
        rng.random((8, 16), dtype=np.float32), (w, h), interpolation=cv2.INTER_LINEAR
    )
    # Road spray dirties the bottom first.
    field = field + np.linspace(-0.3, 0.3, h, dtype=np.float32)[:, None]
    d = np.clip((field - 0.55) * 2.5, 0.0, 1.0) * np.float32(min(0.85, 0.5 * s + 0.2))
    grime = np.empty_like(img)
    grime[:] = (int(rng.integers(20, 60)), int(rng.integers(40, 80)), int(rng.integers(60, 100)))
    return cv2.blendLinear(grime, img, d, 1.0 - d)


def _corners(rng: np.random.Generator, w: float, h: float, s: float, tilt: bool) -> np.ndarray:
    """Where the plate's four corners land, before translation into the crop."""
    pts = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    if not tilt:
        return pts
    # Yaw: the far side looks shorter and the plate narrower (up to ~30 deg).
    yaw = rng.uniform(-1, 1) * s
    pts[:, 0] *= 1 - 0.13 * abs(yaw)
    side = (0, 3) if yaw > 0 else (1, 2)
    squeeze = 0.12 * abs(yaw) * h
    pts[side[0], 1] += squeeze / 2
    pts[side[1], 1] -= squeeze / 2
    # Pitch: a camera above sees the top edge farther away.
    pitch = rng.uniform(0, 0.08) * s
    pts[0, 0] += pitch * w / 2
    pts[1, 0] -= pitch * w / 2
    # Roll: up to 15 deg.
    angle = np.deg2rad(rng.uniform(-15, 15) * min(s, 1.0))
    c, sn = np.cos(angle), np.sin(angle)
    centre = pts.mean(0)
    rot = np.array([[c, -sn], [sn, c]], np.float32)
    out: np.ndarray = ((pts - centre) @ rot.T + centre).astype(np.float32)
    return out


class _Placement(NamedTuple):
    plate: np.ndarray  # the warped plate, cut to its bounding box
    alpha: np.ndarray  # float32 0-1, same box
    x: int  # the box's top-left in the crop; negative where the crop cuts in
    y: int
    width: int  # the crop's size
    height: int


def _place(plate: np.ndarray, rng: np.random.Generator, s: float, tilt: bool) -> _Placement:
    """Warp the plate to its pose and choose the crop around it."""
    h0, w0 = plate.shape[:2]
    # Plate width in the crop, log-uniform: distant plates are small.
    pw = float(np.exp(rng.uniform(np.log(60), np.log(260))))
    ph = pw * h0 / w0
    # Shrink first: a perspective warp alone aliases. Halving with pyrDown,
    # then linear, is ~5x faster than area resampling and as clean.
    sw, sh = max(8, round(pw * 1.15)), max(4, round(ph * 1.15))
    if sw < w0:
        while plate.shape[1] >= 2 * sw:
            plate = cv2.pyrDown(plate)
        plate = cv2.resize(plate, (sw, sh), interpolation=cv2.INTER_LINEAR)
    else:
        sw, sh = w0, h0
    dst = _corners(rng, pw, ph, s, tilt)
    dst -= dst.min(0)
    bw, bh = (int(np.ceil(v)) + 1 for v in dst.max(0))
    # Tight crops are the commoner: a plate detector's box, or a hand-cut crop,
    # follows the plate's edge.
    if rng.random() < 0.6:
        # Tight: up to 2 % of the width cut off a side, and up to 12 % / 10 %
        # of the plate's height off the top / bottom (a detector's box often
        # stops inside the banner). Characters lie between 25 % and 81 % of
        # the height, 5 % and 95 % of the width, so even a plate rolled by
        # 15 deg keeps all of them.
        mx = rng.uniform(-0.02, 0.06, 2) * bw
        my = np.array([rng.uniform(-0.12, 0.08) * ph, rng.uniform(-0.10, 0.08) * ph])
    else:
        mx = rng.uniform(0.05, 0.35, 2) * bw
        my = rng.uniform(0.10, 0.60, 2) * bh
    src = np.array([[0, 0], [sw, 0], [sw, sh], [0, sh]], np.float32)
    m = cv2.getPerspectiveTransform(src, dst)
    # Warp into the plate's bounding box only, not the whole crop: loose
    # crops are up to 4x its area, and the warp is the costliest step.
    warped = cv2.warpPerspective(plate, m, (bw, bh), flags=cv2.INTER_LINEAR)
    alpha = cv2.warpPerspective(_rounded(sw, sh), m, (bw, bh), flags=cv2.INTER_LINEAR)
    return _Placement(
        plate=warped,
        alpha=alpha.astype(np.float32) * np.float32(1 / 255),
        x=round(mx[0]),
        y=round(my[0]),
        width=max(8, round(bw + mx.sum())),
        height=max(8, round(bh + my.sum())),
    )


def _composite(p: _Placement, bg: np.ndarray) -> np.ndarray:
    """``bg`` with the placed plate blended in (in place), clipped to the crop."""
    x0, y0 = max(p.x, 0), max(p.y, 0)
    x1, y1 = min(p.x + p.plate.shape[1], p.width), min(p.y + p.plate.shape[0], p.height)
    if x0 < x1 and y0 < y1:
        cut = (slice(y0 - p.y, y1 - p.y), slice(x0 - p.x, x1 - p.x))
        a = np.ascontiguousarray(p.alpha[cut])
        region = bg[y0:y1, x0:x1]
        region[:] = cv2.blendLinear(np.ascontiguousarray(p.plate[cut]), region, a, 1.0 - a)
    return bg


def _motion_kernel(rng: np.random.Generator, length: int) -> np.ndarray:
    k = np.zeros((length, length), np.float32)
    # Traffic moves sideways across most cameras' view: mostly horizontal.
    angle = rng.normal(0, 20) if rng.random() < 0.8 else rng.uniform(0, 180)
    c = (length - 1) / 2
    dx, dy = np.cos(np.deg2rad(angle)) * c, np.sin(np.deg2rad(angle)) * c
    cv2.line(k, (round(c - dx), round(c - dy)), (round(c + dx), round(c + dy)), 1.0, 1)
    return k / max(float(k.sum()), 1e-6)


def _glare(img: np.ndarray, rng: np.random.Generator, s: float) -> np.ndarray:
    h, w = img.shape[:2]
    # Drawn at quarter size and scaled up: a smooth blob needs no detail.
    sh, sw = max(2, h // 4), max(2, w // 4)
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    cx, cy = rng.uniform(0.2, 0.8) * sw, rng.uniform(0.2, 0.8) * sh
    ax, ay = rng.uniform(0.1, 0.4) * sw, rng.uniform(0.1, 0.4) * sh
    blob = np.exp(-(((xx - cx) / ax) ** 2 + ((yy - cy) / ay) ** 2))
    # Capped below white: dark ink under the glare stays faintly readable.
    blob *= np.float32(min(190.0, rng.uniform(80, 170) * s))
    blob = cv2.resize(blob, (w, h), interpolation=cv2.INTER_LINEAR).astype(np.uint8)
    return cv2.add(img, cv2.merge((blob, blob, blob)))


@lru_cache(maxsize=1)
def _noise_bank() -> np.ndarray:
    # Drawing fresh Gaussian noise per sample is the slowest effect; a fixed
    # field, cut at a random place, looks the same and costs a slice.
    return np.random.default_rng(0).standard_normal((1024, 1024), dtype=np.float32)


def _noise(img: np.ndarray, rng: np.random.Generator, s: float) -> np.ndarray:
    h, w = img.shape[:2]
    bank = _noise_bank()
    if h > bank.shape[0] or w > bank.shape[1]:  # never with degrade's crop sizes
        bank = rng.standard_normal((h, w), dtype=np.float32)
    y, x = int(rng.integers(0, bank.shape[0] - h + 1)), int(rng.integers(0, bank.shape[1] - w + 1))
    n = bank[y : y + h, x : x + w].copy()
    if rng.random() < 0.5:  # shot noise: brighter pixels are noisier
        sigma = np.sqrt(_luma(img).astype(np.float32)) * np.float32(rng.uniform(0.2, 0.8) * s)
        n *= sigma + np.float32(1.0)
    else:
        n *= np.float32(rng.uniform(2, 12) * s)
    return cv2.add(img, cv2.merge((n, n, n)), dtype=cv2.CV_8U)


def _gamma_lut(gamma: float, gain: float) -> np.ndarray:
    x = np.arange(256, dtype=np.float32) / 255
    return np.clip(255 * gain * x**gamma, 0, 255).astype(np.uint8)


def degrade(
    plate_bgr: np.ndarray,
    rng: np.random.Generator,
    *,
    strength: float = 1.0,
    force: Iterable[Effect | str] = (),
) -> np.ndarray:
    """A camera's crop of ``plate_bgr``: BGR uint8, of varying size (about 60-400 px wide).

    Each :class:`Effect` happens with probability
    ``EFFECT_PROBABILITY[e] * strength`` (capped at 1), at a magnitude that
    grows with ``strength``; ``strength=0`` only places the plate, upright,
    on a background. Effects named in ``force`` always happen (at the
    magnitude of ``max(strength, 0.5)``), which is how tests reach every
    path. The crop always contains every character of the plate.
    Deterministic for the state of ``rng``.

    Raises:
        ValueError: ``plate_bgr`` is not an (H, W, 3) uint8 array, ``strength``
            is negative, or ``force`` names an unknown effect.
    """
    if plate_bgr.dtype != np.uint8 or plate_bgr.ndim != 3 or plate_bgr.shape[2] != 3:
        raise ValueError("plate_bgr must be an (H, W, 3) uint8 array")
    if not strength >= 0:
        raise ValueError("strength must be non-negative")
    forced = {Effect(f) for f in force}

    def on(e: Effect) -> bool:
        # Always draw, so that forcing one effect leaves the others' draws alone.
        hit = rng.random() < EFFECT_PROBABILITY[e] * strength
        return hit or e in forced

    s = max(strength, 0.5) if forced else strength
    plate = plate_bgr.copy()
    if on(Effect.OCCLUSION):
        _occlude(plate, rng)
    if on(Effect.DIRT):
        plate = _dirt(plate, rng, s)
    placed = _place(plate, rng, s, on(Effect.PERSPECTIVE))
    w, h = placed.width, placed.height
    bg = _car(rng, w, h)
    if on(Effect.INFRARED):
        # Plates are retroreflective: under an IR flash the plate is bright
        # and everything else dark; colour is gone.
        g_plate = cv2.convertScaleAbs(_luma(placed.plate), alpha=rng.uniform(1.1, 1.5), beta=30)
        g_bg = cv2.convertScaleAbs(_luma(bg), alpha=rng.uniform(0.15, 0.45))
        placed = placed._replace(plate=g_plate)
        img = cv2.cvtColor(_composite(placed, g_bg), cv2.COLOR_GRAY2BGR)
    else:
        img = _composite(placed, bg)
    if on(Effect.COLOR):
        gains = rng.uniform(1 - 0.15 * s, 1 + 0.15 * s, 3)
        contrast = rng.uniform(1 - 0.3 * min(s, 1.5), 1.1)
        planes = [
            cv2.convertScaleAbs(p, alpha=float(g * contrast), beta=float(128 * (1 - contrast)))
            for p, g in zip(cv2.split(img), gains, strict=True)
        ]
        img = cv2.merge(planes)
    if on(Effect.LOW_LIGHT):
        # Bounds clipped so that a weak strength (below ~0.3) still gives a valid range.
        gain = rng.uniform(min(max(0.2, 1 - 0.7 * s), 0.9), 0.9)
        lut = _gamma_lut(1 + rng.uniform(0.3, 1.2) * s, gain)
        img = cv2.LUT(img, lut)
    if on(Effect.GLARE):
        img = _glare(img, rng, s)
    if on(Effect.MOTION_BLUR):
        length = int(rng.integers(3, max(4, round(3 + 0.05 * w * s))))
        img = cv2.filter2D(img, -1, _motion_kernel(rng, length))
    if on(Effect.FOCUS_BLUR):
        sigma = rng.uniform(0.5, 0.5 + 1.5 * s) * w / 200
        img = cv2.GaussianBlur(img, (0, 0), max(0.3, sigma))
    if on(Effect.LOW_RES):
        f = rng.uniform(min(max(0.3, 1 - 0.5 * s), 0.85), 0.85)
        small = cv2.resize(
            img, (max(4, round(w * f)), max(4, round(h * f))), interpolation=cv2.INTER_AREA
        )
        img = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    if on(Effect.NOISE):
        img = _noise(img, rng, s)
    if on(Effect.JPEG):
        quality = int(rng.uniform(max(20, 90 - 70 * s), 90))
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
        decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else None
        if decoded is not None:
            img = decoded
    return img
