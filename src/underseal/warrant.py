"""Court warrants: canonical, signed, and checked by the server and by every custodian.

A warrant is canonical JSON signed with a registered court's Ed25519 key.
Its scope names the plates, a time window, optionally the cameras, and a
purpose; ``max_records`` caps how many records it can open and
``legal_hold`` asks for in-scope records to be kept past retention.
:func:`check_scope` says exactly which constraint a record fails, by name,
and never which plate it was.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Annotated, Any, Final

import nacl.exceptions
from nacl.signing import SigningKey, VerifyKey
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from underseal import _group as group
from underseal import domains
from underseal.encoding import IDENTIFIER_PATTERN, b64d, b64e, canonical_json, parse_canonical_json
from underseal.epochs import epoch_end, epoch_start
from underseal.errors import (
    Expired,
    InvalidPlate,
    InvalidSignature,
    Malformed,
    NotYetValid,
    OutOfScope,
)
from underseal.plates import canonical
from underseal.sealed import RecordHeader
from underseal.tokens import TokenKey

__all__ = [
    "MAX_RECORDS_LIMIT",
    "ScopeFailure",
    "SignedWarrant",
    "Warrant",
    "WarrantScope",
    "check_scope",
    "sign_warrant",
    "verify_warrant",
]

MAX_RECORDS_LIMIT: Final = 10_000
MAX_PLATES: Final = 100
#: Clock skew tolerated between a court and a verifier, in seconds.
CLOCK_SKEW: Final = 300

Identifier = Annotated[str, StringConstraints(pattern=IDENTIFIER_PATTERN)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=500)]
UnixTime = Annotated[int, Field(ge=0, lt=1 << 40)]
Key32Text = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{43}$")]


class ScopeFailure(StrEnum):
    """Which constraint of a warrant a record fails."""

    PLATE = "plate"
    TIME = "time"
    CAMERA = "camera"


class _Strict(BaseModel):
    # hide_input_in_errors: a ValidationError must never quote a plate.
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, hide_input_in_errors=True)


class WarrantScope(_Strict):
    """What a warrant covers. The time window is half-open: ``[time_from, time_to)``."""

    plates: tuple[str, ...] = Field(min_length=1, max_length=MAX_PLATES)
    time_from: UnixTime
    time_to: UnixTime
    cameras: tuple[Identifier, ...] | None = Field(default=None, min_length=1, max_length=1000)
    purpose: Text

    @model_validator(mode="after")
    def _check(self) -> WarrantScope:
        if self.time_to <= self.time_from:
            raise ValueError("scope time window must end after it starts")
        for plate in self.plates:
            try:
                ok = canonical(plate) == plate
            except InvalidPlate:
                ok = False
            if not ok:
                raise ValueError("scope plates must be in canonical form (A-Z, 0-9)")
        if len(set(self.plates)) != len(self.plates):
            raise ValueError("scope plates must be unique")
        if self.cameras is not None and len(set(self.cameras)) != len(self.cameras):
            raise ValueError("scope cameras must be unique")
        return self

    def covers(self, *, plate: str, observed_at: int, camera_id: str) -> bool:
        """The exact check, run by the investigator on an opened record.

        The server and custodians can only test the folded token and the
        record's day; this tests the canonical plate (``7A8C1Z3`` is not
        ``7ABC123``), the exact time and the camera.
        """
        try:
            exact = canonical(plate) in self.plates
        except InvalidPlate:
            return False
        in_time = self.time_from <= observed_at < self.time_to
        return exact and in_time and (self.cameras is None or camera_id in self.cameras)

    def __repr__(self) -> str:
        return f"WarrantScope(<{len(self.plates)} plates>, {self.time_from}..{self.time_to})"

    __str__ = __repr__


class Warrant(_Strict):
    """A warrant's content, as the court signs it."""

    id: Identifier
    court_id: Identifier
    # Who may use it: custodians answer only this account. Without it, anyone
    # with an investigator account at t custodians could replay the bytes.
    investigator: Identifier
    case: Text
    issued_at: UnixTime
    not_after: UnixTime
    scope: WarrantScope
    max_records: int = Field(ge=1, le=MAX_RECORDS_LIMIT)
    legal_hold: bool = False
    # The X25519 key records under legal hold are re-sealed to. The court signs
    # it with the rest, so no server can slip in a key of its own.
    case_key: Key32Text | None = None

    @model_validator(mode="after")
    def _check(self) -> Warrant:
        if self.not_after <= self.issued_at:
            raise ValueError("warrant must expire after it is issued")
        if self.legal_hold != (self.case_key is not None):
            raise ValueError("a legal hold needs a case key, and only a legal hold has one")
        return self

    def __repr__(self) -> str:
        return f"Warrant(id={self.id!r}, court_id={self.court_id!r}, not_after={self.not_after})"

    __str__ = __repr__

    def to_bytes(self) -> bytes:
        """The canonical bytes a court signs."""
        return canonical_json(self.model_dump(mode="python"))


class SignedWarrant(_Strict):
    """A warrant with the court's signature over its canonical bytes."""

    warrant: Warrant
    signature: bytes

    def __repr__(self) -> str:
        return f"SignedWarrant({self.warrant!r})"

    __str__ = __repr__

    def to_bytes(self) -> bytes:
        """Canonical wire encoding."""
        return canonical_json(
            {"warrant": self.warrant.model_dump(mode="python"), "signature": b64e(self.signature)}
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> SignedWarrant:
        """Parse the wire encoding (call :func:`verify_warrant` to trust it).

        Raises:
            Malformed: not a canonical, well-formed signed warrant.
        """
        fields = parse_canonical_json(data, what="warrant")
        if set(fields) != {"warrant", "signature"}:
            raise Malformed("signed warrant must have exactly warrant and signature")
        signed = cls(
            warrant=_parse_warrant(fields["warrant"]),
            signature=b64d(fields["signature"], size=64, field="signature"),
        )
        # One object, one encoding: defaults left out (legal_hold, cameras)
        # would otherwise give other bytes that verify under the same signature.
        if signed.to_bytes() != bytes(data):
            raise Malformed("warrant is not in canonical form (every field must be present)")
        return signed


def _parse_warrant(value: Any) -> Warrant:
    if not isinstance(value, dict):
        raise Malformed("warrant must be an object")
    scope = value.get("scope")
    if isinstance(scope, dict):
        # JSON has no tuples; the model holds them as tuples so it stays hashable.
        scope = {k: tuple(v) if isinstance(v, list) else v for k, v in scope.items()}
        value = {**value, "scope": scope}
    try:
        return Warrant.model_validate(value)
    except ValidationError as error:
        # Report field names and the rule broken, never the input values.
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'warrant'}: {e['msg']}" for e in error.errors()
        )
        raise Malformed(f"warrant is not well formed ({problems})") from None


def sign_warrant(warrant: Warrant, court: SigningKey) -> SignedWarrant:
    """Court side: sign the warrant's canonical bytes."""
    signature = court.sign(domains.WARRANT_SIGNATURE + warrant.to_bytes()).signature
    return SignedWarrant(warrant=warrant, signature=signature)


def verify_warrant(data: bytes, *, courts: Mapping[str, VerifyKey], now: int) -> Warrant:
    """Parse and verify a signed warrant for use at time ``now``.

    Raises:
        Malformed: not a well-formed signed warrant.
        InvalidSignature: unknown court, or the signature does not verify.
        NotYetValid: issued in the future (beyond the allowed clock skew).
        Expired: ``now`` is at or past ``not_after``.
    """
    # 1. Parse strictly; 2. find the court; 3. verify; 4. check the clock.
    signed = SignedWarrant.from_bytes(data)
    warrant = signed.warrant
    court = courts.get(warrant.court_id)
    if court is None:
        raise InvalidSignature("warrant names a court that is not registered")
    try:
        court.verify(domains.WARRANT_SIGNATURE + warrant.to_bytes(), signed.signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError):
        raise InvalidSignature("warrant signature does not verify under the court's key") from None
    if now + CLOCK_SKEW < warrant.issued_at:
        raise NotYetValid("warrant is dated in the future")
    if now >= warrant.not_after:
        raise Expired("warrant has expired")
    return warrant


def check_scope(warrant: Warrant, header: RecordHeader, *, token_key: TokenKey) -> None:
    """Check that a record falls inside a (verified) warrant's scope.

    ``token_key`` is the token key of the record's epoch: the record is
    found by its match token, never by decrypting it. Both tests are coarse
    by construction: the token is of the *folded* plate, so a warrant for
    ``7ABC123`` also reaches a record read as ``7A8C1Z3``, and the time test
    is by day. The investigator applies :meth:`WarrantScope.covers` to each
    opened record and must discard (and the audit log shows) those it fails.

    Raises:
        OutOfScope: with ``reason`` the first failed constraint (camera,
            time, plate), in that order, never naming the plate.
    """
    scope = warrant.scope
    if scope.cameras is not None and header.camera_id not in scope.cameras:
        raise OutOfScope(ScopeFailure.CAMERA, "record is from a camera the warrant does not name")
    # The server sees only the epoch (a UTC day), so a record is in the time
    # window when its day overlaps it; the exact time is checked after opening.
    if epoch_end(header.epoch) <= scope.time_from or epoch_start(header.epoch) >= scope.time_to:
        raise OutOfScope(ScopeFailure.TIME, "record's day is outside the warrant's time window")
    if not _any_equal(header.match_token, (token_key.token(p) for p in scope.plates)):
        raise OutOfScope(ScopeFailure.PLATE, "record is not for a plate the warrant names")


def _any_equal(token: bytes, candidates: Iterable[bytes]) -> bool:
    # Compare against every candidate, in constant time each, without stopping early.
    found = False
    for candidate in candidates:
        found |= group.ct_equal(token, candidate)
    return found
