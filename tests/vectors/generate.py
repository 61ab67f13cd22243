"""Write tests/vectors/*.json: fixed keys and inputs, and the exact bytes they give.

Run with `make vectors` only when the wire format changes on purpose; the
tests check that the code still reproduces every committed byte, so an
accidental format change fails them. Each file has ``cases``; a case with
``want_error`` must be refused with that error code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.vectors import keys
from underseal import bundle, sealed, threshold, warrant
from underseal.encoding import b64e
from underseal.tokens import HARDENED

HERE = Path(__file__).parent


def flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def tokens() -> dict[str, Any]:
    key, hard = keys.token_key(), keys.token_key(HARDENED)
    cases = []
    for plate in ("7ABC123", "7abc-123", "7 ABC 123", "8B0D5SZ", "CROSSWALK", "A"):
        cases.append(
            {
                "desc": f"token of {plate!r}",
                "plate": plate,
                "hmac_sha256": key.token(plate).hex(),
                "argon2id": hard.token(plate).hex(),
            }
        )
    for plate in ("", "7ABC12É", "<script>", "X" * 17):
        cases.append({"desc": "not a plate", "plate": plate, "want_error": "invalid_plate"})
    return {
        "desc": "Plate tokens: HMAC-SHA256(key, label ‖ fold(plate))[:16], and Argon2id-hardened",
        "token_key": keys.seed("token key").hex(),
        "argon2id": HARDENED.to_json(),
        "cases": cases,
    }


def record() -> dict[str, Any]:
    secret, device = keys.epoch_secret(), keys.signing("device")
    header = sealed.RecordHeader(
        record_id=bytes(range(16)),
        camera_id="cam-oak-001",
        epoch=keys.EPOCH,
        match_token=keys.token_key().token("7ABC123"),
        alert_size=120,
    )
    evidence = b'{"plate":"7ABC123","note":"vector evidence"}'
    rec = sealed.seal_record(
        header=header,
        evidence=evidence,
        epoch_key=secret.public_key(),
        device=device,
        unsafe_fixed_ephemeral=keys.scalar("record ephemeral"),
        unsafe_fixed_nonce=bytes(range(24)),
    )
    wire = rec.to_bytes()
    ct = rec.ciphertext
    tampered = [
        ("ciphertext bit 0 flipped", sealed.SealedRecord(header, rec.ephemeral, rec.nonce,
         flip(ct, 0), rec.signature).to_bytes(), "invalid_signature"),
        ("signature bit 9 flipped", sealed.SealedRecord(header, rec.ephemeral, rec.nonce,
         ct, flip(rec.signature, 9)).to_bytes(), "invalid_signature"),
        ("camera id changed", wire.replace(b"cam-oak-001", b"cam-oak-002"), "invalid_signature"),
        ("trailing garbage", wire + b" ", "malformed"),
        ("preceding garbage", b"\n" + wire, "malformed"),
        ("fields reordered", wire.replace(b'{"ciphertext"', b'{ "ciphertext"'), "malformed"),
    ]  # fmt: skip
    return {
        "desc": "Sealed record: ECIES on edwards25519 + HKDF-SHA256 + XChaCha20-Poly1305 + Ed25519",
        "epoch_secret": secret.secret_bytes().hex(),
        "epoch_public_key": secret.public_key().point.hex(),
        "device_seed": keys.seed("device").hex(),
        "device_public_key": device.verify_key.encode().hex(),
        "ephemeral_scalar": keys.scalar("record ephemeral").hex(),
        "nonce": bytes(range(24)).hex(),
        "header": header.to_json(),
        "evidence": evidence.decode(),
        "cases": [
            {"desc": "valid record", "wire": wire.decode()},
            *({"desc": d, "wire": w.decode(), "want_error": e} for d, w, e in tampered),
        ],
    }


def threshold_vectors() -> dict[str, Any]:
    secret = keys.epoch_secret()
    coefficients = [keys.scalar("polynomial a1")]
    dealt = threshold._split_with(secret, coefficients, custodians=3)
    r = keys.scalar("record ephemeral")
    from underseal import _group as group

    ephemeral = group.base_mul(group.Scalar(r))
    partials = [threshold.partial_decrypt(s, ephemeral) for s in dealt.shares]
    bad = threshold.Partial(2, partials[0].point, partials[1].challenge, partials[1].response)
    return {
        "desc": "2-of-3 Shamir over the edwards25519 scalar field with Feldman commitments; "
        "partials D_i = s_i·R with Chaum–Pedersen proofs; Lagrange combination",
        "epoch_secret": secret.secret_bytes().hex(),
        "coefficients": [c.hex() for c in coefficients],
        "commitments": [c.hex() for c in dealt.commitments],
        "shares": [s.scalar.hex() for s in dealt.shares],
        "ephemeral": ephemeral.hex(),
        "shared_point": group.mul(group.Scalar(secret.secret_bytes()), ephemeral).hex(),
        "cases": [
            *(
                {"desc": f"partial of custodian {p.index}", "partial": p.to_json()}
                for p in partials
            ),
            {
                "desc": "custodian 2 answers custodian 1's point",
                "partial": bad.to_json(),
                "want_error": "invalid_proof",
            },
        ],
    }


def warrant_vectors() -> dict[str, Any]:
    court = keys.signing("court")
    content = warrant.Warrant(
        id="W-2025-0001",
        court_id="alameda-superior",
        investigator="det-garcia",
        case="CR-25-1234",
        issued_at=keys.NOW - 3_600,
        not_after=keys.NOW + 7 * 86_400,
        scope=warrant.WarrantScope(
            plates=("7ABC123",),
            time_from=keys.NOW - 30 * 86_400,
            time_to=keys.NOW,
            cameras=("cam-oak-001",),
            purpose="Investigation of a reported armed robbery",
        ),
        max_records=25,
        legal_hold=True,
        case_key=b64e(bytes(keys.box("case").public_key)),
    )
    signed = warrant.sign_warrant(content, court).to_bytes()
    other = warrant.sign_warrant(content, keys.signing("another court")).to_bytes()
    return {
        "desc": "Court warrant: canonical JSON signed with Ed25519 under a domain label",
        "court_seed": keys.seed("court").hex(),
        "court_public_key": court.verify_key.encode().hex(),
        "now": keys.NOW,
        "cases": [
            {"desc": "valid warrant", "wire": signed.decode()},
            {
                "desc": "signed by an unregistered key",
                "wire": other.decode(),
                "want_error": "invalid_signature",
            },
            {
                "desc": "max_records raised",
                "wire": signed.replace(b'"max_records":25', b'"max_records":99').decode(),
                "want_error": "invalid_signature",
            },
            {
                "desc": "used after not_after",
                "wire": signed.decode(),
                "now": keys.NOW + 8 * 86_400,
                "want_error": "expired",
            },
            {
                "desc": "float where an integer belongs",
                "wire": signed.replace(b'"max_records":25', b'"max_records":25.0').decode(),
                "want_error": "malformed",
            },
            {
                "desc": "duplicate key",
                "wire": signed.replace(b'{"signature"', b'{"signature":"AA","signature"').decode(),
                "want_error": "malformed",
            },
        ],
    }


def bundle_vectors() -> dict[str, Any]:
    authority, camera = keys.signing("hotlist authority"), keys.box("camera")
    key = keys.token_key()
    entries = [("7ABC123", 1), ("8XYZ999", 2), ("5SAM123", 3)]
    built = bundle.build_bundle(
        ((key.token(p), ref.to_bytes(8, "big")) for p, ref in entries),
        camera_id="cam-oak-001", serial=7, epoch=keys.EPOCH,
        not_before=keys.NOW - 3_600, not_after=keys.NOW + 3_600, token_key=key,
    )  # fmt: skip
    sealed_bytes = bundle.seal_bundle(built, authority=authority, camera=camera.public_key)
    body = built.body()
    signature = authority.sign(bundle._signed_message(body)).signature
    forged = bundle._seal_signed(
        body + keys.signing("mallory").sign(bundle._signed_message(body)).signature,
        camera.public_key,
    )
    return {
        "desc": "Hotlist bundle: Ed25519(authority, label ‖ SHA-512(body)), then sealed to the "
        "camera (SealedBox of a stream key, secretstream of the signed body). Sealing is "
        "randomised, so sealed cases are opening vectors.",
        "authority_seed": keys.seed("hotlist authority").hex(),
        "camera_seed": keys.seed("camera").hex(),
        "now": keys.NOW,
        "entries": [{"plate": p, "ref": r} for p, r in entries],
        "body": body.hex(),
        "signature": signature.hex(),
        "cases": [
            {"desc": "valid bundle", "sealed": sealed_bytes.hex(), "min_serial": 7},
            {
                "desc": "rollback below serial 8",
                "sealed": sealed_bytes.hex(),
                "min_serial": 8,
                "want_error": "rollback",
            },
            {
                "desc": "expired",
                "sealed": sealed_bytes.hex(),
                "now": keys.NOW + 3_600,
                "want_error": "expired",
            },
            {
                "desc": "for another camera",
                "sealed": sealed_bytes.hex(),
                "camera_id": "cam-oak-002",
                "want_error": "wrong_recipient",
            },
            {
                "desc": "sealed key bit 300 flipped",
                "sealed": flip(sealed_bytes, 300).hex(),
                "want_error": "decryption_failed",
            },
            {
                "desc": "stream bit 1200 flipped",
                "sealed": flip(sealed_bytes, 1200).hex(),
                "want_error": "decryption_failed",
            },
            {
                "desc": "last byte cut off",
                "sealed": sealed_bytes[:-1].hex(),
                "want_error": "decryption_failed",
            },
            {
                "desc": "a byte appended",
                "sealed": (sealed_bytes + b"\x00").hex(),
                "want_error": "decryption_failed",
            },
            {
                "desc": "magic changed",
                "sealed": flip(sealed_bytes, 3).hex(),
                "want_error": "malformed",
            },
            {
                "desc": "signed by another key",
                "sealed": bytes(forged).hex(),
                "want_error": "invalid_signature",
            },
        ],
        "token_key": b64e(key.secret_bytes()),
    }


def main() -> None:
    for name, make in (
        ("tokens", tokens),
        ("record", record),
        ("threshold", threshold_vectors),
        ("warrant", warrant_vectors),
        ("bundle", bundle_vectors),
    ):
        path = HERE / f"{name}.json"
        path.write_text(json.dumps(make(), indent=2, ensure_ascii=False) + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
