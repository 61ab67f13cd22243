"""Retention periods: a deployment setting, with presets named for the laws they satisfy.

Each preset is the longest period a state's statute allows for ALPR data
(sources in docs/server.md); a deployment may keep records for less, never
more. New Hampshire's 3-minute purge of non-hits is met by every preset,
since non-hits never leave the camera.
"""

from __future__ import annotations

from typing import Final

from underseal.epochs import epoch_end

__all__ = ["DAY", "PRESETS", "destroy_after", "expired_epochs_before"]

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
