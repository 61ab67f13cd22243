"""``make eval-ocr``: the plate recognizer on real openalpr crops, beside reference readers.

Evaluation only: these photos are never trained or tuned on (this is the
development half; a held-out half exists elsewhere). Two sets: the US plate
crops (``crops/``) and the ground-truth boxes of the US scenes
(``endtoend/us/``, cut exactly at the box). Rows: our recognizer, the
same networks without its serial-format prior, RapidOCR's recognizer on the
same crop (an optional dependency: ``make eval-deps``), and OpenALPR's 2014
figure, quoted, not measured. Also the false-accept rate of the plate
grammar on rendered hard negatives.
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from underseal_device.ocr import PlateText, Recognizer
from underseal_device.ocr.recognizer import DEFAULT_MODEL
from underseal_device.synth import PlateSampler

from bench.harness import Row, figure, report
from underseal.plates import fold, plausible

DATA = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "openalpr"
#: OpenALPR's own 2014 reads of this half of the crops (benchmark README).
OPENALPR_CROPS = 0.864

Reader = Callable[[np.ndarray], str]
Items = list[tuple[np.ndarray, str]]


def clean(text: str) -> str:
    """Letters and digits only, upper case (what a plate comparison sees)."""
    return "".join(c for c in text.upper() if c.isascii() and c.isalnum())


def crops(data: Path) -> tuple[Items, int]:
    """The US plate crops with their ground truth, and how many files did not load."""
    with (data / "crops" / "groundtruth.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    out = []
    for row in rows:
        image = cv2.imread(str(data / "crops" / "images" / row["file"]))
        if image is not None:
            out.append((image, clean(row["plate"])))
    return out, len(rows) - len(out)


def scene_boxes(data: Path) -> tuple[Items, int]:
    """Each US scene cut exactly at its ground-truth box, and how many did not load."""
    out: Items = []
    skipped = 0
    for txt in sorted((data / "endtoend" / "us").glob("*.txt")):
        for line in txt.read_text().splitlines():
            parts = line.split()
            image = cv2.imread(str(txt.with_name(parts[0]))) if len(parts) >= 6 else None
            if image is None:
                skipped += 1
                continue
            x, y, w, h = (int(v) for v in parts[1:5])
            out.append((image[max(y, 0) : y + h, max(x, 0) : x + w], clean(parts[5])))
    return out, skipped


def alignment(truth: str, guess: str) -> list[str]:
    """Edits turning ``truth`` into ``guess``: ``T→G`` substitutions, ``T→∅`` and ``∅→G``."""
    rows, cols = len(truth) + 1, len(guess) + 1
    d = [[i + j if i == 0 or j == 0 else 0 for j in range(cols)] for i in range(rows)]
    for i in range(1, rows):
        for j in range(1, cols):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1,
                          d[i - 1][j - 1] + (truth[i - 1] != guess[j - 1]))  # fmt: skip
    edits: list[str] = []
    i, j = len(truth), len(guess)
    while i or j:
        if i and j and d[i][j] == d[i - 1][j - 1] + (truth[i - 1] != guess[j - 1]):
            if truth[i - 1] != guess[j - 1]:
                edits.append(f"{truth[i - 1]}→{guess[j - 1]}")
            i, j = i - 1, j - 1
        elif i and d[i][j] == d[i - 1][j] + 1:
            edits.append(f"{truth[i - 1]}→∅")
            i -= 1
        else:
            edits.append(f"∅→{guess[j - 1]}")
            j -= 1
    return edits


@dataclass
class Score:
    """One reader on one set."""

    n: int
    exact: float
    exact_folded: float
    char_accuracy: float
    ms_median: float
    failures: int
    top_confusions: list[tuple[str, int]]
    right: list[bool]  # per item, exact


def paired(before: list[bool], after: list[bool]) -> tuple[int, int, float]:
    """Items ``after`` fixes and breaks against ``before``, and McNemar's exact two-sided p.

    Two models read the same items, so their difference is judged on the
    items where they disagree: under "no difference" each disagreement is a
    fair coin (a two-sided binomial test on fixed versus broken).
    """
    fixed = sum(a and not b for b, a in zip(before, after, strict=True))
    broken = sum(b and not a for b, a in zip(before, after, strict=True))
    n = fixed + broken
    tail = sum(math.comb(n, k) for k in range(min(fixed, broken) + 1)) / 2**n if n else 1.0
    return fixed, broken, min(1.0, 2 * tail)


def score(read: Reader, items: Items) -> Score:
    """Exact, folded-exact and character accuracy, edits and median time of one reader."""
    folded = edits_total = chars = failures = 0
    confusions: Counter[str] = Counter()
    times = []
    right = []
    for image, truth in items:
        start = time.perf_counter()
        try:
            guess = read(image)
        except Exception:
            guess, failures = "", failures + 1
        times.append(time.perf_counter() - start)
        edits = alignment(truth, guess)
        right.append(not edits)
        folded += bool(guess) and fold(guess) == fold(truth)
        edits_total += len(edits)
        chars += len(truth)
        confusions.update(edits)
    n = len(items)
    return Score(
        n=n, exact=sum(right) / n, exact_folded=folded / n,
        char_accuracy=max(0.0, 1 - edits_total / chars),
        ms_median=statistics.median(times) * 1e3, failures=failures,
        top_confusions=confusions.most_common(8), right=right,
    )  # fmt: skip


def rapidocr_reader() -> Reader | None:
    """RapidOCR's text recognizer on the whole crop, if installed."""
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError:
        return None
    engine = RapidOCR()

    def read(image: np.ndarray) -> str:
        result, _ = engine(image, use_det=False, use_cls=False, use_rec=True)
        return clean(result[0][0]) if result else ""

    return read


#: The shipped model's row, beside a candidate given with ``--model``.
SHIPPED = "underseal shipped (1 thread)"

#: A fixed confidence floor, chosen before looking at any figure, to show what one does.
CONFIDENCE_FLOOR = 0.5


def false_accepts(recognizer: Recognizer, n: int) -> dict[str, float]:
    """On rendered signs and plates (synthetic, seed 99): what the grammar and a floor let through.

    Signs that pass are false accepts; plates that pass are what the camera keeps.
    """
    sampler = PlateSampler(seed=99)
    signs = recognizer.recognize([sampler.sign_at(i).image for i in range(n)])
    plates = recognizer.recognize([sampler.sample_at(i).image for i in range(n)])

    def share(reads: list[PlateText], floor: float) -> float:
        return sum(bool(r.text) and bool(plausible(r.text)) and r.confidence >= floor
                   for r in reads) / n  # fmt: skip

    return {
        "signs passing the grammar": share(signs, 0.0),
        f"signs passing the grammar and confidence ≥ {CONFIDENCE_FLOOR}": share(
            signs, CONFIDENCE_FLOOR
        ),
        "plates passing the grammar": share(plates, 0.0),
        f"plates passing the grammar and confidence ≥ {CONFIDENCE_FLOOR}": share(
            plates, CONFIDENCE_FLOOR
        ),
    }


def main() -> None:
    """Read both sets with every reader; print the table and write bench/results/ocr.json."""
    parser = argparse.ArgumentParser(prog="make eval-ocr", description=__doc__)
    parser.add_argument("--data", type=Path, default=DATA, help="the openalpr benchmark folder")
    parser.add_argument("--signs", type=int, default=500, help="signs (and plates) to render")
    parser.add_argument(
        "--no-reference", action="store_true",
        help="skip RapidOCR (the results go to bench/results/ocr-candidate.json)",
    )  # fmt: skip
    parser.add_argument(
        "--model", type=Path, default=None,
        help="a just-trained recognizer's manifest, read beside the shipped model (its hash "
        "is checked against its manifest only), with the crops each fixes and breaks; the "
        "results go to bench/results/ocr-candidate.json",
    )  # fmt: skip
    args = parser.parse_args()
    if not (args.data / "crops").is_dir():
        parser.error(f"no benchmark at {args.data} (expected crops/ and endtoend/)")
    recognizer = (
        Recognizer() if args.model is None else Recognizer(args.model, unsafe_trust_manifest=True)
    )
    # The same networks without the serial-format prior, to show what the prior does.
    plain = Recognizer(
        args.model or DEFAULT_MODEL, unsafe_trust_manifest=args.model is not None,
        prefer_serial=False,
    )  # fmt: skip
    readers: dict[str, Reader | None] = {
        "underseal (1 thread)": lambda image: recognizer.recognize([image])[0].text,
        "underseal, no serial prior (1 thread)": lambda image: plain.recognize([image])[0].text,
    }
    if args.model is not None:
        shipped = Recognizer()
        readers[SHIPPED] = lambda image: shipped.recognize([image])[0].text
    if not args.no_reference:
        readers["RapidOCR rec, whole crop (default threads)"] = rapidocr_reader()
    crop_items, crop_skipped = crops(args.data)
    box_items, box_skipped = scene_boxes(args.data)
    sets = {
        "US crops (dev half)": (crop_items, crop_skipped, "≥ 95 %"),
        "US scene GT boxes (dev half)": (box_items, box_skipped, "≥ 90 %"),
    }
    rows: list[Row] = []
    for set_name, (items, skipped, goal) in sets.items():
        right: dict[str, list[bool]] = {}
        if skipped:
            print(f"{set_name}: {skipped} items did not load and are not counted")
        for reader_name, reader in readers.items():
            if reader is None:
                print(f"{reader_name}: not installed (make eval-deps); row skipped")
                continue
            s = score(reader, items)
            right[reader_name] = s.right
            ours = reader_name.startswith("underseal")
            name = f"{set_name}: {reader_name}"
            rows += [
                figure(f"{name}, exact", 100 * s.exact, unit="%", n=s.n, goal=goal if ours else "",
                       top_confusions=s.top_confusions, failures=s.failures),
                figure(f"{name}, exact after folding", 100 * s.exact_folded, unit="%", n=s.n),
                figure(f"{name}, characters", 100 * s.char_accuracy, unit="%", n=s.n),
                figure(f"{name}, ms per crop (median)", s.ms_median, unit="ms", n=s.n,
                       goal="≤ 2 ms" if ours else ""),
            ]  # fmt: skip
            print(f"{name}: most-missed {s.top_confusions}; reader failures {s.failures}")
        if SHIPPED in right:
            fixed, broken, p = paired(right[SHIPPED], right["underseal (1 thread)"])
            print(f"{set_name}: the candidate fixes {fixed}, breaks {broken} (McNemar p = {p:.3f})")
            rows.append(figure(f"{set_name}: candidate against shipped, fixed", fixed, unit="items",
                               n=len(items), broken=broken, mcnemar_p=p))  # fmt: skip
    rows.append(
        figure("US crops (dev half): OpenALPR 2014, exact (quoted from the README, not run)",
               100 * OPENALPR_CROPS, unit="%", n=len(crop_items) + crop_skipped)
    )  # fmt: skip
    for label, value in false_accepts(recognizer, args.signs).items():
        rows.append(figure(f"rendered (synthetic) {label}", 100 * value, unit="%", n=args.signs))
    # Only a full run of the shipped model writes the figures the README and model card cite.
    report("ocr" if args.model is None and not args.no_reference else "ocr-candidate", rows)


if __name__ == "__main__":
    main()
