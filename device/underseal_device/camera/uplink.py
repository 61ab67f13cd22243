"""The camera's link to the records server: signed requests, configuration, bundles, delivery.

Every request carries the camera's signature (core
:func:`underseal.signed_requests.sign_request`: camera id, method, path,
timestamp, a fresh random nonce and the body's hash), so the server knows
which camera sent it and refuses a replay. A retry is a new request with a
new nonce and the same body.

Delivery sends the outbox oldest first in batches. The server stores a batch
whole or not at all, and stores a record id once: a batch whose answer was
lost is sent again and acknowledged as duplicates. A batch the server
refuses as malformed is split until the refused hit is alone; that hit is
set aside (``refused``) so it does not block the others, except one whose
epoch key is already destroyed, which can never be read by anyone and is
deleted.

Stats are the camera's hourly aggregate counts (:class:`HourReport`: frames,
reads, passes, hits, seconds up and healthy), sent with the same signing and
backoff. An hour the server acknowledged is sent again only when its counts
changed, which in practice means the current, still-growing hour.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx2 as httpx
from nacl.public import PublicKey
from nacl.signing import SigningKey, VerifyKey
from pydantic import BaseModel, ConfigDict, ValidationError

from underseal.encoding import b64d, b64e
from underseal.errors import Malformed
from underseal.signed_requests import sign_request
from underseal_device.camera.capture import Backoff
from underseal_device.camera.counters import HourReport
from underseal_device.camera.errors import UplinkError
from underseal_device.camera.outbox import Outbox, PendingHit
from underseal_device.camera.trust import TrustRoots

__all__ = ["CameraConfig", "DeliveryReport", "StatsReport", "Uplink"]

log = logging.getLogger(__name__)

CONFIG_PATH = "/v1/camera/config"
BUNDLE_PATH = "/v1/camera/bundle"
RECORDS_PATH = "/v1/camera/records"
STATS_PATH = "/v1/camera/stats"
MAX_STATS_HOURS = 48
#: Codes the server gives a request whose signed timestamp is outside its window
#: (and a hit whose epoch is); see ``Uplink._clock_refused``.
CLOCK_CODES = frozenset({"expired", "not_yet_valid"})
"""Hours per stats request (the server's cap)."""


class _Epoch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    epoch: int
    certificate: str


class _Key(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    key: str


class _Custodian(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    index: int
    verify_key: str


class _ConfigIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    camera_id: str
    now: int
    epochs: list[_Epoch]
    dispatchers: list[_Key]
    custodians: list[_Custodian]
    authority_key: str


@dataclass(frozen=True, slots=True)
class CameraConfig:
    """The configuration the server sent, parsed (trust is checked by the caller)."""

    camera_id: str
    server_now: int
    certificates: tuple[bytes, ...]
    dispatchers: dict[str, PublicKey]
    offered_trust: TrustRoots


@dataclass(slots=True)
class DeliveryReport:
    """What one delivery round did."""

    stored: int = 0
    duplicates: int = 0
    alerts: int = 0
    refused: int = 0
    dropped: int = 0
    failed_attempts: int = 0
    pending: int = 0


@dataclass(slots=True)
class StatsReport:
    """What one stats round did: hours acknowledged, refused for good, and still to send."""

    sent: int = 0
    refused: int = 0
    failed_attempts: int = 0
    pending: int = 0


class Uplink:
    """Signed HTTP to the records server through ``client`` (an ``httpx.Client``, base URL set)."""

    def __init__(
        self,
        client: httpx.Client,
        *,
        camera_id: str,
        signing_key: SigningKey,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        backoff: Backoff | None = None,
        batch_size: int = 100,
    ) -> None:
        if not 1 <= batch_size <= 500:
            raise ValueError("batch_size must be between 1 and 500 (the server's default cap)")
        self.client = client
        self.camera_id = camera_id
        self._key = signing_key
        self._clock = clock
        self._sleep = sleep
        self.backoff = backoff or Backoff(initial=1.0, maximum=60.0, attempts=6)
        self.batch_size = batch_size

    def __repr__(self) -> str:
        return f"Uplink(camera={self.camera_id!r}, base={str(self.client.base_url)!r})"

    # --- one signed request ---------------------------------------------------------------

    def request(self, method: str, path: str, body: bytes = b"") -> httpx.Response:
        """Send one signed request; return a 2xx answer.

        Raises:
            UplinkError: no answer (status 0), or a non-2xx answer (with the
                server's error code when it gave one).
        """
        headers = sign_request(
            self._key,
            camera_id=self.camera_id,
            method=method,
            path=path,
            body=body,
            now=int(self._clock()),
        )
        headers["content-type"] = "application/json"
        try:
            reply = self.client.request(method, path, content=body, headers=headers)
        except httpx.HTTPError as error:
            raise UplinkError(
                f"records server unreachable ({type(error).__name__})", status=0
            ) from None
        if 200 <= reply.status_code < 300:
            return reply
        code, message = "", reply.reason_phrase
        try:
            detail = reply.json()["error"]
            code, message = str(detail["code"])[:64], str(detail["message"])[:300]
        except (ValueError, KeyError, TypeError):
            pass
        raise UplinkError(
            f"records server answered {reply.status_code} {code}: {message}".rstrip(": "),
            status=reply.status_code,
            error_code=code,
        )

    def with_retry(self, method: str, path: str, body: bytes = b"") -> httpx.Response:
        """:meth:`request`, retried with backoff while the failure is retryable."""
        delays = self.backoff.delays()
        while True:
            try:
                return self.request(method, path, body)
            except UplinkError as error:
                delay = next(delays, None)
                if not error.retryable or delay is None:
                    raise
                log.info("uplink: %s; retrying in %.1f s", error.code, delay)
                self._sleep(delay)

    # --- configuration and bundles ----------------------------------------------------------

    def fetch_config(self) -> CameraConfig:
        """The server's configuration for this camera.

        Raises:
            UplinkError: unreachable, refused, or an answer that does not parse.
        """
        reply = self.with_retry("GET", CONFIG_PATH)
        try:
            parsed = _ConfigIn.model_validate_json(reply.content)
            if parsed.camera_id != self.camera_id:
                raise UplinkError("configuration is for another camera", status=reply.status_code)
            return CameraConfig(
                camera_id=parsed.camera_id,
                server_now=parsed.now,
                certificates=tuple(b64d(e.certificate, field="certificate") for e in parsed.epochs),
                dispatchers={
                    d.id: PublicKey(b64d(d.key, size=32, field="dispatcher key"))
                    for d in parsed.dispatchers
                },
                offered_trust=TrustRoots(
                    authority=VerifyKey(b64d(parsed.authority_key, size=32, field="authority key")),
                    custodians={
                        c.id: VerifyKey(b64d(c.verify_key, size=32, field="custodian key"))
                        for c in parsed.custodians
                    },
                ),
            )
        except (ValidationError, Malformed):
            raise UplinkError(
                "configuration from the server does not parse", status=reply.status_code
            ) from None

    def fetch_bundle(self, epoch: int) -> bytes:
        """This camera's sealed bundle for ``epoch`` (verified by the caller, not here)."""
        return self.with_retry("GET", f"{BUNDLE_PATH}?epoch={epoch}").content

    def _clock_refused(self, error: UplinkError) -> bool:
        """Whether ``error`` refused this camera's clock rather than what it sent.

        ``expired``/``not_yet_valid`` may be about a hit (its epoch) or about
        the request's signed timestamp. A bare signed GET tells them apart: if
        it is refused the same way, the clock is wrong, and nothing the camera
        holds may be set aside for it.
        """
        if error.error_code not in CLOCK_CODES:
            return False
        try:
            self.request("GET", CONFIG_PATH)
        except UplinkError as probe:
            if probe.retryable:
                raise
            return probe.error_code in CLOCK_CODES
        return False

    def _clock_error(self, error: UplinkError) -> UplinkError:
        log.warning("uplink: the server refuses this camera's clock (%s)", error.error_code)
        return UplinkError(
            f"the records server refuses this camera's clock ({error.error_code}): "
            "set the clock (NTP); everything waiting is kept and sent once it is right",
            status=error.status,
            error_code=error.error_code,
        )

    # --- delivery -----------------------------------------------------------------------------

    @staticmethod
    def _body(hits: list[PendingHit]) -> bytes:
        return json.dumps(
            {
                "records": [b64e(p.hit.record) for p in hits],
                "alerts": [
                    {"record_id": b64e(p.hit.record_id), "dispatcher_id": d, "sealed": b64e(a)}
                    for p in hits
                    for d, a in p.hit.alerts
                ],
            }
        ).encode()

    def _send(self, outbox: Outbox, hits: list[PendingHit], report: DeliveryReport) -> None:
        """Deliver ``hits``; split on a refusal; raise UplinkError when retrying is the cure."""
        try:
            reply = self.request("POST", RECORDS_PATH, self._body(hits))
        except UplinkError as error:
            if error.retryable:
                outbox.attempted([p.hit.record_id for p in hits])
                raise
            if self._clock_refused(error):
                outbox.attempted([p.hit.record_id for p in hits])
                raise self._clock_error(error) from None
            if len(hits) > 1:
                middle = len(hits) // 2
                self._send(outbox, hits[:middle], report)
                self._send(outbox, hits[middle:], report)
                return
            if error.error_code == "dead_epoch":
                # Its epoch key is destroyed: nobody can ever open it. Keep nothing.
                outbox.drop(hits[0].hit.record_id)
                report.dropped += 1
            else:
                outbox.refuse(hits[0].hit.record_id, error.error_code or f"http_{error.status}")
                report.refused += 1
            log.warning("uplink: the server refused a hit (%s)", error.error_code or error.status)
            return
        answer: dict[str, Any] = reply.json()
        outbox.acknowledge([p.hit.record_id for p in hits])
        report.stored += int(answer.get("stored", 0))
        report.duplicates += int(answer.get("duplicates", 0))
        report.alerts += int(answer.get("alerts", 0))

    def deliver(self, outbox: Outbox, *, retry: bool = True) -> DeliveryReport:
        """Send every pending hit; with ``retry``, back off and try again while the server is down.

        Returns when the outbox has nothing left to send, or (with retries
        spent) when the server stays unreachable; ``pending`` says what is left.
        """
        report = DeliveryReport()
        delays = self.backoff.delays()
        while True:
            batch = outbox.pending(self.batch_size)
            if not batch:
                break
            try:
                self._send(outbox, batch, report)
            except UplinkError as error:
                report.failed_attempts += 1
                delay = next(delays, None) if retry else None
                if delay is None:
                    log.warning("uplink: delivery postponed (%s)", error.error_code or error.status)
                    break
                self._sleep(delay)
                continue
            delays = self.backoff.delays()  # progress: the next outage starts from scratch
        report.pending = len(outbox.pending(self.batch_size))
        return report

    # --- aggregate counters -------------------------------------------------------------

    def send_stats(
        self, hours: Sequence[HourReport], acked: dict[int, HourReport], *, retry: bool = True
    ) -> StatsReport:
        """Send every hour of ``hours`` that differs from ``acked``; record what the server took.

        ``acked`` maps an hour to the counts the server last acknowledged (the
        caller keeps it between rounds). A refused report is split until the
        refused hour is alone; that hour is recorded in ``acked`` too, so it is
        not sent again until its counts change. With ``retry``, an unreachable
        server is retried with backoff; otherwise the round stops and the
        hours wait for the next.
        """
        report = StatsReport()
        pending = [h for h in hours if acked.get(h.hour) != h]
        try:
            for start in range(0, len(pending), MAX_STATS_HOURS):
                self._send_hours(pending[start : start + MAX_STATS_HOURS], acked, report, retry)
        except UplinkError as error:
            report.failed_attempts += 1
            log.warning("uplink: stats postponed (%s)", error.error_code or error.status)
        report.pending = sum(1 for h in hours if acked.get(h.hour) != h)
        return report

    def _send_hours(
        self,
        hours: list[HourReport],
        acked: dict[int, HourReport],
        report: StatsReport,
        retry: bool,
    ) -> None:
        body = json.dumps({"hours": [h.to_json() for h in hours]}).encode()
        try:
            if retry:
                self.with_retry("POST", STATS_PATH, body)
            else:
                self.request("POST", STATS_PATH, body)
        except UplinkError as error:
            if error.retryable:
                raise
            if self._clock_refused(error):
                raise self._clock_error(error) from None
            if len(hours) > 1:
                middle = len(hours) // 2
                self._send_hours(hours[:middle], acked, report, retry)
                self._send_hours(hours[middle:], acked, report, retry)
                return
            log.warning("uplink: the server refused an hour of stats (%s)", error.error_code)
            acked[hours[0].hour] = hours[0]
            report.refused += 1
            return
        for h in hours:
            acked[h.hour] = h
        report.sent += len(hours)
