"""The camera's state directory: its keys, settings and pinned trust roots.

Layout (every file mode 0600, the directory 0700)::

    device.json      camera id, position (microdegrees), server URL
    keys/device.key  Ed25519 signing seed (signs records and requests)
    keys/box.key     X25519 private key (opens hotlist bundles)
    trust.json       the hotlist authority's and custodians' keys, pinned on first contact
    epochs.json      custodian-endorsed epoch certificates (public)
    bundles/         sealed hotlist bundles, as received, and their accepted serials
    outbox.sqlite    sealed hits waiting for delivery (ciphertext only)
    status.json      aggregate counters and health (no plate, token or key)

Nothing in it is ever a frame, a plate or a token in clear. Writes are
atomic (temporary file, fsync, rename), so a crash leaves the old file or
the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from nacl.public import PrivateKey
from nacl.signing import SigningKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from underseal.encoding import IDENTIFIER_PATTERN, b64d, b64e
from underseal.errors import Malformed
from underseal_device.camera.errors import NotEnrolled, StateError

__all__ = [
    "DeviceKeys",
    "DeviceSettings",
    "StateDir",
    "atomic_write",
]

KEY_BYTES: Final = 32


class DeviceSettings(BaseModel):
    """What the camera knows about itself (written by ``enroll``)."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    camera_id: str = Field(pattern=IDENTIFIER_PATTERN)
    latitude_e6: int = Field(ge=-90_000_000, le=90_000_000)
    longitude_e6: int = Field(ge=-180_000_000, le=180_000_000)
    server: str = Field(default="", max_length=500)
    outbox_max_mb: int | None = Field(default=None, ge=1, le=1_000_000)
    """Cap on the outbox file; past it hits wait in memory as on a full disk (None: the disk)."""


@dataclass(frozen=True, slots=True)
class DeviceKeys:
    """The camera's two private keys. Never printed: the repr names no byte."""

    signing: SigningKey
    box: PrivateKey

    def __repr__(self) -> str:
        return "DeviceKeys(<secret>)"

    @property
    def public(self) -> dict[str, str]:
        """The public halves, base64url, as the records server's enrolment takes them."""
        return {
            "verify_key": b64e(bytes(self.signing.verify_key)),
            "box_key": b64e(bytes(self.box.public_key)),
        }


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` (mode 0600) so that a crash leaves old or new, never half.

    Raises:
        StateError: it could not be written (a full disk, say); the old file is untouched.
    """
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as error:
        raise StateError(f"{path} could not be written: {error.strerror}") from None
    try:
        try:
            view = memoryview(data)
            while view:  # os.write may write less than asked (a nearly full disk)
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as error:
        tmp.unlink(missing_ok=True)  # a half-written copy would only take more of a full disk
        raise StateError(f"{path} could not be written: {error.strerror}") from None
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class StateDir:
    """A camera's state directory (see the module docstring for its layout)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"StateDir({str(self.root)!r})"

    # --- paths ---------------------------------------------------------------------------

    @property
    def keys_dir(self) -> Path:
        return self.root / "keys"

    @property
    def bundles_dir(self) -> Path:
        return self.root / "bundles"

    @property
    def outbox_path(self) -> Path:
        return self.root / "outbox.sqlite"

    @property
    def status_path(self) -> Path:
        return self.root / "status.json"

    # --- enrolment -----------------------------------------------------------------------

    def enroll(self, settings: DeviceSettings) -> DeviceKeys:
        """Make fresh keys and write them with the settings.

        Raises:
            StateError: the directory already holds keys (enrolling again would
                orphan the camera's registration and its pending hits).
        """
        if (self.keys_dir / "device.key").exists() or (self.keys_dir / "box.key").exists():
            raise StateError(
                f"{self.root} already holds device keys; use another --state-dir to enrol anew"
            )
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.keys_dir.mkdir(mode=0o700, exist_ok=True)
        os.chmod(self.root, 0o700)
        keys = DeviceKeys(SigningKey.generate(), PrivateKey.generate())
        atomic_write(self.keys_dir / "device.key", b64e(bytes(keys.signing)).encode())
        atomic_write(self.keys_dir / "box.key", b64e(bytes(keys.box)).encode())
        self.write_settings(settings)
        return keys

    def write_settings(self, settings: DeviceSettings) -> None:
        """Write ``device.json``."""
        self.write_json("device.json", settings.model_dump())

    def settings(self) -> DeviceSettings:
        """The camera's settings.

        Raises:
            NotEnrolled: no ``device.json``.
            StateError: it does not parse.
        """
        data = self.read_json("device.json")
        if data is None:
            raise NotEnrolled(
                f"{self.root} is not an enrolled camera: run `underseal-device enroll`"
            )
        try:
            return DeviceSettings.model_validate(data)
        except ValidationError:
            raise StateError(f"{self.root / 'device.json'} has missing or bad fields") from None

    def keys(self) -> DeviceKeys:
        """Load the private keys, refusing files that others can read.

        Raises:
            NotEnrolled: no key files.
            StateError: a key file is readable by group or others, or malformed.
        """
        return DeviceKeys(
            SigningKey(self._read_key("device.key")), PrivateKey(self._read_key("box.key"))
        )

    def _read_key(self, name: str) -> bytes:
        path = self.keys_dir / name
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            raise NotEnrolled(
                f"{self.root} holds no device keys: run `underseal-device enroll`"
            ) from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise StateError(f"{path} is readable by others; chmod 600 it (and check who read it)")
        try:
            return b64d(path.read_text("ascii").strip(), size=KEY_BYTES, field=name)
        except (Malformed, UnicodeDecodeError):
            raise StateError(f"{path} is not a {KEY_BYTES}-byte key in base64url") from None

    # --- small JSON files ----------------------------------------------------------------

    def read_json(self, name: str) -> Any:
        """A JSON file of the state dir, or None when it does not exist.

        Raises:
            StateError: it exists but is not JSON.
        """
        path = self.root / name
        try:
            return json.loads(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            raise StateError(f"{path} is unreadable or not JSON") from None

    def write_json(self, name: str, value: Any) -> None:
        """Atomically write a JSON file of the state dir."""
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        atomic_write(self.root / name, json.dumps(value, sort_keys=True, indent=1).encode())
