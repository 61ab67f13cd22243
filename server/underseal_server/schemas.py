"""Pydantic building blocks shared by the services' request bodies."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

from underseal.encoding import IDENTIFIER_PATTERN, b64d
from underseal.errors import Malformed

__all__ = ["Identifier", "Key32", "Strict", "decode_key"]


class Strict(BaseModel):
    """Request bodies: unknown fields refused, no coercion, inputs never echoed in errors."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, hide_input_in_errors=True)


def _key32(value: str) -> str:
    try:
        b64d(value, size=32, field="key")
    except Malformed:
        raise ValueError("must be 32 bytes in unpadded base64url") from None
    return value


Identifier = Annotated[str, StringConstraints(pattern=IDENTIFIER_PATTERN)]
Key32 = Annotated[str, StringConstraints(max_length=64), AfterValidator(_key32)]


def decode_key(value: str) -> bytes:
    """Bytes of a validated :data:`Key32`."""
    return b64d(value, size=32, field="key")
