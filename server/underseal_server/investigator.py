"""The investigator's client: fetch records in a warrant's scope, combine t partials, open.

Decryption happens here, on the investigator's machine, never on a server:
the records server hands out ciphertexts, each custodian a partial
decryption with a proof, and only this client combines t of them. A
custodian that is down is skipped; one that lies is caught by its proof.
Custodians are asked at once, one thread each, so however many hang the
call waits one client timeout; every answer is awaited, because a fast
answer whose proofs fail must not push out an honest slower one. A client
timeout bounds each read, not a whole answer, so a custodian that trickles
its answer a byte at a time is cut off at an overall deadline, and one that
floods is cut off at a size limit.
Records the coarse server-side scope (folded token, whole day) let through
but the exact scope does not cover are discarded and counted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx2 as httpx
from nacl.public import PrivateKey

from underseal.encoding import b64d, b64e
from underseal.epochs import EpochCertificate
from underseal.errors import Malformed, UndersealError
from underseal.evidence import Evidence
from underseal.hold import open_escrow
from underseal.sealed import SealedRecord, open_record_with_shared_point
from underseal.threshold import Partial, combine_partials
from underseal.warrant import SignedWarrant, WarrantScope

__all__ = [
    "ANSWER_DEADLINE",
    "ANSWER_LIMIT",
    "InvestigationError",
    "Outcome",
    "investigate",
    "open_held",
]

#: Seconds a custodian has to send its whole answer (plus one client timeout for a
#: read in progress): generous for thousands of records, finite for a trickle.
ANSWER_DEADLINE = 120.0
#: Largest custodian answer read, in bytes: a partial is a few hundred bytes a record.
ANSWER_LIMIT = 64 * 1024 * 1024


class InvestigationError(Exception):
    """The investigation could not proceed; the message never holds a plate or key."""


@dataclass(slots=True)
class Outcome:
    """What an investigation opened, and what it could not or must not."""

    opened: list[Evidence] = field(default_factory=list)
    out_of_scope: int = 0
    unopened: int = 0
    # Opened, but the sealed evidence contradicts the record's signed header
    # (another camera id): forged by whoever held a camera's keys. Never shown.
    inconsistent: int = 0
    custodians_answered: list[str] = field(default_factory=list)
    custodians_failed: dict[str, str] = field(default_factory=dict)
    # How many custodians must answer to open the records found (the epochs' threshold).
    needed: int = 0

    def __repr__(self) -> str:
        return (
            f"Outcome(opened={len(self.opened)}, out_of_scope={self.out_of_scope}, "
            f"unopened={self.unopened}, inconsistent={self.inconsistent}, "
            f"custodians_failed={sorted(self.custodians_failed)})"
        )

    @property
    def too_few_custodians(self) -> bool:
        """Fewer custodians answered than the records' threshold: none of them could open."""
        return len(self.custodians_answered) < self.needed

    def shortfall(self) -> str | None:
        """Why records stayed sealed for want of custodians, naming each failed one; else None."""
        if not self.too_few_custodians:
            return None
        failed = "; ".join(f"{name}: {why}" for name, why in sorted(self.custodians_failed.items()))
        return (
            f"too few custodians answered ({len(self.custodians_answered)} of "
            f"{self.needed} needed); failed: {failed or 'none'}"
        )


def _describe(status: int, body: bytes) -> str:
    """A server's error as its code and message, or its HTTP status."""
    try:
        error = json.loads(body)["error"]
        return f"{error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        return f"HTTP {status}"


def _error(response: httpx.Response) -> str:
    return _describe(response.status_code, response.content)


@dataclass(frozen=True, slots=True)
class _Answer:
    """A custodian's whole answer: its status and body."""

    status: int
    body: bytes

    def error(self) -> str:
        return _describe(self.status, self.body)


def _ask(
    client: httpx.Client, payload: dict[str, Any], *, deadline: float, limit: int
) -> _Answer | str:
    """One custodian's whole answer, or why there is none.

    Each read is bounded by the client's timeout; the whole answer by
    ``deadline`` seconds (checked as each chunk arrives) and ``limit`` bytes.
    """
    end = time.monotonic() + deadline
    body = bytearray()
    try:
        with client.stream("POST", "/v1/partials", json=payload) as response:
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > limit:
                    return f"answer over {limit} bytes"
                if time.monotonic() > end:
                    return f"no whole answer within {deadline:g} s"
            return _Answer(response.status_code, bytes(body))
    except httpx.HTTPError as error:
        return f"unreachable ({type(error).__name__})"


def investigate(
    warrant_id: str,
    *,
    records: httpx.Client,
    custodians: Sequence[tuple[str, httpx.Client]],
    deadline: float = ANSWER_DEADLINE,
    limit: int = ANSWER_LIMIT,
) -> Outcome:
    """Open every record the warrant covers, with partials from the custodians that answer.

    Every custodian is asked concurrently; the call returns once each has
    answered or failed, so it takes as long as the slowest, bounded by
    ``deadline`` seconds for a whole answer (plus one client timeout for a
    read in progress) and ``limit`` bytes. Those that fail are named in
    ``custodians_failed``; with fewer than ``needed`` answers nothing opens
    (see :meth:`Outcome.shortfall`).

    Raises:
        InvestigationError: the server refused the search.
    """
    found = records.post(f"/v1/warrants/{warrant_id}/search")
    if found.status_code >= 400:
        raise InvestigationError(f"search refused ({_error(found)})")
    body = found.json()
    request = records.get(f"/v1/warrant-requests/{warrant_id}")
    if request.status_code >= 400:
        raise InvestigationError(f"warrant unavailable ({_error(request)})")
    signed = b64d(request.json()["warrant"], field="warrant")
    warrant = SignedWarrant.from_bytes(signed).warrant
    scope = warrant.scope
    sealed = [SealedRecord.from_bytes(b64d(r, field="record")) for r in body["records"]]
    certificates = {
        int(epoch): EpochCertificate.from_bytes(b64d(c, field="certificate"))
        for epoch, c in body["certificates"].items()
    }
    outcome = Outcome()
    if not sealed:
        return outcome
    epochs = {r.header.epoch for r in sealed}
    outcome.needed = max(
        (certificates[e].threshold for e in epochs if e in certificates), default=0
    )
    # 1. Ask every custodian at once; each answers for all records or refuses.
    partials: dict[bytes, list[Partial]] = {r.header.record_id: [] for r in sealed}
    escrows: list[dict[str, object]] = []
    payload = {"warrant": request.json()["warrant"], "records": body["records"]}
    with ThreadPoolExecutor(max(1, len(custodians)), thread_name_prefix="custodian") as pool:
        answers = list(
            pool.map(
                lambda named: _ask(named[1], payload, deadline=deadline, limit=limit), custodians
            )
        )
    for (name, _), answer in zip(custodians, answers, strict=True):
        if isinstance(answer, str):
            outcome.custodians_failed[name] = answer
            continue
        if answer.status >= 400:
            outcome.custodians_failed[name] = answer.error()
            continue
        try:
            for item in json.loads(answer.body)["partials"]:
                partial = Partial.from_json(item["partial"])
                partials[b64d(item["record_id"], size=16)].append(partial)
                if warrant.legal_hold and item.get("escrow"):
                    escrows.append(
                        {
                            "record_id": item["record_id"],
                            "custodian_index": partial.index,
                            "sealed": item["escrow"],
                        }
                    )
        except (KeyError, TypeError, ValueError, Malformed):
            outcome.custodians_failed[name] = "malformed answer"
            continue
        outcome.custodians_answered.append(name)
    # 2. Combine verified partials and open; 3. keep only what the exact scope covers.
    covered = _open_all(sealed, partials, certificates, scope, outcome)
    # 4. Under legal hold, the server keeps the escrows of exactly those records.
    kept = [e for e in escrows if b64d(str(e["record_id"]), size=16) in covered]
    if kept:
        reply = records.post(f"/v1/warrants/{warrant_id}/escrows", json={"escrows": kept})
        if reply.status_code >= 400:
            raise InvestigationError(f"escrows refused ({_error(reply)})")
    return outcome


def _open_all(
    sealed: Sequence[SealedRecord],
    partials: dict[bytes, list[Partial]],
    certificates: dict[int, EpochCertificate],
    scope: WarrantScope,
    outcome: Outcome,
) -> set[bytes]:
    """Open what the partials allow; returns the ids of the records the exact scope covers."""
    covered: set[bytes] = set()
    for record in sealed:
        certificate = certificates.get(record.header.epoch)
        if certificate is None:
            outcome.unopened += 1
            continue
        try:
            shared = combine_partials(
                partials[record.header.record_id],
                record.ephemeral,
                commitments=certificate.commitments,
            )
            evidence = Evidence.from_bytes(
                open_record_with_shared_point(record, shared, certificate.public_key())
            )
        except UndersealError:  # too few valid partials, or a record that does not open
            outcome.unopened += 1
            continue
        # The header's camera id is what the device signed and the server checked
        # against its key; evidence claiming another camera is a forgery.
        if evidence.camera_id != record.header.camera_id:
            outcome.inconsistent += 1
            continue
        if scope.covers(
            plate=evidence.plate, observed_at=evidence.observed_at, camera_id=evidence.camera_id
        ):
            outcome.opened.append(evidence)
            covered.add(record.header.record_id)
        else:
            outcome.out_of_scope += 1
    return covered


def open_held(warrant_id: str, *, records: httpx.Client, case_key: PrivateKey) -> Outcome:
    """Open records held for a warrant from their escrows, after their epoch key is gone.

    Raises:
        InvestigationError: the server refused.
    """
    reply = records.get(f"/v1/warrants/{warrant_id}/held")
    if reply.status_code >= 400:
        raise InvestigationError(f"held records unavailable ({_error(reply)})")
    request = records.get(f"/v1/warrant-requests/{warrant_id}")
    if request.status_code >= 400:
        raise InvestigationError(f"warrant unavailable ({_error(request)})")
    scope = SignedWarrant.from_bytes(b64d(request.json()["warrant"], field="warrant")).warrant.scope
    body = reply.json()
    sealed = [SealedRecord.from_bytes(b64d(r, field="record")) for r in body["records"]]
    certificates = {
        int(epoch): EpochCertificate.from_bytes(b64d(c, field="certificate"))
        for epoch, c in body["certificates"].items()
    }
    partials: dict[bytes, list[Partial]] = {}
    for record in sealed:
        found = body["escrows"].get(b64e(record.header.record_id), {})
        opened = []
        for escrow in found.values():
            try:
                opened.append(
                    open_escrow(
                        b64d(escrow, field="escrow"),
                        case_key,
                        record_id=record.header.record_id,
                        warrant_id=warrant_id,
                    )
                )
            except UndersealError:
                continue  # a bad escrow is skipped; the others may suffice
        partials[record.header.record_id] = opened
    outcome = Outcome()
    _open_all(sealed, partials, certificates, scope, outcome)
    return outcome
