"""Clean US-style licence plates, drawn from a seeded layout.

A US plate is 12" x 6" (2:1). Its characters are about 3" tall, centred; the
state name runs along the top and a slogan along the bottom; registration
stickers sit in the corners; two bolts hold it through holes 7" apart near
the top edge; a dealer's frame often covers the edges. Many issues print a
graphic in the characters' row (Florida's orange between the groups,
Mississippi's lighthouse, Arizona's cactus at the left), and state
typefaces draw a 4 with an open top; both are drawn here, because a reader
that never saw them reads the graphic as a 4 or 7 and the 4 as an L.
:func:`render_plate` draws all that at :data:`PLATE_SIZE` pixels, with
everything that varies between states and issues held in a
:class:`PlateLayout`.

Ground truth. The text passed to :func:`render_plate` is the *displayed*
text: it may hold one separator (space: a gap, ``-``: a dash, ``·``: an
emblem, from a dot to a graphic as tall as the characters). Its ground
truth is ``underseal.plates.canonical(text)``. When the layout stacks
characters (``stacked="left"`` or ``"right"``), the first or last two
letters/digits are drawn small, one above the other, as some states print a
class or county code; they remain part of the ground truth in
reading order: left to right, and inside the stack top before bottom. So
stacking never changes the ground truth.

Speed. Glyphs and small texts are rasterised once by PIL and cached; each
plate is then a handful of numpy blends on a 320x160 array.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TypeVar

import cv2
import numpy as np
from PIL import Image, ImageDraw

from underseal.plates import JURISDICTIONS

from .fonts import banner_fonts, load_font, plate_fonts, plate_like_fonts, text_mask
from .texts import SEPARATOR_CHOICES

__all__ = [
    "PICTOGRAMS",
    "PLATE_SIZE",
    "SLOGANS",
    "Color",
    "PlateLayout",
    "Sticker",
    "random_layout",
    "render_plate",
]

#: Width and height in pixels of every plate :func:`render_plate` returns.
PLATE_SIZE: tuple[int, int] = (320, 160)
_W, _H = PLATE_SIZE

Color = tuple[int, int, int]
"""A BGR colour, each channel 0-255 (OpenCV order)."""

#: Bottom-line texts. Generic phrases in the style of state slogans, plus the
#: motto several states print; the model must learn to ignore them.
SLOGANS: tuple[str, ...] = (
    "IN GOD WE TRUST",
    "Land of Lakes",
    "Explore More",
    "The Beautiful State",
    "Scenic Routes",
    "Heart of the Nation",
    "Great Outdoors",
    "Sunshine State",
    "Mountain Country",
    "The Friendly State",
    "VISIT OUR PARKS",
    "Drive Safely",
    "First in Flight",
    "Wide Open Spaces",
    "Home of the Brave",
    "Coastal Living",
    "Harvest Country",
    "Keep it Green",
    "PROTECT OUR WILDLIFE",
    "SUPPORT EDUCATION",
    "VETERAN",
    "COUNTY",
    "Est. 1889",
    "travel.state.gov",
)

# Dealer names printed on plate frames (invented).
_DEALERS: tuple[str, ...] = (
    "SMITH HONDA",
    "CITY AUTO",
    "PREMIER FORD",
    "BAYSIDE TOYOTA",
    "ALUMNI",
    "HILLTOP CHEVY",
    "GO TEAM",
    "VALLEY KIA",
    "AUTONATION",
    "METRO NISSAN",
    "drivecity.com",
    "I'D RATHER BE FISHING",
)

#: Shapes of the graphics printed in the characters' row: a separator emblem
#: (an orange, a state outline, a heart) or a pictogram beside the text (a
#: cactus, a wheelchair, a badge). The reader must learn they are no character.
PICTOGRAMS: tuple[str, ...] = ("disc", "ring", "heart", "cactus", "star", "blob", "strokes")

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


@dataclass(frozen=True, slots=True)
class Sticker:
    """A registration sticker: a coloured rectangle with a short label."""

    corner: str  # "tl", "tr", "bl" or "br"
    color: Color
    label: str


@dataclass(frozen=True, slots=True)
class PlateLayout:
    """Everything about a plate's look except its text. Sample with :func:`random_layout`.

    Sizes are fractions of the plate's height (``text_height``, ``spacing``)
    or plain factors (``char_width``), so a layout does not depend on
    :data:`PLATE_SIZE`.
    """

    jurisdiction: str
    font: str
    background: Color
    background2: Color  # gradient end; equal to ``background`` for a flat plate
    gradient: str  # "none", "vertical" or "horizontal"
    graphic: str  # "none", "band", "hills", "sun" or "stripes"
    graphic_color: Color
    text_color: Color
    embossed: bool
    weight: int  # -1 thinner, 0 as drawn, 1 bolder, 2 bolder still
    text_height: float  # character cap height / plate height
    char_width: float  # horizontal squeeze of the face, before fitting
    spacing: float  # gap between characters / cap height
    separator: str  # one of texts.SEPARATOR_CHOICES; what texts.display inserts
    emblem_color: Color
    emblem: str  # shape of the separator emblem and pictogram: one of PICTOGRAMS
    pictogram: str  # "none", "left" or "right": a graphic beside the characters, in their row
    open_four: bool  # a "4" whose arm stops short of the stem, as state typefaces draw it
    stacked: str  # "none", "left" or "right"
    banner: str | None  # state name along the top
    banner_font: str
    banner_color: Color
    banner_strip: Color | None  # coloured band behind the banner, if any
    slogan: str | None
    slogan_color: Color
    stickers: tuple[Sticker, ...]
    bolts: bool
    bolt_color: Color
    rim: bool  # thin raised border line inside the edge
    frame: Color | None  # dealer frame colour, if any
    frame_text: str
    offset: float  # horizontal nudge of the text block / plate width


# ---------------------------------------------------------------------------
# Colours
# ---------------------------------------------------------------------------

# (background, alternative gradient ends, text colours), BGR. Dark-on-light
# dominates, as on the road.
_LIGHT_BG: tuple[Color, ...] = ((245, 245, 245), (235, 240, 240), (225, 230, 235))
_PALE: tuple[Color, ...] = (
    (240, 215, 180),  # pale blue
    (190, 230, 250),  # pale yellow
    (170, 210, 250),  # peach
    (215, 240, 215),  # pale green
    (235, 225, 225),  # lavender grey
)
_DARK_TEXT: tuple[Color, ...] = (
    (20, 20, 20),
    (110, 40, 10),  # navy
    (40, 25, 120),  # maroon
    (40, 90, 25),  # dark green
    (35, 35, 185),  # red
    (140, 70, 20),  # blue
)
_DARK_BG: tuple[Color, ...] = (
    (25, 25, 25),
    (90, 35, 10),
    (30, 70, 20),
    (30, 20, 90),
    (150, 80, 20),
)
_LIGHT_TEXT: tuple[Color, ...] = ((245, 245, 245), (60, 210, 240), (200, 200, 200))
_YELLOW: Color = (40, 200, 240)

_T = TypeVar("_T")


def _pick(rng: np.random.Generator, items: tuple[_T, ...]) -> _T:
    return items[int(rng.integers(len(items)))]


def _jitter(rng: np.random.Generator, c: Color, amount: int = 12) -> Color:
    d = rng.integers(-amount, amount + 1, 3).tolist()
    return (
        min(255, max(0, c[0] + d[0])),
        min(255, max(0, c[1] + d[1])),
        min(255, max(0, c[2] + d[2])),
    )


def _weighted(rng: np.random.Generator, items: tuple[_T, ...], weights: tuple[float, ...]) -> _T:
    # Generator.choice with p= costs ~20 us a call; this is what a plate needs.
    u = rng.random() * sum(weights)
    for item, w in zip(items, weights, strict=True):
        u -= w
        if u < 0:
            return item
    return items[-1]


def _luma(c: Color) -> float:
    return 0.114 * c[0] + 0.587 * c[1] + 0.299 * c[2]


def _contrasting(rng: np.random.Generator, bg: Color) -> Color:
    return _pick(rng, _DARK_TEXT) if _luma(bg) > 110 else _pick(rng, _LIGHT_TEXT)


def _scheme(rng: np.random.Generator) -> tuple[Color, Color, str, Color]:
    """Background, gradient end, gradient kind and text colour, legible together."""
    u = rng.random()
    if u < 0.45:
        bg = _pick(rng, _LIGHT_BG)
        return bg, bg, "none", _pick(rng, _DARK_TEXT)
    if u < 0.72:
        a, b = _pick(rng, _PALE), _pick(rng, _LIGHT_BG)
        if rng.random() < 0.5:
            a, b = b, a
        kind = "vertical" if rng.random() < 0.75 else "horizontal"
        return a, b, kind, _pick(rng, _DARK_TEXT)
    if u < 0.82:
        text = _pick(rng, ((20, 20, 20), (110, 40, 10)))
        return _YELLOW, _YELLOW, "none", text
    bg = _pick(rng, _DARK_BG)
    return bg, bg, "none", _pick(rng, _LIGHT_TEXT)


# ---------------------------------------------------------------------------
# Layout
# ---------------------------------------------------------------------------


def _stickers(rng: np.random.Generator) -> tuple[Sticker, ...]:
    n = _weighted(rng, (0, 1, 2), (0.35, 0.45, 0.20))
    corners = [("tl", "tr", "br", "bl")[i] for i in rng.permutation(4)[:n]]
    out = []
    for corner in corners:
        color = _pick(
            rng,
            (
                (0, 220, 255),
                (0, 140, 255),
                (40, 40, 220),
                (60, 180, 60),
                (220, 120, 30),
                (240,) * 3,
            ),
        )
        label = (
            f"{int(rng.integers(20, 30))}" if rng.random() < 0.6 else _MONTHS[int(rng.integers(12))]
        )
        out.append(Sticker(str(corner), _jitter(rng, color, 20), label))
    return tuple(out)


def random_layout(rng: np.random.Generator, *, jurisdiction: str | None = None) -> PlateLayout:
    """A plate layout drawn from ``rng``: colours, fonts, banner, stickers, frame...

    The jurisdiction (whose name is the banner) is uniform over
    :data:`underseal.plates.JURISDICTIONS` unless given. The text colour is
    always picked to contrast with the background, so every layout is
    legible when clean. Deterministic for the state of ``rng``.

    Raises:
        KeyError: ``jurisdiction`` is not a known code.
    """
    codes = tuple(sorted(JURISDICTIONS))
    code = _pick(rng, codes) if jurisdiction is None else jurisdiction
    name = JURISDICTIONS[code].name
    bg, bg2, gradient, text_color = _scheme(rng)
    bg, bg2, text_color = _jitter(rng, bg), _jitter(rng, bg2), _jitter(rng, text_color)
    light = _luma(bg) > 110
    graphic = _pick(rng, ("none", "none", "band", "hills", "sun", "stripes"))
    # Graphics are pale tints on light plates (as printed plates are) so the
    # characters keep their contrast.
    graphic_color = _pick(rng, _PALE) if light else _pick(rng, _DARK_BG)
    banner: str | None = None
    if rng.random() < 0.9:
        banner = name.upper() if rng.random() < 0.6 else name
    strip = None
    if banner is not None and rng.random() < 0.2:
        strip = _jitter(rng, _pick(rng, _DARK_BG), 20)
    banner_color = (
        _pick(rng, _LIGHT_TEXT)
        if strip is not None
        else (text_color if rng.random() < 0.5 else _contrasting(rng, bg))
    )
    frame: Color | None = None
    if rng.random() < 0.35:
        frame = _jitter(rng, _pick(rng, ((25, 25, 25), (190, 190, 195), (40, 40, 40))), 10)
    # Half the plates use a face with plate-like proportions, when one is
    # installed; real lettering is narrower and more even than most sans faces.
    like = plate_like_fonts()
    font = _pick(rng, like) if like and rng.random() < 0.5 else _pick(rng, plate_fonts())
    # Plate glyphs are about 0.4-0.65 as wide as high: squeeze each face to
    # such a width, whatever its own, rather than by a fixed factor.
    char_width = float(np.clip(rng.uniform(0.40, 0.66) / _aspect(font), 0.45, 1.1))
    return PlateLayout(
        jurisdiction=code,
        font=font,
        background=bg,
        background2=bg2,
        gradient=gradient,
        graphic=graphic,
        graphic_color=graphic_color,
        text_color=text_color,
        embossed=bool(rng.random() < 0.6),
        weight=_pick(rng, (-1, 0, 0, 1, 1, 2)),
        text_height=float(rng.uniform(0.40, 0.54)),
        char_width=char_width,
        spacing=float(rng.uniform(0.03, 0.16)),
        separator=_weighted(rng, SEPARATOR_CHOICES, (0.55, 0.2, 0.15, 0.1)),
        emblem_color=_contrasting(rng, bg) if rng.random() < 0.5 else (40, 40, 200),
        emblem=_pick(rng, PICTOGRAMS),
        pictogram=_weighted(rng, ("none", "left", "right"), (0.8, 0.15, 0.05)),
        open_four=bool(rng.random() < 0.3),
        stacked=_weighted(rng, ("none", "left", "right"), (0.88, 0.08, 0.04)),
        banner=banner,
        banner_font=_pick(rng, banner_fonts()),
        banner_color=banner_color,
        banner_strip=strip,
        slogan=_pick(rng, SLOGANS) if rng.random() < 0.7 else None,
        slogan_color=text_color if rng.random() < 0.6 else _contrasting(rng, bg),
        stickers=_stickers(rng),
        bolts=bool(rng.random() < 0.7),
        bolt_color=_pick(rng, ((180, 180, 180), (60, 60, 60), (140, 150, 160))),
        rim=bool(rng.random() < 0.4),
        frame=frame,
        frame_text=_pick(rng, _DEALERS) if rng.random() < 0.7 else "",
        offset=float(rng.uniform(-0.01, 0.01)),
    )


# ---------------------------------------------------------------------------
# Glyphs (cached)
# ---------------------------------------------------------------------------

_BASE_SIZE = 96  # font size glyphs are rasterised at, before fitting
_STACK_SCALE = 0.46  # a stacked character's height / cap height


@lru_cache(maxsize=32)
def _band(path: str) -> tuple[int, int]:
    """Rows above and below the baseline that every A-Z0-9 glyph fits in."""
    font = load_font(path, _BASE_SIZE)
    boxes = [font.getbbox(c, anchor="ls") for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"]
    return -min(int(b[1]) for b in boxes), max(int(b[3]) for b in boxes)


@lru_cache(maxsize=32)
def _aspect(path: str) -> float:
    """Median width / cap height of the face's A-Z0-9 glyphs, as drawn."""
    above, _ = _band(path)
    widths = [_glyph(path, c).shape[1] for c in "ABCDEFGHJKLMNOPQRSTUVWXYZ023456789"]
    return float(np.median(widths)) / above


@lru_cache(maxsize=32)
def _open_four(path: str) -> np.ndarray:
    """A "4" drawn as state typefaces draw it: the arm is a near-vertical stroke
    that stops short of the stem, so the top is open. Same band and stroke
    weight as the face's own glyphs (the weight is read off its "I")."""
    above, below = _band(path)
    stroke = max(2, int((_glyph(path, "I").max(0) > 127).sum()))
    w = _glyph(path, "4").shape[1]
    img = np.zeros((above + below, w), np.uint8)
    half = stroke // 2
    stem_x = w - half - 1 - round(0.12 * w)
    bar_y = round(0.70 * above)
    cv2.line(img, (stem_x, half), (stem_x, above - half), 255, stroke, cv2.LINE_AA)
    cv2.line(img, (half + round(0.18 * w), half), (half, bar_y), 255, stroke, cv2.LINE_AA)
    cv2.line(img, (half, bar_y), (w - half - 1, bar_y), 255, stroke, cv2.LINE_AA)
    return img


def _pictogram(shape: str, w: int, h: int, seed: int) -> np.ndarray:
    """A filled graphic of ``shape`` (one of :data:`PICTOGRAMS`) in an (h, w) mask."""
    rng = np.random.default_rng(seed)
    m = np.zeros((h, w), np.uint8)
    cx, cy, r = w // 2, h // 2, max(2, min(w, h) // 2 - 1)
    rx, ry = max(2, w // 2 - 1), max(2, h // 2 - 1)  # shapes that fill a tall or wide box
    t = max(2, r // 3)
    if shape == "disc":
        cv2.ellipse(m, (cx, cy), (rx, round(ry * rng.uniform(0.8, 1.0))), 0, 0, 360, 255, -1)
        cv2.line(m, (cx, cy - r), (cx + r // 2, cy - r - r // 3), 255, t, cv2.LINE_AA)  # a stalk
    elif shape == "ring":
        cv2.circle(m, (cx, cy), r - t // 2, 255, t, cv2.LINE_AA)
    elif shape == "heart":
        q = r // 2
        cv2.circle(m, (cx - q, cy - q // 2), q + 1, 255, -1, cv2.LINE_AA)
        cv2.circle(m, (cx + q, cy - q // 2), q + 1, 255, -1, cv2.LINE_AA)
        tri = np.array([[cx - r, cy - q // 4], [cx + r, cy - q // 4], [cx, cy + r]], np.int32)
        cv2.fillPoly(m, [tri], 255, cv2.LINE_AA)
    elif shape == "cactus":
        cv2.line(m, (cx, 1), (cx, h - 2), 255, t + 1, cv2.LINE_AA)
        arm = round(0.4 * r)
        cv2.line(m, (cx - arm, h // 4), (cx - arm, h // 2), 255, t, cv2.LINE_AA)
        cv2.line(m, (cx - arm, h // 2), (cx, h // 2), 255, t, cv2.LINE_AA)
        cv2.line(m, (cx + arm, h // 3), (cx + arm, 2 * h // 3), 255, t, cv2.LINE_AA)
        cv2.line(m, (cx + arm, 2 * h // 3), (cx, 2 * h // 3), 255, t, cv2.LINE_AA)
    elif shape == "star":
        n = int(rng.integers(5, 9))
        a = np.linspace(0, 2 * np.pi, 2 * n, endpoint=False) + rng.uniform(0, np.pi)
        rr = np.where(np.arange(2 * n) % 2 == 0, 1.0, rng.uniform(0.4, 0.6))
        pts = np.stack([cx + rx * rr * np.cos(a), cy + ry * rr * np.sin(a)], 1).astype(np.int32)
        cv2.fillPoly(m, [pts], 255, cv2.LINE_AA)
    elif shape == "blob":  # a state outline, a logo
        a = np.sort(rng.uniform(0, 2 * np.pi, 9))
        rr = rng.uniform(0.55, 1.0, 9)
        pts = np.stack([cx + rx * rr * np.cos(a), cy + ry * rr * np.sin(a)], 1).astype(np.int32)
        cv2.fillPoly(m, [pts], 255, cv2.LINE_AA)
    else:  # strokes: a figure, a tool, a wheelchair
        for _ in range(int(rng.integers(3, 6))):
            a0, a1 = rng.integers(0, (w, h), 2), rng.integers(0, (w, h), 2)
            cv2.line(m, (int(a0[0]), int(a0[1])), (int(a1[0]), int(a1[1])), 255, t, cv2.LINE_AA)
        cv2.circle(m, (cx, cy), max(2, r // 2), 255, t // 2 + 1, cv2.LINE_AA)
    return m


@lru_cache(maxsize=2048)
def _glyph(path: str, ch: str) -> np.ndarray:
    """``ch`` as a uint8 mask, rows spanning the face's band, columns its ink."""
    font = load_font(path, _BASE_SIZE)
    above, below = _band(path)
    left, _, right, _ = font.getbbox(ch, anchor="ls")
    img = Image.new("L", (max(1, int(right - left)), above + below))
    ImageDraw.Draw(img).text((-left, above), ch, font=font, fill=255, anchor="ls")
    return np.asarray(img)


@lru_cache(maxsize=2048)
def _stacked_pair(path: str, top: str, bottom: str) -> np.ndarray:
    above, below = _band(path)
    small = []
    for ch in (top, bottom):
        g = _glyph(path, ch)[:above]  # cap region only: drop a Q's tail room
        h = max(1, round(above * _STACK_SCALE))
        w = max(1, round(g.shape[1] * _STACK_SCALE))
        small.append(cv2.resize(g, (w, h), interpolation=cv2.INTER_AREA))
    width = max(s.shape[1] for s in small)
    out = np.zeros((above + below, width), np.uint8)
    for s, y in ((small[0], 0), (small[1], above - small[1].shape[0])):
        x = (width - s.shape[1]) // 2
        out[y : y + s.shape[0], x : x + s.shape[1]] = s
    return out


def _line(
    text: str, layout: PlateLayout, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, int]:
    """Main-row masks (characters, emblems) at base size, and the cap height in rows."""
    above, below = _band(layout.font)
    chars = [c for c in text.upper() if c.isalnum()]
    stack = layout.stacked if len(chars) >= 5 else "none"
    gap = max(1, round(layout.spacing * above))
    pieces: list[tuple[str, np.ndarray | None, int]] = []  # (kind, mask, width)
    side = ("pictogram", None, round(rng.uniform(0.5, 1.0) * above))
    if layout.pictogram == "left":
        pieces.append(side)
    i = 0
    for c in text.upper():
        if c.isalnum():
            if stack == "left" and i == 0:
                pieces.append(("glyph", _stacked_pair(layout.font, chars[0], chars[1]), 0))
            elif (stack == "left" and i == 1) or (stack == "right" and i == len(chars) - 1):
                pass  # drawn as part of the stack
            elif stack == "right" and i == len(chars) - 2:
                pieces.append(("glyph", _stacked_pair(layout.font, chars[-2], chars[-1]), 0))
            elif c == "4" and layout.open_four:
                pieces.append(("glyph", _open_four(layout.font), 0))
            else:
                pieces.append(("glyph", _glyph(layout.font, c), 0))
            i += 1
        elif c == " ":
            pieces.append(("gap", None, round(0.35 * above)))
        elif c == "-":
            pieces.append(("dash", None, round(0.38 * above)))
        else:  # the emblem, written as a middle dot
            pieces.append(("emblem", None, round(rng.uniform(0.3, 0.9) * above)))
    if layout.pictogram == "right":
        pieces.append(side)
    widths = [p[1].shape[1] if p[1] is not None else p[2] for p in pieces]
    total = sum(widths) + gap * (len(pieces) - 1)
    rows = above + below
    ink = np.zeros((rows, total), np.uint8)
    emblem = np.zeros((rows, total), np.uint8)
    x = 0
    for (kind, mask, _), w in zip(pieces, widths, strict=True):
        if mask is not None:
            ink[:, x : x + w] = np.maximum(ink[:, x : x + w], mask)
        elif kind == "dash":
            t = max(2, round(0.11 * above))
            y = above // 2 - t // 2
            ink[y : y + t, x + 2 : x + w - 2] = 255
        elif kind == "emblem":
            # A dot or a round graphic (Connecticut's dot, Florida's orange), or
            # a taller one (Mississippi's lighthouse, New York's state outline).
            if rng.random() < 0.4:
                h, shape = min(w, above), "disc"
            else:
                h, shape = round(above * rng.uniform(0.6, 1.0)), layout.emblem
            y = (above - h) // 2
            emblem[y : y + h, x : x + w] = _pictogram(shape, w, h, int(rng.integers(1 << 30)))
        else:  # a pictogram beside the text, up to the cap height
            h = round(above * rng.uniform(0.7, 1.0))
            y = (above - h) // 2
            emblem[y : y + h, x : x + w] = _pictogram(
                layout.emblem, w, h, int(rng.integers(1 << 30))
            )
        x += w + gap
    return ink, emblem, above


# ---------------------------------------------------------------------------
# Drawing
# ---------------------------------------------------------------------------


def _blend(img: np.ndarray, mask: np.ndarray, color: Color, x: int, y: int, k: float = 1.0) -> None:
    """Paint ``color`` through uint8 ``mask`` at (x, y) of planar ``img``, clipped.

    ``img`` is float32 of shape (3, H, W): planes, not pixels, so that each
    numpy operation runs over long rows (a trailing axis of 3 is ~8x slower).
    """
    h, w = mask.shape
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, img.shape[2]), min(y + h, img.shape[1])
    if x0 >= x1 or y0 >= y1:
        return
    m = mask[y0 - y : y1 - y, x0 - x : x1 - x]
    bx, by, bw, bh = cv2.boundingRect(m)  # only where there is ink
    if bw == 0:
        return
    m = m[by : by + bh, bx : bx + bw]
    region = img[:, y0 + by : y0 + by + bh, x0 + bx : x0 + bx + bw]
    a = m * np.float32(k / 255.0)
    t = np.asarray(color, np.float32)[:, None, None] - region
    t *= a
    region += t


def _fill(img: np.ndarray, color: Color, x0: int, y0: int, x1: int, y1: int) -> None:
    img[:, max(y0, 0) : y1, max(x0, 0) : x1] = np.asarray(color, np.float32)[:, None, None]


def _background(layout: PlateLayout, rng: np.random.Generator) -> np.ndarray:
    c1 = np.asarray(layout.background, np.float32)[:, None, None]
    c2 = np.asarray(layout.background2, np.float32)[:, None, None]
    if layout.gradient == "vertical":
        t = np.linspace(0.0, 1.0, _H, dtype=np.float32)[None, :, None]
        img = np.broadcast_to(c1 * (1 - t) + c2 * t, (3, _H, _W)).copy()
    elif layout.gradient == "horizontal":
        t = np.linspace(0.0, 1.0, _W, dtype=np.float32)[None, None, :]
        img = np.broadcast_to(c1 * (1 - t) + c2 * t, (3, _H, _W)).copy()
    else:
        img = np.empty((3, _H, _W), np.float32)
        img[:] = c1
    if layout.graphic == "none":
        return img
    g = np.zeros((_H, _W), np.uint8)
    if layout.graphic == "band":
        y = int(rng.integers(int(0.70 * _H), int(0.80 * _H)))
        g[y : y + int(rng.integers(6, 18))] = 255
    elif layout.graphic == "hills":
        xs = np.arange(0, _W + 8, 8)
        phase, base = rng.uniform(0, 6.3), rng.uniform(0.55, 0.75) * _H
        ys = base + 0.12 * _H * np.sin(xs / _W * rng.uniform(3, 9) + phase)
        pts = np.concatenate([np.stack([xs, ys], 1), [[_W, _H], [0, _H]]]).astype(np.int32)
        cv2.fillPoly(g, [pts], 255, cv2.LINE_AA)
    elif layout.graphic == "sun":
        cx = int((0.15 if rng.random() < 0.5 else 0.85) * _W)
        cv2.circle(g, (cx, int(0.55 * _H)), int(rng.uniform(0.2, 0.35) * _H), 255, -1, cv2.LINE_AA)
    else:  # stripes
        step = int(rng.integers(14, 30))
        for x in range(-_H, _W, step):
            cv2.line(g, (x, _H), (x + _H, 0), 255, step // 3, cv2.LINE_AA)
    _blend(img, g, layout.graphic_color, 0, 0, float(rng.uniform(0.3, 0.6)))
    return img


def _small_text(
    img: np.ndarray, text: str, path: str, color: Color, y_mid: float, height: float
) -> None:
    mask = text_mask(path, text, 32)
    # One cached raster per (face, text), scaled here: caching per size too
    # would multiply the cache by every size drawn.
    w = mask.shape[1] * height / mask.shape[0]
    h, w = max(1, round(height)), max(1, round(min(w, 0.82 * _W)))
    # Linear, not area: scales here are 0.6-1, where area resampling is ~5x
    # slower and looks the same.
    mask = cv2.resize(mask, (w, h), interpolation=cv2.INTER_LINEAR)
    _blend(img, mask, color, (_W - w) // 2, round(y_mid - h / 2))


def _hershey(text: str, scale: float, w: int, h: int, thickness: int = 1) -> np.ndarray:
    """``text`` in OpenCV's built-in stroke font, centred in a (h, w) mask."""
    mask = np.zeros((h, w), np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    (tw, th), _ = cv2.getTextSize(text, font, scale, thickness)
    org = ((w - tw) // 2, (h + th) // 2)
    cv2.putText(mask, text, org, font, scale, 255, thickness, cv2.LINE_AA)
    return mask


def _sticker(img: np.ndarray, s: Sticker, rng: np.random.Generator) -> None:
    w, h = int(rng.uniform(0.10, 0.14) * _W), int(rng.uniform(0.11, 0.13) * _H)
    mx, my = int(0.03 * _W), int(0.03 * _H)
    x = mx if s.corner[1] == "l" else _W - mx - w
    y = my if s.corner[0] == "t" else _H - my - h
    _fill(img, s.color, x, y, x + w, y + h)
    ink = (20, 20, 20) if _luma(s.color) > 110 else (240, 240, 240)
    scale = 0.45 if len(s.label) == 2 else 0.36
    _blend(img, _hershey(s.label, scale, w, h), ink, x, y)


def _bolts(img: np.ndarray, layout: PlateLayout, rng: np.random.Generator) -> None:
    head = np.zeros((19, 19), np.uint8)
    cv2.circle(head, (9, 9), 8, 255, -1, cv2.LINE_AA)
    slot = np.zeros((19, 19), np.uint8)
    cv2.line(slot, (4, 9), (14, 9), 255, 2, cv2.LINE_AA)
    rows = (0.09,) if rng.random() < 0.7 else (0.09, 0.91)
    for fy in rows:
        for fx in (0.21, 0.79):
            x, y = round(fx * _W) - 9, round(fy * _H) - 9
            _blend(img, head, layout.bolt_color, x, y)
            _blend(img, slot, (50, 50, 50), x, y)


def _frame(img: np.ndarray, layout: PlateLayout, rng: np.random.Generator) -> None:
    assert layout.frame is not None
    side, top, bottom = int(rng.integers(3, 8)), int(rng.integers(4, 10)), int(rng.integers(13, 23))
    c = layout.frame
    _fill(img, c, 0, 0, _W, top)
    _fill(img, c, 0, _H - bottom, _W, _H)
    _fill(img, c, 0, 0, side, _H)
    _fill(img, c, _W - side, 0, _W, _H)
    if layout.frame_text:
        ink = (235, 235, 235) if _luma(c) < 110 else (30, 30, 30)
        mask = _hershey(layout.frame_text, (bottom - 4) / 24, _W - 2 * side, bottom)
        _blend(img, mask, ink, side, _H - bottom)


def _main_text(img: np.ndarray, text: str, layout: PlateLayout, rng: np.random.Generator) -> None:
    ink, emblem, cap = _line(text, layout, rng)
    scale = layout.text_height * _H / cap
    h = max(1, round(ink.shape[0] * scale))
    w = ink.shape[1] * scale * layout.char_width
    w = max(1, round(min(w, 0.88 * _W)))  # too wide: squeeze, as plates do for 8 characters
    ink = cv2.resize(ink, (w, h), interpolation=cv2.INTER_LINEAR)  # scale 0.5-1
    if layout.weight:
        side = layout.weight + 1 if layout.weight > 0 else 2  # 2x2 adds ~1 px, 3x3 ~2 px
        k = np.ones((side, side), np.uint8)
        ink = cv2.dilate(ink, k) if layout.weight > 0 else cv2.erode(ink, k)
    x = round((_W - w) / 2 + layout.offset * _W)
    y = round(0.54 * _H - layout.text_height * _H / 2)
    if layout.embossed:
        # Raised characters cast a soft shadow below-right. (A highlight
        # above-left costs another blend and does not survive the camera.)
        soft = cv2.GaussianBlur(ink, (5, 5), 0)
        _blend(img, soft, (0, 0, 0), x + 2, y + 2, 0.5)
    _blend(img, ink, layout.text_color, x, y)
    if emblem.any():
        emblem = cv2.resize(emblem, (w, h), interpolation=cv2.INTER_LINEAR)
        _blend(img, emblem, layout.emblem_color, x, y)


def _rim(img: np.ndarray, color: Color) -> None:
    c = np.asarray(color, np.float32)[:, None, None]
    img[:, 4:6, 4 : _W - 4] = c
    img[:, _H - 6 : _H - 4, 4 : _W - 4] = c
    img[:, 4 : _H - 4, 4:6] = c
    img[:, 4 : _H - 4, _W - 6 : _W - 4] = c


def render_plate(
    text: str, rng: np.random.Generator, *, layout: PlateLayout | None = None
) -> np.ndarray:
    """Draw a clean plate showing ``text``; BGR uint8 of shape ``(160, 320, 3)``.

    ``text`` is the displayed text (letters, digits and at most a few
    separators: space, ``-`` or ``·``); the ground truth is
    ``underseal.plates.canonical(text)``, stacked characters included in
    reading order (see the module docstring). ``layout`` defaults to
    :func:`random_layout` drawn from ``rng``. Small random details (graphic
    shapes, sticker and frame sizes) are drawn from ``rng`` too, so the
    result is deterministic for the state of ``rng``. The main characters
    always lie between 25 % and 81 % of the height (bar the tails of Q and J,
    which some faces draw below the line) and 5 % and 95 % of the width:
    banners, slogans, stickers, bolts and frames stay outside that band of
    rows (stickers and bolts sit in the corners above and below).

    Raises:
        ValueError: ``text`` has no letter or digit, or a character other
            than A-Z, 0-9 and the separators above.
    """
    if not any(c.isalnum() for c in text) or any(
        not (c.isascii() and c.isalnum()) and c not in SEPARATOR_CHOICES for c in text
    ):
        raise ValueError("plate text must be letters, digits and space, '-' or '\u00b7'")
    layout = random_layout(rng) if layout is None else layout
    img = _background(layout, rng)
    if layout.banner_strip is not None:
        _fill(img, layout.banner_strip, 0, 0, _W, int(0.22 * _H))
    if layout.banner:
        height = float(rng.uniform(0.10, 0.14)) * _H
        _small_text(img, layout.banner, layout.banner_font, layout.banner_color, 0.12 * _H, height)
    if layout.slogan:
        height = float(rng.uniform(0.065, 0.09)) * _H
        _small_text(img, layout.slogan, layout.banner_font, layout.slogan_color, 0.895 * _H, height)
    if layout.rim:
        _rim(img, layout.text_color)
    _main_text(img, text, layout, rng)
    for s in layout.stickers:
        _sticker(img, s, rng)
    if layout.bolts:
        _bolts(img, layout, rng)
    if layout.frame is not None:
        _frame(img, layout, rng)
    # Every blend is a convex mix of colours in 0-255: no clipping needed.
    out: np.ndarray = cv2.merge([plane.astype(np.uint8) for plane in img])
    return out
