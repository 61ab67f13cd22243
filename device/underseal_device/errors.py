"""The camera's error family. Messages never contain a plate, a token or a key."""

from __future__ import annotations

__all__ = ["BadImage", "DeviceError", "ModelIntegrityError"]


class DeviceError(Exception):
    """Base of every error the camera code raises; ``code`` is stable."""

    code: str = "device_error"


class BadImage(DeviceError, ValueError):
    """An image that is empty, of the wrong type or shape, or does not decode."""

    code = "bad_image"


class ModelIntegrityError(DeviceError):
    """A model file that is missing or whose SHA-256 is not the pinned one."""

    code = "model_integrity"
