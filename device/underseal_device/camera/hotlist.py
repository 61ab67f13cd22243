"""The hotlist on the camera: sealed bundles on disk, verified on every load, failing closed.

A bundle is stored exactly as received (sealed to this camera's box key),
one file per epoch, and opened with the core's :func:`underseal.bundle.open_bundle`
whenever it is loaded. ``bundles/serials.json`` records the highest serial
ever accepted and the serial of each stored file:

* a new bundle must carry a serial above every one accepted before
  (the records server raises it on each issue), so an old bundle replayed
  by a man in the middle or a rogue server is refused (``rollback``);
* a stored file must open to exactly the serial recorded for it, so
  swapping in an older file on disk is refused too.

When the bundle for the current epoch is missing, expired, tampered or
rolled back, :meth:`HotlistStore.bundle_for` returns None: the camera
matches nothing and reports itself unhealthy, with the reason.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Final

from nacl.public import PrivateKey
from nacl.signing import VerifyKey

from underseal.bundle import BundleHeader, HotlistBundle, open_bundle
from underseal.epochs import epoch_of, epoch_start
from underseal.errors import UndersealError
from underseal_device.camera.errors import BundleRefused, StateError
from underseal_device.camera.state import StateDir, atomic_write

__all__ = ["BundleHealth", "HotlistStore"]

_SERIALS: Final = "serials.json"


@dataclass(frozen=True, slots=True)
class BundleHealth:
    """Whether the camera can match now: ``reason`` is ``ok`` or why not."""

    ok: bool
    reason: str
    serial: int = 0
    entries: int = 0


class HotlistStore:
    """Stored sealed bundles for this camera and the one in use for the current epoch."""

    def __init__(
        self,
        state: StateDir,
        *,
        camera_id: str,
        box_key: PrivateKey,
        authority: VerifyKey,
        keep_epochs: int = 2,
    ) -> None:
        self.state = state
        self.camera_id = camera_id
        self._box_key = box_key
        self.authority = authority
        self.keep_epochs = keep_epochs
        self._loaded: dict[int, HotlistBundle] = {}
        self._failures: dict[int, str] = {}
        self.last_refusal: str | None = None
        state.bundles_dir.mkdir(mode=0o700, parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"HotlistStore(camera={self.camera_id!r}, loaded={sorted(self._loaded)})"

    # --- serial bookkeeping -------------------------------------------------------------

    def _serials(self) -> tuple[int, dict[int, int]]:
        data = self.state.read_json(f"bundles/{_SERIALS}")
        if data is None:
            return 0, {}
        try:
            last = int(data["last_serial"])
            files = {int(k): int(v) for k, v in data["files"].items()}
        except (KeyError, TypeError, ValueError, AttributeError):
            raise StateError(f"{self.state.bundles_dir / _SERIALS} is malformed") from None
        return last, files

    def _write_serials(self, last: int, files: dict[int, int]) -> None:
        self.state.write_json(
            f"bundles/{_SERIALS}",
            {"last_serial": last, "files": {str(k): v for k, v in sorted(files.items())}},
        )

    @property
    def last_serial(self) -> int:
        """The highest serial this camera has accepted."""
        return self._serials()[0]

    def _path(self, epoch: int) -> str:
        return str(self.state.bundles_dir / f"{epoch}.bundle")

    # --- install and load ---------------------------------------------------------------

    def _open(self, sealed: bytes, *, now: int, min_serial: int) -> HotlistBundle:
        try:
            return open_bundle(
                io.BytesIO(sealed),
                camera_id=self.camera_id,
                camera_key=self._box_key,
                authority=self.authority,
                now=now,
                min_serial=min_serial,
            )
        except UndersealError as error:
            raise BundleRefused(error.code, f"hotlist bundle refused: {error.message}") from None

    def install(self, sealed: bytes, *, epoch: int, now: int) -> BundleHeader:
        """Verify a bundle fetched for ``epoch`` (today or a coming day) and store it sealed.

        Nothing is stored unless every check passes.

        Raises:
            BundleRefused: wrong key or tampered (``decryption_failed``), not
                signed by the pinned authority (``invalid_signature``), for
                another camera (``wrong_recipient``), a serial not above the
                last accepted (``rollback``), expired, or for another epoch
                (``wrong_epoch``).
        """
        last, files = self._serials()
        try:
            if epoch_of(now) > epoch:
                raise BundleRefused("expired", "hotlist bundle refused: its epoch is over")
            # A bundle for a coming day is checked as at that day's start.
            bundle = self._open(sealed, now=max(now, epoch_start(epoch)), min_serial=last + 1)
            if bundle.header.epoch != epoch:
                raise BundleRefused("wrong_epoch", "hotlist bundle is for another epoch")
        except BundleRefused as refused:
            self.last_refusal = refused.reason
            raise
        atomic_write(self.state.bundles_dir / f"{epoch}.bundle", sealed)
        files[epoch] = bundle.header.serial
        today = epoch_of(now)
        for old in [e for e in files if e < today]:
            files.pop(old)
            (self.state.bundles_dir / f"{old}.bundle").unlink(missing_ok=True)
        self._write_serials(bundle.header.serial, files)
        self._loaded = {e: b for e, b in self._loaded.items() if e in files and e != epoch}
        self._loaded[epoch] = bundle
        self._failures.pop(epoch, None)
        self.last_refusal = None
        return bundle.header

    def bundle_for(self, now: int) -> HotlistBundle | None:
        """The verified bundle for the epoch of ``now``, or None (match nothing)."""
        epoch = epoch_of(now)
        bundle = self._loaded.get(epoch)
        if bundle is not None:
            if now >= bundle.header.not_after or now < bundle.header.not_before:
                self._loaded.pop(epoch)
                self._failures[epoch] = "expired"
                return None
            return bundle
        if epoch in self._failures:
            return None
        _, files = self._serials()
        if epoch not in files:
            return None
        try:
            with open(self._path(epoch), "rb") as handle:
                sealed = handle.read()
        except OSError:
            self._failures[epoch] = "missing_file"
            return None
        try:
            bundle = self._open(sealed, now=now, min_serial=files[epoch])
        except BundleRefused as refused:
            self._failures[epoch] = refused.reason
            return None
        if bundle.header.serial != files[epoch] or bundle.header.epoch != epoch:
            self._failures[epoch] = "rollback"
            return None
        self._loaded[epoch] = bundle
        return bundle

    def has_bundle(self, epoch: int) -> bool:
        """Whether a bundle for ``epoch`` was accepted and stored."""
        return epoch in self._serials()[1]

    def health(self, now: int) -> BundleHealth:
        """Whether the camera can match at ``now``, and if not, why."""
        bundle = self.bundle_for(now)
        if bundle is None:
            reason = self._failures.get(epoch_of(now)) or self.last_refusal or "no_bundle"
            return BundleHealth(False, reason)
        if self.last_refusal is not None:
            return BundleHealth(
                False, f"refused_{self.last_refusal}", bundle.header.serial, len(bundle)
            )
        return BundleHealth(True, "ok", bundle.header.serial, len(bundle))
