"""Per-step CTC probabilities written by hand, for the OCR decoding tests."""

from __future__ import annotations

import numpy as np

#: The recognizer's alphabet; class 0 is the blank, class ``i + 1`` is ``ALPHABET[i]``.
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def steps(*rows: dict[str, float]) -> np.ndarray:
    """``T×C`` probabilities from one ``{character: p}`` per step; the rest is blank."""
    out = np.zeros((len(rows), len(ALPHABET) + 1), np.float32)
    for t, row in enumerate(rows):
        for ch, p in row.items():
            out[t, ALPHABET.index(ch) + 1] = p
        out[t, 0] = 1.0 - sum(row.values())
    return out
