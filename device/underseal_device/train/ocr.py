"""``make train-ocr``: train the plate recognizer on synthetic plates, export it to ONNX.

Reproducible from ``--seed``: the training stream is ``PlateSampler(seed)``
read in index order (every sample depends only on the seed and its index),
the validation set is ``PlateSampler(seed + 1)`` indices ``0..val-1``, and
torch's initialisation is seeded. It trains on the CPU: one process renders
samples while the main process trains on the other core. Nothing here is
imported by the camera; the result is ``models/plate_ocr.onnx``, its manifest
(with the SHA-256 the camera checks at load) and its model card.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import platform
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import cv2
import numpy as np
import torch
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from torch import nn
from torch.utils.data import DataLoader, Dataset

from underseal_device.ocr.images import as_gray, to_input
from underseal_device.ocr.recognizer import DEFAULT_MODEL, Recognizer, ctc_greedy
from underseal_device.synth import PlateSampler
from underseal_device.synth.fonts import plate_fonts
from underseal_device.train.ocr_model import ALPHABET, CLASSES, HEIGHT, WIDTH, PlateCTC

_INDEX = {c: i + 1 for i, c in enumerate(ALPHABET)}
console = Console(stderr=True)


class SyntheticPlates(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Index ``i`` → the ``i``-th sample of ``PlateSampler(seed)``, ready for the network."""

    def __init__(self, seed: int, size: int) -> None:
        self.sampler = PlateSampler(seed)
        self.size = size

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        sample = self.sampler.sample_at(index)
        image = to_input(as_gray(sample.image), HEIGHT, WIDTH)
        label = torch.tensor([_INDEX[c] for c in sample.text], dtype=torch.long)
        return torch.from_numpy(image)[None], label


def collate(
    batch: list[tuple[torch.Tensor, torch.Tensor]],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Stack images; concatenate labels with their lengths (CTC's packed form)."""
    images = torch.stack([b[0] for b in batch])
    labels = torch.cat([b[1] for b in batch])
    lengths = torch.tensor([len(b[1]) for b in batch], dtype=torch.long)
    return images, labels, lengths


def greedy(logits: torch.Tensor) -> list[str]:
    """CTC greedy decoding, by the camera's own rule."""
    rows = logits.argmax(2).tolist()
    return [ctc_greedy(row, [0.0] * len(row), ALPHABET)[0] for row in rows]


def evaluate(model: nn.Module, loader: DataLoader[tuple[torch.Tensor, torch.Tensor]]) -> float:
    """Exact-match accuracy on a loader of synthetic plates."""
    model.eval()
    right = total = 0
    with torch.no_grad():
        for images, labels, lengths in loader:
            truths, start = [], 0
            for n in lengths.tolist():
                truths.append("".join(ALPHABET[i - 1] for i in labels[start : start + n].tolist()))
                start += n
            for guess, truth in zip(greedy(model(images)), truths, strict=True):
                right += guess == truth
                total += 1
    model.train()
    return right / max(total, 1)


def _one_cv2_thread(_: int) -> None:
    # The renderer's process gets one core; OpenCV's own pool would fight the trainer.
    cv2.setNumThreads(1)


@dataclass
class Result:
    """What a training run produced, for the manifest and the model card."""

    steps: int
    batch: int
    seed: int
    width: int
    parameters: int
    seconds: float
    final_loss: float
    synthetic_accuracy: float
    validation_size: int
    lr: float = 0.0
    workers: int = 0
    torch_threads: int = 0
    fonts: tuple[str, ...] = ()
    torch_version: str = torch.__version__
    cpu: str = platform.processor() or platform.machine()


def train(
    *, steps: int, batch: int, seed: int, width: int, lr: float, val: int, workers: int
) -> tuple[PlateCTC, Result]:
    """Train from scratch; returns the model (eval mode) and its figures."""
    torch.manual_seed(seed)
    np.random.seed(seed)
    # One core trains, the other renders samples.
    # Reproducibility holds for the same seed, workers, threads, fonts and CPU
    # kind: all are recorded in the manifest.
    torch.set_num_threads(1 if workers else 2)
    cv2.setNumThreads(1)
    model = PlateCTC(width)
    data = DataLoader(
        SyntheticPlates(seed, steps * batch), batch_size=batch, shuffle=False,
        num_workers=workers, collate_fn=collate, persistent_workers=False,
        prefetch_factor=4 if workers else None, worker_init_fn=_one_cv2_thread,
    )  # fmt: skip
    holdout = DataLoader(
        SyntheticPlates(seed + 1, val), batch_size=128, num_workers=0, collate_fn=collate
    )
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    # OneCycle needs a warm-up of at least two steps; smoke runs use a flat rate.
    schedule: torch.optim.lr_scheduler.LRScheduler = (
        torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=lr, total_steps=steps, pct_start=0.1)
        if steps >= 20
        else torch.optim.lr_scheduler.ConstantLR(optimiser, factor=1.0)
    )
    ctc = nn.CTCLoss(blank=0, zero_infinity=True)
    start = time.perf_counter()
    loss_avg = 0.0
    with Progress(
        TextColumn("[bold]train-ocr"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        TextColumn("loss {task.fields[loss]:.3f}  synth {task.fields[acc]}"),
        TimeRemainingColumn(), console=console,
    ) as progress:  # fmt: skip
        task = progress.add_task("train", total=steps, loss=0.0, acc="-")
        for step, (images, labels, lengths) in enumerate(data, 1):
            logits = model(images)  # N×T×C
            log_probs = logits.log_softmax(2).transpose(0, 1)  # T×N×C for CTC
            steps_in = torch.full((images.shape[0],), logits.shape[1], dtype=torch.long)
            loss = ctc(log_probs, labels, steps_in, lengths)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimiser.step()
            schedule.step()
            loss_avg = 0.98 * loss_avg + 0.02 * loss.item() if step > 1 else loss.item()
            progress.update(task, completed=step, loss=loss_avg)
            if step % max(steps // 20, 1) == 0 or step == steps:
                accuracy = f"{evaluate(model, holdout):.1%}"
                progress.update(task, acc=accuracy)
                if not console.is_terminal:  # a log line per checkpoint when not on a terminal
                    elapsed = time.perf_counter() - start
                    console.log(f"step {step}/{steps} loss {loss_avg:.3f} synth {accuracy} "
                                f"{elapsed / 60:.1f} min")  # fmt: skip
    final_accuracy = evaluate(model, holdout)
    model.eval()
    result = Result(
        steps=steps, batch=batch, seed=seed, width=width,
        parameters=sum(p.numel() for p in model.parameters()),
        seconds=time.perf_counter() - start, final_loss=loss_avg,
        synthetic_accuracy=final_accuracy, validation_size=val, lr=lr, workers=workers,
        torch_threads=torch.get_num_threads(),
        fonts=tuple(sorted(Path(f).name for f in plate_fonts())),
    )  # fmt: skip
    return model, result


def export(model: PlateCTC, result: Result, out: Path) -> Path:
    """Write ``plate_ocr.onnx``, its manifest (SHA-256) and model card; return the manifest.

    Everything is written and checked in a scratch folder first, and moved
    into ``out`` only when the exported graph agrees with the trained model,
    so a failed export never leaves a broken model where the camera looks.
    """
    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out) as scratch_name:
        scratch = Path(scratch_name)
        onnx_path = scratch / "plate_ocr.onnx"
        # The TorchScript exporter needs only `onnx`; the newer one needs onnxscript too.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            _export(model, torch.zeros(1, 1, HEIGHT, WIDTH), onnx_path)
        digest = hashlib.sha256(onnx_path.read_bytes()).hexdigest()
        manifest = scratch / "plate_ocr.json"
        fields = {
            "file": onnx_path.name,
            "sha256": digest,
            "alphabet": ALPHABET,
            "blank": 0,
            "input": {"height": HEIGHT, "width": WIDTH, "channels": 1, "scale": "x/255"},
            "decoder": "ctc-greedy",
            "training": dataclasses.asdict(result),
        }
        manifest.write_text(json.dumps(fields, indent=2) + "\n")
        # The exported graph must give what torch gives, through the camera's own loader.
        check = torch.rand(4, 1, HEIGHT, WIDTH)
        with torch.no_grad():
            expected = model(check).numpy()
        loaded = Recognizer(manifest, unsafe_trust_manifest=True)
        if not np.allclose(loaded.logits(check.numpy()), expected, atol=1e-3):
            raise RuntimeError("exported ONNX model disagrees with the trained one")
        _write_card(scratch / "plate_ocr.md", result, onnx_path)
        for name in ("plate_ocr.onnx", "plate_ocr.json", "plate_ocr.md"):
            (scratch / name).replace(out / name)
    console.print(f"model SHA-256 {digest}: set PINNED_SHA256 in ocr/recognizer.py to ship it")
    return out / "plate_ocr.json"


def _export(model: PlateCTC, dummy: torch.Tensor, path: Path) -> None:
    torch.onnx.export(
        model, (dummy,), str(path), input_names=["image"], output_names=["logits"],
        dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17,
        dynamo=False,
    )  # fmt: skip


def _write_card(path: Path, result: Result, onnx_path: Path) -> None:
    digest = hashlib.sha256(onnx_path.read_bytes()).hexdigest()
    samples = result.steps * result.batch
    rows = [
        ("task", "read a US licence-plate crop: A-Z and 0-9, 1 to 8+ characters"),
        ("architecture", "CNN (5 conv blocks; height 32 → 1, width 128 → 32 steps), two 1-D "
         "conv context layers, CTC head; no recurrence, so the ONNX graph is plain convolutions"),
        ("input", f"grayscale crop resized to {HEIGHT}×{WIDTH}, scaled to [0, 1]"),
        ("output", f"{WIDTH // 4}×{CLASSES} logits per crop (blank + {len(ALPHABET)} characters "
         "per step); greedy CTC decoding"),
        ("parameters", f"{result.parameters:,} (width {result.width})"),
        ("file", f"{onnx_path.stat().st_size // 1024} KiB, SHA-256 `{digest}` (checked at load)"),
        ("data", f"synthetic plates only (`underseal_device.synth`, seed {result.seed}): "
         f"{result.steps:,} steps × {result.batch} = {samples:,} samples, each rendered once; "
         "no real photograph"),
        ("training", f"AdamW, one-cycle LR, CTC loss, CPU, {result.seconds / 60:.1f} min"),
        ("synthetic accuracy", f"{result.synthetic_accuracy:.1%} exact on "
         f"{result.validation_size:,} held-out synthetic plates (seed {result.seed + 1})"),
        ("licence", "Apache-2.0, as the project; fonts rendered in training: Bebas Neue and "
         "Open DIN (SIL OFL 1.1), DejaVu (Bitstream Vera licence), Liberation (SIL OFL 1.1), "
         "FreeFont (GPL with font exception), Nimbus Sans (AGPL-3.0 with font exception), "
         "Roboto and Open Sans (Apache-2.0)"),
        ("limits", "trained on rendered fonts (Bebas Neue and Open DIN are the nearest to state "
         "lettering, drawn for half the plates; an open-top 4 is drawn by hand), not the states' "
         "embossed typefaces; small stacked characters are read as part of the plate, which "
         "some ground truths (openalpr's) leave out; US formats only; accuracy on real crops "
         "is measured by `make eval-ocr` on openalpr's development half, whose images are "
         "never trained on (the kinds of error seen there guided the renderer)"),
    ]  # fmt: skip
    table = "\n".join(f"| {k} | {v} |" for k, v in rows)
    path.write_text(
        "# Model card: plate_ocr.onnx\n\n"
        f"Written by `make train-ocr` (Python {platform.python_version()}, torch "
        f"{torch.__version__}). Real-crop accuracy and speed: `make eval-ocr` "
        "(`bench/results/ocr.json`) and `make bench` (`bench/results/ocr_speed.json`).\n\n"
        f"| | |\n|---|---|\n{table}\n"
    )


app = typer.Typer(add_completion=False, help=__doc__)


@app.command()
def main(
    steps: Annotated[int, typer.Option(help="optimiser steps")] = 6_000,
    batch: Annotated[int, typer.Option(help="samples per step")] = 64,
    seed: Annotated[int, typer.Option(help="seed of data and initialisation")] = 1,
    width: Annotated[int, typer.Option(help="network width (channels of the 2nd block)")] = 48,
    lr: Annotated[float, typer.Option(help="peak learning rate")] = 3e-3,
    val: Annotated[int, typer.Option(help="synthetic validation samples")] = 1_000,
    workers: Annotated[int, typer.Option(help="sample-rendering processes")] = 1,
    out: Annotated[Path, typer.Option(help="output folder")] = DEFAULT_MODEL.parent,
) -> None:
    """Train the plate recognizer and write plate_ocr.onnx, .json and .md to OUT."""
    if steps < 1 or batch < 1 or val < 1:
        raise typer.BadParameter("steps, batch and val must be positive")
    model, result = train(
        steps=steps, batch=batch, seed=seed, width=width, lr=lr, val=val, workers=workers
    )
    manifest = export(model, result, out)
    console.print(
        f"wrote {manifest} ({result.parameters:,} parameters, "
        f"{result.synthetic_accuracy:.1%} exact on synthetic holdout)"
    )


if __name__ == "__main__":
    app()
