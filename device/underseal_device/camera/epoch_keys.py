"""The epoch public keys a camera seals hits to, each endorsed by every pinned custodian.

Certificates come with the configuration (today and the days ahead). Each is
verified against the pinned custodian keys (:mod:`.trust`) before it is
stored, and again when it is loaded, so a key that no custodian holds a
share of is never used.
"""

from __future__ import annotations

from underseal.encoding import b64d, b64e
from underseal.epochs import EpochCertificate
from underseal.errors import InvalidSignature, Malformed
from underseal.threshold import EpochPublicKey
from underseal_device.camera.errors import StateError, TrustError
from underseal_device.camera.state import StateDir
from underseal_device.camera.trust import TrustRoots

__all__ = ["EpochKeys"]

_FILE = "epochs.json"
#: Days of certificates kept behind today (a hit queued just before midnight).
KEEP_BEHIND = 1


class EpochKeys:
    """Verified epoch public keys by epoch, persisted in ``epochs.json``."""

    def __init__(self, state: StateDir, trust: TrustRoots, *, min_threshold: int = 2) -> None:
        self.state = state
        self.trust = trust
        self.min_threshold = min_threshold
        self._keys: dict[int, EpochPublicKey] = {}
        self._raw: dict[int, bytes] = {}
        stored = state.read_json(_FILE) or {}
        if not isinstance(stored, dict):
            raise StateError(f"{state.root / _FILE} is not an object")
        for text in stored.values():
            try:
                self._accept(b64d(text, field="certificate"))
            except (Malformed, TrustError):
                continue  # a certificate that no longer verifies is simply not used

    def __repr__(self) -> str:
        return f"EpochKeys(epochs={sorted(self._keys)})"

    def _accept(self, data: bytes) -> int:
        try:
            cert = EpochCertificate.from_bytes(data)
            key = cert.verify(self.trust.custodians, min_threshold=self.min_threshold)
        except Malformed as error:
            raise TrustError(f"epoch certificate refused: {error.message}") from None
        except InvalidSignature as error:
            raise TrustError(f"epoch certificate refused: {error.message}") from None
        self._keys[cert.epoch] = key
        self._raw[cert.epoch] = data
        return cert.epoch

    def install(self, certificates: list[bytes], *, today: int) -> list[int]:
        """Verify and store certificates; drop those more than a day old.

        Raises:
            TrustError: a certificate lacks a pinned custodian's endorsement
                (nothing is stored then: all or nothing).
        """
        before = (dict(self._keys), dict(self._raw))
        try:
            epochs = [self._accept(data) for data in certificates]
        except TrustError:
            self._keys, self._raw = before
            raise
        for epoch in [e for e in self._keys if e < today - KEEP_BEHIND]:
            del self._keys[epoch], self._raw[epoch]
        self.state.write_json(_FILE, {str(e): b64e(d) for e, d in sorted(self._raw.items())})
        return epochs

    def get(self, epoch: int) -> EpochPublicKey | None:
        """The verified key of ``epoch``, if the camera has one."""
        return self._keys.get(epoch)

    @property
    def epochs(self) -> list[int]:
        return sorted(self._keys)
