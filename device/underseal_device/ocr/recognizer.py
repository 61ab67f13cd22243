"""Plate OCR on onnxruntime: crops in, text with per-character confidence out.

The model is a small CTC recognizer trained by ``make train-ocr``
(``underseal_device.train.ocr``) on synthetic plates only. It ships in
``underseal_device/models/`` beside a manifest, and its SHA-256 is pinned in
this module (:data:`PINNED_SHA256`): the file is hashed and checked before
onnxruntime ever parses it, so a corrupted model, or one swapped together
with its manifest, refuses to load. Torch is never needed here.

Pipeline: ``as_gray → resize → scale → run → softmax → CTC greedy decode →
serial-format prior``.

The model may be an ensemble (``train.ensemble``): one graph that runs ``M``
networks trained alike from different seeds. Each network reads the crop
greedily, and when they disagree the reading with the highest probability
under CTC, averaged over the networks (``ocr.ctc``), is kept; the hotlist
candidates are ranked the same way. The rule was chosen on synthetic plates.

A read that fits no state's standard serial format
(:func:`underseal.plates.standard_format`) gives way to a reading that
fits one, differs from it in one or two characters the networks saw as
possible there, and is nearly as likely (:data:`SERIAL_RATIO`):
``5UVR090`` over ``5UVRO90``. Most plates are issued in series, and the
look-alikes a format tells apart (O and 0, I and 1, B and 8) are what the
model confuses most. Personalised plates keep their read unless the model
itself finds a serial reading nearly as likely.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from underseal.plates import standard_format
from underseal_device.errors import BadImage, ModelIntegrityError
from underseal_device.integrity import verified_bytes
from underseal_device.ocr.ctc import best_path_probabilities, sequence_probabilities
from underseal_device.ocr.images import as_gray, to_input

__all__ = [
    "DEFAULT_MODEL",
    "PINNED_SHA256",
    "SERIAL_FLOOR",
    "SERIAL_RATIO",
    "Candidate",
    "ModelSpec",
    "PlateText",
    "Recognizer",
    "ctc_greedy",
    "default_recognizer",
]

#: The manifest of the shipped model.
DEFAULT_MODEL: Final = Path(__file__).resolve().parent.parent / "models" / "plate_ocr.json"
#: SHA-256 of the shipped ``plate_ocr.onnx``. ``make train-ocr`` prints the new
#: value; changing it is a reviewed code change, not a file drop.
PINNED_SHA256: Final = "927bdaafbc6001e83b36f16a7103827e65a7d09afe25830b5fa8c5bd2de02822"
#: Largest batch run at once; bigger inputs are split (bounds memory per call).
MAX_BATCH: Final = 64
#: A read fitting no standard serial format is replaced by the likeliest reading
#: that fits one and differs from it in one or two characters, each among the
#: 3 likeliest characters at that character's steps, with at least
#: :data:`SERIAL_FLOOR` there in some network, if that reading's mean CTC
#: probability is at least :data:`SERIAL_RATIO` times the read's. Chosen on two
#: synthetic streams no network trained on (PlateSampler 4 and 6, 3,000 plates
#: each): exact reads 82.0 -> 82.5 % and 82.4 -> 83.0 %, as many as the best
#: 3 readings of a beam search gave, at a fraction of its cost.
SERIAL_RATIO: Final = 0.1
SERIAL_FLOOR: Final = 0.01
_SERIAL_SHORTLIST: Final = 3  # characters considered per position, the read's own included
_SERIAL_CHANGES: Final = 2  # characters changed at most
_LIVE: Final = 1e-4  # a class less likely than this at a step is not tried there


@dataclass(frozen=True, slots=True)
class PlateText:
    """One read: canonical text, per-character confidences and the read's confidence.

    ``char_confidences[i]`` is the highest probability the model gave
    character ``i`` over the steps that emitted it. ``confidence`` is the
    probability of the whole greedy path (every step, blanks included), so a
    character the model nearly read but dropped lowers it too: it is the
    figure to vote and threshold on. For an ensemble it is the mean of that
    figure over the networks (see :meth:`Recognizer.decode`).
    """

    text: str
    char_confidences: tuple[float, ...]
    confidence: float

    def __repr__(self) -> str:
        # A read is a plate: personal data. Never print it.
        return f"PlateText(<{len(self.text)} chars>, confidence={self.confidence:.3f})"


def _char_steps(classes: Sequence[int]) -> list[slice]:
    """The steps of each character greedy CTC reads: each run of one class other than blank."""
    runs: list[slice] = []
    start, previous = 0, 0
    for t, c in enumerate(classes):
        if c != previous:  # a run ends where the class changes, and one starts unless blank
            if previous != 0:
                runs.append(slice(start, t))
            start, previous = t, c
    if previous != 0:
        runs.append(slice(start, len(classes)))
    return runs


def ctc_greedy(
    classes: Sequence[int], probs: Sequence[float], alphabet: str
) -> tuple[str, tuple[float, ...]]:
    """The greedy CTC rule, shared with training: repeats merge, blanks (0) drop.

    ``classes`` is the best class per step and ``probs`` its probability; a
    character's confidence is its highest probability over the steps of its run.

    Raises:
        ValueError: ``classes`` and ``probs`` differ in length.
    """
    if len(classes) != len(probs):
        raise ValueError("classes and probs must have one entry per step")
    runs = _char_steps(classes)
    return "".join(alphabet[classes[r.start] - 1] for r in runs), tuple(max(probs[r]) for r in runs)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One of the best few readings of a crop and its probability under the model."""

    text: str
    probability: float

    def __repr__(self) -> str:
        return f"Candidate(<{len(self.text)} chars>, probability={self.probability:.3f})"


def _beam(probs: npt.NDArray[np.float32], alphabet: str, k: int, width: int) -> list[Candidate]:
    """CTC prefix beam search over one crop's ``T×C`` probabilities (blank at 0).

    Each prefix carries the probability of ending in a blank and in a
    character; classes below 1e-4 at a step are skipped, which changes
    nothing a greedy or top-k reading could return.

    A new prefix (a kept one and one more character) has one source only. If
    it is less likely than the ``width``-th likeliest of the kept prefixes'
    own continuations (a blank, or their last character again), which can
    only gain, it can never enter the beam, so it is not made: classes are
    tried most likely first, and the first too unlikely ends the loop. The
    search returns what the plain one does (``tests/test_ocr.py``), at a
    fraction of its cost on the uncertain crops of real scenes, where about
    15 classes a step pass 1e-4.
    """
    index = {ch: i + 1 for i, ch in enumerate(alphabet)}
    likeliest = (np.argsort(-probs[:, 1:], axis=1, kind="stable") + 1).tolist()
    counts = (probs[:, 1:] >= _LIVE).sum(axis=1).tolist()
    beams: dict[str, tuple[float, float]] = {"": (1.0, 0.0)}
    for row, ranked, n in zip(probs.tolist(), likeliest, counts, strict=True):
        blank = row[0]
        if not n:
            # No character can start or go on here (half the steps of a real crop): every
            # prefix ends in a blank, all scaled alike, so the beam keeps its order.
            beams = {prefix: ((p_b + p_nb) * blank, 0.0) for prefix, (p_b, p_nb) in beams.items()}
            continue
        live = ranked[:n]
        alive = set(live)
        # Each prefix goes on: a blank, or its last character again (the run goes on).
        nxt: dict[str, tuple[float, float]] = {}
        for prefix, (p_b, p_nb) in beams.items():
            c = index[prefix[-1]] if prefix else 0
            nxt[prefix] = ((p_b + p_nb) * blank, p_nb * row[c] if c in alive else 0.0)
        stays = sorted((b + nb for b, nb in nxt.values()), reverse=True)
        floor = stays[width - 1] if len(stays) >= width else 0.0
        kept_children: dict[str, list[str]] = {}
        for text in beams:
            if text and text[:-1] in beams:
                kept_children.setdefault(text[:-1], []).append(text)
        for prefix, (p_b, p_nb) in beams.items():
            total = p_b + p_nb
            last = prefix[-1] if prefix else ""
            for c in live:
                p = row[c]
                if total * p < floor:
                    break  # this and every later class: a new prefix too unlikely to keep
                ch = alphabet[c - 1]
                # A repeat extends the prefix only after a blank; else it joined the run above.
                b, nb = nxt.get(prefix + ch, (0.0, 0.0))
                nxt[prefix + ch] = (b, nb + (p_b if last == ch else total) * p)
            for child in kept_children.get(prefix, ()):
                c = index[child[-1]]  # ... but a kept prefix still gains what it is owed
                p = row[c]
                if c in alive and total * p < floor:
                    b, nb = nxt[child]
                    nxt[child] = (b, nb + (p_b if last == child[-1] else total) * p)
        beams = dict(sorted(nxt.items(), key=lambda kv: -(kv[1][0] + kv[1][1]))[:width])
    ranked_beams = sorted(beams.items(), key=lambda kv: -(kv[1][0] + kv[1][1]))
    return [Candidate(text, p_b + p_nb) for text, (p_b, p_nb) in ranked_beams[:k] if text]


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """What the manifest says about a model file."""

    path: Path
    sha256: str
    alphabet: str
    height: int
    width: int
    members: int = 1

    @classmethod
    def load(cls, manifest: Path) -> ModelSpec:
        """Read a manifest. Raises ModelIntegrityError if it is missing or malformed."""
        try:
            fields: dict[str, Any] = json.loads(manifest.read_text(encoding="utf-8"))
            name = str(fields["file"])
            spec = cls(
                path=manifest.parent / name,
                sha256=str(fields["sha256"]),
                alphabet=str(fields["alphabet"]),
                height=int(fields["input"]["height"]),
                width=int(fields["input"]["width"]),
                members=int(fields.get("members", 1)),
            )
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ModelIntegrityError(f"cannot read model manifest {manifest}: {error}") from None
        if Path(name).name != name:
            raise ModelIntegrityError("the manifest must name a file beside it, not a path")
        if spec.members < 1:
            raise ModelIntegrityError("the manifest's members must be at least 1")
        return spec


def _verified_bytes(spec: ModelSpec, pinned: str | None) -> bytes:
    return verified_bytes(spec.path, spec.sha256, pinned)


class Recognizer:
    """A loaded, integrity-checked plate recognizer. Build once, call many times."""

    def __init__(
        self,
        manifest: Path | str = DEFAULT_MODEL,
        *,
        threads: int = 1,
        unsafe_trust_manifest: bool = False,
        prefer_serial: bool = True,
    ) -> None:
        """Load the model named by ``manifest`` after checking its SHA-256.

        The file must match both the manifest and :data:`PINNED_SHA256`.
        ``unsafe_trust_manifest=True`` checks the manifest only: for models
        just trained and not yet pinned, never for the camera.

        ``threads`` is onnxruntime's intra-op thread count: 1 keeps per-call
        latency low and leaves the other core to detection.

        ``prefer_serial=False`` turns off the serial-format prior (see the
        module docstring): reads are then the networks' own.

        Raises:
            ModelIntegrityError: missing or malformed manifest or model, a hash
                mismatch, or a graph whose shapes are not what the manifest says.
            ValueError: ``threads`` below 1.
        """
        if threads < 1:
            raise ValueError("threads must be at least 1")
        self.spec = ModelSpec.load(Path(manifest))
        self.prefer_serial = prefer_serial
        data = _verified_bytes(self.spec, None if unsafe_trust_manifest else PINNED_SHA256)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # Idle onnxruntime threads spin by default, burning the core detection needs.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self._session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own untyped errors
            raise ModelIntegrityError(f"onnxruntime cannot load the model: {error}") from None
        self._input = self._session.get_inputs()[0].name
        self._check_shapes()

    def _check_shapes(self) -> None:
        (image,) = self._session.get_inputs()
        (logits,) = self._session.get_outputs()
        if list(image.shape[1:]) != [1, self.spec.height, self.spec.width]:
            raise ModelIntegrityError("model input is not N×1×H×W as the manifest says")
        # One network: N×T×C. An ensemble of M: N×M×T×C.
        rank = 3 if self.spec.members == 1 else 4
        if len(logits.shape) != rank or (rank == 4 and logits.shape[1] != self.spec.members):
            raise ModelIntegrityError(
                f"model output {logits.shape} is not what the manifest's "
                f"{self.spec.members} network(s) give (N×T×C, or N×M×T×C for M > 1)"
            )
        if logits.shape[-1] != len(self.spec.alphabet) + 1:
            raise ModelIntegrityError("model output does not match the manifest's alphabet")

    def preprocess(self, crops: Sequence[object]) -> npt.NDArray[np.float32]:
        """Crops → ``N×1×H×W`` float32 in [0, 1]. Raises BadImage for any bad crop."""
        grays = [as_gray(crop) for crop in crops]  # all checked before any work is done
        batch = np.empty((len(grays), 1, self.spec.height, self.spec.width), np.float32)
        for i, gray in enumerate(grays):
            batch[i, 0] = to_input(gray, self.spec.height, self.spec.width)
        return batch

    def logits(self, batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """The raw model output for a preprocessed batch: ``N×T×C``, or ``N×M×T×C`` (ensemble)."""
        out: npt.NDArray[np.float32] = self._session.run(None, {self._input: batch})[0]
        return out

    def run(self, batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Per-step character probabilities, ``N×M×T×C`` (``M`` = 1 for one network).

        The softmax of :meth:`logits` over the classes; index 0 is blank.
        """
        logits = self.logits(batch)
        if logits.ndim == 3:
            logits = logits[:, None]
        logits = logits - logits.max(axis=3, keepdims=True)
        probs: npt.NDArray[np.float32] = np.exp(logits)
        probs /= probs.sum(axis=3, keepdims=True)
        return probs

    def decode(self, probs: npt.NDArray[np.float32]) -> list[PlateText]:
        """CTC greedy decoding of ``N×M×T×C`` probabilities: one read per crop.

        Each network's read is its best class per step, repeats merged and
        blanks dropped. Where the networks disagree, the non-empty reading
        with the highest mean CTC probability over them is kept. An
        ensemble's read carries the character confidences of the network
        surest of it, and as its confidence the mean over the networks of
        the probability each gives the read's best path. Then the
        serial-format prior (see the module docstring), unless
        ``prefer_serial`` is off.
        """
        best = probs.argmax(axis=3)
        best_p = probs.max(axis=3)
        path = np.exp(np.log(np.maximum(best_p, 1e-30)).sum(axis=2))
        reads = []
        for crop, classes, ps, p_path in zip(probs, best, best_p, path, strict=True):
            members = []
            for c, p, whole in zip(classes, ps, p_path.tolist(), strict=True):
                text, confs = ctc_greedy(c.tolist(), p.tolist(), self.spec.alphabet)
                members.append(PlateText(text, confs, float(whole)))
            read, surest = self._agree(crop, members)
            if self.prefer_serial and read.text and not standard_format(read.text):
                read = self._serial(crop, surest, classes[surest], read)
            reads.append(read)
        return reads

    def _serial(
        self,
        probs: npt.NDArray[np.float32],
        member: int,
        classes: npt.NDArray[np.intp],
        read: PlateText,
    ) -> PlateText:
        """``read`` or, if one is nearly as likely, a serial reading close to it (see above).

        ``probs`` is the crop's ``M×T×C``; network ``member``'s greedy read
        is ``read`` (``classes`` its best class per step), and the steps
        where it read each character are where others are looked for. A
        replaced character's confidence is the highest probability that
        network gave the new character over those steps.
        """
        alphabet = self.spec.alphabet
        steps = _char_steps(classes.tolist())
        others: list[list[str]] = []
        for ch, at in zip(read.text, steps, strict=True):
            seen = probs[:, at, 1:].max(axis=(0, 1))
            likeliest = np.argsort(-seen)[:_SERIAL_SHORTLIST].tolist()
            others.append(
                [alphabet[c] for c in likeliest if seen[c] >= SERIAL_FLOOR and alphabet[c] != ch]
            )
        changeable = [i for i, o in enumerate(others) if o]
        texts = []
        for n in range(1, _SERIAL_CHANGES + 1):
            for where in itertools.combinations(changeable, n):
                for chars in itertools.product(*(others[i] for i in where)):
                    text = list(read.text)
                    for i, new in zip(where, chars, strict=True):
                        text[i] = new
                    if standard_format(joined := "".join(text)):
                        texts.append(joined)
        if not texts:
            return read
        scores = sequence_probabilities(probs, [read.text, *texts], alphabet).mean(axis=0)
        best = int(np.argmax(scores[1:])) + 1
        if scores[best] < SERIAL_RATIO * scores[0]:
            return read
        chosen = texts[best - 1]
        confs = list(read.char_confidences)
        for i, at in enumerate(steps):
            if chosen[i] != read.text[i]:
                confs[i] = float(probs[member, at, alphabet.index(chosen[i]) + 1].max())
        whole = best_path_probabilities(probs, [chosen], alphabet)
        return PlateText(chosen, tuple(confs), float(whole.mean()))

    def _agree(
        self, probs: npt.NDArray[np.float32], members: list[PlateText]
    ) -> tuple[PlateText, int]:
        """One read from the networks' greedy reads of one crop (``M×T×C`` probabilities).

        Also returns which network's greedy read it is (the surest of those that read it).
        """
        if len(members) == 1:
            return members[0], 0
        texts = sorted({r.text for r in members if r.text}) or [""]
        chosen = texts[0]
        if len(texts) > 1:
            scores = sequence_probabilities(probs, texts, self.spec.alphabet).mean(axis=0)
            chosen = texts[int(np.argmax(scores))]  # a tie keeps the first in sorted order
        # Confidence in the networks' common terms: the mean over them of the probability
        # each gives the read's best path, which is its own greedy path where it read it.
        agreed = [i for i, r in enumerate(members) if r.text == chosen]
        if len(agreed) == len(members):
            confidence = float(np.mean([r.confidence for r in members]))
        else:
            best = best_path_probabilities(probs, [chosen], self.spec.alphabet)
            confidence = float(best.mean())
        surest = max(agreed, key=lambda i: members[i].confidence)
        return PlateText(chosen, members[surest].char_confidences, confidence), surest

    def _ranked(self, probs: npt.NDArray[np.float32], k: int, width: int) -> list[Candidate]:
        """The ``k`` best readings of one crop's ``M×T×C`` probabilities."""
        if len(probs) == 1:
            return _beam(probs[0], self.spec.alphabet, k, width)
        texts = sorted({c.text for p in probs for c in _beam(p, self.spec.alphabet, k, width)})
        scores = sequence_probabilities(probs, texts, self.spec.alphabet).mean(axis=0)
        order = sorted(range(len(texts)), key=lambda i: -scores[i])
        return [Candidate(texts[i], float(scores[i])) for i in order[:k]]

    def candidates(
        self, crops: Sequence[object], *, k: int = 3, width: int = 8
    ) -> list[list[Candidate]]:
        """The ``k`` most probable readings of each crop, best first (CTC beam search).

        For matching against a hotlist: trying a bounded few candidates
        recovers hits that one misread character would lose. Empty readings
        are left out, so a list may be shorter than ``k``.

        Raises:
            BadImage: a crop that is not a readable image.
            ValueError: ``k`` or ``width`` below 1, or ``width`` below ``k``.
        """
        if k < 1 or width < k:
            raise ValueError("need 1 <= k <= width")
        if isinstance(crops, np.ndarray):
            raise BadImage("pass a sequence of crops, not one array")
        batch = self.preprocess(crops)
        out: list[list[Candidate]] = []
        for start in range(0, len(batch), MAX_BATCH):
            for probs in self.run(batch[start : start + MAX_BATCH]):
                out.append(self._ranked(probs, k, width))
        return out

    def read(
        self, crops: Sequence[object], *, k: int = 3, width: int = 8
    ) -> list[tuple[PlateText, list[Candidate]]]:
        """Greedy read and the ``k`` best readings of each crop, from one model run.

        What the camera needs per plate: the read to vote on and the
        candidates to match (see :meth:`recognize` and :meth:`candidates`).

        Raises:
            BadImage: a crop that is not a readable image.
            ValueError: ``k`` or ``width`` below 1, or ``width`` below ``k``.
        """
        if k < 1 or width < k:
            raise ValueError("need 1 <= k <= width")
        if isinstance(crops, np.ndarray):
            raise BadImage("pass a sequence of crops, not one array")
        batch = self.preprocess(crops)
        out: list[tuple[PlateText, list[Candidate]]] = []
        for start in range(0, len(batch), MAX_BATCH):
            probs = self.run(batch[start : start + MAX_BATCH])
            for read, p in zip(self.decode(probs), probs, strict=True):
                out.append((read, self._ranked(p, k, width)))
        return out

    def recognize(self, crops: Sequence[object]) -> list[PlateText]:
        """Read each plate crop (BGR, BGRA or gray uint8 arrays).

        Raises:
            BadImage: a crop that is not a readable image; nothing is read then.
        """
        if isinstance(crops, np.ndarray):
            raise BadImage("pass a sequence of crops, not one array")
        batch = self.preprocess(crops)
        reads: list[PlateText] = []
        for start in range(0, len(batch), MAX_BATCH):
            reads += self.decode(self.run(batch[start : start + MAX_BATCH]))
        return reads


@lru_cache(maxsize=1)
def default_recognizer() -> Recognizer:
    """The shipped model, loaded on first use (never at import time)."""
    return Recognizer()
