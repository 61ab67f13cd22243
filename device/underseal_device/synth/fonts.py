"""Fonts for synthetic plates, found among the machine's installed TrueType files.

US plate lettering is a condensed bold sans (Penitentiary Gothic and its
descendants): tall glyphs about half as wide as high, strokes of even
weight. No package registry ships that face, so we use the closest freely
packaged ones and squeeze the wider ones horizontally when drawing. The
file names below are those of Debian's ``fonts-bebas-neue`` (Bebas Neue, a
condensed all-caps face) and ``fonts-opendin`` (Open DIN, after DIN 1451,
the German plate and road-sign lettering), the two nearest to plate
lettering, then ``fonts-dejavu-core``, ``fonts-liberation2``,
``fonts-freefont-ttf``, ``fonts-urw-base35`` (Nimbus Sans Narrow, a
Helvetica Narrow metric clone), ``fonts-roboto-unhinted`` (Roboto
Condensed) and ``fonts-open-sans`` (Open Sans Condensed), all of which
``make setup`` installs; other distributions use the same names.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = [
    "BANNER_FONT_NAMES",
    "FONT_DIRS",
    "PLATE_FONT_NAMES",
    "PLATE_LIKE_FONT_NAMES",
    "FontsNotFound",
    "banner_fonts",
    "load_font",
    "plate_fonts",
    "plate_like_fonts",
    "text_mask",
]

#: Where fonts are looked for, in order. Debian, most Linux distributions,
#: and per-user installs.
FONT_DIRS: tuple[str, ...] = (
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    os.path.expanduser("~/.local/share/fonts"),
    os.path.expanduser("~/.fonts"),
)

#: Faces drawn with natural proportions and even strokes close to plate
#: lettering; :func:`~.plates.random_layout` picks one of these for half the
#: plates (when any is installed).
PLATE_LIKE_FONT_NAMES: tuple[str, ...] = (
    "BebasNeue-Bold.otf",
    "BebasNeue-Regular.otf",
    "OSP-DIN.ttf",
)

#: Faces for the plate's main characters: bold sans, the plate-like and
#: condensed ones first because they resemble plate lettering best.
PLATE_FONT_NAMES: tuple[str, ...] = (
    *PLATE_LIKE_FONT_NAMES,
    "NimbusSansNarrow-Bold.otf",
    "RobotoCondensed-Bold.ttf",
    "OpenSans-CondBold.ttf",
    "DejaVuSansCondensed-Bold.ttf",
    "LiberationSansNarrow-Bold.ttf",
    "DejaVuSans-Bold.ttf",
    "LiberationSans-Bold.ttf",
    "FreeSansBold.ttf",
    "DejaVuSansMono-Bold.ttf",
    "LiberationMono-Bold.ttf",
    "NimbusSans-Bold.otf",
    "Roboto-Bold.ttf",
)

#: Faces for the state name and slogan: plates use everything from plain
#: sans to script, so serif and italic faces are welcome here.
BANNER_FONT_NAMES: tuple[str, ...] = (
    *PLATE_FONT_NAMES,
    "DejaVuSerif-Bold.ttf",
    "DejaVuSerifCondensed-BoldItalic.ttf",
    "LiberationSerif-BoldItalic.ttf",
    "LiberationSerif-Bold.ttf",
    "FreeSerifBoldItalic.ttf",
    "FreeSansBoldOblique.ttf",
    "DejaVuSans.ttf",
    "LiberationSans-Regular.ttf",
)

_INSTALL_HINT = (
    "no usable TrueType font found for synthetic plates; looked for {names} under {dirs}. "
    "Install fonts-bebas-neue, fonts-opendin, fonts-dejavu-core, fonts-liberation2, "
    "fonts-freefont-ttf, fonts-urw-base35, fonts-roboto-unhinted and fonts-open-sans "
    "(`make setup` does this), or put one of those files in ~/.local/share/fonts"
)


class FontsNotFound(RuntimeError):
    """None of the fonts the renderer can use is installed."""


@lru_cache(maxsize=8)
def _index(dirs: tuple[str, ...]) -> dict[str, str]:
    # One walk per set of directories: a file name maps to the first path
    # found, so the earlier directory wins as FONT_DIRS promises.
    found: dict[str, str] = {}
    for root in dirs:
        for dirpath, _dirnames, filenames in os.walk(root):
            for name in filenames:
                if name.lower().endswith((".ttf", ".otf")):
                    found.setdefault(name, os.path.join(dirpath, name))
    return found


def _find(names: Sequence[str], dirs: Iterable[str] | None) -> tuple[str, ...]:
    search = tuple(FONT_DIRS if dirs is None else dirs)
    index = _index(search)
    paths = tuple(index[n] for n in names if n in index)
    if not paths:
        raise FontsNotFound(_INSTALL_HINT.format(names=", ".join(names), dirs=", ".join(search)))
    return paths


def plate_fonts(dirs: Iterable[str] | None = None) -> tuple[str, ...]:
    """Paths of the installed faces for plate characters, best first.

    Never empty, and stable for a given machine (so a seeded sampler picks
    the same face). ``dirs`` replaces :data:`FONT_DIRS`, for tests.

    Raises:
        FontsNotFound: none of :data:`PLATE_FONT_NAMES` is installed; the
            message names the packages to install.
    """
    return _find(PLATE_FONT_NAMES, dirs)


def plate_like_fonts(dirs: Iterable[str] | None = None) -> tuple[str, ...]:
    """Paths of the installed :data:`PLATE_LIKE_FONT_NAMES`; empty when none is installed.

    Every path returned is also in :func:`plate_fonts` (same ``dirs``).
    """
    index = _index(tuple(FONT_DIRS if dirs is None else dirs))
    return tuple(index[n] for n in PLATE_LIKE_FONT_NAMES if n in index)


def banner_fonts(dirs: Iterable[str] | None = None) -> tuple[str, ...]:
    """Paths of the installed faces for state names and slogans; never empty.

    Raises:
        FontsNotFound: none of :data:`BANNER_FONT_NAMES` is installed.
    """
    return _find(BANNER_FONT_NAMES, dirs)


@lru_cache(maxsize=256)
def load_font(path: str, size: int) -> ImageFont.FreeTypeFont:
    """The font at ``path`` in pixel ``size``, loaded once and then cached.

    Raises:
        OSError: the file is missing or not a font.
    """
    return ImageFont.truetype(path, size)


@lru_cache(maxsize=4096)
def text_mask(path: str, text: str, size: int) -> np.ndarray:
    """One line of ``text`` in the font at ``path`` as a tight uint8 mask (255 = ink)."""
    font = load_font(path, size)
    left, top, right, bottom = font.getbbox(text)
    img = Image.new("L", (max(1, int(right - left)), max(1, int(bottom - top))))
    ImageDraw.Draw(img).text((-left, -top), text, font=font, fill=255)
    return np.asarray(img)
