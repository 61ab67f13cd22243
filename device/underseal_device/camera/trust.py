"""The keys a camera trusts: the hotlist authority's and the custodians', pinned on first contact.

A camera seals hits to whatever epoch key it accepts and opens whatever
bundle the authority signs, so these keys must not silently change: a rogue
or hijacked records server could otherwise hand out its own epoch key (and
read every hit) or its own bundles. The first configuration the camera
fetches after enrolment pins them (trust on first use, done at install
time on a trusted network); later configurations must name the same keys,
or the camera refuses them. An installer can write ``trust.json`` before the
first run to skip the first-use window (there is no command for it yet).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from nacl.signing import VerifyKey

from underseal.encoding import b64d, b64e, check_identifier
from underseal.errors import Malformed
from underseal_device.camera.errors import StateError, TrustError
from underseal_device.camera.state import StateDir

__all__ = ["TrustRoots", "load_trust", "pin_trust"]

_FILE = "trust.json"


@dataclass(frozen=True, slots=True)
class TrustRoots:
    """The hotlist authority's key and the custodians' keys (id → Ed25519 verify key)."""

    authority: VerifyKey
    custodians: Mapping[str, VerifyKey]

    def to_json(self) -> dict[str, object]:
        return {
            "authority_key": b64e(bytes(self.authority)),
            "custodians": {k: b64e(bytes(v)) for k, v in sorted(self.custodians.items())},
        }

    @classmethod
    def from_json(cls, value: object) -> TrustRoots:
        """Parse :meth:`to_json` output. Raises Malformed."""
        if not isinstance(value, dict) or set(value) != {"authority_key", "custodians"}:
            raise Malformed("trust roots need authority_key and custodians")
        custodians = value["custodians"]
        if not isinstance(custodians, dict) or not custodians:
            raise Malformed("trust roots need at least one custodian key")
        return cls(
            authority=VerifyKey(b64d(value["authority_key"], size=32, field="authority_key")),
            custodians={
                check_identifier(k, field="custodian id"): VerifyKey(
                    b64d(v, size=32, field="custodian key")
                )
                for k, v in custodians.items()
            },
        )


def load_trust(state: StateDir) -> TrustRoots | None:
    """The pinned roots, or None before the first configuration.

    Raises:
        StateError: the file exists but does not parse.
    """
    data = state.read_json(_FILE)
    if data is None:
        return None
    try:
        return TrustRoots.from_json(data)
    except Malformed as error:
        raise StateError(f"{state.root / _FILE}: {error.message}") from None


def pin_trust(state: StateDir, offered: TrustRoots) -> TrustRoots:
    """Pin ``offered`` if nothing is pinned yet; otherwise check it is what was pinned.

    Raises:
        TrustError: the authority key or the set of custodian keys changed.
    """
    pinned = load_trust(state)
    if pinned is None:
        state.write_json(_FILE, offered.to_json())
        return offered
    if pinned.to_json() != offered.to_json():
        raise TrustError(
            "the server's authority or custodian keys differ from the ones this camera pinned; "
            "refusing them (replace trust.json only after checking the new keys out of band)"
        )
    return pinned
