"""Custodian settings: from the environment (``UNDERSEAL_CUSTODIAN_*``) or built in tests."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from underseal.encoding import IDENTIFIER_PATTERN, b64d
from underseal.errors import Malformed
from underseal_server.retention import PRESETS

__all__ = ["CustodianSettings"]


class CustodianSettings(BaseSettings):
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
    retention_interval_seconds: int = Field(
        default=3600, ge=0, le=86_400, description="in-process retention runs (0: cron only)"
    )
    retention_preset: str = "default"
    retention_days: int | None = Field(default=None, ge=1, le=3650)
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

    @field_validator("retention_preset")
    @classmethod
    def _preset(cls, value: str) -> str:
        if value not in PRESETS:
            raise ValueError(f"retention preset must be one of {sorted(PRESETS)}")
        return value

    @model_validator(mode="after")
    def _within_preset(self) -> Self:
        # A preset names the longest period a law allows: a deployment may keep less.
        if self.retention_days is not None and self.retention_days > PRESETS[self.retention_preset]:
            raise ValueError(
                f"retention_days exceeds the {self.retention_preset!r} preset's "
                f"{PRESETS[self.retention_preset]} days; choose a preset that allows it"
            )
        return self

    @property
    def retention(self) -> int:
        """Retention in days: the explicit setting, else the preset's."""
        if self.retention_days is not None:
            return self.retention_days
        return PRESETS[self.retention_preset]
