"""The evidence a camera seals in a record: what an investigator sees after decrypting.

It is the plaintext inside :class:`underseal.sealed.SealedRecord`, encoded
as canonical JSON. It holds the plate crop only, never the wider frame (which
would show occupants and bystanders), and the hotlist entry reference that
the bundle matched, so the investigator can tie a hit to its listing.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from underseal.encoding import IDENTIFIER_PATTERN, canonical_json, parse_canonical_json
from underseal.errors import Malformed

__all__ = ["MAX_CROP_BYTES", "Evidence"]

MAX_CROP_BYTES = 256 * 1024
_B64 = r"^[A-Za-z0-9_-]*$"


class Evidence(BaseModel):
    """One hit, as the camera saw it."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, hide_input_in_errors=True)

    plate: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{1,10}$")]
    # Canonical JSON has no floats (no single spelling): integers in fixed units.
    confidence_pm: int = Field(ge=0, le=1000, description="read confidence, per mille")
    observed_at: int = Field(ge=0, lt=1 << 40)
    camera_id: Annotated[str, StringConstraints(pattern=IDENTIFIER_PATTERN)]
    latitude_e6: int = Field(ge=-90_000_000, le=90_000_000, description="microdegrees")
    longitude_e6: int = Field(ge=-180_000_000, le=180_000_000, description="microdegrees")
    hotlist_ref: Annotated[str, StringConstraints(pattern=_B64, max_length=64)]
    crop_jpeg: Annotated[
        str, StringConstraints(pattern=_B64, max_length=MAX_CROP_BYTES * 4 // 3 + 4)
    ]

    def __repr__(self) -> str:
        # Evidence holds a plate: its repr says only where and when.
        return f"Evidence(camera={self.camera_id!r}, observed_at={self.observed_at})"

    __str__ = __repr__

    def to_bytes(self) -> bytes:
        """Canonical JSON, the bytes that are sealed."""
        return canonical_json(self.model_dump(mode="python"))

    @classmethod
    def from_bytes(cls, data: bytes) -> Evidence:
        """Parse opened evidence. Raises Malformed (never quoting the content)."""
        fields = parse_canonical_json(data, what="evidence")
        try:
            return cls.model_validate(fields)
        except ValidationError:
            raise Malformed("evidence does not have the expected fields") from None
