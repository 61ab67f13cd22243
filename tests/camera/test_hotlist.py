"""The hotlist on the camera: stored sealed, verified on load, refusing rollback, tamper, expiry.

Bundles here are built and sealed with the core, as the server builds them,
under an authority key the test holds.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from nacl.public import PrivateKey
from nacl.signing import SigningKey
from underseal_device.camera.errors import BundleRefused
from underseal_device.camera.hotlist import HotlistStore
from underseal_device.camera.matching import Matcher
from underseal_device.camera.state import DeviceSettings, StateDir
from underseal_device.camera.vote import PassRead, Reading

from underseal.bundle import build_bundle, seal_bundle
from underseal.epochs import epoch_end, epoch_of, epoch_start
from underseal.tokens import TokenKey

NOW = 1_790_000_000
EPOCH = epoch_of(NOW)
CAMERA = "cam-1"
LISTED = "7ABC123"


class Authority:
    def __init__(self) -> None:
        self.key = SigningKey.generate()
        self.token_keys = {EPOCH: TokenKey.generate(), EPOCH + 1: TokenKey.generate()}
        self.serial = 0

    def bundle(
        self,
        box: PrivateKey,
        *,
        epoch: int = EPOCH,
        camera: str = CAMERA,
        serial: int | None = None,
        plates: tuple[str, ...] = (LISTED,),
        signer: SigningKey | None = None,
    ) -> bytes:
        self.serial += 1
        key = self.token_keys[epoch]
        built = build_bundle(
            [(key.token(p), os.urandom(8)) for p in plates],
            camera_id=camera,
            serial=self.serial if serial is None else serial,
            epoch=epoch,
            not_before=epoch_start(epoch),
            not_after=epoch_end(epoch),
            token_key=key,
        )
        return seal_bundle(built, authority=signer or self.key, camera=box.public_key)


Setup = tuple[HotlistStore, "Authority", PrivateKey]


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    state = StateDir(tmp_path / "cam")
    keys = state.enroll(DeviceSettings(camera_id=CAMERA, latitude_e6=0, longitude_e6=0))
    authority = Authority()
    store = HotlistStore(
        state, camera_id=CAMERA, box_key=keys.box, authority=authority.key.verify_key
    )
    return store, authority, keys.box


def passing(*readings: tuple[str, float]) -> PassRead:
    return PassRead(
        readings=tuple(Reading(t, p) for t, p in readings),
        frames=3, first_seen=0, last_seen=1, box=(0, 0, 1, 1), crop=np.zeros((1, 1, 3), np.uint8),
    )  # fmt: skip


def test_an_installed_bundle_matches_and_is_stored_only_sealed(setup: Setup) -> None:
    store, authority, box = setup
    sealed = authority.bundle(box)
    header = store.install(sealed, epoch=EPOCH, now=NOW)
    assert header.serial == 1
    assert store.health(NOW).ok
    assert (store.state.bundles_dir / f"{EPOCH}.bundle").read_bytes() == sealed
    matcher = Matcher(store)
    assert matcher.match(passing((LISTED, 0.9)), now=NOW) is not None
    assert matcher.match(passing(("5KXM209", 0.9)), now=NOW) is None


def test_the_best_few_readings_are_checked_within_k_and_min_probability(setup: Setup) -> None:
    store, authority, box = setup
    store.install(authority.bundle(box), epoch=EPOCH, now=NOW)
    second = passing(("7ABC128", 0.6), (LISTED, 0.3))
    assert Matcher(store, k=2).match(second, now=NOW) is not None
    assert Matcher(store, k=1).match(second, now=NOW) is None
    assert Matcher(store, k=3, min_probability=0.4).match(second, now=NOW) is None
    fourth = passing(("1AAA111", 0.4), ("2AAA222", 0.3), ("3AAA333", 0.25), (LISTED, 0.21))
    assert Matcher(store, k=3).match(fourth, now=NOW) is None
    assert Matcher(store, k=4).match(fourth, now=NOW) is not None


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda a, box: a.bundle(box, signer=SigningKey.generate()), "invalid_signature"),
        (lambda a, box: a.bundle(PrivateKey.generate()), "decryption_failed"),
        (lambda a, box: a.bundle(box, camera="cam-2"), "wrong_recipient"),
        (lambda a, box: a.bundle(box)[:-5], "decryption_failed"),
        (lambda a, box: a.bundle(box, epoch=EPOCH + 1), "not_yet_valid"),
    ],
    ids=["forged", "other-camera-key", "other-camera-id", "truncated", "other-epoch"],
)
def test_a_bad_bundle_is_refused_changes_nothing_and_matches_nothing(
    setup: Setup, make: object, reason: str
) -> None:
    store, authority, box = setup
    with pytest.raises(BundleRefused) as refused:
        store.install(make(authority, box), epoch=EPOCH, now=NOW)  # type: ignore[operator]
    assert refused.value.reason == reason
    assert list(store.state.bundles_dir.glob("*.bundle")) == []
    health = store.health(NOW)
    assert not health.ok
    assert Matcher(store).match(passing((LISTED, 0.9)), now=NOW) is None


def test_rollback_to_an_older_serial_is_refused_and_the_newer_bundle_kept(setup: Setup) -> None:
    store, authority, box = setup
    old = authority.bundle(box)
    store.install(authority.bundle(box), epoch=EPOCH, now=NOW)  # serial 2
    with pytest.raises(BundleRefused) as refused:
        store.install(old, epoch=EPOCH, now=NOW)
    assert refused.value.reason == "rollback"
    with pytest.raises(BundleRefused):  # the same serial again is not newer either
        store.install(authority.bundle(box, serial=2), epoch=EPOCH, now=NOW)
    assert store.last_serial == 2
    assert not store.health(NOW).ok  # the refusal is reported …
    assert Matcher(store).match(passing((LISTED, 0.9)), now=NOW) is not None  # … on a valid bundle


def test_an_older_file_swapped_in_on_disk_is_refused_after_a_restart(setup: Setup) -> None:
    store, authority, box = setup
    old = authority.bundle(box)
    store.install(authority.bundle(box), epoch=EPOCH, now=NOW)
    (store.state.bundles_dir / f"{EPOCH}.bundle").write_bytes(old)
    restarted = HotlistStore(
        store.state, camera_id=CAMERA, box_key=box, authority=authority.key.verify_key
    )
    assert restarted.bundle_for(NOW) is None
    assert restarted.health(NOW).reason == "rollback"


def test_an_expired_bundle_matches_nothing(setup: Setup) -> None:
    store, authority, box = setup
    store.install(authority.bundle(box), epoch=EPOCH, now=NOW)
    tomorrow = epoch_end(EPOCH) + 60
    assert store.bundle_for(tomorrow) is None
    assert not store.health(tomorrow).ok
    assert Matcher(store).match(passing((LISTED, 0.9)), now=tomorrow) is None
    with pytest.raises(BundleRefused) as refused:
        store.install(authority.bundle(box), epoch=EPOCH, now=tomorrow)
    assert refused.value.reason == "expired"


def test_tomorrows_bundle_is_fetched_ahead_and_used_from_midnight(setup: Setup) -> None:
    store, authority, box = setup
    store.install(authority.bundle(box), epoch=EPOCH, now=NOW)
    store.install(authority.bundle(box, epoch=EPOCH + 1), epoch=EPOCH + 1, now=NOW)
    assert store.bundle_for(NOW).header.epoch == EPOCH  # type: ignore[union-attr]
    after_midnight = epoch_start(EPOCH + 1) + 5
    assert store.bundle_for(after_midnight).header.epoch == EPOCH + 1  # type: ignore[union-attr]
    # A restart at that time reloads it from disk and checks its recorded serial.
    restarted = HotlistStore(
        store.state, camera_id=CAMERA, box_key=box, authority=authority.key.verify_key
    )
    assert restarted.health(after_midnight).ok
