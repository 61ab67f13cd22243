"""The camera pipeline's errors. Messages never contain a plate, a token or a key."""

from __future__ import annotations

from underseal_device.errors import DeviceError

__all__ = [
    "BundleRefused",
    "NoEpochKey",
    "NotEnrolled",
    "OutboxFull",
    "ReaderUnavailable",
    "SourceError",
    "SourceLost",
    "StateError",
    "TrustError",
    "UplinkError",
]


class SourceError(DeviceError):
    """A video source that cannot be opened or read (missing file, bad URL, no images)."""

    code = "source_error"


class SourceLost(SourceError):
    """A live stream that dropped and did not come back within the reconnect attempts."""

    code = "source_lost"


class StateError(DeviceError):
    """The camera's state directory is missing, unreadable, or has bad permissions or content."""

    code = "state_error"


class OutboxFull(StateError):
    """The disk is full and the hits that may wait in memory are used up: a hit is lost."""

    code = "outbox_full"


class NotEnrolled(StateError):
    """The state directory holds no device keys: run ``underseal-device enroll`` first."""

    code = "not_enrolled"


class TrustError(DeviceError):
    """A key the server sent differs from the one this camera pinned, or does not verify."""

    code = "trust_error"


class BundleRefused(DeviceError):
    """A hotlist bundle that is tampered, rolled back, expired or addressed elsewhere.

    ``reason`` is the core error's stable code (``rollback``, ``expired``, …).
    """

    code = "bundle_refused"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class UplinkError(DeviceError):
    """The records server could not be reached, or refused a request.

    ``status`` is the HTTP status (0 when there was no answer) and ``error_code``
    the server's machine-readable code when it gave one.
    """

    code = "uplink_error"

    def __init__(self, message: str, *, status: int = 0, error_code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code

    @property
    def retryable(self) -> bool:
        """True for no answer, server errors and races worth retrying with a fresh nonce."""
        return self.status == 0 or self.status >= 500 or self.error_code in {"replay", "conflict"}


class ReaderUnavailable(DeviceError):
    """The plate reader (detector + OCR) is not installed on this camera."""

    code = "reader_unavailable"


class NoEpochKey(DeviceError):
    """The camera holds no custodian-endorsed key for a hit's epoch, so it cannot seal it."""

    code = "no_epoch_key"
