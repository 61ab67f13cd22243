"""Signed warrants (``warrant.verify_warrant``), as custodians and the server receive them.

Odd first byte: the input is the signed warrant's bytes. Even: the input is
the warrant's own JSON, which the harness signs with the court's key, so the
fuzzer reaches field validation behind the signature.
"""

from __future__ import annotations

from fuzz.harness import Target, run
from fuzz.keys import CAMERA, NOW, box, signing
from underseal import domains
from underseal.encoding import b64e, canonical_json, parse_canonical_json
from underseal.errors import UndersealError
from underseal.warrant import Warrant, WarrantScope, sign_warrant, verify_warrant

COURT = signing("court")
COURTS = {"superior-court": COURT.verify_key}


def _warrant(**extra: object) -> Warrant:
    fields: dict[str, object] = {
        "id": "W-1",
        "court_id": "superior-court",
        "investigator": "detective",
        "case": "SPD-2026-0042",
        "issued_at": NOW - 60,
        "not_after": NOW + 86_400,
        "scope": WarrantScope(
            plates=("7ABC123",),
            cameras=(CAMERA,),
            time_from=NOW - 86_400,
            time_to=NOW,
            purpose="stolen vehicle",
        ),
        "max_records": 10,
        "legal_hold": False,
        "case_key": None,
    }
    fields.update(extra)
    return Warrant(**fields)  # type: ignore[arg-type]


def _sign_json(body: bytes) -> bytes:
    # The warrant's JSON (parsed strictly here too), wrapped with a valid court signature.
    warrant = parse_canonical_json(body, what="warrant")
    signature = COURT.sign(domains.WARRANT_SIGNATURE + body).signature
    return canonical_json({"warrant": warrant, "signature": b64e(signature)})


def seeds() -> list[bytes]:
    hold = _warrant(legal_hold=True, case_key=b64e(bytes(box("case").public_key)))
    out = []
    for warrant in (_warrant(), hold):
        signed = sign_warrant(warrant, COURT)
        out.append(b"\x01" + signed.to_bytes())
        out.append(b"\x00" + warrant.to_bytes())
    return out


def check(data: bytes) -> None:
    if not data:
        return
    signed = data[1:] if data[0] & 1 else _sign_json(data[1:])
    verify_warrant(signed, courts=COURTS, now=NOW)


TARGET = Target("warrant", check, seeds, (UndersealError,))

if __name__ == "__main__":
    run(TARGET)
