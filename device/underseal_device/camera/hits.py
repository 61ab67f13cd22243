"""Sealing a hit: the evidence record to the epoch key, and a short alert to each dispatcher.

The evidence (core :class:`underseal.evidence.Evidence`) holds the plate
text that matched, the vote's confidence, the time, the camera's position
and id, the hotlist entry reference and the plate crop as JPEG: the plate's
pixels only, never the frame around it. It is sealed with
:func:`underseal.sealed.seal_record` to the day's custodian-endorsed epoch
key and signed with the camera's key; the header carries the match token
and the size of the sealed alert, as the records server expects.

The alert tells a dispatcher what to look for now (plate, time, place,
hotlist reference; no image) and is sealed to that dispatcher's X25519 key
with libsodium's SealedBox (pynacl's recipe; the core has no alert format of
its own yet). Every dispatcher gets the same plaintext, so every sealed copy
has the size the header announces.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import cv2
import numpy as np
import numpy.typing as npt
from nacl.public import PublicKey, SealedBox

from underseal.encoding import b64e, canonical_json
from underseal.evidence import MAX_CROP_BYTES, Evidence
from underseal.sealed import RECORD_ID_BYTES, RecordHeader, seal_record
from underseal_device.camera.epoch_keys import EpochKeys
from underseal_device.camera.errors import NoEpochKey
from underseal_device.camera.matching import HotlistHit
from underseal_device.camera.state import DeviceKeys, DeviceSettings
from underseal_device.camera.vote import PassRead

__all__ = ["ALERT_VERSION", "HitSealer", "SealedHit", "encode_crop"]

ALERT_VERSION: Final = 1
#: Longest side of a crop kept as evidence; plates are read at far less.
MAX_CROP_SIDE: Final = 400


@dataclass(frozen=True, slots=True)
class SealedHit:
    """What goes into the outbox: ciphertext only."""

    record_id: bytes
    epoch: int
    record: bytes  # SealedRecord.to_bytes()
    alerts: tuple[tuple[str, bytes], ...]  # (dispatcher id, sealed alert)

    def __repr__(self) -> str:
        n = len(self.alerts)
        return f"SealedHit(id={self.record_id.hex()}, epoch={self.epoch}, alerts={n})"


def encode_crop(crop: npt.NDArray[np.uint8]) -> bytes:
    """The crop as JPEG, shrunk and recompressed until it fits the evidence limit ("" if none)."""
    if crop.ndim != 3 or crop.size == 0:
        return b""
    h, w = crop.shape[:2]
    scale = min(1.0, MAX_CROP_SIDE / max(h, w))
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        crop = np.asarray(cv2.resize(crop, size), dtype=np.uint8)
    for quality in (90, 75, 60, 40):
        ok, data = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok and len(data) <= MAX_CROP_BYTES:
            return bytes(data.tobytes())
    return b""


class HitSealer:
    """Seals hits for one camera."""

    def __init__(
        self,
        *,
        settings: DeviceSettings,
        keys: DeviceKeys,
        epoch_keys: EpochKeys,
        dispatchers: Mapping[str, PublicKey],
    ) -> None:
        self.settings = settings
        self._keys = keys
        self.epoch_keys = epoch_keys
        self.dispatchers = dict(dispatchers)

    def __repr__(self) -> str:
        return f"HitSealer(camera={self.settings.camera_id!r}, dispatchers={len(self.dispatchers)})"

    def seal(self, passed: PassRead, hit: HotlistHit, *, observed_at: int) -> SealedHit:
        """Seal the evidence and the alerts of one hit.

        Raises:
            NoEpochKey: no endorsed epoch key for the hit's epoch.
        """
        epoch_key = self.epoch_keys.get(hit.epoch)
        if epoch_key is None:
            raise NoEpochKey("no custodian-endorsed key for this epoch; fetch the configuration")
        record_id = os.urandom(RECORD_ID_BYTES)
        confidence_pm = max(0, min(1000, round(hit.reading.probability * 1000)))
        hotlist_ref = b64e(hit.match.ref)
        alert = canonical_json(
            {
                "version": ALERT_VERSION,
                "camera_id": self.settings.camera_id,
                "record_id": b64e(record_id),
                "plate": hit.reading.text,
                "confidence_pm": confidence_pm,
                "observed_at": observed_at,
                "latitude_e6": self.settings.latitude_e6,
                "longitude_e6": self.settings.longitude_e6,
                "hotlist_ref": hotlist_ref,
            }
        )
        alerts = tuple(
            (dispatcher_id, bytes(SealedBox(key).encrypt(alert)))
            for dispatcher_id, key in sorted(self.dispatchers.items())
        )
        evidence = Evidence(
            plate=hit.reading.text,
            confidence_pm=confidence_pm,
            observed_at=observed_at,
            camera_id=self.settings.camera_id,
            latitude_e6=self.settings.latitude_e6,
            longitude_e6=self.settings.longitude_e6,
            hotlist_ref=hotlist_ref,
            crop_jpeg=b64e(encode_crop(passed.crop)),
        )
        header = RecordHeader(
            record_id=record_id,
            camera_id=self.settings.camera_id,
            epoch=hit.epoch,
            match_token=hit.match.token,
            alert_size=len(alerts[0][1]) if alerts else 0,
        )
        record = seal_record(
            header=header,
            evidence=evidence.to_bytes(),
            epoch_key=epoch_key,
            device=self._keys.signing,
        )
        return SealedHit(record_id, hit.epoch, record.to_bytes(), alerts)
