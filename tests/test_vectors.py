"""The wire format is pinned: fixed keys and inputs must give the committed bytes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from nacl.public import PrivateKey
from nacl.signing import SigningKey

from tests.vectors import keys
from underseal import _group as group
from underseal import bundle, sealed, threshold, warrant
from underseal.errors import UndersealError
from underseal.tokens import TokenKey, TokenScheme

VECTORS = Path(__file__).parent / "vectors"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / f"{name}.json").read_text())
    assert data["cases"], f"{name}.json has no cases"
    return data


def test_tokens() -> None:
    v = load("tokens")
    key = TokenKey(bytes.fromhex(v["token_key"]))
    hard = TokenKey(bytes.fromhex(v["token_key"]), TokenScheme.from_json(v["argon2id"]))
    for case in v["cases"]:
        if "want_error" in case:
            with pytest.raises(UndersealError) as caught:
                key.token(case["plate"])
            assert caught.value.code == case["want_error"], case["desc"]
        else:
            assert key.token(case["plate"]).hex() == case["hmac_sha256"], case["desc"]
            assert hard.token(case["plate"]).hex() == case["argon2id"], case["desc"]


def test_record() -> None:
    v = load("record")
    secret = threshold.EpochSecret(keys.EPOCH, bytes.fromhex(v["epoch_secret"]))
    device = SigningKey(bytes.fromhex(v["device_seed"]))
    assert secret.public_key().point.hex() == v["epoch_public_key"]
    assert device.verify_key.encode().hex() == v["device_public_key"]
    again = sealed.seal_record(
        header=sealed.RecordHeader.from_json(v["header"]),
        evidence=v["evidence"].encode(),
        epoch_key=secret.public_key(),
        device=device,
        unsafe_fixed_ephemeral=bytes.fromhex(v["ephemeral_scalar"]),
        unsafe_fixed_nonce=bytes.fromhex(v["nonce"]),
    )
    for case in v["cases"]:
        wire = case["wire"].encode()
        if "want_error" not in case:
            assert again.to_bytes() == wire, "sealing no longer gives the committed bytes"

        def parse_verify_open(wire: bytes = wire) -> bytes:
            rec = sealed.SealedRecord.from_bytes(wire)
            rec.verify(device.verify_key)
            return sealed.open_record(rec, secret)

        if "want_error" in case:
            with pytest.raises(UndersealError) as caught:
                parse_verify_open()
            assert caught.value.code == case["want_error"], case["desc"]
        else:
            assert parse_verify_open() == v["evidence"].encode()


def test_threshold() -> None:
    v = load("threshold")
    secret = threshold.EpochSecret(keys.EPOCH, bytes.fromhex(v["epoch_secret"]))
    dealt = threshold._split_with(
        secret, [bytes.fromhex(c) for c in v["coefficients"]], custodians=len(v["shares"])
    )
    assert [c.hex() for c in dealt.commitments] == v["commitments"]
    assert [s.scalar.hex() for s in dealt.shares] == v["shares"]
    r = bytes.fromhex(v["ephemeral"])
    good = []
    for case in v["cases"]:
        partial = threshold.Partial.from_json(case["partial"])
        public = threshold.share_public_key(dealt.commitments, partial.index)
        if "want_error" in case:
            with pytest.raises(UndersealError) as caught:
                threshold.verify_partial(partial, r, public)
            assert caught.value.code == case["want_error"]
        else:
            threshold.verify_partial(partial, r, public)
            share = dealt.shares[partial.index - 1]
            assert partial.point == group.mul(group.Scalar(share.scalar), group.Point(r))
            good.append(partial)
    combined = threshold.combine_partials(good, r, commitments=dealt.commitments)
    assert combined.hex() == v["shared_point"]


def test_warrant() -> None:
    v = load("warrant")
    court = SigningKey(bytes.fromhex(v["court_seed"]))
    courts = {"alameda-superior": court.verify_key}
    for case in v["cases"]:
        wire = case["wire"].encode()
        now = case.get("now", v["now"])
        if "want_error" in case:
            with pytest.raises(UndersealError) as caught:
                warrant.verify_warrant(wire, courts=courts, now=now)
            assert caught.value.code == case["want_error"], case["desc"]
        else:
            w = warrant.verify_warrant(wire, courts=courts, now=now)
            assert warrant.sign_warrant(w, court).to_bytes() == wire


def test_bundle() -> None:
    v = load("bundle")
    authority = SigningKey(bytes.fromhex(v["authority_seed"]))
    camera = PrivateKey(bytes.fromhex(v["camera_seed"]))
    key = keys.token_key()
    built = bundle.build_bundle(
        ((key.token(e["plate"]), e["ref"].to_bytes(8, "big")) for e in v["entries"]),
        camera_id="cam-oak-001", serial=7, epoch=keys.EPOCH,
        not_before=v["now"] - 3_600, not_after=v["now"] + 3_600, token_key=key,
    )  # fmt: skip
    assert built.body().hex() == v["body"]
    assert authority.sign(bundle._signed_message(built.body())).signature.hex() == v["signature"]
    for case in v["cases"]:
        args = {
            "camera_id": case.get("camera_id", "cam-oak-001"),
            "camera_key": camera,
            "authority": authority.verify_key,
            "now": case.get("now", v["now"]),
            "min_serial": case.get("min_serial", 0),
        }
        if "want_error" in case:
            with pytest.raises(UndersealError) as caught:
                bundle.open_bundle(bytes.fromhex(case["sealed"]), **args)
            assert caught.value.code == case["want_error"], case["desc"]
        else:
            opened = bundle.open_bundle(bytes.fromhex(case["sealed"]), **args)
            assert opened.body().hex() == v["body"]
            for e in v["entries"]:
                hit = opened.match(e["plate"])
                assert hit is not None
                assert int.from_bytes(hit.ref, "big") == e["ref"]
