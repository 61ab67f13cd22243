"""Plate text for synthetic samples: what is printed, and the ground truth.

Most texts follow a real state's issuing grammar (:func:`underseal.plates.
sample_plates`), so the reader sees the letter/digit patterns it will meet
on the road. The rest are uniform random strings and vanity-like words, so
that the model learns to read characters and not to guess them from the
format.

Every sample has two forms:

* ``canonical`` - the ground truth, ``A-Z0-9`` only (:func:`underseal.plates.
  canonical`);
* ``displayed`` - what the plate shows: the canonical text with at most one
  separator put where plates put them (``"ABC 1234"``, ``"123-XYZ"``,
  ``"7·ABC123"``). Every separator used is one of
  :data:`underseal.plates.SEPARATORS`, so ``canonical(displayed) ==
  canonical`` always holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from underseal.plates import JURISDICTIONS, canonical, sample_plates

__all__ = [
    "ALPHABET",
    "MAX_LENGTH",
    "MIN_LENGTH",
    "SEPARATOR_CHOICES",
    "PlateText",
    "display",
    "sample_canonical",
    "sample_text",
]

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
MIN_LENGTH = 5
MAX_LENGTH = 8

#: Separators a layout may ask for: none, a gap, a dash, or an emblem (a small
#: graphic between groups, written as a middle dot in the displayed text).
SEPARATOR_CHOICES: tuple[str, ...] = ("", " ", "-", "\u00b7")

# Share of each text source. Grammar plates dominate; the rest keeps the
# model honest about characters that grammars put only in some positions.
_P_GRAMMAR = 0.70
_P_UNIFORM = 0.18  # the remainder is vanity-like

# Pieces of personalised plates: short words and the number-for-word swaps
# drivers use. Invented, not a list of real registrations.
_VANITY_WORDS: tuple[str, ...] = (
    "GO", "MY", "LUV", "MOM", "DAD", "CAR", "BEACH", "SURF", "SKI", "BEE", "JEEP", "RUN",
    "FAST", "ZOOM", "TACO", "DOG", "CAT", "HAPPY", "SUN", "BLUE", "RED", "KING", "QUEEN",
    "JAZZ", "FOX", "WOLF", "BEAR", "ROAD", "TRIP", "VAN", "BIKE", "GOLF", "FISH", "WAVE",
    "NERD", "PILOT", "DOC", "RN", "MD", "EV", "TX", "BIG", "LIL", "OLD", "NEW",
)  # fmt: skip
_VANITY_GLUE: tuple[str, ...] = ("", "", "4", "2", "8", "U", "N", "1", "X")
_CODES: tuple[str, ...] = tuple(sorted(JURISDICTIONS))


@dataclass(frozen=True, slots=True)
class PlateText:
    """One plate's text: ``canonical`` is the ground truth, ``displayed`` is printed.

    Invariant: ``canonical(displayed) == canonical`` and
    ``MIN_LENGTH <= len(canonical) <= MAX_LENGTH``.
    """

    canonical: str
    displayed: str


def _uniform(rng: np.random.Generator) -> str:
    n = int(rng.integers(MIN_LENGTH, MAX_LENGTH + 1))
    return "".join(ALPHABET[i] for i in rng.integers(0, len(ALPHABET), n))


def _vanity(rng: np.random.Generator) -> str:
    text = ""
    for _ in range(8):  # bounded: a few words always reach MIN_LENGTH
        word = _VANITY_WORDS[int(rng.integers(len(_VANITY_WORDS)))]
        glue = _VANITY_GLUE[int(rng.integers(len(_VANITY_GLUE)))]
        candidate = text + glue + word if text else word
        if len(candidate) > MAX_LENGTH:
            break
        text = candidate
        if len(text) >= MIN_LENGTH and rng.random() < 0.5:
            break
    if len(text) < MIN_LENGTH:
        # Short words pad out with digits, as "DOG123" plates do.
        tail = rng.integers(0, 10, MIN_LENGTH - len(text))
        text += "".join(str(int(d)) for d in tail)
    return text


def sample_canonical(rng: np.random.Generator, jurisdiction: str | None = None) -> str:
    """A canonical plate text of 5-8 characters drawn from ``rng``.

    About 70 % follow a grammar of ``jurisdiction`` (any state when ``None``
    or when that state's grammar cannot give 5-8 characters), 18 % are
    uniform over ``A-Z0-9``, 12 % vanity-like. Deterministic for the state
    of ``rng``.
    """
    u = rng.random()
    if u < _P_GRAMMAR:
        seed = int(rng.integers(0, 2**63 - 1))
        code = jurisdiction if jurisdiction in JURISDICTIONS else None
        text = sample_plates(1, seed, code)[0]
        if MIN_LENGTH <= len(text) <= MAX_LENGTH:
            return text
        return _uniform(rng)
    if u < _P_GRAMMAR + _P_UNIFORM:
        return _uniform(rng)
    return _vanity(rng)


def _split_point(text: str, rng: np.random.Generator) -> int:
    # Plates split between a letter group and a digit group ("ABC 1234");
    # failing that, near the middle. Never leave a group of one at an end.
    inner = range(2, len(text) - 1)
    changes = [i for i in inner if text[i - 1].isdigit() != text[i].isdigit()]
    if changes:
        return changes[int(rng.integers(len(changes)))]
    return len(text) // 2 + int(rng.integers(0, 2)) * (len(text) % 2)


def display(text: str, separator: str, rng: np.random.Generator) -> str:
    """``text`` (canonical) with ``separator`` put at one plausible place.

    ``separator`` is one of :data:`SEPARATOR_CHOICES`; ``""`` returns
    ``text`` unchanged. The result's canonical form is ``text``.

    Raises:
        ValueError: ``separator`` is not one of :data:`SEPARATOR_CHOICES`.
    """
    if separator not in SEPARATOR_CHOICES:
        raise ValueError("separator must be one of SEPARATOR_CHOICES")
    if not separator:
        return text
    at = _split_point(text, rng)
    return text[:at] + separator + text[at:]


def sample_text(
    rng: np.random.Generator, *, separator: str = "", jurisdiction: str | None = None
) -> PlateText:
    """A plate text and how it is displayed with ``separator``; see :class:`PlateText`.

    Raises:
        ValueError: ``separator`` is not one of :data:`SEPARATOR_CHOICES`.
    """
    text = sample_canonical(rng, jurisdiction)
    shown = display(text, separator, rng)
    # Guards the invariant that ground truth depends on.
    assert canonical(shown) == text
    return PlateText(canonical=text, displayed=shown)
