"""Where the real plate reader (detector + OCR) plugs into the pipeline.

The pipeline takes any :class:`underseal_device.reads.Reader`. On a camera
that reader is the detector and recognizer of ``underseal_device.detect``,
built by :func:`default_reader`; it is imported only when asked for, so the
rest of the camera (and its tests) runs without it.
"""

from __future__ import annotations

import importlib
from typing import cast

from underseal_device.camera.errors import ReaderUnavailable
from underseal_device.reads import Reader

__all__ = ["default_reader", "load_reader"]


def default_reader() -> Reader:
    """The camera's detector + OCR reader (``underseal_device.detect``).

    Raises:
        ReaderUnavailable: the detection package is not installed or has no
            reader factory yet.
    """
    try:
        detect = importlib.import_module("underseal_device.detect")
    except ImportError:
        raise ReaderUnavailable(
            "the plate detector (underseal_device.detect) is not installed on this camera; "
            "pass --reader module:factory to use another reader"
        ) from None
    factory = getattr(detect, "default_reader", None) or getattr(detect, "PlateReader", None)
    if not callable(factory):
        raise ReaderUnavailable(
            "underseal_device.detect has no default_reader() or PlateReader to build a reader from"
        )
    return cast(Reader, factory())


def load_reader(spec: str | None) -> Reader:
    """The reader named ``module:callable`` (called with no arguments), or the default one.

    Raises:
        ReaderUnavailable: the module or callable does not exist, or the
            object it returns has no ``read`` method.
    """
    if not spec:
        return default_reader()
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
