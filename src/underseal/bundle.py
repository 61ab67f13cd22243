"""Hotlist bundles: the signed, sealed list of tokens a camera matches against.

Wire form (sign-then-seal, DESIGN §4)::

    body   = MAGIC ‖ u32 header length ‖ header (canonical JSON) ‖ tokens ‖ refs
    plain  = body ‖ Ed25519(authority, label ‖ SHA-512(body))
    sealed = SEALED_MAGIC ‖ SealedBox(camera X25519 key, k) ‖ secretstream(k, plain)

The seal is hybrid: SealedBox (X25519 + XSalsa20-Poly1305 with an
ephemeral key) carries a fresh 32-byte key ``k`` to the camera, and
libsodium's secretstream (XChaCha20-Poly1305, 64 KiB chunks, the last one
tagged final, so reordering and truncation are detected) carries the body.
Sealing the whole body with SealedBox, as DESIGN §4 first sketched, makes
the camera hold the ciphertext, a C buffer and a Python copy of a 24 MB
bundle at once (92 MiB peak measured); chunked opening from the stored
file holds only the plaintext.

The header names the camera, the serial number, the epoch, the validity
window, the token scheme and key, and how many tokens follow. Tokens are
16 bytes each, sorted and unique; each has an opaque fixed-width reference
to its hotlist entry, which the camera copies into a hit record and only
the server can resolve. The signature covers a SHA-512 digest of the body
rather than the body itself, so a 1 M-entry bundle is not copied once more
to be verified (the camera's memory budget is 64 MB).

The camera opens a bundle in the order of the numbered steps in
:func:`open_bundle`; any failure raises and the camera keeps matching
nothing (it fails closed).
"""

from __future__ import annotations

import io
import struct
import sys
from array import array
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO, Final

import nacl.bindings as sodium
import nacl.exceptions
from cryptography.hazmat.primitives import hashes
from nacl.public import PrivateKey, PublicKey, SealedBox
from nacl.signing import SigningKey, VerifyKey

from underseal import domains
from underseal.encoding import (
    b64d,
    b64e,
    canonical_json,
    check_identifier,
    check_uint,
    parse_canonical_json,
)
from underseal.epochs import epoch_end, epoch_start
from underseal.errors import (
    DecryptionFailed,
    Expired,
    InvalidSignature,
    Malformed,
    NotYetValid,
    Rollback,
    WrongRecipient,
)
from underseal.tokens import KEY_BYTES, TOKEN_BYTES, TokenKey, TokenScheme

__all__ = [
    "MAX_ENTRIES",
    "BundleHeader",
    "HotlistBundle",
    "Match",
    "build_bundle",
    "open_bundle",
    "seal_bundle",
]

MAGIC: Final = b"USHB\x01"
SEALED_MAGIC: Final = b"USHS\x01"
CHUNK_BYTES: Final = 64 * 1024
_SEALED_KEY_BYTES: Final = 32 + 48  # SealedBox: ephemeral public key + MAC + 32-byte key
_STREAM_HEADER: Final = sodium.crypto_secretstream_xchacha20poly1305_HEADERBYTES
_STREAM_ABYTES: Final = sodium.crypto_secretstream_xchacha20poly1305_ABYTES
_TAG_FINAL: Final = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL
_TAG_MESSAGE: Final = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
VERSION: Final = 1
MAX_ENTRIES: Final = 1 << 24
MAX_REF_BYTES: Final = 32
#: Default cap on an opened bundle: 1.5 M entries with 8-byte references. The
#: body is buffered before its signature can be checked, so anyone holding the
#: camera's public key could otherwise make it buffer ~768 MB.
DEFAULT_MAX_BYTES: Final = 36 << 20
_MAX_HEADER: Final = 1 << 16
_SIGNATURE_BYTES: Final = 64
_PREFIX_BUCKETS: Final = 1 << 16
_HEADER_FIELDS: Final = frozenset(
    {"version", "camera_id", "serial", "epoch", "not_before", "not_after", "scheme", "token_key",
     "count", "ref_len"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class BundleHeader:
    """What a bundle says about itself (the token key is kept apart, as a secret)."""

    camera_id: str
    serial: int
    epoch: int
    not_before: int
    not_after: int
    scheme: TokenScheme
    count: int
    ref_len: int

    def __post_init__(self) -> None:
        check_identifier(self.camera_id, field="camera_id")
        for name in ("serial", "epoch", "not_before", "not_after", "count", "ref_len"):
            check_uint(getattr(self, name), field=name)
        if self.not_after <= self.not_before:
            raise Malformed("validity window must end after it starts")
        # Tokens are keyed per epoch and the server looks records up with the
        # key of the record's epoch: a bundle valid past midnight would give
        # match tokens under the wrong key. Cameras hold tomorrow's bundle early.
        if self.not_before < epoch_start(self.epoch) or self.not_after > epoch_end(self.epoch):
            raise Malformed("validity window must lie within the bundle's epoch")
        if self.count > MAX_ENTRIES:
            raise Malformed(f"a bundle holds at most {MAX_ENTRIES} entries")
        if self.ref_len > MAX_REF_BYTES:
            raise Malformed(f"entry references are at most {MAX_REF_BYTES} bytes")


@dataclass(frozen=True, slots=True)
class Match:
    """A hotlist hit: the token matched and the opaque entry reference."""

    token: bytes
    ref: bytes
    serial: int

    def __repr__(self) -> str:
        return f"Match(<token>, <ref>, serial={self.serial})"


class HotlistBundle:
    """A verified bundle held in memory, with an O(1) membership test.

    Tokens stay in one contiguous bytes object; a table of 65,537 offsets by
    the first two token bytes narrows each lookup to one bucket (about 15
    tokens for 1 M entries), which ``bytes.find`` scans in C.
    """

    __slots__ = ("_data", "_end", "_index", "_refs_at", "_tokens_at", "header", "token_key")

    def __init__(
        self,
        *,
        header: BundleHeader,
        token_key: TokenKey,
        data: bytes | bytearray,
        tokens_at: int = 0,
        trailer: int = 0,
        _known_sorted: bool = False,
    ) -> None:
        """Hold ``data``: tokens from ``tokens_at``, then refs, then ``trailer`` other bytes.

        Keeping the opened plaintext as the one backing buffer, with offsets,
        avoids copying 16-24 MB blocks out of a 1 M-entry bundle.
        """
        refs_at = tokens_at + header.count * TOKEN_BYTES
        if refs_at + header.count * header.ref_len + trailer != len(data):
            raise Malformed("bundle blocks do not match the entry count")
        if token_key.scheme != header.scheme:
            raise Malformed("token key scheme does not match the header")
        if not _known_sorted:
            _check_sorted(data, tokens_at, header.count)
        self.header = header
        self.token_key = token_key
        self._data = data
        self._tokens_at = tokens_at
        self._refs_at = refs_at
        self._end = len(data) - trailer
        self._index = _prefix_index(data, tokens_at, header.count)

    def __len__(self) -> int:
        return self.header.count

    def __repr__(self) -> str:
        h = self.header
        return f"HotlistBundle(camera_id={h.camera_id!r}, serial={h.serial}, count={h.count})"

    def lookup(self, token: bytes) -> Match | None:
        """The match for a 16-byte token, or None."""
        if not isinstance(token, bytes) or len(token) != TOKEN_BYTES:
            raise Malformed(f"token must be {TOKEN_BYTES} bytes")
        bucket = (token[0] << 8) | token[1]
        base = self._tokens_at
        start = base + self._index[bucket] * TOKEN_BYTES
        end = base + self._index[bucket + 1] * TOKEN_BYTES
        pos = self._data.find(token, start, end)
        # A hit that straddles two tokens is not a token; keep looking past it.
        while pos != -1 and (pos - base) % TOKEN_BYTES:
            pos = self._data.find(token, pos + 1, end)
        if pos == -1:
            return None
        i = (pos - base) // TOKEN_BYTES
        ref_len = self.header.ref_len
        ref = bytes(self._data[self._refs_at + i * ref_len : self._refs_at + (i + 1) * ref_len])
        return Match(token=token, ref=ref, serial=self.header.serial)

    def match(self, plate: str) -> Match | None:
        """Fold, tokenize and look up a plate read.

        Raises:
            InvalidPlate: the text cannot be a plate.
        """
        return self.lookup(self.token_key.token(plate))

    def body(self) -> bytes:
        """The canonical bytes that the authority signs."""
        h = self.header
        header = canonical_json(
            {
                "version": VERSION,
                "camera_id": h.camera_id,
                "serial": h.serial,
                "epoch": h.epoch,
                "not_before": h.not_before,
                "not_after": h.not_after,
                "scheme": h.scheme.to_json(),
                "token_key": b64e(self.token_key.secret_bytes()),
                "count": h.count,
                "ref_len": h.ref_len,
            }
        )
        blocks = bytes(self._data[self._tokens_at : self._end])
        return MAGIC + struct.pack(">I", len(header)) + header + blocks


def _prefix_index(data: bytes | bytearray, at: int, n: int) -> array[int]:
    """Offsets (in tokens) of the first token of each two-byte prefix bucket."""
    end = at + n * TOKEN_BYTES
    pairs = bytearray(2 * n)
    pairs[0::2] = data[at:end:TOKEN_BYTES]
    pairs[1::2] = data[at + 1 : end : TOKEN_BYTES]
    prefixes = array("H", bytes(pairs))
    if sys.byteorder == "little":
        prefixes.byteswap()
    index = array("I", (bisect_left(prefixes, p) for p in range(_PREFIX_BUCKETS)))
    index.append(n)
    return index


def _check_sorted(data: bytes | bytearray, at: int, n: int) -> None:
    """Refuse tokens that are not strictly increasing: lookups would miss them."""
    view = memoryview(data)
    previous = b""
    for i in range(at, at + n * TOKEN_BYTES, TOKEN_BYTES):
        current = view[i : i + TOKEN_BYTES].tobytes()
        if current <= previous:
            raise Malformed("bundle tokens must be sorted and unique")
        previous = current


def build_bundle(
    entries: Iterable[tuple[bytes, bytes]],
    *,
    camera_id: str,
    serial: int,
    epoch: int,
    not_before: int,
    not_after: int,
    token_key: TokenKey,
    ref_len: int = 8,
) -> HotlistBundle:
    """Build a bundle from ``(token, ref)`` pairs (tokens from ``token_key``).

    Two entries whose plates fold to the same token share one slot, holding
    the reference of the last of them (the server resolves a token to all of
    its entries anyway, so which one is kept only has to be deterministic).

    Raises:
        Malformed: a token or reference of the wrong size, or too many entries.
    """
    # dict() and the length checks run in C: a 1 M-entry bundle builds in seconds.
    try:
        by_token = dict(entries)
    except (TypeError, ValueError):
        raise Malformed("entries must be (token, reference) pairs of bytes") from None
    if by_token and set(map(len, by_token)) != {TOKEN_BYTES}:
        raise Malformed(f"tokens must be {TOKEN_BYTES} bytes")
    if by_token and set(map(len, by_token.values())) != {ref_len}:
        raise Malformed(f"entry references must be {ref_len} bytes")
    if len(by_token) > MAX_ENTRIES:
        raise Malformed(f"a bundle holds at most {MAX_ENTRIES} entries")
    ordered = sorted(by_token)
    header = BundleHeader(
        camera_id=camera_id,
        serial=serial,
        epoch=epoch,
        not_before=not_before,
        not_after=not_after,
        scheme=token_key.scheme,
        count=len(ordered),
        ref_len=ref_len,
    )
    data = b"".join(ordered) + b"".join(map(by_token.__getitem__, ordered))
    return HotlistBundle(header=header, token_key=token_key, data=data, _known_sorted=True)


def _signed_message(body: bytes | memoryview) -> bytes:
    h = hashes.Hash(hashes.SHA512())
    h.update(body)
    return domains.BUNDLE_SIGNATURE + h.finalize()


def seal_bundle(bundle: HotlistBundle, *, authority: SigningKey, camera: PublicKey) -> bytes:
    """Sign the bundle with the hotlist authority's key, then seal it to the camera."""
    body = bundle.body()
    return _seal_signed(body + authority.sign(_signed_message(body)).signature, camera)


def _seal_signed(signed: bytes, camera: PublicKey) -> bytes:
    # The hybrid seal of a signed body; separate so tests can seal forgeries.
    plain = memoryview(signed)
    key = sodium.crypto_secretstream_xchacha20poly1305_keygen()
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    parts = [
        SEALED_MAGIC,
        bytes(SealedBox(camera).encrypt(key)),
        sodium.crypto_secretstream_xchacha20poly1305_init_push(state, key),
    ]
    for start in range(0, len(plain), CHUNK_BYTES):
        chunk = plain[start : start + CHUNK_BYTES]
        tag = _TAG_FINAL if start + CHUNK_BYTES >= len(plain) else _TAG_MESSAGE
        parts.append(
            sodium.crypto_secretstream_xchacha20poly1305_push(state, bytes(chunk), tag=tag)
        )
    return b"".join(parts)


def _read_up_to(source: BinaryIO, size: int) -> bytes:
    # A raw stream may return fewer bytes than asked before its end: keep reading.
    parts: list[bytes] = []
    remaining = size
    while remaining:
        data = source.read(remaining)
        if not data:
            break
        if not isinstance(data, bytes):
            raise Malformed("bundle source must yield bytes")
        parts.append(data)
        remaining -= len(data)
    return b"".join(parts)


def _read_exact(source: BinaryIO, size: int) -> bytes:
    data = _read_up_to(source, size)
    if len(data) != size:
        raise DecryptionFailed("bundle is truncated")
    return data


def _unseal(source: BinaryIO, camera_key: PrivateKey, max_bytes: int) -> bytearray:
    """Stream-decrypt a sealed bundle into one buffer, 64 KiB at a time.

    Raises:
        Malformed: not a sealed bundle.
        DecryptionFailed: wrong camera key, or any byte changed, reordered,
            added or cut off.
    """
    if _read_up_to(source, len(SEALED_MAGIC)) != SEALED_MAGIC:
        raise Malformed("not a sealed hotlist bundle (bad magic)")
    try:
        key = SealedBox(camera_key).decrypt(_read_exact(source, _SEALED_KEY_BYTES))
        state = sodium.crypto_secretstream_xchacha20poly1305_state()
        sodium.crypto_secretstream_xchacha20poly1305_init_pull(
            state, _read_exact(source, _STREAM_HEADER), key
        )
        plain = bytearray()
        while True:
            chunk = _read_up_to(source, CHUNK_BYTES + _STREAM_ABYTES)
            if not chunk:
                raise DecryptionFailed("bundle is truncated")
            message, tag = sodium.crypto_secretstream_xchacha20poly1305_pull(state, chunk)
            if len(plain) + len(message) > max_bytes:
                raise Malformed(f"bundle is larger than this camera accepts ({max_bytes} bytes)")
            plain += message
            if tag == _TAG_FINAL:
                break
    except (nacl.exceptions.CryptoError, TypeError, ValueError):
        raise DecryptionFailed("bundle does not open with this camera's key") from None
    if source.read(1):
        raise DecryptionFailed("bundle has bytes after its final chunk")
    return plain


def open_bundle(
    sealed: bytes | BinaryIO,
    *,
    camera_id: str,
    camera_key: PrivateKey,
    authority: VerifyKey,
    now: int,
    min_serial: int,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> HotlistBundle:
    """Open, verify and load a sealed bundle on the camera.

    ``sealed`` is the bundle's bytes or, to keep the camera's memory low, a
    binary file opened on it (read in 64 KiB chunks). ``min_serial`` is the
    highest serial this camera has accepted before (required, so rollback
    protection cannot be forgotten); an equal serial is accepted so that a
    camera can reload its bundle after a restart. ``max_bytes`` caps the
    opened size.

    Raises:
        DecryptionFailed: not sealed to this camera's key, or changed in transit.
        Malformed: the framing or header does not parse.
        InvalidSignature: not signed by the hotlist authority.
        WrongRecipient: signed for another camera.
        Rollback: older than a bundle already accepted.
        NotYetValid, Expired: ``now`` is outside the validity window.
    """
    # 1. Unseal: only this camera's X25519 key opens it; every chunk is authenticated.
    source = io.BytesIO(sealed) if isinstance(sealed, bytes | bytearray | memoryview) else sealed
    plain = _unseal(source, camera_key, max_bytes)
    # 2. Split body and signature; read only the framing before the signature checks.
    if len(plain) < len(MAGIC) + 4 + _SIGNATURE_BYTES or not plain.startswith(MAGIC):
        raise Malformed("not a hotlist bundle (bad magic or too short)")
    body = memoryview(plain)[:-_SIGNATURE_BYTES]
    # 3. Verify the authority's signature over the whole body.
    try:
        authority.verify(_signed_message(body), bytes(plain[-_SIGNATURE_BYTES:]))
    except nacl.exceptions.BadSignatureError:
        raise InvalidSignature("bundle is not signed by the hotlist authority") from None
    # 4. Parse the header strictly.
    (header_len,) = struct.unpack_from(">I", plain, len(MAGIC))
    start = len(MAGIC) + 4
    if header_len > _MAX_HEADER or start + header_len > len(body):
        raise Malformed("bundle header length is out of range")
    fields = parse_canonical_json(plain[start : start + header_len], what="bundle header")
    if (
        set(fields) != _HEADER_FIELDS
        or type(fields["version"]) is not int
        or fields["version"] != VERSION
    ):
        raise Malformed("bundle header has the wrong fields or version")
    header = BundleHeader(
        camera_id=fields["camera_id"],
        serial=fields["serial"],
        epoch=fields["epoch"],
        not_before=fields["not_before"],
        not_after=fields["not_after"],
        scheme=TokenScheme.from_json(fields["scheme"]),
        count=fields["count"],
        ref_len=fields["ref_len"],
    )
    token_key = TokenKey(
        b64d(fields["token_key"], size=KEY_BYTES, field="token_key"), header.scheme
    )
    # 5. Addressed to this camera, not older than what it has, and valid now.
    if header.camera_id != camera_id:
        raise WrongRecipient("bundle was built for another camera")
    if header.serial < min_serial:
        raise Rollback("bundle serial is older than one already accepted")
    if now < header.not_before:
        raise NotYetValid("bundle is not valid yet")
    if now >= header.not_after:
        raise Expired("bundle has expired")
    # 6. The blocks fill the rest exactly, and tokens are sorted and unique.
    tokens_at = start + header_len
    if tokens_at + header.count * (TOKEN_BYTES + header.ref_len) != len(body):
        raise Malformed("bundle blocks do not match the entry count")
    body.release()
    return HotlistBundle(
        header=header,
        token_key=token_key,
        data=plain,
        tokens_at=tokens_at,
        trailer=_SIGNATURE_BYTES,
    )
