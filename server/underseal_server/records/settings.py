"""Records server settings: from the environment (``UNDERSEAL_RECORDS_*``) or built in tests."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from underseal.encoding import b64d
from underseal.errors import Malformed
from underseal_server.retention import RetentionSettings

__all__ = ["RecordsSettings"]


class RecordsSettings(BaseSettings, RetentionSettings):
    """Everything a records server needs; secrets have no defaults."""

    model_config = SettingsConfigDict(env_prefix="UNDERSEAL_RECORDS_", frozen=True, extra="forbid")

    database_url: str = "sqlite:///underseal-records.db"
    log_id: str = "underseal-records"
    authority_key: SecretStr = Field(description="base64url Ed25519 seed: signs hotlist bundles")
    log_key: SecretStr = Field(description="base64url Ed25519 seed: signs log checkpoints")
    unsafe_clock_offset_file: Path | None = Field(
        default=None, description="tests and demos only: seconds added to the clock, from a file"
    )
    alert_ttl_seconds: int = Field(default=600, ge=10, le=86_400)
    bundle_days: int = Field(default=1, ge=1, le=7)
    oversight_box_key: str | None = Field(
        default=None,
        description="base64url X25519 public key: query terms in the log are sealed to it",
    )
    max_batch: int = Field(default=500, ge=1, le=10_000)

    @field_validator("authority_key", "log_key")
    @classmethod
    def _seed(cls, value: SecretStr) -> SecretStr:
        try:
            b64d(value.get_secret_value(), size=32, field="signing key seed")
        except Malformed:
            raise ValueError("must be a base64url Ed25519 seed of 32 bytes") from None
        return value
