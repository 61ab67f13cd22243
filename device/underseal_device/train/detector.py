"""``make train-detector``: train the plate detector on rendered scenes, export it to ONNX.

Reproducible from ``--seed``: scene ``j`` of the stream is
``SceneSampler(seed).scene_at(j)`` and its patches depend only on
``(seed, j)``; a seeded shuffle buffer mixes patches of different scenes;
validation uses ``SceneSampler(seed + 1)``. One process renders scenes while
the main process trains on the other core.

Each training sample is a square patch cut from a 1280×720 scene at a random
scale (log-uniform, so plates span ~9-260 px at the network's input, the
range a 640-px input sees from 720p traffic to close-up photographs), with
most patches centred near a plate. Targets live on the stride-4 grid: a
plate's shrunk core is positive (score 1, box distances to regress), the
rest of its outline is ignored, plates too small or too hidden to read are
ignored whole, and everything else (sign panels, stickers, truck lettering)
is negative.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import platform
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import cv2
import numpy as np
import numpy.typing as npt
import torch
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from torch import nn
from torch.nn import functional
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from underseal_device.detect.detector import DEFAULT_MODEL, NMS_IOU, Detector, decode, prepare
from underseal_device.synth.clutter import add_clutter
from underseal_device.synth.scenes import Scene, SceneSampler
from underseal_device.train.detector_model import STRIDE, PlateDetector

console = Console(stderr=True)

PATCH = 256
GRID = PATCH // STRIDE
#: Plates narrower than this at the network's input, or less visible than
#: MIN_VISIBLE, are ignored (neither plate nor background) in training.
MIN_WIDTH = 10.0
MIN_VISIBLE = 0.5
#: A plate's positive core: its outline shrunk about its centre by this factor.
CORE = 0.6
LONG_SIDE = 640

Sample = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def _fill(grid: npt.NDArray[np.uint8], quad: npt.NDArray[np.float64]) -> None:
    """Rasterise a quad given in input pixels onto the stride-4 grid (sub-cell precise)."""
    cells = (quad - (STRIDE - 1) / 2) / STRIDE
    cv2.fillPoly(grid, [np.round(cells * 16).astype(np.int32)], 1, cv2.LINE_8, 4)


def targets(
    plates: list[tuple[npt.NDArray[np.float64], float]], size: int = PATCH
) -> tuple[npt.NDArray[np.float32], ...]:
    """Score, weight, box distances (4×G×G) and positive mask for quads in input pixels.

    ``plates`` are ``(quad, visible)`` pairs already mapped into the patch.
    """
    g = size // STRIDE
    score = np.zeros((g, g), np.float32)
    weight = np.ones((g, g), np.float32)
    dist = np.zeros((4, g, g), np.float32)
    centre = np.arange(g, dtype=np.float32) * STRIDE + (STRIDE - 1) / 2
    cx, cy = np.meshgrid(centre, centre)
    for quad, visible in sorted(plates, key=lambda p: -cv2.contourArea(p[0].astype(np.float32))):
        width = (np.hypot(*(quad[1] - quad[0])) + np.hypot(*(quad[2] - quad[3]))) / 2
        outline = np.zeros((g, g), np.uint8)
        _fill(outline, quad)
        if width < MIN_WIDTH or visible < MIN_VISIBLE:
            weight[(outline > 0) & (score == 0)] = 0.0
            continue
        mid = quad.mean(0)
        core = np.zeros((g, g), np.uint8)
        _fill(core, mid + (quad - mid) * CORE)
        i, j = np.round((mid - (STRIDE - 1) / 2) / STRIDE).astype(int)
        if 0 <= i < g and 0 <= j < g:
            core[j, i] = 1
        weight[outline > 0] = 0.0
        on = core > 0
        x0, y0 = quad.min(0)
        x1, y1 = quad.max(0)
        score[on] = 1.0
        weight[on] = 1.0
        dist[0][on] = np.maximum(cx[on] - x0, 0.5)
        dist[1][on] = np.maximum(cy[on] - y0, 0.5)
        dist[2][on] = np.maximum(x1 - cx[on], 0.5)
        dist[3][on] = np.maximum(y1 - cy[on], 0.5)
    return score, weight, dist, score.copy()


def _augment(img: npt.NDArray[np.uint8], rng: np.random.Generator) -> npt.NDArray[np.uint8]:
    """Photometric variety beyond the renderer's own: what real cameras add."""
    out: npt.NDArray[np.uint8] = img
    if rng.random() < 0.5:
        a, b = rng.uniform(0.6, 1.4), rng.uniform(-40, 40)
        out = cv2.convertScaleAbs(out, alpha=a, beta=b)  # type: ignore[assignment]
    if rng.random() < 0.2:
        out = out[:, :, rng.permutation(3)]
    if rng.random() < 0.15:
        gray = cv2.cvtColor(out, cv2.COLOR_BGR2GRAY)
        out = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)  # type: ignore[assignment]
    if rng.random() < 0.15:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.6, 1.6))  # type: ignore[assignment]
    if rng.random() < 0.2:
        noise = rng.normal(0, rng.uniform(3, 10), out.shape)
        out = np.clip(out + noise, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        ok, data = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(25, 90))])
        if ok:
            out = cv2.imdecode(data, cv2.IMREAD_COLOR)  # type: ignore[assignment]
    return np.ascontiguousarray(out)


def patch(
    scene: Scene, rng: np.random.Generator, size: int = PATCH, *, clutter: float = 0.0
) -> Sample:
    """One training sample cut from ``scene`` at a random scale (see the module doc).

    ``clutter``: the probability of each kind of natural clutter pasted away
    from the plates (:func:`underseal_device.synth.clutter.add_clutter`).
    """
    h, w = scene.image.shape[:2]
    scale = float(np.exp(rng.uniform(np.log(0.3), np.log(1.3))))
    side = size / scale  # the patch's side in scene pixels
    if scene.plates and rng.random() < 0.7:
        plate = scene.plates[int(rng.integers(len(scene.plates)))]
        mid = plate.quad.astype(np.float64).mean(0)
        x0, y0 = mid - rng.uniform(0.1, 0.9, 2) * side
    else:
        x0, y0 = rng.uniform(0, max(w - side, 0)), rng.uniform(0, max(h - side, 0))
    # Keep the patch inside the scene where it fits (padding teaches nothing).
    x0 = float(np.clip(x0, min(0.0, w - side), max(0.0, w - side)))
    y0 = float(np.clip(y0, min(0.0, h - side), max(0.0, h - side)))
    m = np.array([[scale, 0, -x0 * scale], [0, scale, -y0 * scale]])
    source = scene.image
    if scale < 0.7:  # anti-alias before the affine warp shrinks it
        source = cv2.GaussianBlur(source, (0, 0), 0.45 / scale)
    fill = tuple(int(v) for v in rng.integers(0, 256, 3))
    img = cv2.warpAffine(source, m, (size, size), flags=cv2.INTER_LINEAR, borderValue=fill)
    plates = [((p.quad.astype(np.float64) - (x0, y0)) * scale, p.visible) for p in scene.plates]
    if clutter > 0:
        img = add_clutter(
            img.astype(np.uint8, copy=False), [q for q, _ in plates], rng,
            texture=clutter, parts=clutter,
        )  # fmt: skip
    img = _augment(img.astype(np.uint8, copy=False), rng)
    score, weight, dist, pos = targets(plates, size)
    x = torch.from_numpy(img.astype(np.float32).transpose(2, 0, 1) * np.float32(1 / 255))
    s, wt, d, p = (torch.from_numpy(t) for t in (score, weight, dist, pos))
    return x, s, wt, d, p


class ScenePatches(IterableDataset[Sample]):
    """Scenes ``0..scenes-1`` of ``SceneSampler(seed)``, ``per_scene`` patches each."""

    def __init__(self, seed: int, scenes: int, per_scene: int, clutter: float = 0.0) -> None:
        self.seed, self.scenes, self.per_scene = seed, scenes, per_scene
        self.clutter = clutter

    def __iter__(self) -> Iterator[Sample]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        sampler = SceneSampler(self.seed)
        for j in range(worker, self.scenes, workers):
            scene = sampler.scene_at(j)
            rng = np.random.default_rng((self.seed, 7, j))
            for _ in range(self.per_scene):
                yield patch(scene, rng, clutter=self.clutter)


def shuffled(source: Iterator[Sample], size: int, batch: int, seed: int) -> Iterator[Sample]:
    """Batches drawn from a seeded shuffle buffer (patches of one scene are spread out)."""
    rng = np.random.default_rng((seed, 9))
    pool: list[Sample] = []
    for sample in source:
        pool.append(sample)
        if len(pool) >= size:
            picks = sorted(rng.choice(len(pool), batch, replace=False).tolist(), reverse=True)
            chosen = [pool.pop(i) for i in picks]
            yield tuple(torch.stack(parts) for parts in zip(*chosen, strict=True))  # type: ignore[misc]


def losses(
    out: torch.Tensor,
    score: torch.Tensor,
    weight: torch.Tensor,
    dist: torch.Tensor,
    pos: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Focal loss on the score map (ignored cells excluded) and IoU loss on positive boxes."""
    logits = out[:, 0]
    p = torch.sigmoid(logits)
    ce = functional.binary_cross_entropy_with_logits(logits, score, reduction="none")
    p_t = p * score + (1 - p) * (1 - score)
    alpha = 0.25 * score + 0.75 * (1 - score)
    n_pos = pos.sum().clamp(min=1.0)
    score_loss = (alpha * (1 - p_t) ** 2 * ce * weight).sum() / n_pos
    on = pos > 0
    if not bool(on.any()):
        return score_loss, out.sum() * 0.0
    pred = torch.exp(out[:, 1:5].clamp(-7, 7)) * STRIDE  # N×4×G×G
    pred, true = pred.permute(0, 2, 3, 1)[on], dist.permute(0, 2, 3, 1)[on]
    inter_w = torch.minimum(pred[:, 0], true[:, 0]) + torch.minimum(pred[:, 2], true[:, 2])
    inter_h = torch.minimum(pred[:, 1], true[:, 1]) + torch.minimum(pred[:, 3], true[:, 3])
    inter = inter_w * inter_h
    area_p = (pred[:, 0] + pred[:, 2]) * (pred[:, 1] + pred[:, 3])
    area_t = (true[:, 0] + true[:, 2]) * (true[:, 1] + true[:, 3])
    iou = inter / (area_p + area_t - inter).clamp(min=1e-6)
    return score_loss, -torch.log(iou.clamp(min=1e-6)).mean()


def _box_iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def plate_box(quad: npt.NDArray[np.float32]) -> tuple[float, float, float, float]:
    """The axis-aligned box of a plate's outline (x1, y1 exclusive), as ground truth."""
    x0, y0 = quad.min(0)
    x1, y1 = quad.max(0)
    return float(x0), float(y0), float(x1) + 1, float(y1) + 1


@dataclass
class Figures:
    """Detection figures on synthetic validation scenes at one threshold."""

    threshold: float
    recall: float
    precision: float


def validate(model: nn.Module, scenes: list[Scene], thresholds: tuple[float, ...]) -> list[Figures]:
    """Recall of readable plates and precision (IoU ≥ 0.5), full frames at the camera's input."""
    model.eval()
    outputs = []
    with torch.no_grad():
        for scene in scenes:
            batch, scale = prepare(scene.image, LONG_SIDE)
            outputs.append((model(torch.from_numpy(batch))[0].numpy(), scale))
    model.train()
    figures = []
    for threshold in thresholds:
        found = wanted = right = claimed = 0
        for scene, (out, scale) in zip(scenes, outputs, strict=True):
            h, w = scene.image.shape[:2]
            boxes = [
                d.box for d in decode(out, scale=scale, threshold=threshold, frame_size=(w, h))
            ]
            truth = [(plate_box(p.quad), p.readable) for p in scene.plates]
            for box, readable in truth:
                hit = any(_box_iou(box, tuple(map(float, b))) >= 0.5 for b in boxes)
                wanted += readable
                found += readable and hit
            for b in boxes:
                claimed += 1
                # A box on any plate, readable or not, is no false alarm.
                right += any(_box_iou(t, tuple(map(float, b))) >= 0.5 for t, _ in truth)
        figures.append(Figures(threshold, found / max(wanted, 1), right / max(claimed, 1)))
    return figures


def choose(figures: list[Figures], min_precision: float = 0.95) -> Figures:
    """The threshold of best recall among those holding ``min_precision`` (else best F1)."""
    good = [f for f in figures if f.precision >= min_precision]
    if good:
        return max(good, key=lambda f: (f.recall, f.precision))
    return max(
        figures, key=lambda f: 2 * f.recall * f.precision / max(f.recall + f.precision, 1e-9)
    )


@dataclass
class Result:
    """What a training run produced, for the manifest and the model card."""

    steps: int
    batch: int
    seed: int
    width: int
    per_scene: int
    parameters: int
    seconds: float
    final_loss: float
    threshold: float
    synthetic_recall: float
    synthetic_precision: float
    validation_scenes: int
    lr: float
    workers: int
    clutter: float = 0.0
    torch_version: str = torch.__version__
    cpu: str = platform.processor() or platform.machine()


THRESHOLDS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7)


def train(
    *, steps: int, batch: int, seed: int, width: int, lr: float, val: int, workers: int,
    per_scene: int, clutter: float = 0.0,
) -> tuple[PlateDetector, Result]:  # fmt: skip
    """Train from scratch; returns the model (eval mode) and its figures."""
    torch.manual_seed(seed)
    torch.set_num_threads(1 if workers else 2)
    cv2.setNumThreads(1)
    model = PlateDetector(width)
    pool = 8 * batch
    scenes_needed = -(-(steps * batch + pool) // per_scene)
    loader = DataLoader(
        ScenePatches(seed, scenes_needed, per_scene, clutter), batch_size=None, num_workers=workers,
        prefetch_factor=4 * batch if workers else None, worker_init_fn=_one_cv2_thread,
    )  # fmt: skip
    val_sampler = SceneSampler(seed + 1)
    holdout = [val_sampler.scene_at(i) for i in range(val)]
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    schedule: torch.optim.lr_scheduler.LRScheduler = (
        torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=lr, total_steps=steps, pct_start=0.1)
        if steps >= 20
        else torch.optim.lr_scheduler.ConstantLR(optimiser, factor=1.0)
    )
    start = time.perf_counter()
    loss_avg = 0.0
    with Progress(
        TextColumn("[bold]train-detector"), BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TextColumn("loss {task.fields[loss]:.3f}  synth {task.fields[fig]}"),
        TimeRemainingColumn(), console=console,
    ) as progress:  # fmt: skip
        task = progress.add_task("train", total=steps, loss=0.0, fig="-")
        batches = shuffled(iter(loader), pool, batch, seed)
        for step in range(1, steps + 1):
            x, score, weight, dist, pos = next(batches)
            score_loss, box_loss = losses(model(x), score, weight, dist, pos)
            loss = score_loss + box_loss
            optimiser.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimiser.step()
            schedule.step()
            loss_avg = 0.98 * loss_avg + 0.02 * loss.item() if step > 1 else loss.item()
            progress.update(task, completed=step, loss=loss_avg)
            if step % max(steps // 10, 1) == 0 or step == steps:
                best = choose(validate(model, holdout, THRESHOLDS))
                fig = f"recall {best.recall:.1%} precision {best.precision:.1%} @{best.threshold}"
                progress.update(task, fig=fig)
                if not console.is_terminal:
                    elapsed = time.perf_counter() - start
                    console.log(f"step {step}/{steps} loss {loss_avg:.3f} {fig} "
                                f"{elapsed / 60:.1f} min")  # fmt: skip
    model.eval()
    best = choose(validate(model, holdout, THRESHOLDS))
    result = Result(
        steps=steps, batch=batch, seed=seed, width=width, per_scene=per_scene,
        parameters=sum(p.numel() for p in model.parameters()),
        seconds=time.perf_counter() - start, final_loss=loss_avg, threshold=best.threshold,
        synthetic_recall=best.recall, synthetic_precision=best.precision, validation_scenes=val,
        lr=lr, workers=workers, clutter=clutter,
    )  # fmt: skip
    return model, result


def _one_cv2_thread(_: int) -> None:
    cv2.setNumThreads(1)


def export(model: PlateDetector, result: Result, out: Path) -> Path:
    """Write ``plate_detector.onnx``, its manifest (SHA-256) and model card; return the manifest.

    Written and checked in a scratch folder first; moved into ``out`` only
    when the exported graph agrees with the trained model.
    """
    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out) as scratch_name:
        scratch = Path(scratch_name)
        onnx_path = scratch / "plate_detector.onnx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(
                model, (torch.zeros(1, 3, 384, 640),), str(onnx_path), input_names=["image"],
                output_names=["maps"], opset_version=17, dynamo=False,
                dynamic_axes={"image": {0: "batch", 2: "height", 3: "width"},
                              "maps": {0: "batch", 2: "rows", 3: "columns"}},
            )  # fmt: skip
        digest = hashlib.sha256(onnx_path.read_bytes()).hexdigest()
        manifest = scratch / "plate_detector.json"
        fields = {
            "file": onnx_path.name,
            "sha256": digest,
            "input": {"long_side": LONG_SIDE, "channels": 3, "order": "BGR", "scale": "x/255",
                      "align": 32},
            "output": {"stride": STRIDE, "channels": ["score", "left", "top", "right", "bottom"]},
            "decoder": {"threshold": result.threshold, "nms_iou": NMS_IOU},
            "training": dataclasses.asdict(result),
        }  # fmt: skip
        manifest.write_text(json.dumps(fields, indent=2) + "\n")
        check = torch.rand(2, 3, 256, 320)
        with torch.no_grad():
            expected = model(check).numpy()
        loaded = Detector(manifest, unsafe_trust_manifest=True)
        if not np.allclose(loaded.run(check.numpy()), expected, atol=1e-3):
            raise RuntimeError("exported ONNX model disagrees with the trained one")
        _write_card(scratch / "plate_detector.md", result, onnx_path)
        for name in ("plate_detector.onnx", "plate_detector.json", "plate_detector.md"):
            (scratch / name).replace(out / name)
    console.print(f"model SHA-256 {digest}: set PINNED_SHA256 in detect/detector.py to ship it")
    return out / "plate_detector.json"


def _write_card(path: Path, result: Result, onnx_path: Path) -> None:
    digest = hashlib.sha256(onnx_path.read_bytes()).hexdigest()
    rows = [
        ("task", "find licence plates (one class) in a road frame: a box and a score each"),
        ("architecture", "depthwise-separable CNN to 1/16 (dilated top stage), top-down path "
         "to 1/4, per-cell plate score and 4 log-distances to the box edges (EAST/FCOS-style, "
         "anchor-free); boxes = score-weighted mean over each connected region, then NMS"),
        ("input", f"BGR frame resized so its long side is {LONG_SIDE} px, padded to a multiple "
         "of 32, scaled to [0, 1]"),
        ("parameters", f"{result.parameters:,} (width {result.width})"),
        ("file", f"{onnx_path.stat().st_size // 1024} KiB, SHA-256 `{digest}` (checked at load)"),
        ("data", f"rendered scenes only (`underseal_device.synth.scenes`, seed {result.seed}): "
         f"{result.steps:,} steps × {result.batch} patches of {PATCH} px, {result.per_scene} per "
         "scene at random scales"
         + (f"; natural clutter (`synth.clutter`: foliage, grass, gravel, wheels, grilles) "
            f"pasted away from the plates, each kind with probability {result.clutter}"
            if result.clutter else "")
         + "; no real photograph"),
        ("training", f"AdamW, one-cycle LR, focal + IoU loss, CPU, {result.seconds / 60:.1f} min"),
        ("synthetic figures", f"recall {result.synthetic_recall:.1%} of readable plates, "
         f"precision {result.synthetic_precision:.1%} (IoU ≥ 0.5) on {result.validation_scenes} "
         f"held-out scenes (seed {result.seed + 1}) at threshold {result.threshold}"),
        ("licence", "Apache-2.0, as the project; fonts as in plate_ocr.md"),
        ("limits", "trained on rendered US-style plates on drawn vehicles; real-photo figures "
         "come from `make eval` on openalpr's development half, never trained on"),
    ]  # fmt: skip
    table = "\n".join(f"| {k} | {v} |" for k, v in rows)
    path.write_text(
        "# Model card: plate_detector.onnx\n\n"
        f"Written by `make train-detector` (Python {platform.python_version()}, torch "
        f"{torch.__version__}). Real-scene figures: `make eval` (`bench/results/reader.json`).\n\n"
        f"| | |\n|---|---|\n{table}\n"
    )


app = typer.Typer(add_completion=False, help=__doc__)


@app.command()
def main(
    steps: Annotated[int, typer.Option(help="optimiser steps")] = 3_500,
    batch: Annotated[int, typer.Option(help="patches per step")] = 24,
    seed: Annotated[int, typer.Option(help="seed of data and initialisation")] = 1,
    width: Annotated[int, typer.Option(help="network width (channels of the stem)")] = 16,
    lr: Annotated[float, typer.Option(help="peak learning rate")] = 4e-3,
    val: Annotated[int, typer.Option(help="synthetic validation scenes")] = 120,
    workers: Annotated[int, typer.Option(help="scene-rendering processes")] = 1,
    per_scene: Annotated[int, typer.Option(help="patches cut from each scene")] = 4,
    clutter: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="probability of natural texture, and of wheels/grilles, pasted away from plates",
        ),
    ] = 0.0,
    out: Annotated[Path, typer.Option(help="output folder")] = DEFAULT_MODEL.parent,
) -> None:
    """Train the plate detector and write plate_detector.onnx, .json and .md to OUT."""
    if steps < 1 or batch < 1 or val < 1 or per_scene < 1:
        raise typer.BadParameter("steps, batch, val and per-scene must be positive")
    model, result = train(
        steps=steps, batch=batch, seed=seed, width=width, lr=lr, val=val, workers=workers,
        per_scene=per_scene, clutter=clutter,
    )  # fmt: skip
    manifest = export(model, result, out)
    console.print(
        f"wrote {manifest} ({result.parameters:,} parameters, recall {result.synthetic_recall:.1%}"
        f", precision {result.synthetic_precision:.1%} on synthetic scenes)"
    )


if __name__ == "__main__":
    app()
