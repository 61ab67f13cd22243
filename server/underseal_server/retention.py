"""Retention periods: a deployment setting, with presets named for the laws they satisfy.

Each preset is the longest period a state's statute allows for ALPR data
(sources in docs/server.md); a deployment may keep records for less, never
more. New Hampshire's 3-minute purge of non-hits is met by every preset,
since non-hits never leave the camera.
"""

from __future__ import annotations

from typing import Final, Self

from pydantic import BaseModel, Field, field_validator, model_validator

from underseal.epochs import epoch_end

__all__ = ["DAY", "PRESETS", "RetentionSettings", "destroy_after", "expired_epochs_before"]

DAY: Final = 86_400

PRESETS: Final[dict[str, int]] = {
    "default": 30,
    "maine": 21,
    "virginia": 21,
    "california-chp": 60,
    "montana": 90,
    "tennessee": 90,
    "arkansas": 150,
    "vermont": 548,
}
"""Preset name → retention in days."""


def destroy_after(epoch: int, retention_days: int) -> int:
    """The first second at which ``epoch``'s keys and records must be gone."""
    return epoch_end(epoch) + retention_days * DAY


def expired_epochs_before(now: int, retention_days: int) -> int:
    """Every epoch below the returned number is past retention at ``now``."""
    # epoch_end(e) + R*DAY <= now  <=>  e + 1 <= (now - R*DAY) // DAY
    return max((now - retention_days * DAY) // DAY, 0)


class RetentionSettings(BaseModel):
    """The retention fields both services share: a preset, optionally shortened."""

    retention_preset: str = "default"
    retention_days: int | None = Field(default=None, ge=1, le=3650)
    retention_interval_seconds: int = Field(
        default=3600, ge=0, le=86_400, description="in-process retention runs (0: cron only)"
    )

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
