"""Synthetic US licence plates for training and testing the plate reader.

``PlateSampler(seed).sample()`` gives a camera-like crop of a plate and its
canonical text; ``render_plate`` and ``degrade`` are the two stages, usable
on their own; ``render_sign`` gives road and shop signs as hard negatives;
``SceneSampler(seed).scene_at(i)`` gives whole road scenes with every
plate's box, for the plate detector.
Fonts come from the machine (see :mod:`.fonts`). Training data only: nothing
here runs on the camera's reading path.
"""

from .dataset import SIGN_TEXTS, PlateSampler, Sample, render_sign
from .degrade import EFFECT_PROBABILITY, Effect, degrade
from .fonts import FontsNotFound, banner_fonts, plate_fonts, plate_like_fonts
from .plates import PICTOGRAMS, PLATE_SIZE, PlateLayout, Sticker, random_layout, render_plate
from .scenes import (
    LIGHTINGS,
    NEGATIVE_KINDS,
    NEGATIVE_TEXTS,
    READABLE_MIN_VISIBLE,
    READABLE_MIN_WIDTH,
    NegativeBox,
    PlateBox,
    Scene,
    SceneSampler,
)
from .texts import PlateText, display, sample_canonical, sample_text

__all__ = [
    "EFFECT_PROBABILITY",
    "LIGHTINGS",
    "NEGATIVE_KINDS",
    "NEGATIVE_TEXTS",
    "PICTOGRAMS",
    "PLATE_SIZE",
    "READABLE_MIN_VISIBLE",
    "READABLE_MIN_WIDTH",
    "SIGN_TEXTS",
    "Effect",
    "FontsNotFound",
    "NegativeBox",
    "PlateBox",
    "PlateLayout",
    "PlateSampler",
    "PlateText",
    "Sample",
    "Scene",
    "SceneSampler",
    "Sticker",
    "banner_fonts",
    "degrade",
    "display",
    "plate_fonts",
    "plate_like_fonts",
    "random_layout",
    "render_plate",
    "render_sign",
    "sample_canonical",
    "sample_text",
]
