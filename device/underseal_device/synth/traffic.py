"""Synthetic road traffic: seeded videos of vehicles carrying plates, every pass known.

A fixed camera watches a street (:mod:`.scenes` draws the world: sky,
buildings, road, markings, street lights, road signs and shop boards).
Vehicles drive through the view in their lanes - towards the camera showing
a front plate, or away from it showing a rear plate - each pass lasting
about 1-3 s, several at once at times, with stretches of empty road between
bursts so that motion gating has frames to skip. Plates come from
:func:`~.plates.render_plate` and grow from a few pixels to readable size (or
shrink) as perspective says. Some passes carry a plate from a given hotlist.

Use::

    spec = TrafficSpec(seed=1, seconds=20, hotlist=("7ABC123",))
    recorder = TruthRecorder(spec)
    for frame in generate(spec):       # TrafficFrame: BGR image and visible plates
        recorder.add(frame)
    truth = recorder.truth()           # every pass: text, frames, hotlist or not

or ``write_video(spec, Path("demo.mp4"))``, which writes the video and
``demo.json`` (:func:`truth_path`) beside it.

The camera. One camera per video: a long lens aimed at the approaching lane
(as plate cameras are mounted) seven times in ten, else a wide view with the
horizon in sight (never in frames too small for a wide view to show a
readable plate). Cameras stand higher than the vehicles they see, which
leave through the bottom of the view. Light (day, dusk, night, infrared), white balance, lens
blur and glow are fixed for a video; sensor noise is new in every frame.

How it stays fast. The empty street is drawn and lit once. A frame is that
background plus fresh noise; only the rectangles around vehicles are drawn
again, from the unlit background layers, then lit exactly as the
background was (the light and the camera's effects are the same per-pixel
functions, and the blur and glow are computed on a margin around the
rectangle). On one core at 1280x720 (``python -m
underseal_device.synth.traffic``, ten seeds): 60-230 frames/s while vehicles
are in view (night and large vehicles are the slow end), 500-950 on empty
road; :func:`write_video` with the mp4v encoder about 45 frames/s. Noise is
kept mild (sigma 3, or 5 at night): it is most of a video file's size
(about 35-60 kB a frame in .mp4).

Ground truth. Everything depends on the :class:`TrafficSpec` only. A plate's
``quad``, ``box``, ``visible`` and ``readable`` follow :class:`~.scenes.
PlateBox` (the box holds every pixel the plate changed before the lens blur;
``visible`` is counted from the pixels that show, after other vehicles and
hitches cover it). Plate texts are canonical and all differ after
:func:`underseal.plates.fold`, hotlist plates included, so a hotlist match
in the camera can only come from a hotlist pass. Plate texts are synthetic
test data: they are stored in the truth file, but no ``repr`` here shows one.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import cv2
import numpy as np

from underseal.plates import canonical, fold, plausible

from .degrade import _gamma_lut, _rounded
from .plates import PlateLayout, random_layout, render_plate
from .scenes import (
    _KIND_NAMES,
    _KIND_P,
    _KINDS,
    _PLATE_W_M,
    LIGHTINGS,
    READABLE_MIN_VISIBLE,
    READABLE_MIN_WIDTH,
    _add_noise,
    _apply,
    _box_of,
    _Canvas,
    _channel_lut,
    _draw_vehicle,
    _face_matrix,
    _ground,
    _in_frame,
    _Item,
    _lowfreq,
    _occluder,
    _plan_background_negatives,
    _rect,
    _sky,
    _skyline,
    _trap,
    _Vehicle,
    _vehicle_shadow,
    _width,
    _World,
)
from .scenes import _shade as _tint
from .texts import display, sample_text

__all__ = [
    "TRUTH_FORMAT",
    "VIDEO_CODECS",
    "Pass",
    "Sighting",
    "TrafficFrame",
    "TrafficPlate",
    "TrafficSpec",
    "TrafficTruth",
    "TruthRecorder",
    "generate",
    "read_truth",
    "truth_path",
    "write_video",
]

#: The ``format`` field of every truth file this module writes.
TRUTH_FORMAT = "underseal-traffic-truth/1"
#: Video file suffix -> the FourCC :func:`write_video` encodes it with (both
#: are written and read back by the opencv-python wheel).
VIDEO_CODECS: dict[str, str] = {".mp4": "mp4v", ".avi": "MJPG"}

Box = tuple[int, int, int, int]

_MAX_SECONDS = 3600.0
_MAX_FPS = 120.0
_LANE_W = 3.6  # metres
_FAR_PX = 20.0  # a vehicle narrower than this (at 1280 px wide) is not drawn


# ---------------------------------------------------------------------------
# The specification
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrafficSpec:
    """What to generate. Everything in a video depends on this and nothing else.

    The length is ``seconds`` of video, or as long as it takes for
    ``passes`` vehicles with plates to pass (then ``seconds`` must be left
    out); with neither, 20 s. In a video of given length, bursts of traffic
    are scheduled only while they end in time, so every pass is whole and
    the video ends on empty road.

    ``hotlist`` plates (any form :func:`underseal.plates.canonical` accepts,
    each :func:`underseal.plates.plausible` as a US plate) appear in turn on
    approaching vehicles in the lane the camera is aimed at, unhidden:
    each at least once, and beyond that on a pass whenever fewer than
    ``hit_share`` of the passes so far carried one. ``lighting`` is one of
    :data:`~.scenes.LIGHTINGS`, or ``None`` to draw it from the seed.

    Raises:
        ValueError: a negative seed; a size outside 64-4096 px; fps not in
            (0, 120]; seconds not in (0, 3600] or too short for one frame;
            passes < 1, or passes together with seconds; hit_share outside
            0-1; an unknown lighting; a hotlist entry that is not a plausible
            plate (the message names its position, never its text) or that
            repeats another.
    """

    seed: int
    width: int = 1280
    height: int = 720
    fps: float = 15.0
    seconds: float | None = None
    passes: int | None = None
    hotlist: Sequence[str] = ()
    hit_share: float = 0.2
    lighting: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError("seed must be a non-negative integer")
        for name in ("width", "height"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 64 <= value <= 4096:
                raise ValueError(f"{name} must be an integer between 64 and 4096 pixels")
        if isinstance(self.fps, bool) or not (
            isinstance(self.fps, int | float) and 0 < self.fps <= _MAX_FPS
        ):
            raise ValueError(f"fps must be a number above 0 and at most {_MAX_FPS:g}")
        if self.seconds is not None and self.passes is not None:
            raise ValueError("give seconds or passes, not both")
        if self.seconds is not None:
            if not (isinstance(self.seconds, int | float) and 0 < self.seconds <= _MAX_SECONDS):
                raise ValueError(f"seconds must be above 0 and at most {_MAX_SECONDS:g}")
            if round(self.seconds * self.fps) < 1:
                raise ValueError("seconds * fps must give at least one frame")
        if self.passes is not None and (
            isinstance(self.passes, bool) or not isinstance(self.passes, int) or self.passes < 1
        ):
            raise ValueError("passes must be a positive integer")
        if not (isinstance(self.hit_share, int | float) and 0.0 <= self.hit_share <= 1.0):
            raise ValueError("hit_share must be between 0 and 1")
        if self.lighting is not None and self.lighting not in LIGHTINGS:
            raise ValueError(f"lighting must be one of {', '.join(LIGHTINGS)} or None")
        if isinstance(self.hotlist, str):
            raise ValueError("hotlist must be a sequence of plate texts, not one string")
        seen: dict[str, int] = {}
        texts: list[str] = []
        for i, entry in enumerate(self.hotlist):
            if not isinstance(entry, str):
                raise ValueError(f"hotlist entry {i} is not a string")
            verdict = plausible(entry)
            if not verdict:
                raise ValueError(f"hotlist entry {i} is not a valid plate: {verdict.detail}")
            text = canonical(entry)
            if text in seen:
                raise ValueError(f"hotlist entries {seen[text]} and {i} are the same plate")
            seen[text] = i
            texts.append(text)
        object.__setattr__(self, "hotlist", tuple(texts))

    @property
    def length_s(self) -> float | None:
        """The asked length in seconds (20 when neither it nor ``passes`` is given)."""
        if self.passes is not None:
            return None
        return 20.0 if self.seconds is None else float(self.seconds)

    def __repr__(self) -> str:
        length = f"passes={self.passes}" if self.passes is not None else f"seconds={self.length_s}"
        return (
            f"TrafficSpec(seed={self.seed}, {self.width}x{self.height}, fps={self.fps}, {length}, "
            f"hotlist=<{len(self.hotlist)} plates>, hit_share={self.hit_share}, "
            f"lighting={self.lighting})"
        )


# ---------------------------------------------------------------------------
# What comes out
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class TrafficPlate:
    """One plate in one frame; see :class:`~.scenes.PlateBox` for the fields.

    ``pass_id`` is the :attr:`Pass.id` of the vehicle carrying it.
    """

    pass_id: int
    quad: np.ndarray
    box: Box
    text: str
    visible: float
    readable: bool

    @property
    def width(self) -> float:
        """Mean length in pixels of the plate's top and bottom edges."""
        return _width(self.quad)

    def __repr__(self) -> str:
        return (
            f"TrafficPlate(pass={self.pass_id}, box={self.box}, <{len(self.text)} chars>, "
            f"visible={self.visible:.2f}, readable={self.readable})"
        )


@dataclass(frozen=True, slots=True, eq=False)
class TrafficFrame:
    """Frame ``index`` (at ``index / fps`` seconds): BGR uint8 image and the plates in it.

    ``vehicles`` counts the vehicles in view, with a plate or not. With none
    the frame is the empty road: it differs from the previous still frame
    by sensor noise only.
    """

    index: int
    time_s: float
    image: np.ndarray
    plates: tuple[TrafficPlate, ...]
    vehicles: int

    @property
    def moving(self) -> bool:
        """Whether anything moves in this frame (a vehicle is in view)."""
        return self.vehicles > 0

    def __repr__(self) -> str:
        return (
            f"TrafficFrame(index={self.index}, plates={len(self.plates)}, vehicles={self.vehicles})"
        )


class Sighting(NamedTuple):
    """A pass's plate in one frame: where, how much of it shows, and readable or not."""

    frame: int
    box: Box
    visible: float
    readable: bool


@dataclass(frozen=True, slots=True)
class Pass:
    """One vehicle with a plate passing through the view.

    ``text`` is canonical; ``hotlist`` says whether it is one of the spec's
    hotlist plates. ``direction`` is ``"approaching"`` (front plate) or
    ``"receding"`` (rear plate). ``first_frame``/``last_frame`` bound the
    frames where any of the plate shows (both ``None`` if it never did);
    ``sightings`` lists those frames; ``readable_frames`` counts the ones
    where it is readable (:data:`~.scenes.READABLE_MIN_WIDTH` wide and
    :data:`~.scenes.READABLE_MIN_VISIBLE` showing).
    """

    id: int
    text: str = field(repr=False)
    hotlist: bool
    kind: str
    direction: str
    first_frame: int | None
    last_frame: int | None
    readable_frames: int
    max_width: float
    sightings: tuple[Sighting, ...] = field(repr=False)

    @property
    def readable(self) -> bool:
        """Whether the plate is readable in at least one frame."""
        return self.readable_frames > 0

    def __repr__(self) -> str:
        return (
            f"Pass(id={self.id}, <{len(self.text)} chars>, hotlist={self.hotlist}, "
            f"{self.direction} {self.kind}, frames={self.first_frame}-{self.last_frame}, "
            f"readable_frames={self.readable_frames})"
        )


@dataclass(frozen=True, slots=True)
class TrafficTruth:
    """The ground truth of a video: its passes and its still stretches.

    ``still`` lists inclusive frame ranges ``(first, last)`` in which no
    vehicle is in view. ``video`` is the video's file name (no folder) when
    written by :func:`write_video`, else ``""``.
    """

    seed: int
    width: int
    height: int
    fps: float
    frames: int
    lighting: str
    hotlist: tuple[str, ...] = field(repr=False)
    passes: tuple[Pass, ...] = field(repr=False)
    still: tuple[tuple[int, int], ...] = field(repr=False)
    video: str = ""

    @property
    def hits(self) -> tuple[Pass, ...]:
        """The passes that carry a hotlist plate."""
        return tuple(p for p in self.passes if p.hotlist)

    def __repr__(self) -> str:
        return (
            f"TrafficTruth(seed={self.seed}, {self.width}x{self.height}, fps={self.fps}, "
            f"frames={self.frames}, {self.lighting}, passes={len(self.passes)}, "
            f"hits={len(self.hits)}, still={len(self.still)} stretches)"
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (:data:`TRUTH_FORMAT`)."""
        return {
            "format": TRUTH_FORMAT,
            "video": self.video,
            "seed": self.seed,
            "width": self.width,
            "height": self.height,
            "fps": self.fps,
            "frames": self.frames,
            "lighting": self.lighting,
            "hotlist": list(self.hotlist),
            "still": [list(s) for s in self.still],
            "passes": [
                {
                    "id": p.id,
                    "text": p.text,
                    "hotlist": p.hotlist,
                    "kind": p.kind,
                    "direction": p.direction,
                    "first_frame": p.first_frame,
                    "last_frame": p.last_frame,
                    "readable_frames": p.readable_frames,
                    "max_width": p.max_width,
                    "sightings": [[s.frame, *s.box, s.visible, s.readable] for s in p.sightings],
                }
                for p in self.passes
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrafficTruth:
        """The truth a :meth:`to_json` dict holds.

        Raises:
            ValueError: ``data`` is not a truth of :data:`TRUTH_FORMAT`.
        """
        if not isinstance(data, dict) or data.get("format") != TRUTH_FORMAT:
            raise ValueError(f"not a traffic truth of format {TRUTH_FORMAT}")
        try:
            passes = tuple(
                Pass(
                    id=int(p["id"]),
                    text=str(p["text"]),
                    hotlist=bool(p["hotlist"]),
                    kind=str(p["kind"]),
                    direction=str(p["direction"]),
                    first_frame=None if p["first_frame"] is None else int(p["first_frame"]),
                    last_frame=None if p["last_frame"] is None else int(p["last_frame"]),
                    readable_frames=int(p["readable_frames"]),
                    max_width=float(p["max_width"]),
                    sightings=tuple(
                        Sighting(
                            int(s[0]),
                            (int(s[1]), int(s[2]), int(s[3]), int(s[4])),
                            float(s[5]),
                            bool(s[6]),
                        )
                        for s in p["sightings"]
                    ),
                )
                for p in data["passes"]
            )
            return cls(
                seed=int(data["seed"]),
                width=int(data["width"]),
                height=int(data["height"]),
                fps=float(data["fps"]),
                frames=int(data["frames"]),
                lighting=str(data["lighting"]),
                hotlist=tuple(str(t) for t in data["hotlist"]),
                passes=passes,
                still=tuple((int(a), int(b)) for a, b in data["still"]),
                video=str(data["video"]),
            )
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise ValueError("malformed traffic truth") from exc


# ---------------------------------------------------------------------------
# The camera and the street
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Lane:
    x_m: float  # centre, metres from the camera's axis
    approaching: bool


def _camera(rng: np.random.Generator, w: int, h: int, lighting: str) -> tuple[_World, list[_Lane]]:
    """A plate camera's view of a street, and the lanes (the first is the one it aims at)."""
    tele = bool(rng.random() < 0.7)
    # A wide view of a small frame never shows a plate large enough to read.
    cam_wide = float(rng.uniform(2.2, 3.4))
    y_h_wide = float(rng.uniform(0.12, 0.3)) * h
    if _PLATE_W_M * (0.9 * h - y_h_wide) / (cam_wide - 0.36) < 1.4 * READABLE_MIN_WIDTH:
        tele = True
    n_lanes = int(rng.choice([2, 3, 4], p=[0.35, 0.35, 0.3]))
    n_app = (n_lanes + 1) // 2
    main = int(rng.integers(n_app))
    # Cameras sit on poles and gantries above the roofs of the vehicles they
    # watch, so that traffic leaves the view through its bottom edge.
    if tele:
        cam_h = float(rng.uniform(3.3, 5.0))
        focal = float(rng.uniform(1.3, 2.6)) * w
    else:
        cam_h = cam_wide
        focal = float(rng.uniform(0.8, 1.3)) * w
    yaw = 0.0
    if rng.random() < 0.6:
        lim = math.atan(0.15 * w / focal)
        yaw = float(rng.uniform(-lim, lim))
    vp_x = w / 2 - focal * math.tan(yaw)
    if tele:
        # Aimed: the main lane's front plate is ``aim_px`` wide at (x_aim, y_aim).
        aim_px = float(rng.uniform(60, 100)) * min(2.0, max(0.75, w / 1280))
        z_aim = focal * _PLATE_W_M / aim_px
        y_aim = float(rng.uniform(0.45, 0.65)) * h
        y_h = y_aim - focal * (cam_h - 0.36) / z_aim
        # Off centre, towards the side away from the next lane, so that lane
        # (the other approaching one, else the first receding one) shows too.
        toward = 1.0 if main == 0 else -1.0
        x_aim = (0.5 - toward * float(rng.uniform(0.1, 0.22))) * w
    else:
        # The horizon in view; the lane passes to one side, crossing 80 % of
        # the frame's height at x_aim.
        y_h = y_h_wide
        z_aim = focal * (cam_h - 0.36) / (0.8 * h - y_h)
        x_aim = w / 2 + float(rng.choice([-1.0, 1.0]) * rng.uniform(0.12, 0.3)) * w
    lane_x = (x_aim - vp_x) * z_aim / focal
    road_half = n_lanes * _LANE_W / 2
    road_axis = lane_x - (-road_half + (main + 0.5) * _LANE_W)
    roll = math.radians(float(rng.normal(0, 1.2)))
    cr, sr = math.cos(roll), math.sin(roll)
    cx, cy = w / 2, h / 2
    g = np.array([[cr, -sr, cx - cr * cx + sr * cy], [sr, cr, cy - sr * cx - cr * cy], [0, 0, 1]])
    world = _World(
        w=w,
        h=h,
        lighting=lighting,
        zoom=tele,
        y_h=y_h,
        cam_h=cam_h,
        focal=focal,
        yaw=yaw,
        g=g,
        vp=np.array([vp_x, y_h]),
        road_half=road_half,
        road_axis=road_axis,
        walls=float(rng.uniform(2.5, 7.0)) if rng.random() < 0.55 else 0.0,
    )
    lanes = [_Lane(road_axis - road_half + (i + 0.5) * _LANE_W, i < n_app) for i in range(n_lanes)]
    lanes.insert(0, lanes.pop(main))
    return world, lanes


# ---------------------------------------------------------------------------
# Vehicles and their motion
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _PlateSpec:
    pass_id: int
    text: str  # canonical
    displayed: str
    layout: PlateLayout
    hotlist: bool


@dataclass(frozen=True, slots=True)
class _Car:
    """One vehicle's pass: where it drives, when, how fast, and its plate."""

    lane: _Lane
    kind: str
    f0: int  # first frame it is placed in (it may still be out of view)
    f1: int  # frame after its last
    z0: float  # distance (metres) of its near face at frame f0
    dz: float  # metres per frame: negative when approaching
    yaw: float
    roll: float
    px_local: float  # plate centre across the face, in vehicle widths
    tilt: float
    plate: _PlateSpec | None
    occluder: str
    seed: int  # paint and glass

    @property
    def view(self) -> str:
        return "front" if self.lane.approaching else "rear"

    def z(self, frame: int) -> float:
        return self.z0 + self.dz * (frame - self.f0)


@dataclass(slots=True)
class _Pose:
    vehicle: _Vehicle
    quad: np.ndarray | None  # the plate's corners in frame pixels
    box: Box  # everything drawn for the vehicle (body, shadow, plate), clipped


def _plate_h(kind: str, view: str) -> float:
    k = _KINDS[kind]
    return (k.plate_h if view == "rear" else 0.2) * k.width_m


def _pose(world: _World, car: _Car, z: float) -> _Pose:
    """The vehicle ``car`` with its near face ``z`` metres from the camera."""
    kd = _KINDS[car.kind]
    z = max(z, 0.3)
    scale = world.focal / z
    wv = kd.width_m * scale
    plate_hm = _plate_h(car.kind, car.view)
    x_m = car.lane.x_m + car.px_local * kd.width_m
    anchor = world.ground(x_m, z, plate_hm)
    centre = np.array([car.px_local, -plate_hm / kd.width_m])
    m = _face_matrix(wv, car.yaw, max(2.0, world.focal / wv), car.roll, anchor, centre)
    zeta = z / (z + kd.length_m)
    corners: np.ndarray | None = None
    quad: np.ndarray | None = None
    if car.plate is not None:
        ct, st = math.cos(car.tilt), math.sin(car.tilt)
        base = np.array([[-0.5, -0.25], [0.5, -0.25], [0.5, 0.25], [-0.5, 0.25]])
        corners = base * (_PLATE_W_M / kd.width_m) @ np.array([[ct, st], [-st, ct]]) + centre
        quad = _apply(world.g @ m, corners).astype(np.float32)
    v = _Vehicle(
        kind=car.kind,
        view=car.view,
        m=m,
        vp=world.vp,
        zeta=zeta,
        depth=-z,
        plate=0 if car.plate is not None else -1,
        plate_local=corners,
        occluder=car.occluder,
    )
    sil = np.concatenate(
        [_rect(-0.5, 0.0, 0.5, kd.body), _trap(kd.cab_bottom, kd.cab_top, kd.body, kd.top)]
    )
    near = _apply(m, sil)
    pts = [near, world.vp + (near - world.vp) * zeta, _vehicle_shadow(v)]
    px = _apply(world.g, np.concatenate(pts))
    box = _box_of(px, world.w, world.h)
    if quad is not None:
        qb = _box_of(quad, world.w, world.h)
        if qb[2] > qb[0] and qb[3] > qb[1]:
            box = _union(box, qb) if _nonempty(box) else qb
    return _Pose(v, quad, box)


def _nonempty(b: Box) -> bool:
    return b[2] > b[0] and b[3] > b[1]


def _union(a: Box, b: Box) -> Box:
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def _grow(b: Box, d: int, w: int, h: int) -> Box:
    return max(0, b[0] - d), max(0, b[1] - d), min(w, b[2] + d), min(h, b[3] + d)


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _span(world: _World, car: _Car) -> tuple[float, float] | None:
    """Distances (start, end) between which ``car`` is in view and not tiny; None if never."""
    kd = _KINDS[car.kind]
    min_wv = _FAR_PX * world.w / 1280
    zs = np.geomspace(0.4, 400.0, 150)
    seen = []
    for z in zs:
        box = _pose(world, car, float(z)).box
        seen.append(_nonempty(box) and kd.width_m * world.focal / z >= min_wv)
    idx = [i for i, s in enumerate(seen) if s]
    if not idx:
        return None
    if car.lane.approaching:
        # From the farthest point in view towards the camera until it leaves.
        hi = idx[-1]
        lo = hi
        while lo > 0 and seen[lo - 1]:
            lo -= 1
        return float(zs[min(hi + 1, len(zs) - 1)]), float(zs[max(lo - 1, 0)])
    lo = idx[0]
    hi = lo
    while hi < len(zs) - 1 and seen[hi + 1]:
        hi += 1
    return float(zs[max(lo - 1, 0)]), float(zs[min(hi + 1, len(zs) - 1)])


# ---------------------------------------------------------------------------
# The plan: which vehicles pass when
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Plan:
    world: _World
    frames: int
    cars: tuple[_Car, ...]  # by first frame


def _draw_lighting(spec: TrafficSpec) -> str:
    if spec.lighting is not None:
        return spec.lighting
    rng = np.random.default_rng((spec.seed, 5, 9))
    return LIGHTINGS[int(rng.choice(len(LIGHTINGS), p=[0.52, 0.14, 0.18, 0.16]))]


class _Scheduler:
    def __init__(self, spec: TrafficSpec, world: _World, lanes: list[_Lane]) -> None:
        self.spec = spec
        self.world = world
        self.fps = float(spec.fps)
        self.rng = np.random.default_rng((spec.seed, 5, 1))
        self.lanes = lanes
        self.cars: list[_Car] = []
        self.plated = 0
        self.hits = 0
        self.folds = {fold(t) for t in spec.hotlist}
        self.showing = [lane for lane in lanes if self._shows_plates(lane)]

    def _shows_plates(self, lane: _Lane) -> bool:
        """Whether a car in ``lane`` ever shows its whole plate in the frame."""
        dummy = _PlateSpec(-1, "", "", random_layout(np.random.default_rng(0)), False)
        car = _Car(lane, "sedan", 0, 1, 0.0, 0.0, self.world.yaw, 0.0, 0.0, 0.0, dummy, "none", 0)
        span = _span(self.world, car)
        if span is None:
            return False
        for z in np.geomspace(min(span), max(span), 40):
            q = _pose(self.world, car, float(z)).quad
            assert q is not None
            if _width(q) >= 16 and _in_frame(q, self.world.w, self.world.h) > 0.99:
                return True
        return False

    def role_is_hit(self) -> bool:
        """Whether the next plated pass carries a hotlist plate (see TrafficSpec)."""
        n_hot = len(self.spec.hotlist)
        if n_hot == 0:
            return False
        if self.hits < n_hot:
            return True
        return self.hits < self.spec.hit_share * (self.plated + 1)

    def plate(self, hit: bool) -> _PlateSpec:
        pass_id = self.plated
        prng = np.random.default_rng((self.spec.seed, 5, 2, pass_id))
        layout = random_layout(prng)
        if hit:
            text = self.spec.hotlist[self.hits % len(self.spec.hotlist)]
            shown = display(text, layout.separator, prng)
        else:
            for _ in range(100):
                sample = sample_text(
                    prng, separator=layout.separator, jurisdiction=layout.jurisdiction
                )
                if fold(sample.canonical) not in self.folds:
                    break
            text, shown = sample.canonical, sample.displayed
            self.folds.add(fold(text))
        return _PlateSpec(pass_id, text, shown, layout, hit)

    def car(
        self, lane: _Lane, start: int, *, plate: _PlateSpec | None, slower_than: float = math.inf
    ) -> _Car | None:
        """A car entering at frame ``start`` in ``lane``, or None if that lane shows none."""
        rng = self.rng
        kind = _KIND_NAMES[int(rng.choice(len(_KIND_NAMES), p=_KIND_P))]
        if lane.approaching and kind == "truck":
            kind = "van"
        if _KINDS[kind].top * _KINDS[kind].width_m > self.world.cam_h - 0.1:
            kind = "sedan"  # taller than the camera: it would never leave the view
        occluder = "none"
        rear_plate = plate is not None and not plate.hotlist and not lane.approaching
        if rear_plate and rng.random() < 0.06:
            occluder = "hitch" if rng.random() < 0.5 else "rack"
        px_local = 0.0 if rng.random() < 0.8 else float(rng.uniform(-0.12, 0.12))
        if kind == "truck":
            px_local = float(rng.uniform(-0.3, 0.3))
        car = _Car(
            lane=_Lane(lane.x_m + float(rng.uniform(-0.4, 0.4)), lane.approaching),
            kind=kind,
            f0=start,
            f1=start + 1,
            z0=0.0,
            dz=0.0,
            yaw=self.world.yaw + math.radians(float(rng.normal(0, 2.0))),
            roll=math.radians(float(rng.normal(0, 1.0))),
            px_local=px_local,
            tilt=math.radians(float(rng.normal(0, 1.2))),
            plate=plate,
            occluder=occluder,
            seed=int(rng.integers(1 << 62)),
        )
        span = _span(self.world, car)
        if span is None:
            return None
        z_a, z_b = span
        dist = abs(z_b - z_a)
        # A city-to-highway speed, bent so that a pass lasts about 1-3 s: up
        # to 35 m/s, and beyond that the far end of the road is cut (a wide
        # view sees vehicles a long way off; they appear there).
        speed = float(rng.uniform(8.0, 22.0))
        t_min, t_max = float(rng.uniform(1.0, 1.6)), float(rng.uniform(2.4, 3.2))
        if dist / speed > t_max:
            speed = min(dist / t_max, 35.0)
            if dist / speed > t_max:
                dist = speed * t_max
                if lane.approaching:
                    z_a = z_b + dist
                else:
                    z_b = z_a + dist
        elif dist / speed < t_min:
            speed = max(dist / t_min, 3.0)
        speed = min(speed, slower_than)
        for _ in range(20):
            n = max(2, math.ceil(dist / speed * self.fps) + 1)
            dz = (z_b - z_a) / (n - 1)
            trial = _replace_motion(car, z_a, dz, start, start + n)
            if plate is None or not plate.hotlist or self._readable_frames(trial) >= 3:
                break
            speed *= 0.8  # a hotlist pass must be readable for a few frames
        if plate is not None and not self._shown(trial):
            return None  # a plate never in view: no pass to speak of
        return trial

    def _shown(self, car: _Car) -> bool:
        for f in range(car.f0, car.f1):
            q = _pose(self.world, car, car.z(f)).quad
            if q is not None and _in_frame(q, self.world.w, self.world.h) > 0.5:
                return True
        return False

    def _readable_frames(self, car: _Car) -> int:
        n = 0
        for f in range(car.f0, car.f1):
            q = _pose(self.world, car, car.z(f)).quad
            if q is not None and _width(q) >= 1.1 * READABLE_MIN_WIDTH:
                n += _in_frame(q, self.world.w, self.world.h) > 0.99
        return n

    def clear(self, hit: _Car, other: _Car) -> bool:
        """Whether ``other`` never covers ``hit``'s plate."""
        for f in range(max(hit.f0, other.f0), min(hit.f1, other.f1)):
            if other.z(f) >= hit.z(f):
                continue  # farther: drawn first, behind
            ph = _pose(self.world, hit, hit.z(f))
            if ph.quad is None:
                continue
            pb = _grow(_box_of(ph.quad, self.world.w, self.world.h), 3, self.world.w, self.world.h)
            if _nonempty(pb) and _overlap(pb, _pose(self.world, other, other.z(f)).box):
                return False
        return True

    def same_lane_ok(self, lane: _Lane, start: int) -> tuple[bool, float]:
        """Whether a car may enter ``lane`` at ``start``, and the speed it must keep under."""
        limit = math.inf
        for c in self.cars:
            if c.lane.approaching != lane.approaching or abs(c.lane.x_m - lane.x_m) > 1.5:
                continue
            if c.f1 <= start:
                continue
            gap = abs(c.dz) * (start - c.f0)
            if gap < _KINDS[c.kind].length_m + 5.0:
                return False, 0.0
            limit = min(limit, abs(c.dz) * self.fps)
        return True, limit

    def burst(self, start: int) -> list[_Car]:
        """One to three cars entering from ``start`` on; the first leads."""
        rng = self.rng
        n = int(rng.choice([1, 2, 3], p=[0.5, 0.32, 0.18]))
        placed: list[_Car] = []
        hit_car: _Car | None = None
        for k in range(n):
            offset = 0 if k == 0 else round(float(rng.uniform(0.0, 1.4)) * self.fps)
            at = start + offset
            hit = self.role_is_hit()
            if hit and k > 0:
                break  # a hotlist pass leads its own burst
            if hit:
                lane = self.lanes[0]
            elif self.showing and rng.random() < 0.85:
                lane = self.showing[int(rng.integers(len(self.showing)))]
            else:
                lane = self.lanes[int(rng.integers(len(self.lanes)))]
            # Some vehicles show no plate: a lane out of sight, or no front plate.
            bare = not hit and (
                lane not in self.showing or (lane.approaching and rng.random() < 0.1)
            )
            ok, limit = self.same_lane_ok(lane, at)
            if not ok:
                if k == 0:
                    return []
                continue
            plate = None if bare else self.plate(hit)
            car = self.car(lane, at, plate=plate, slower_than=limit)
            if car is None:
                continue
            if hit_car is not None and not self.clear(hit_car, car):
                continue
            if hit:
                hit_car = car
            placed.append(car)
            self.cars.append(car)
            if plate is not None:
                self.plated += 1
                self.hits += hit
        return placed


def _replace_motion(car: _Car, z0: float, dz: float, f0: int, f1: int) -> _Car:
    return _Car(
        lane=car.lane, kind=car.kind, f0=f0, f1=f1, z0=z0, dz=dz, yaw=car.yaw, roll=car.roll,
        px_local=car.px_local, tilt=car.tilt, plate=car.plate, occluder=car.occluder,
        seed=car.seed,
    )  # fmt: skip


@lru_cache(maxsize=4)
def _plan(spec: TrafficSpec) -> _Plan:
    """Where the camera is and which vehicles pass when. Cheap: nothing is drawn.

    Raises:
        ValueError: the video is too short to show every hotlist plate.
    """
    fps = float(spec.fps)
    world, lanes = _camera(
        np.random.default_rng((spec.seed, 5, 0)), spec.width, spec.height, _draw_lighting(spec)
    )
    sched = _Scheduler(spec, world, lanes)
    rng = sched.rng
    limit = None if spec.length_s is None else round(spec.length_s * fps)
    t = round(float(rng.uniform(0.7, 1.5)) * fps)  # the video opens on empty road
    misses = 0
    while True:
        if spec.passes is not None and sched.plated >= spec.passes:
            break
        before = (list(sched.cars), sched.plated, sched.hits, set(sched.folds))
        cars = sched.burst(t)
        end = max((c.f1 for c in cars), default=t + 1)
        if limit is not None and end > limit:
            # Does not fit: undo it; the rest of the video is empty road.
            sched.cars, sched.plated, sched.hits, sched.folds = before
            break
        if not cars:
            misses += 1
            if misses > 50:
                raise ValueError("this camera view shows no lane traffic can use")
            t += max(1, round(0.3 * fps))
            continue
        misses = 0
        if spec.passes is not None and sched.plated > spec.passes:
            # The burst overshot: keep its cars up to the asked number of plates.
            sched.cars, sched.plated, sched.hits, sched.folds = before
            for c in cars:
                if c.plate is not None and sched.plated >= spec.passes:
                    continue
                sched.cars.append(c)
                sched.plated += c.plate is not None
                sched.hits += c.plate is not None and c.plate.hotlist
            end = max(c.f1 for c in sched.cars)
        # Busy traffic sometimes runs on; mostly the road empties for a while.
        if rng.random() < 0.25:
            t = max(t + round(0.8 * fps), end - round(float(rng.uniform(0.3, 1.0)) * fps))
        else:
            t = end + max(2, round(float(rng.uniform(0.8, 3.0)) * fps))
    if sched.hits < len(spec.hotlist):
        raise ValueError(
            f"the video has room for {sched.hits} hotlist passes but the hotlist has "
            f"{len(spec.hotlist)} plates: give more seconds or passes"
        )
    if limit is None:
        frames = max((c.f1 for c in sched.cars), default=1) + round(
            float(rng.uniform(1.0, 2.0)) * fps
        )
    else:
        frames = limit
    ordered = tuple(sorted(sched.cars, key=lambda c: (c.f0, c.plate is None)))
    return _Plan(world, frames, ordered)


# ---------------------------------------------------------------------------
# Drawing: the background once, the vehicles' rectangles every frame
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Look:
    """The light and the camera of one video (what :func:`.scenes._effects` draws per scene)."""

    lighting: str
    lut: np.ndarray | None  # day white balance, dusk colour: one table
    dark: np.ndarray | None  # night: the unlit pixels
    retro_k: float  # night: how strongly retroreflectors return the illuminator
    lit_alpha: float  # night: gain on lit retroreflectors
    spot: np.ndarray | None  # infrared: the illuminator's spot, full frame
    ir_scale: float
    ir_alpha: float
    ir_beta: float
    glow_sigma: float  # at quarter size
    glow_gain: float
    blur: float  # lens sigma in pixels (0: sharp)
    noise: int

    @property
    def lit(self) -> bool:
        return self.lighting != "day"

    def reach(self) -> tuple[int, int]:
        """How far (px) glow and lens blur carry a pixel's light."""
        glow = math.ceil(3 * 4 * self.glow_sigma) + 4 if self.lit else 0
        blur = math.ceil(3 * self.blur) + 1 if self.blur > 0 else 0
        return glow, blur


def _sample_look(rng: np.random.Generator, lighting: str, w: int, h: int) -> _Look:
    lut = dark = spot = None
    retro_k = lit_alpha = ir_scale = ir_alpha = ir_beta = 0.0
    if lighting == "dusk":
        gamma, gain = float(rng.uniform(1.1, 1.4)), float(rng.uniform(0.6, 0.8))
        lut = _channel_lut(gamma, (0.9 * gain, 0.95 * gain, 1.08 * gain))
    elif lighting == "night":
        retro_k = float(rng.uniform(0.5, 0.95)) / 255
        dark = _gamma_lut(float(rng.uniform(1.5, 2.2)), float(rng.uniform(0.3, 0.5)))
        lit_alpha = float(rng.uniform(0.8, 1.1))
    elif lighting == "infrared":
        ys, xs = np.ogrid[-1 : 1 : complex(0, 9), -1 : 1 : complex(0, 16)]
        small = np.clip((1.0 - 0.45 * (xs**2 + ys**2)) * 255, 0, 255).astype(np.uint8)
        spot = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
        ir_scale = float(rng.uniform(0.25, 0.55))
        ir_alpha, ir_beta = float(rng.uniform(1.1, 1.4)), float(rng.uniform(15, 45))
    elif rng.random() < 0.5:
        b, g, r = (float(x) for x in rng.uniform(0.9, 1.1, 3))
        lut = _channel_lut(1.0, (b, g, r))
    night = lighting in ("night", "infrared")
    return _Look(
        lighting=lighting,
        lut=lut,
        dark=dark,
        retro_k=retro_k,
        lit_alpha=lit_alpha,
        spot=spot,
        ir_scale=ir_scale,
        ir_alpha=ir_alpha,
        ir_beta=ir_beta,
        glow_sigma=float(rng.uniform(2.0, 4.0)),
        glow_gain=float(rng.uniform(0.8, 1.6)),
        blur=0.0 if rng.random() < 0.35 else float(rng.uniform(0.5, 1.1)),
        # Mild: sensor noise is most of what a video file spends its bits on.
        noise=int(rng.choice([3, 5])) if night else 3,
    )


def _light_pixels(img: np.ndarray, retro: np.ndarray, look: _Look, box: Box) -> np.ndarray:
    """The light of the video on ``img`` (the pixels of ``box``): per pixel only."""
    if look.lighting == "dusk" or (look.lighting == "day" and look.lut is not None):
        assert look.lut is not None
        out: np.ndarray = cv2.LUT(img, look.lut)
        return out
    if look.lighting == "night":
        assert look.dark is not None
        r = retro.astype(np.float32) * np.float32(look.retro_k)
        dark = cv2.LUT(img, look.dark)
        lit = cv2.convertScaleAbs(img, alpha=look.lit_alpha)
        return cv2.blendLinear(lit, dark, r, 1.0 - r)
    if look.lighting == "infrared":
        assert look.spot is not None
        x0, y0, x1, y1 = box
        r = retro.astype(np.float32) * np.float32(1 / 255)
        grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        bg = cv2.multiply(grey, look.spot[y0:y1, x0:x1], scale=look.ir_scale / 255)
        bright = cv2.convertScaleAbs(grey, alpha=look.ir_alpha, beta=look.ir_beta)
        return cv2.cvtColor(cv2.blendLinear(bright, bg, r, 1.0 - r), cv2.COLOR_GRAY2BGR)
    return img


def _glow(emit: np.ndarray, look: _Look) -> np.ndarray:
    h, w = emit.shape[:2]
    qw, qh = max(4, w // 4), max(4, h // 4)
    small = cv2.resize(emit, (qw, qh), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), look.glow_sigma)
    out: np.ndarray = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return out


def _grey3(img: np.ndarray) -> np.ndarray:
    out: np.ndarray = cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    return out


@dataclass(frozen=True, slots=True)
class _Street:
    """The empty street: its unlit layers (to draw vehicles over) and the finished frame."""

    world: _World
    look: _Look
    raw: np.ndarray  # drawn, before the light field
    retro: np.ndarray
    emit: np.ndarray
    light: np.ndarray  # the light field (shadows, uneven light), x128, three channels
    glow: np.ndarray | None  # the street's own glow, full frame
    base: np.ndarray  # the finished empty frame, before noise
    asphalt: tuple[int, int, int]


def _street(spec: TrafficSpec, world: _World, *, sharp: bool = False) -> _Street:
    w, h = world.w, world.h
    plan = np.random.default_rng((spec.seed, 5, 3))
    tex = np.random.default_rng((spec.seed, 5, 4))
    look = _sample_look(np.random.default_rng((spec.seed, 5, 5)), world.lighting, w, h)
    if sharp:
        look = replace(look, blur=0.0)
    cv = _Canvas(w, h, world.g)
    _sky(cv, world, tex)
    _skyline(cv, world, tex)
    shadows, asphalt = _ground(cv, world, tex)
    negs: list[_Item] = _plan_background_negatives(world, plan)
    for i, n in enumerate(negs):
        b = _box_of(n.quad, w, h)
        if b[2] - b[0] < 6 or b[3] - b[1] < 4:
            continue
        if n.pole is not None:
            cv.poly([n.pole], (90, 92, 95))
        cv.paste(n.img, n.alpha, n.quad, 128 + i, 230 if n.kind == "road_sign" else 0)
        if n.glow is not None and world.lit:
            cv.poly([_apply(np.linalg.inv(world.g), n.quad)], n.glow, emit=_tint(n.glow, 0.5))
            cv.paste(n.img, n.alpha, n.quad, 128 + i, 0)
    cv.img[:] = _add_noise(cv.img, tex, 3)  # grain of asphalt and walls
    # The light field of scenes._illumination, kept to light vehicles with.
    qw, qh = max(4, w // 4), max(4, h // 4)
    light = _lowfreq(tex, qw, qh, 0.88, 1.1)
    if shadows:
        mask = np.zeros((qh, qw), np.uint8)
        q = np.diag([0.25, 0.25, 1.0]) @ world.g
        cv2.fillPoly(mask, [np.round(_apply(q, s) * 16).astype(np.int32) for s in shadows], 255,
                     cv2.LINE_AA, shift=4)  # fmt: skip
        soft = cv2.GaussianBlur(mask, (0, 0), 1.2).astype(np.float32)
        light *= 1.0 - soft * np.float32(float(tex.uniform(0.35, 0.55)) / 255)
    f8 = cv2.resize(
        np.clip(light * 128, 0, 255).astype(np.uint8), (w, h), interpolation=cv2.INTER_LINEAR
    )
    light3 = cv2.merge((f8, f8, f8))
    emit = cv.emit if cv.any_emit else np.zeros_like(cv.img)
    glow = None
    if look.lit and cv.any_emit:
        glow = _glow(_grey3(emit) if look.lighting == "infrared" else emit, look)
    street = _Street(world, look, cv.img, cv.retro, emit, light3, glow, cv.img, asphalt)
    base = _finish(street, cv.img, cv.retro, emit, (0, 0, w, h), None)
    return _Street(world, look, cv.img, cv.retro, emit, light3, glow, base, asphalt)


def _finish(
    street: _Street,
    img: np.ndarray,
    retro: np.ndarray,
    emit: np.ndarray,
    box: Box,
    extra_glow: np.ndarray | None,
) -> np.ndarray:
    """Light, glow and lens of the video on the pixels of ``box`` (drawn, unlit)."""
    look = street.look
    x0, y0, x1, y1 = box
    out = cv2.multiply(img, street.light[y0:y1, x0:x1], scale=1 / 128)
    out = _light_pixels(out, retro, look, box)
    if look.lit and street.glow is not None:
        e = _grey3(emit) if look.lighting == "infrared" else emit
        out = cv2.max(out, e)
        glow = street.glow[y0:y1, x0:x1]
        if extra_glow is not None:
            glow = cv2.add(glow, extra_glow)
        out = cv2.scaleAdd(glow, look.glow_gain, out)
    elif look.lit and extra_glow is not None:
        out = cv2.max(out, _grey3(emit) if look.lighting == "infrared" else emit)
        out = cv2.scaleAdd(extra_glow, look.glow_gain, out)
    if look.blur > 0:
        out = cv2.GaussianBlur(out, (0, 0), look.blur)
    return out


@dataclass(slots=True)
class _Drawn:
    car: _Car
    pose: _Pose


def _render_group(
    street: _Street,
    frame: np.ndarray,
    group: list[_Drawn],
    write: Box,
    calc: Box,
    plates: dict[int, tuple[np.ndarray, np.ndarray]],
) -> list[TrafficPlate]:
    """Draw ``group``'s vehicles over the street in ``calc``; write ``write`` into ``frame``."""
    world, look = street.world, street.look
    w, h = world.w, world.h
    x0, y0, x1, y1 = calc
    shift = np.array([[1.0, 0.0, -x0], [0.0, 1.0, -y0], [0.0, 0.0, 1.0]])
    cv = _Canvas(x1 - x0, y1 - y0, shift @ world.g)
    cv.img[:] = street.raw[y0:y1, x0:x1]
    cv.retro[:] = street.retro[y0:y1, x0:x1]
    cv.emit[:] = street.emit[y0:y1, x0:x1]
    cv.any_emit = world.lit
    cv.poly([_vehicle_shadow(d.pose.vehicle) for d in group], _tint(street.asphalt, 0.4))
    pasted: list[int] = []
    order = sorted(range(len(group)), key=lambda i: group[i].pose.vehicle.depth)
    for i in order:
        d = group[i]
        _draw_vehicle(cv, d.pose.vehicle, np.random.default_rng(d.car.seed), world.lit)
        quad = d.pose.quad
        if d.car.plate is not None and quad is not None:
            img, alpha = plates[d.car.plate.pass_id]
            local = (quad - np.array([x0, y0], np.float32)).astype(np.float32)
            pasted.append(cv.paste(img, alpha, local, 1 + i, 255))
            if d.car.occluder != "none":
                _occluder(cv, d.pose.vehicle)
        else:
            pasted.append(0)
    out: list[TrafficPlate] = []
    for j, i in enumerate(order):
        d = group[i]
        if d.car.plate is None or d.pose.quad is None or pasted[j] == 0:
            continue
        now = int(np.count_nonzero(cv.ids == 1 + i))
        if now == 0:
            continue
        visible = min(1.0, now / pasted[j]) * _in_frame(d.pose.quad, w, h)
        width = _width(d.pose.quad)
        readable = width >= READABLE_MIN_WIDTH and visible >= READABLE_MIN_VISIBLE
        out.append(
            TrafficPlate(
                d.car.plate.pass_id,
                d.pose.quad,
                _box_of(d.pose.quad, w, h),
                d.car.plate.text,
                visible,
                readable,
            )
        )
    extra = None
    if look.lit:
        new = cv2.subtract(cv.emit, street.emit[y0:y1, x0:x1])
        extra = _glow(_grey3(new) if look.lighting == "infrared" else new, look)
    done = _finish(street, cv.img, cv.retro, cv.emit, calc, extra)
    a0, b0, a1, b1 = write
    frame[b0:b1, a0:a1] = done[b0 - y0 : b1 - y0, a0 - x0 : a1 - x0]
    return out


def _groups(drawn: list[_Drawn], look: _Look, w: int, h: int) -> list[tuple[list[_Drawn], Box]]:
    """Vehicles whose redrawn rectangles touch go together (one canvas, true occlusion)."""
    glow, blur = look.reach()
    groups = [([d], _grow(d.pose.box, glow + 2 * blur + 2, w, h)) for d in drawn]
    merged = True
    while merged:
        merged = False
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                if _overlap(groups[i][1], groups[j][1]):
                    gi, gj = groups[i], groups[j]
                    groups[i] = (gi[0] + gj[0], _union(gi[1], gj[1]))
                    del groups[j]
                    merged = True
                    break
            if merged:
                break
    return groups


def generate(spec: TrafficSpec) -> Iterator[TrafficFrame]:
    """The frames of the video ``spec`` describes, in order.

    Deterministic: the same spec gives the same frames, bit for bit.

    Raises:
        ValueError: the video is too short to show every hotlist plate
            (raised here, before any frame).
    """
    plan = _plan(spec)
    return _frames(spec, plan)


def _frames(
    spec: TrafficSpec,
    plan: _Plan,
    *,
    only: range | None = None,
    probe: tuple[int, int] | None = None,
) -> Iterator[TrafficFrame]:
    """The frames of ``plan`` (those in ``only``, if given).

    With ``probe = (pass_id, value)`` that pass's plate is drawn in flat grey
    ``value`` and the lens is sharp; nothing else changes, so tests render
    twice and check that the pixels that differ lie in the plate's box.
    """
    world = plan.world
    w, h = world.w, world.h
    street = _street(spec, world, sharp=probe is not None)
    look = street.look
    _, blur = look.reach()
    plates: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for f in range(plan.frames) if only is None else only:
        active = [c for c in plan.cars if c.f0 <= f < c.f1]
        drawn: list[_Drawn] = []
        for c in active:
            pose = _pose(world, c, c.z(f))
            if not _nonempty(pose.box):
                continue
            drawn.append(_Drawn(c, pose))
            if c.plate is not None and c.plate.pass_id not in plates:
                prng = np.random.default_rng((spec.seed, 5, 6, c.plate.pass_id))
                img = render_plate(c.plate.displayed, prng, layout=c.plate.layout)
                if probe is not None and probe[0] == c.plate.pass_id:
                    img = np.full_like(img, probe[1])
                plates[c.plate.pass_id] = (img, _rounded(img.shape[1], img.shape[0]))
        image = street.base.copy()
        found: list[TrafficPlate] = []
        for group, box in _groups(drawn, look, w, h):
            calc = _grow(box, blur, w, h)
            found += _render_group(street, image, group, box, calc, plates)
        noise_rng = np.random.default_rng((spec.seed, 5, 7, f))
        image = _add_noise(image, noise_rng, look.noise)
        gone = set(plates) - {c.plate.pass_id for c in active if c.plate is not None}
        for pid in gone:
            del plates[pid]
        found.sort(key=lambda p: p.pass_id)
        yield TrafficFrame(f, f / float(spec.fps), image, tuple(found), len(drawn))


# ---------------------------------------------------------------------------
# Ground truth and video files
# ---------------------------------------------------------------------------


class TruthRecorder:
    """Collects the ground truth of a video from its frames, as they go by.

    Keeps only boxes and counts, never images. Call :meth:`add` with every
    frame of ``generate(spec)`` in order, then :meth:`truth`.
    """

    def __init__(self, spec: TrafficSpec) -> None:
        self._spec = spec
        self._plan = _plan(spec)
        self._next = 0
        self._sightings: dict[int, list[Sighting]] = {}
        self._widths: dict[int, float] = {}
        self._still: list[tuple[int, int]] = []

    def add(self, frame: TrafficFrame) -> None:
        """Record ``frame``.

        Raises:
            ValueError: frames come out of order or past the video's end.
        """
        if frame.index != self._next or frame.index >= self._plan.frames:
            raise ValueError("frames must be added in order, each once, as generate yields them")
        self._next += 1
        for p in frame.plates:
            self._sightings.setdefault(p.pass_id, []).append(
                Sighting(frame.index, p.box, round(p.visible, 4), p.readable)
            )
            self._widths[p.pass_id] = max(self._widths.get(p.pass_id, 0.0), p.width)
        if not frame.moving:
            if self._still and self._still[-1][1] == frame.index - 1:
                self._still[-1] = (self._still[-1][0], frame.index)
            else:
                self._still.append((frame.index, frame.index))

    def truth(self, video: str = "") -> TrafficTruth:
        """The truth of the frames added so far (all of them, for a whole video)."""
        passes = []
        for car in self._plan.cars:
            if car.plate is None:
                continue
            pid = car.plate.pass_id
            seen = tuple(self._sightings.get(pid, ()))
            passes.append(
                Pass(
                    id=pid,
                    text=car.plate.text,
                    hotlist=car.plate.hotlist,
                    kind=car.kind,
                    direction="approaching" if car.lane.approaching else "receding",
                    first_frame=seen[0].frame if seen else None,
                    last_frame=seen[-1].frame if seen else None,
                    readable_frames=sum(s.readable for s in seen),
                    max_width=round(self._widths.get(pid, 0.0), 2),
                    sightings=seen,
                )
            )
        passes.sort(key=lambda p: p.id)
        return TrafficTruth(
            seed=self._spec.seed,
            width=self._spec.width,
            height=self._spec.height,
            fps=float(self._spec.fps),
            frames=self._plan.frames,
            lighting=self._plan.world.lighting,
            hotlist=tuple(self._spec.hotlist),
            passes=tuple(passes),
            still=tuple(self._still),
            video=video,
        )


def truth_path(video: Path) -> Path:
    """Where :func:`write_video` puts the truth of ``video``: beside it, as ``.json``."""
    return video.with_suffix(".json")


def write_video(spec: TrafficSpec, path: Path) -> TrafficTruth:
    """Write the video ``spec`` describes to ``path`` and its truth to ``truth_path(path)``.

    ``path`` ends in ``.mp4`` (MPEG-4 part 2) or ``.avi`` (Motion JPEG); see
    :data:`VIDEO_CODECS`. Both files are replaced if they exist. Returns the
    truth that was written.

    Raises:
        ValueError: another suffix; or the video is too short for the hotlist.
        OSError: the video cannot be written there (no such folder, no codec).
    """
    path = Path(path)
    codec = VIDEO_CODECS.get(path.suffix.lower())
    if codec is None:
        raise ValueError(f"the video must end in one of {', '.join(VIDEO_CODECS)}")
    frames = generate(spec)  # fails here on a bad spec, before any file exists
    if not path.parent.is_dir():
        raise OSError(f"no folder to write the video in: {path.parent}")
    writer = cv2.VideoWriter(
        str(path), cv2.VideoWriter.fourcc(*codec), float(spec.fps), (spec.width, spec.height)
    )
    if not writer.isOpened():
        raise OSError(f"OpenCV cannot write {codec} video to {path}")
    recorder = TruthRecorder(spec)
    try:
        for frame in frames:
            writer.write(frame.image)
            recorder.add(frame)
    finally:
        writer.release()
    truth = recorder.truth(video=path.name)
    tmp = truth_path(path).with_suffix(".json.tmp")
    tmp.write_text(json.dumps(truth.to_json(), indent=1) + "\n")
    os.replace(tmp, truth_path(path))
    return truth


def read_truth(path: Path) -> TrafficTruth:
    """The truth in a file :func:`write_video` wrote (the ``.json``, or the video beside it).

    Raises:
        OSError: the file cannot be read.
        ValueError: it is not a traffic truth.
    """
    path = Path(path)
    if path.suffix.lower() in VIDEO_CODECS:
        path = truth_path(path)
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError("not a traffic truth: the file is not JSON") from exc
    return TrafficTruth.from_json(data)


def _bench() -> None:
    """``python -m underseal_device.synth.traffic``: frames per second on one core, 1280x720."""
    cv2.setNumThreads(1)
    for lighting in LIGHTINGS:
        spec = TrafficSpec(seed=3, seconds=30, lighting=lighting, hotlist=("7ABC123",))
        _plan(spec)
        times: dict[bool, list[float]] = {False: [], True: []}
        frames = generate(spec)
        t = time.perf_counter()
        for frame in frames:
            now = time.perf_counter()
            times[frame.moving].append(now - t)
            t = now
        total = sum(times[False]) + sum(times[True])
        n = len(times[False]) + len(times[True])
        print(
            f"{lighting:9s} {n} frames: {n / total:5.0f}/s overall, "
            f"{len(times[True]) / sum(times[True]):5.0f}/s with vehicles ({len(times[True])}), "
            f"{len(times[False]) / sum(times[False]):5.0f}/s empty road"
        )


if __name__ == "__main__":
    _bench()
