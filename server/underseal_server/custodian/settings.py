"""Custodian settings: from the environment (``UNDERSEAL_CUSTODIAN_*``) or built in tests."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from underseal.encoding import IDENTIFIER_PATTERN, b64d
from underseal.errors import Malformed
from underseal_server.retention import RetentionSettings

__all__ = ["CustodianSettings"]


class CustodianSettings(BaseSettings, RetentionSettings):
    """One custodian's identity, keys and policy; secrets have no defaults."""

    model_config = SettingsConfigDict(
        env_prefix="UNDERSEAL_CUSTODIAN_", frozen=True, extra="forbid"
    )

    custodian_id: str = Field(pattern=IDENTIFIER_PATTERN)
    share_index: int = Field(ge=1, le=64, description="this custodian's index in every deal")
    database_url: str = "sqlite:///underseal-custodian.db"
    signing_key: SecretStr = Field(description="base64url Ed25519 seed: endorsements, log")
    box_key: SecretStr = Field(description="base64url X25519 private key: opens dealt shares")
    dealer_key: str = Field(description="base64url Ed25519 public key of the key ceremony")
    unsafe_clock_offset_file: Path | None = Field(
        default=None, description="tests and demos only: seconds added to the clock, from a file"
    )
    oversight_box_key: str | None = Field(
        default=None,
        description="base64url X25519 public key: the log seals case numbers and record ids to it",
    )
    min_threshold: int = Field(default=2, ge=2, le=64)

    @field_validator("signing_key", "box_key")
    @classmethod
    def _secret(cls, value: SecretStr) -> SecretStr:
        try:
            b64d(value.get_secret_value(), size=32, field="key")
        except Malformed:
            raise ValueError("must be 32 bytes in unpadded base64url") from None
        return value

    @field_validator("dealer_key")
    @classmethod
    def _public(cls, value: str) -> str:
        try:
            b64d(value, size=32, field="key")
        except Malformed:
            raise ValueError("must be 32 bytes in unpadded base64url") from None
        return value
