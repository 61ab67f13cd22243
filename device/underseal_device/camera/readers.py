"""Where the real plate reader (detector + OCR) plugs into the pipeline.

The pipeline takes any :class:`underseal_device.reads.Reader`. On a camera
that reader is the detector and recognizer of ``underseal_device.detect``,
built by :func:`default_reader`; it is imported only when asked for, so the
rest of the camera (and its tests) runs without it.

The camera reads :data:`WORKERS` frames at once, one per core, each model on
one onnxruntime thread. A frame read alone spends about two fifths of its
time outside onnxruntime, in Python and OpenCV on one core; with two in
flight, one frame's models run meanwhile. ``python -m bench detector``: 33.7
frames/s on rendered 1280×720 scenes against 25.2 one frame at a time on both
cores; ``python -m bench camera``: 25.9 against 20.0 on the US photos as
720p video (2 cores of a first-generation EPYC).
"""

from __future__ import annotations

import importlib
from typing import cast

from underseal_device.camera.errors import ReaderUnavailable
from underseal_device.reads import Reader

__all__ = ["WORKERS", "default_reader", "load_reader"]

#: Frames the camera reads at once by default (``underseal-device run --workers``).
WORKERS = 2


def default_reader(workers: int = 1) -> Reader:
    """The camera's detector + OCR reader (``underseal_device.detect``) for ``workers`` at once.

    Raises:
        ReaderUnavailable: the detection package is not installed or has no
            reader factory yet.
        ModelIntegrityError: a shipped model is missing or altered.
    """
    try:
        detect = importlib.import_module("underseal_device.detect")
    except ImportError:
        raise ReaderUnavailable(
            "the plate detector (underseal_device.detect) is not installed on this camera; "
            "pass --reader module:factory to use another reader"
        ) from None
    factory = getattr(detect, "camera_reader", None)
    if not callable(factory):
        raise ReaderUnavailable("underseal_device.detect has no camera_reader() to build one with")
    return cast(Reader, factory(workers))


def load_reader(spec: str | None, *, workers: int = 1) -> Reader:
    """The reader named ``module:callable`` (called with no arguments), or the default one.

    ``workers``: frames the camera reads at once, for the default reader's
    threads. A named reader is the caller's to make safe for that many.

    Raises:
        ReaderUnavailable: the module or callable does not exist, or the
            object it returns has no ``read`` method.
    """
    if not spec:
        return default_reader(workers)
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ReaderUnavailable("--reader must be module:callable")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError):
        raise ReaderUnavailable(f"reader {spec} cannot be imported") from None
    reader = factory()
    if not callable(getattr(reader, "read", None)):
        raise ReaderUnavailable(f"reader {spec} returned an object without a read() method")
    return cast(Reader, reader)
