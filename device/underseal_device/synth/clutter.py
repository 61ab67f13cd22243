"""Natural clutter for detector training: foliage, grass, gravel, wheels and grilles.

The rendered scenes are flat-shaded: their verges, walls and vehicles are
smooth polygons. Real photos are full of texture, and the first detector
fired on exactly that (grass, wheels, shadowed grilles) while scoring real
plates low. :func:`add_clutter` pastes procedural textures and plate-free
vehicle parts into a training patch, never over a plate (nor near one), so
the detector learns that texture alone is not a plate.

Everything is drawn with NumPy and OpenCV from the caller's generator: no
image is read from anywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np
import numpy.typing as npt

__all__ = ["add_clutter", "foliage", "grass", "gravel"]

Image = npt.NDArray[np.uint8]
Quad = npt.NDArray[np.float64]


def _noise(rng: np.random.Generator, h: int, w: int, octaves: Sequence[int]) -> np.ndarray:
    """Value noise in [0, 1]: random grids of ``octaves`` cells, resized and summed."""
    out = np.zeros((h, w), np.float32)
    total = 0.0
    for i, cells in enumerate(octaves):
        grid = rng.random((max(2, h // cells), max(2, w // cells))).astype(np.float32)
        weight = 0.6**i
        out += weight * cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
        total += weight
    out /= total
    lo, hi = float(out.min()), float(out.max())
    return (out - lo) / max(hi - lo, 1e-6)


def _palette(rng: np.random.Generator, hues: tuple[float, float], n: int = 4) -> np.ndarray:
    """``n`` BGR colours of similar hue (OpenCV's 0-180 hue scale), dark to light."""
    hue = rng.uniform(*hues)
    hsv = np.zeros((1, n, 3), np.uint8)
    hsv[0, :, 0] = np.clip(hue + rng.normal(0, 6, n), 0, 179)
    hsv[0, :, 1] = np.clip(rng.uniform(60, 200, n), 0, 255)
    hsv[0, :, 2] = np.sort(rng.uniform(25, 210, n))
    colours: np.ndarray = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0].astype(np.float32)
    return colours


def _shade(field: np.ndarray, colours: np.ndarray) -> Image:
    """Map a [0, 1] field through a dark-to-light palette."""
    stops = np.linspace(0, 1, len(colours))
    out = np.stack([np.interp(field, stops, colours[:, c]) for c in range(3)], axis=-1)
    shaded: Image = np.clip(out, 0, 255).astype(np.uint8)
    return shaded


def foliage(rng: np.random.Generator, h: int, w: int) -> Image:
    """Leaves and hedges: blotchy multi-scale noise in greens or autumn browns, dark gaps."""
    field = _noise(rng, h, w, (48, 16, 6, 3))
    gaps = _noise(rng, h, w, (10, 4)) < rng.uniform(0.1, 0.3)
    field[gaps] *= 0.3
    hues = (30.0, 80.0) if rng.random() < 0.8 else (5.0, 25.0)
    return _shade(field, _palette(rng, hues))


def grass(rng: np.random.Generator, h: int, w: int) -> Image:
    """Grass: thousands of short, mostly upright strokes over a darker base."""
    colours = _palette(rng, (25.0, 60.0), 5)
    out = _shade(_noise(rng, h, w, (32, 8)) * 0.5, colours)
    blades = int(h * w / rng.uniform(25, 60))
    base = rng.uniform((0, 0), (w, h), (blades, 2))
    length = rng.uniform(3, 14, blades)
    angle = rng.normal(-np.pi / 2, 0.35, blades)
    tip = base + np.stack([np.cos(angle), np.sin(angle)], -1) * length[:, None]
    shades = colours[rng.integers(1, len(colours), blades)]
    for (x0, y0), (x1, y1), c in zip(base, tip, shades, strict=True):
        colour = (float(c[0]), float(c[1]), float(c[2]))
        cv2.line(out, (int(x0), int(y0)), (int(x1), int(y1)), colour, 1, cv2.LINE_AA)
    return out


def gravel(rng: np.random.Generator, h: int, w: int) -> Image:
    """Gravel, bark or a rough wall: small blobs in greys and browns with grain."""
    colours = _palette(rng, (0.0, 30.0), 4)
    colours[:, :] = colours.mean(1, keepdims=True) * 0.6 + colours * 0.4  # mostly grey
    out = _shade(_noise(rng, h, w, (6, 3, 2)), colours)
    grain = rng.normal(0, rng.uniform(4, 14), (h, w, 1)).astype(np.float32)
    grained: Image = np.clip(out.astype(np.float32) + grain, 0, 255).astype(np.uint8)
    return grained


_TEXTURES: tuple[Callable[[np.random.Generator, int, int], Image], ...] = (foliage, grass, gravel)


def _wheel(img: Image, rng: np.random.Generator, cx: int, cy: int, r: int) -> None:
    """A tyre with a rim, spokes or a hubcap: round, dark, high-contrast (not a plate)."""
    squash = rng.uniform(0.75, 1.0)
    axes = (r, max(2, int(r * squash)))
    tyre = float(rng.uniform(10, 45))
    cv2.ellipse(img, (cx, cy), axes, 0, 0, 360, (tyre, tyre, tyre), -1, cv2.LINE_AA)
    rim = float(rng.uniform(110, 220))
    inner = (max(1, int(axes[0] * 0.62)), max(1, int(axes[1] * 0.62)))
    cv2.ellipse(img, (cx, cy), inner, 0, 0, 360, (rim, rim, rim), -1, cv2.LINE_AA)
    dark = (rim * 0.35, rim * 0.35, rim * 0.35)
    spokes = int(rng.integers(4, 11))
    turn = rng.uniform(0, np.pi)
    for k in range(spokes):
        a = turn + k * np.pi / spokes
        dx, dy = np.cos(a) * inner[0] * 0.9, np.sin(a) * inner[1] * 0.9
        cv2.line(img, (int(cx - dx), int(cy - dy)), (int(cx + dx), int(cy + dy)), dark, 2)
    hub = (max(1, inner[0] // 4), max(1, inner[1] // 4))
    cv2.ellipse(img, (cx, cy), hub, 0, 0, 360, (rim, rim, rim), -1, cv2.LINE_AA)


def _grille(img: Image, rng: np.random.Generator, x: int, y: int, w: int, h: int) -> None:
    """A radiator grille or vent: a frame of evenly spaced bars (mesh or slats)."""
    body = float(rng.uniform(20, 200))
    cv2.rectangle(img, (x, y), (x + w, y + h), (body, body, body), -1)
    bar = float(np.clip(body + rng.choice([-1, 1]) * rng.uniform(50, 120), 0, 255))
    gap = int(rng.integers(3, 9))
    if rng.random() < 0.6:
        for yy in range(y + gap, y + h, gap):
            cv2.line(img, (x, yy), (x + w, yy), (bar, bar, bar), max(1, gap // 3))
    if rng.random() < 0.5:
        for xx in range(x + gap, x + w, gap):
            cv2.line(img, (xx, y), (xx, y + h), (bar, bar, bar), max(1, gap // 3))


def _keep_out(quads: Sequence[Quad], h: int, w: int) -> np.ndarray:
    """True where nothing may be pasted: each plate's box, grown by half its size each way."""
    mask = np.zeros((h, w), bool)
    for quad in quads:
        x0, y0 = quad.min(0)
        x1, y1 = quad.max(0)
        mx, my = 0.5 * (x1 - x0) + 4, 0.5 * (y1 - y0) + 4
        xa, ya = max(int(x0 - mx), 0), max(int(y0 - my), 0)
        xb, yb = min(int(x1 + mx) + 1, w), min(int(y1 + my) + 1, h)
        if xa < xb and ya < yb:
            mask[ya:yb, xa:xb] = True
    return mask


def add_clutter(
    img: Image,
    plates: Sequence[Quad],
    rng: np.random.Generator,
    *,
    texture: float = 0.4,
    parts: float = 0.35,
) -> Image:
    """``img`` with natural texture and plate-free vehicle parts pasted away from ``plates``.

    ``plates``: each plate's four corners in ``img``'s pixels (visible or not:
    a hidden plate's surroundings are left alone too). ``texture`` and
    ``parts`` are the probabilities of each kind of clutter.
    """
    h, w = img.shape[:2]
    keep = _keep_out(plates, h, w)
    out: Image = img.copy()
    if rng.random() < texture:
        patch = _TEXTURES[int(rng.integers(len(_TEXTURES)))](rng, h, w)
        # Large soft blobs covering a fifth to two thirds of the patch.
        field = _noise(rng, h, w, (max(h, w) // 3, max(h, w) // 8))
        cover = field > np.quantile(field, 1 - rng.uniform(0.2, 0.65))
        alpha = cv2.GaussianBlur(cover.astype(np.float32), (0, 0), rng.uniform(1.0, 4.0))
        # Fade out towards each plate (a sharp hole would itself mark the plate), and
        # around as many decoys of plate size, so that a hole in texture means nothing.
        holes = keep.copy()
        for _ in range(len(plates) + int(rng.integers(0, 3))):
            bw = int(rng.uniform(0.1, 0.5) * w)
            bh = int(bw * rng.uniform(0.3, 0.7))
            x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
            holes[y : y + bh, x : x + bw] = True
        near = cv2.GaussianBlur(holes.astype(np.float32), (0, 0), 10.0)
        alpha *= 1.0 - np.minimum(1.0, 2.0 * near)
        alpha[keep] = 0.0
        a = alpha[..., None]
        out = np.clip(out * (1 - a) + patch * a, 0, 255).astype(np.uint8)
    if rng.random() < parts:
        for _ in range(int(rng.integers(1, 4))):
            # Whole parts only, and only where they touch no plate's surroundings.
            if rng.random() < 0.55:
                r = int(rng.uniform(0.06, 0.3) * min(h, w))
                cx, cy = int(rng.integers(0, w)), int(rng.integers(0, h))
                if not keep[max(cy - r, 0) : cy + r + 1, max(cx - r, 0) : cx + r + 1].any():
                    _wheel(out, rng, cx, cy, r)
            else:
                gw = int(rng.uniform(0.15, 0.6) * w)
                gh = max(4, int(gw * rng.uniform(0.15, 0.5)))
                x, y = int(rng.integers(-gw // 2, w)), int(rng.integers(0, h))
                if not keep[max(y, 0) : y + gh + 1, max(x, 0) : x + gw + 1].any():
                    _grille(out, rng, x, y, gw, gh)
    return out
