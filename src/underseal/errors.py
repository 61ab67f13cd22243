"""The one exception family of the core.

Every error the core raises is an :class:`UndersealError`. Messages say what
was wrong in words a person can act on, and never contain a secret, a key, a
token or a plate: callers may log them and return them over HTTP as they are.
Errors from the libraries underneath are translated where they arrive, so
nothing below leaks through (its message might quote an input).
"""

from __future__ import annotations

__all__ = [
    "DecryptionFailed",
    "Expired",
    "InvalidPlate",
    "InvalidProof",
    "InvalidSignature",
    "Malformed",
    "NotEnoughShares",
    "NotYetValid",
    "OutOfScope",
    "Rollback",
    "UndersealError",
    "WrongRecipient",
]


class UndersealError(Exception):
    """Base of every error the core raises; ``code`` is stable and machine-readable."""

    code: str = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class Malformed(UndersealError):
    """Bytes or fields that do not parse as the expected canonical object."""

    code = "malformed"


class InvalidPlate(Malformed):
    """Text that cannot be a plate in any form (the message never quotes it)."""

    code = "invalid_plate"


class InvalidSignature(UndersealError):
    """A signature that does not verify under the key it must verify under."""

    code = "invalid_signature"


class WrongRecipient(UndersealError):
    """A well-formed object addressed to another key, camera or custodian."""

    code = "wrong_recipient"


class DecryptionFailed(UndersealError):
    """Authenticated decryption failed: wrong key, or the ciphertext was changed."""

    code = "decryption_failed"


class Rollback(UndersealError):
    """An object older (by serial number) than one already accepted."""

    code = "rollback"


class Expired(UndersealError):
    """An object used after the end of its validity window."""

    code = "expired"


class NotYetValid(UndersealError):
    """An object used before the start of its validity window."""

    code = "not_yet_valid"


class InvalidProof(UndersealError):
    """A zero-knowledge proof or share commitment that does not check."""

    code = "invalid_proof"


class NotEnoughShares(UndersealError):
    """Fewer valid, distinct partial decryptions than the threshold."""

    code = "not_enough_shares"


class OutOfScope(UndersealError):
    """A record that a warrant does not cover; ``reason`` names the failed constraint."""

    code = "out_of_scope"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
