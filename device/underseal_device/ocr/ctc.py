"""What CTC says of a whole reading: its probability, and that of its best alignment.

Used to rank the readings of an ensemble's members: a reading's probability
(the sum over every alignment of it) does not depend on which steps its
characters' spikes fall on, so readings from networks with different
alignments compare fairly. The best alignment's probability is what one
network's greedy read reports as its confidence, so an ensemble's confidence
in a read can be put in the same terms for every network.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["best_path_probabilities", "sequence_probabilities"]

#: Steps between rescalings: four products of float32 probabilities (each at least
#: 1e-45) stay far inside float64's range.
RESCALE = 4


def _extended(texts: Sequence[str], alphabet: str) -> tuple[npt.NDArray[np.intp], list[int]]:
    """Each text as CTC's state sequence (blank, c1, blank, c2, ..., blank), padded with blanks."""
    index = {c: i + 1 for i, c in enumerate(alphabet)}
    lengths = [2 * len(t) + 1 for t in texts]
    states = np.zeros((len(texts), max(lengths)), np.intp)
    for row, text in enumerate(texts):
        try:
            states[row, 1 : 2 * len(text) : 2] = [index[c] for c in text]
        except KeyError:
            raise ValueError("a reading has a character outside the alphabet") from None
    return states, lengths


def sequence_probabilities(
    probs: npt.NDArray[np.float32], texts: Sequence[str], alphabet: str
) -> npt.NDArray[np.float64]:
    """``P(text | crop)`` per network: ``probs`` is ``M×T×C`` (blank at 0) → ``M×len(texts)``.

    The CTC forward algorithm: the sum over every alignment of each text.

    Raises:
        ValueError: ``probs`` is not ``M×T×C``, or a text has a character
            outside ``alphabet``.
    """
    return _forward(probs, texts, alphabet, best=False)


def best_path_probabilities(
    probs: npt.NDArray[np.float32], texts: Sequence[str], alphabet: str
) -> npt.NDArray[np.float64]:
    """The probability of each text's likeliest alignment per network (Viterbi), ``M×len(texts)``.

    For the text a network reads greedily, this is its greedy path's probability.

    Raises:
        ValueError: as :func:`sequence_probabilities`.
    """
    return _forward(probs, texts, alphabet, best=True)


def _forward(
    probs: npt.NDArray[np.float32], texts: Sequence[str], alphabet: str, *, best: bool
) -> npt.NDArray[np.float64]:
    """CTC's recursion over every network and text at once: summed, or maximised if ``best``.

    Rescaled every few steps so that 32 small probabilities never underflow.
    """
    if probs.ndim != 3 or probs.shape[2] != len(alphabet) + 1:
        raise ValueError("probs must be M×T×C with C = 1 + len(alphabet)")
    members, steps = probs.shape[:2]
    if not texts:
        return np.zeros((members, 0))
    states, lengths = _extended(texts, alphabet)
    width = states.shape[1] + 2
    # alpha lives in buf[..., 2:]; the two zero columns before each text's states make
    # the shifts plain slices. Laid out flat, each shift is a slice of one contiguous
    # array, quicker to work on than three-dimensional views (a step is a few small
    # operations, so their overhead is its cost). The zero columns stay zero: nothing
    # is emitted there.
    skip = np.zeros((members, len(texts), width))
    # A state may also be entered from two back when it is a character unlike the one
    # two back (between two equal characters the blank is required).
    skip[:, :, 4:] = (states[:, 2:] != 0) & (states[:, 2:] != states[:, :-2])
    emit = np.zeros((steps, members, len(texts), width))
    emit[:, :, :, 2:] = probs.astype(np.float64).transpose(1, 0, 2)[:, :, states]  # T×M×P×S
    buf = np.zeros((members, len(texts), width))
    buf[:, :, 2] = emit[0, :, :, 2]
    if states.shape[1] > 1:
        buf[:, :, 3] = emit[0, :, :, 3]
    log_scale = np.zeros((members, len(texts)))
    flat, emit_flat, skip_flat = buf.reshape(-1), emit.reshape(steps, -1), skip.reshape(-1)
    stay, step, back, skip_flat = flat[2:], flat[1:-1], flat[:-2], skip_flat[2:]
    jump, into = np.empty_like(stay), np.empty_like(stay)  # scratch: no allocation per step
    for t in range(1, steps):
        np.multiply(skip_flat, back, out=jump)
        if best:
            np.maximum(np.maximum(stay, step, out=into), jump, out=into)
        else:
            np.add(np.add(stay, step, out=into), jump, out=into)
        np.multiply(into, emit_flat[t, 2:], out=stay)
        if t % RESCALE == 0 or t == steps - 1:
            total = buf.sum(axis=2)
            total[total == 0] = 1.0  # a reading that cannot be: it stays at zero
            log_scale += np.log(total)
            buf /= total[:, :, None]
    alpha = buf[:, :, 2:]
    ends = np.array(lengths) - 1
    rows = np.arange(len(texts))
    last, before = (
        alpha[:, rows, ends],
        np.where(ends > 0, alpha[:, rows, np.maximum(ends - 1, 0)], 0.0),
    )
    final = np.maximum(last, before) if best else last + before
    with np.errstate(divide="ignore"):
        out: npt.NDArray[np.float64] = np.exp(log_scale + np.log(final))
    return out
