"""Records server settings: from the environment (``UNDERSEAL_RECORDS_*``) or built in tests."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from underseal.encoding import b64d
from underseal.errors import Malformed
from underseal_server.retention import PRESETS

__all__ = ["RecordsSettings"]


class RecordsSettings(BaseSettings):
    """Everything a records server needs; secrets have no defaults."""

    model_config = SettingsConfigDict(env_prefix="UNDERSEAL_RECORDS_", frozen=True, extra="forbid")

    database_url: str = "sqlite:///underseal-records.db"
    log_id: str = "underseal-records"
    authority_key: SecretStr = Field(description="base64url Ed25519 seed: signs hotlist bundles")
    log_key: SecretStr = Field(description="base64url Ed25519 seed: signs log checkpoints")
    unsafe_clock_offset_file: Path | None = Field(
        default=None, description="tests and demos only: seconds added to the clock, from a file"
    )
    retention_interval_seconds: int = Field(
        default=3600, ge=0, le=86_400, description="in-process retention runs (0: cron only)"
    )
    retention_preset: str = "default"
    retention_days: int | None = Field(default=None, ge=1, le=3650)
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
        return (
            self.retention_days
            if self.retention_days is not None
            else PRESETS[self.retention_preset]
        )
