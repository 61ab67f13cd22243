"""Model files are checked against pinned SHA-256 values before any parser sees them."""

from __future__ import annotations

import hashlib
from pathlib import Path

from underseal_device.errors import ModelIntegrityError

__all__ = ["verified_bytes"]


def verified_bytes(path: Path, manifest_sha256: str, pinned_sha256: str | None) -> bytes:
    """The bytes of ``path`` if they hash to the manifest's value and the code's pin.

    ``pinned_sha256=None`` checks the manifest only (a model just trained).

    Raises:
        ModelIntegrityError: the file is missing or either hash differs.
    """
    try:
        data = path.read_bytes()
    except OSError:
        raise ModelIntegrityError(f"model file {path} is missing") from None
    digest = hashlib.sha256(data).hexdigest()
    for source, expected in (("the manifest", manifest_sha256), ("the code", pinned_sha256)):
        if expected is not None and digest != expected:
            raise ModelIntegrityError(
                f"model file {path.name} has SHA-256 {digest[:16]}…, "
                f"{source} pins {expected[:16]}…: refusing to load it"
            )
    return data
