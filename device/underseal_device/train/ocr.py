"""``make train-ocr``: train the plate recognizer on synthetic plates, export it to ONNX.

The shipped recognizer is an ensemble: ``--members`` networks (default 3)
trained by one recipe from seeds ``seed, seed + 1, ...`` and run by one ONNX
graph (``train.ensemble``); where they disagree, the camera keeps the reading
likeliest under CTC averaged over them (``ocr.recognizer``). Each network is
quantized to int8 for speed (``train.quantize``; ``--float32`` keeps it as
trained). Each is kept in ``--work`` (``build/train-ocr/seed-N/``), in
float32, and reused when its recipe matches, so an interrupted run resumes
at the network it lost.

Reproducible from ``--seed``: member ``s``'s training stream is
``PlateSampler(s)`` read in index order (every sample depends only on the
seed and its index), its validation set is ``PlateSampler(s + 1)`` indices
``0..val-1``, and torch's initialisation is seeded. The ensemble's own
holdout is ``PlateSampler(seed + members)``, a stream no member trained on,
and int8 calibration uses ``PlateSampler(seed + members + 1)``.
It trains on the CPU: one process renders samples while the main process
trains on the other core. Nothing here is imported by the camera; the result
is ``models/plate_ocr.onnx``, its manifest (with the SHA-256 the camera
checks at load) and its model card.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import platform
import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Final

import cv2
import numpy as np
import torch
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from torch import nn
from torch.utils.data import DataLoader, Dataset

from underseal_device.errors import ModelIntegrityError
from underseal_device.integrity import verified_bytes
from underseal_device.ocr.images import as_gray, to_input
from underseal_device.ocr.recognizer import DEFAULT_MODEL, ModelSpec, Recognizer, ctc_greedy
from underseal_device.synth import PlateSampler
from underseal_device.synth.fonts import plate_fonts
from underseal_device.train.ensemble import combine
from underseal_device.train.ocr_model import ALPHABET, CLASSES, HEIGHT, WIDTH, PlateCTC
from underseal_device.train.quantize import CALIBRATION_PLATES, calibration_batch, quantize

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


FILES: Final = ("plate_ocr.onnx", "plate_ocr.json", "plate_ocr.md")


def _manifest(onnx_path: Path, training: dict[str, Any], members: int = 1) -> Path:
    """Write the manifest beside ``onnx_path``: its SHA-256, input, alphabet and training."""
    ensemble = {"members": members} if members > 1 else {}
    fields = {
        "file": onnx_path.name,
        "sha256": hashlib.sha256(onnx_path.read_bytes()).hexdigest(),
        "alphabet": ALPHABET,
        "blank": 0,
        "input": {"height": HEIGHT, "width": WIDTH, "channels": 1, "scale": "x/255"},
        "decoder": "ctc-greedy" if members == 1 else "ctc-greedy per member, ranked by mean CTC",
        **ensemble,
        "training": training,
    }
    manifest = onnx_path.with_suffix(".json")
    manifest.write_text(json.dumps(fields, indent=2) + "\n")
    return manifest


def export(model: PlateCTC, result: Result, out: Path) -> Path:
    """Write one network's ``plate_ocr.onnx``, manifest (SHA-256) and card; return the manifest.

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
        manifest = _manifest(onnx_path, dataclasses.asdict(result))
        # The exported graph must give what torch gives, through the camera's own loader.
        check = torch.rand(4, 1, HEIGHT, WIDTH)
        with torch.no_grad():
            expected = model(check).numpy()
        loaded = Recognizer(manifest, unsafe_trust_manifest=True)
        if not np.allclose(loaded.logits(check.numpy()), expected, atol=1e-3):
            raise RuntimeError("exported ONNX model disagrees with the trained one")
        _write_card(scratch / "plate_ocr.md", onnx_path, [result], None)
        for name in FILES:
            (scratch / name).replace(out / name)
    return out / "plate_ocr.json"


def _export(model: PlateCTC, dummy: torch.Tensor, path: Path) -> None:
    torch.onnx.export(
        model, (dummy,), str(path), input_names=["image"], output_names=["logits"],
        dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17,
        dynamo=False,
    )  # fmt: skip


@dataclass(frozen=True)
class Holdout:
    """Exact reads on one synthetic holdout: the shipped model's, and each network's alone."""

    seed: int
    size: int
    model: float
    networks: tuple[float, ...]  # as shipped (int8 when quantized)
    float_networks: tuple[float, ...]  # as trained


def synthetic_accuracy(recognizer: Recognizer, seed: int, size: int) -> float:
    """Exact-match rate of ``recognizer`` on ``PlateSampler(seed)`` samples ``0..size-1``."""
    sampler = PlateSampler(seed)
    right = 0
    for start in range(0, size, 256):
        samples = [sampler.sample_at(i) for i in range(start, min(start + 256, size))]
        reads = recognizer.recognize([s.image for s in samples])
        right += sum(r.text == s.text for r, s in zip(reads, samples, strict=True))
    return right / size


def export_model(
    members: Sequence[Path],
    out: Path,
    *,
    holdout_seed: int,
    val: int,
    calibration_seed: int | None,
    calibration_plates: int = CALIBRATION_PLATES,
) -> Path:
    """The shipped model from trained networks (their manifests), in ``out``; its manifest.

    Each network is quantized to int8 on ``calibration_plates`` plates of
    ``PlateSampler(calibration_seed)`` (None: kept in float32); several are
    combined into one graph (``train.ensemble``). Checked before anything
    reaches ``out``: every network file matches its manifest's SHA-256; the
    model's output is each network's, in order (through the camera's
    loader); and the model is scored on a synthetic holdout no network
    trained on, beside each network as shipped and as trained.

    Raises:
        ModelIntegrityError: a network's file or manifest is missing or altered.
        RuntimeError: the combined graph does not give its networks' outputs.
    """
    trained = [Recognizer(m, unsafe_trust_manifest=True) for m in members]
    specs = [json.loads(m.read_text(encoding="utf-8")) for m in members]
    graphs = [verified_bytes(r.spec.path, r.spec.sha256, None) for r in trained]
    results = [Result(**{**s["training"], "fonts": tuple(s["training"]["fonts"])}) for s in specs]
    quantization: dict[str, Any] | None = None
    if calibration_seed is not None:
        calibration = calibration_batch(calibration_seed, calibration_plates)
        graphs = [quantize(g, calibration) for g in graphs]
        quantization = {
            "weights": "int8 holding 7 bits, per channel",
            "activations": "uint8, min/max calibrated",
            "calibration_seed": calibration_seed, "calibration_plates": len(calibration),
            "float32": "the classifier (last convolution)",
        }  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out) as scratch_name:
        scratch = Path(scratch_name)
        shipped_networks = []
        for i, (graph, spec) in enumerate(zip(graphs, specs, strict=True)):
            (scratch / f"network-{i}.onnx").write_bytes(graph)
            network = _manifest(scratch / f"network-{i}.onnx", spec["training"])
            shipped_networks.append(Recognizer(network, unsafe_trust_manifest=True))
        onnx_path = scratch / "plate_ocr.onnx"
        onnx_path.write_bytes(combine(graphs) if len(graphs) > 1 else graphs[0])
        training: dict[str, Any] = {
            "networks": len(members),
            "parameters": sum(r.parameters for r in results),
            "seconds": sum(r.seconds for r in results),
            "quantization": quantization,
            "validation_seed": holdout_seed,
            "validation_size": val,
            "members": [{"sha256": s["sha256"], **s["training"]} for s in specs],
        }
        manifest = _manifest(onnx_path, training, len(members))
        model = Recognizer(manifest, unsafe_trust_manifest=True)
        check = np.random.default_rng(0).random((4, 1, HEIGHT, WIDTH), dtype=np.float32)
        each = np.concatenate([r.run(check) for r in shipped_networks], axis=1)
        if not np.allclose(model.run(check), each, atol=1e-5):
            raise RuntimeError("the combined graph does not run its networks")
        holdout = Holdout(
            holdout_seed, val, synthetic_accuracy(model, holdout_seed, val),
            tuple(synthetic_accuracy(r, holdout_seed, val) for r in shipped_networks),
            tuple(synthetic_accuracy(r, holdout_seed, val) for r in trained),
        )  # fmt: skip
        training["synthetic_accuracy"] = holdout.model
        training["network_synthetic_accuracy"] = list(holdout.networks)
        training["float_network_synthetic_accuracy"] = list(holdout.float_networks)
        manifest = _manifest(onnx_path, training, len(members))
        _write_card(scratch / "plate_ocr.md", onnx_path, results, holdout, quantization)
        for name in FILES:
            (scratch / name).replace(out / name)
    return out / "plate_ocr.json"


def _write_card(
    path: Path,
    onnx_path: Path,
    members: Sequence[Result],
    holdout: Holdout | None,
    quantization: dict[str, Any] | None = None,
) -> None:
    """The model card: of one trained network (``holdout`` None) or of the shipped model."""
    digest = hashlib.sha256(onnx_path.read_bytes()).hexdigest()
    first = members[0]
    many = len(members) > 1
    samples = first.steps * first.batch
    seeds = ", ".join(str(r.seed) for r in members)
    parameters = sum(r.parameters for r in members)
    network = (
        "CNN (5 conv blocks; height 32 → 1, width 128 → 32 steps), two 1-D conv context "
        "layers, CTC head; no recurrence, so the ONNX graph is plain convolutions"
    )
    architecture = network
    if many:
        architecture = (
            f"an ensemble of {len(members)} networks trained alike from seeds "
            f"{seeds}, in one graph (`logits` N×{len(members)}×T×C); each network reads "
            "greedily and, where they disagree, the reading with the highest CTC probability "
            f"averaged over the networks is kept; each network: {network}"
        )
    if holdout is None:
        accuracy = (
            f"{first.synthetic_accuracy:.1%} exact on {first.validation_size:,} "
            f"held-out synthetic plates (seed {first.seed + 1})"
        )
    else:
        shipped = ", ".join(f"{a:.1%}" for a in holdout.networks)
        trained = ", ".join(f"{a:.1%}" for a in holdout.float_networks)
        accuracy = (
            f"{holdout.model:.1%} exact on {holdout.size:,} held-out synthetic plates "
            f"(seed {holdout.seed}, which no network trained on)"
            + (f"; each network alone: {shipped}" if many else "")
            + (f"; in float32, as trained: {trained}" if quantization else "")
        )
    quantized = (
        "none: float32"
        if quantization is None
        else "int8 weights (7 bits, per channel) and uint8 activations (QDQ, onnxruntime's static "
        f"quantization), activation ranges calibrated (min/max) on "
        f"{quantization['calibration_plates']} synthetic plates (seed "
        f"{quantization['calibration_seed']}); the classifier stays float32"
    )
    rows = [
        ("task", "read a US licence-plate crop: A-Z and 0-9, 1 to 8+ characters"),
        ("architecture", architecture),
        ("input", f"grayscale crop resized to {HEIGHT}×{WIDTH}, scaled to [0, 1]"),
        ("output", f"{len(members)}×" * many + f"{WIDTH // 4}×{CLASSES} logits per "
         f"crop (blank + {len(ALPHABET)} characters per step); greedy CTC decoding, then "
         "the serial-format prior: one or two characters replaced by others the networks saw "
         "there (`underseal_device.ocr.recognizer`)"),
        ("parameters", f"{parameters:,} ({len(members)} × width {first.width})"
         if many else f"{parameters:,} (width {first.width})"),
        ("quantization", quantized),
        ("file", f"{onnx_path.stat().st_size // 1024} KiB, SHA-256 `{digest}` (checked at load)"),
        ("data", f"synthetic plates only (`underseal_device.synth`, seed{'s' * many} "
         f"{seeds}): "
         f"{first.steps:,} steps × {first.batch} = {samples:,} samples per network, each rendered "
         "once; no real photograph"),
        ("training", f"AdamW, one-cycle LR, CTC loss, CPU, "
         f"{sum(r.seconds for r in members) / 60:.1f} min"),
        ("synthetic accuracy", accuracy),
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


#: Recipe fields a kept member must match to be reused instead of trained.
RECIPE: Final = ("steps", "batch", "seed", "width", "lr", "validation_size", "workers", "fonts")


def _kept_member(folder: Path, recipe: dict[str, Any]) -> Path | None:
    """``folder``'s member manifest if it was trained by ``recipe`` and is intact, else None."""
    manifest = folder / "plate_ocr.json"
    try:
        training = json.loads(manifest.read_text(encoding="utf-8"))["training"]
        if any(training.get(k) != recipe[k] for k in RECIPE):
            return None
        spec = ModelSpec.load(manifest)
        verified_bytes(spec.path, spec.sha256, None)  # the file is the one its manifest names
    except (OSError, ValueError, KeyError, TypeError, ModelIntegrityError):
        return None
    return manifest


app = typer.Typer(add_completion=False, help=__doc__)


@app.command()
def main(
    steps: Annotated[int, typer.Option(help="optimiser steps per network")] = 6_000,
    batch: Annotated[int, typer.Option(help="samples per step")] = 64,
    seed: Annotated[
        int, typer.Option(help="seed of the first network; the next get +1, +2, …")
    ] = 1,
    members: Annotated[int, typer.Option(help="networks in the ensemble (1: a single one)")] = 3,
    width: Annotated[int, typer.Option(help="network width (channels of the 2nd block)")] = 48,
    lr: Annotated[float, typer.Option(help="peak learning rate")] = 3e-3,
    val: Annotated[int, typer.Option(help="synthetic validation samples")] = 1_000,
    workers: Annotated[int, typer.Option(help="sample-rendering processes")] = 1,
    int8: Annotated[
        bool, typer.Option("--int8/--float32", help="quantize each network to int8 for speed")
    ] = True,
    work: Annotated[
        Path, typer.Option(help="where each network is kept (and reused when its recipe matches)")
    ] = Path("build/train-ocr"),
    out: Annotated[Path, typer.Option(help="output folder")] = DEFAULT_MODEL.parent,
) -> None:
    """Train the plate recognizer and write plate_ocr.onnx, .json and .md to OUT."""
    if steps < 1 or batch < 1 or val < 1 or members < 1:
        raise typer.BadParameter("steps, batch, val and members must be positive")
    fonts = sorted(Path(f).name for f in plate_fonts())
    manifests = []
    for k in range(members):
        recipe = {"steps": steps, "batch": batch, "seed": seed + k, "width": width, "lr": lr,
                  "validation_size": val, "workers": workers, "fonts": fonts}  # fmt: skip
        folder = work / f"seed-{seed + k}"
        kept = _kept_member(folder, recipe)
        if kept is not None:
            console.print(f"network {k + 1}/{members} (seed {seed + k}): reusing {folder}")
            manifests.append(kept)
            continue
        console.print(f"network {k + 1}/{members} (seed {seed + k}): training into {folder}")
        model, result = train(
            steps=steps, batch=batch, seed=seed + k, width=width, lr=lr, val=val, workers=workers
        )
        manifests.append(export(model, result, folder))
    manifest = export_model(
        manifests, out, holdout_seed=seed + members, val=val,
        calibration_seed=seed + members + 1 if int8 else None,
    )  # fmt: skip
    training = json.loads(manifest.read_text(encoding="utf-8"))["training"]
    summary = (
        f"{training['synthetic_accuracy']:.1%} exact on synthetic holdout seed {seed + members}"
    )
    if members > 1:
        each = ", ".join(f"{a:.1%}" for a in training["network_synthetic_accuracy"])
        summary += f"; each network alone: {each}"
    fields = json.loads(manifest.read_text(encoding="utf-8"))
    console.print(f"wrote {manifest} ({training['parameters']:,} parameters, {summary})")
    console.print(
        f"model SHA-256 {fields['sha256']}: set PINNED_SHA256 in ocr/recognizer.py to ship it"
    )


if __name__ == "__main__":
    app()
