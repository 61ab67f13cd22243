"""Canonical encodings: the same object always becomes the same bytes.

Signed and hashed objects are JSON with sorted keys, no whitespace, ASCII
only, integers but no floats, and bytes as unpadded base64url. Parsing is
strict: duplicate keys, floats, non-canonical spacing or ordering, and
non-canonical base64 are refused, so there is exactly one encoding of each
object and a signature can never be moved between two spellings of it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import struct
from collections.abc import Mapping, Sequence
from typing import Any

from underseal.errors import Malformed

__all__ = [
    "IDENTIFIER_PATTERN",
    "MAX_JSON_BYTES",
    "MAX_UINT",
    "b64d",
    "b64e",
    "canonical_json",
    "check_identifier",
    "check_uint",
    "length_prefixed",
    "parse_canonical_json",
]

MAX_JSON_BYTES = 1 << 20
#: Largest integer field (times, epochs, serials, counts): exact in JSON everywhere.
MAX_UINT = (1 << 53) - 1
#: Identifiers of cameras, courts, custodians and warrants: one rule everywhere,
#: so that anything that can be enrolled can also be named in a warrant.
IDENTIFIER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
_IDENTIFIER = re.compile(IDENTIFIER_PATTERN)
_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def check_identifier(value: object, *, field: str) -> str:
    """Return ``value`` if it is an identifier (1-64 of A-Z a-z 0-9 . _ : -).

    Raises:
        Malformed: anything else.
    """
    if not isinstance(value, str) or _IDENTIFIER.fullmatch(value) is None:
        raise Malformed(f"{field} must be 1-64 letters, digits, '.', '_', ':' or '-'")
    return value


def check_uint(value: object, *, field: str) -> int:
    """Return ``value`` if it is an int (not a bool) in ``[0, MAX_UINT]``.

    Raises:
        Malformed: anything else.
    """
    if type(value) is not int or not 0 <= value <= MAX_UINT:
        raise Malformed(f"{field} must be a non-negative integer")
    return value


def b64e(data: bytes) -> str:
    """Unpadded base64url of ``data``."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64d(text: str, *, size: int | None = None, field: str = "value") -> bytes:
    """Decode unpadded base64url, refusing any non-canonical spelling.

    Raises:
        Malformed: not a string, wrong alphabet, padding, non-zero trailing
            bits, or (when ``size`` is given) the wrong decoded length.
    """
    if not isinstance(text, str) or _B64URL.fullmatch(text) is None or len(text) % 4 == 1:
        raise Malformed(f"{field} must be unpadded base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise Malformed(f"{field} must be unpadded base64url") from None
    if b64e(data) != text:
        raise Malformed(f"{field} is not canonical base64url")
    if size is not None and len(data) != size:
        raise Malformed(f"{field} must be {size} bytes")
    return data


def _check(value: object, depth: int = 0) -> None:
    if depth > 16:
        raise Malformed("object nests too deeply")
    if value is None or isinstance(value, bool | str):
        return
    if isinstance(value, int):
        return
    if isinstance(value, float):
        raise Malformed("floats have no canonical encoding; use integers")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise Malformed("object keys must be strings")
            _check(item, depth + 1)
        return
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        for item in value:
            _check(item, depth + 1)
        return
    raise Malformed(f"{type(value).__name__} has no canonical encoding")


def canonical_json(value: Any) -> bytes:
    """Encode ``value`` canonically (sorted keys, compact, ASCII, no floats).

    Raises:
        Malformed: the value holds a float, a non-string key or another type
            with no canonical encoding.
    """
    _check(value)
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("ascii")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise Malformed("duplicate key in object")
    return result


def _no_float(_: str) -> Any:
    raise Malformed("floats have no canonical encoding")


def parse_canonical_json(data: bytes | bytearray, *, what: str = "object") -> dict[str, Any]:
    """Parse bytes that must be the canonical encoding of a JSON object.

    Raises:
        Malformed: not bytes, too large, not JSON, not an object, duplicate
            keys, floats, or any spelling other than the canonical one.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise Malformed(f"{what} must be bytes")
    data = bytes(data)
    if len(data) > MAX_JSON_BYTES:
        raise Malformed(f"{what} is larger than {MAX_JSON_BYTES} bytes")
    try:
        value = json.loads(
            data.decode("ascii"),
            object_pairs_hook=_no_duplicates,
            parse_float=_no_float,
            parse_constant=_no_float,
        )
    except (UnicodeDecodeError, ValueError, RecursionError):
        # ValueError covers JSONDecodeError and integers past Python's digit limit.
        raise Malformed(f"{what} is not ASCII JSON") from None
    if not isinstance(value, dict):
        raise Malformed(f"{what} must be a JSON object")
    if canonical_json(value) != data:
        raise Malformed(f"{what} is not in canonical form")
    return value


def length_prefixed(*parts: bytes) -> bytes:
    """Concatenate ``parts``, each preceded by its 8-byte big-endian length.

    Used for hash and signature inputs, so that no two different tuples of
    parts ever give the same bytes.
    """
    return b"".join(struct.pack(">Q", len(p)) + p for p in parts)
