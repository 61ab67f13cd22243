"""The policy in force: what is captured, who may do what, retention, custodians, sharing.

Figures come from the settings and the tables (retention, custodians and
threshold from the latest epoch certificate, hotlist reasons and sources);
the rest says what the mechanism enforces, and says so where a rule is
policy rather than mechanism.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from underseal.epochs import EpochCertificate, epoch_of
from underseal_server.portal.content import Column, Fact, Page, Section, Table, iso_date, iso_time
from underseal_server.portal.laws import assess
from underseal_server.records.hotlist import Reason, Status
from underseal_server.records.models import Custodian, EpochKey, HotlistEntry
from underseal_server.records.state import ServerState
from underseal_server.retention import PRESETS

__all__ = ["build"]


def _latest_certificate(session: Session, now: int) -> EpochCertificate | None:
    """Today's epoch certificate, else the newest one still live."""
    rows = session.exec(
        select(EpochKey)
        .where(col(EpochKey.destroyed_at).is_(None), col(EpochKey.epoch) <= epoch_of(now))
        .order_by(col(EpochKey.epoch).desc())
        .limit(1)
    ).all()
    return EpochCertificate.from_bytes(rows[0].certificate) if rows else None


CAPTURED = [
    "A camera reads plates in its own memory and checks each read against a sealed hotlist "
    "of keyed tokens; it cannot read the listed plates itself.",
    "On a hit, and only then: the plate text, read confidence, time, the camera's position and "
    "id, a crop of the plate and the hotlist entry's reference, sealed to the day's key "
    "before it leaves the camera.",
    "Each hour: counts of frames, plate reads, vehicle passes and hits, and seconds up and "
    "healthy. Counts only, never per plate.",
]
NOT_CAPTURED = [
    "Reads that are not on the hotlist: dropped on the camera at once, never written, sent or "
    "counted per plate.",
    "Frames or video: no image leaves the camera but the plate crop of a hit.",
    "Vehicle make, model, colour or other attributes; faces; occupants.",
    "Anything the records server can read: it stores sealed records it cannot open.",
]
PERMITTED = [
    "Real-time alerts to a dispatch desk when a vehicle on the hotlist passes a camera.",
    "Evidence for a specific investigation, under a court-signed warrant that names the "
    "plates, the time window, the purpose, the investigator and a record limit.",
    "Preserving the records a warrant covers under a court's legal hold.",
]
PROHIBITED = [
    "Any search without a warrant: impossible by construction, since no one holds the key "
    "alone and each custodian checks the warrant itself.",
    "Tracking vehicles that are not on the hotlist: impossible by construction, since their "
    "reads never leave the camera.",
    "Keeping records past the retention period: the keys are destroyed, so no one can open "
    "them, from backups either.",
    "Adding a plate on one person's word: a manual entry goes live only when a second person "
    "approves it.",
    "Immigration enforcement, enforcement of traffic or parking rules, and watching lawful "
    "protest or other activity protected by the First Amendment: prohibited by policy; every "
    "warrant's purpose is in the public log.",
]
SHARING = [
    "No bulk data is shared with any agency, vendor or other state: there is no plain-text "
    "database of reads to share.",
    "Another agency obtains records only through a warrant from a court enrolled here, opened "
    "with the agreement of the custodians.",
    "Alerts are sealed by the camera to the enrolled dispatch desk; the server deletes an "
    "alert once its short lifetime passes.",
    "The public sees aggregates, the camera registry and the audit log on this portal.",
]
ACCESS = [
    "Every account has exactly one role: administrator, hotlist officer, hotlist approver, "
    "hot-file importer, dispatcher, investigator, court, custodian or auditor.",
    "Investigators see only their own requests; custodians answer only the investigator a "
    "warrant names, and at most its record limit.",
    "Every access is an audit-log entry with time, user, agency and purpose; the query terms "
    "are sealed to the oversight body (California Civil Code §1798.90.52).",
]


def build(server: ServerState, session: Session, *, now: int) -> Page:
    """The policy page at ``now``."""
    settings = server.settings
    retention = settings.retention
    certificate = _latest_certificate(session, now)
    custodians = session.exec(select(Custodian).order_by(col(Custodian.index))).all()
    sources = sorted(
        set(
            session.exec(
                select(HotlistEntry.source).where(
                    HotlistEntry.status == Status.ACTIVE.value, HotlistEntry.expires_at > now
                )
            ).all()
        )
    )
    preset = settings.retention_preset
    laws = assess(retention)
    threshold = certificate.threshold if certificate is not None else None
    endorsers = sorted(certificate.endorsements) if certificate is not None else []
    return Page(
        name="policy",
        title="Policy in force",
        intro=(
            "The rules this deployment runs under, read from its settings and its registry. "
            "Where a rule is enforced by cryptography rather than by promise, it says so."
        ),
        generated_at=now,
        facts=[
            Fact(
                "retention_days",
                "Retention",
                retention,
                f"days after a UTC day ends before its key and records are destroyed "
                f"(preset {preset}, {PRESETS[preset]} days at most)",
            ),
            Fact(
                "threshold",
                "Custodians needed to open a record",
                "" if threshold is None else f"{threshold} of {len(endorsers)}",
                "from the current epoch's certificate"
                + ("" if certificate is None else f" ({iso_date(certificate.epoch)})"),
            ),
            Fact(
                "alert_ttl_seconds",
                "Alert lifetime",
                settings.alert_ttl_seconds,
                "seconds an undelivered alert is kept",
            ),
            Fact(
                "oversight_sealing",
                "Query terms sealed to an oversight body",
                "yes" if settings.oversight_box_key else "no (left out of the log)",
            ),
        ],
        sections=[
            Section("captured", "What the cameras capture", CAPTURED),
            Section("not_captured", "What they do not capture", NOT_CAPTURED),
            Section("permitted", "Permitted uses", PERMITTED),
            Section("prohibited", "Prohibited uses", PROHIBITED),
            Section("access", "Access policy", ACCESS),
            Section("sharing", "Sharing", SHARING),
            Section(
                "hotlist_sources",
                "Hotlist sources",
                [
                    "Reasons a plate may be listed: "
                    + ", ".join(r.value.replace("_", " ") for r in Reason)
                    + ".",
                    "Sources with live entries now: "
                    + (", ".join(sources) if sources else "none")
                    + " (manual: an officer and a second approver; hot_file:NAME: an "
                    "imported NCIC or state hot file).",
                ],
            ),
        ],
        tables=[
            Table(
                name="retention_laws",
                caption=f"State retention laws and this deployment's {retention} days",
                columns=[
                    Column("jurisdiction", "Jurisdiction"),
                    Column("rule", "Rule"),
                    Column("satisfied", "Satisfied"),
                    Column("why", "Why"),
                ],
                rows=[
                    {
                        "jurisdiction": law.jurisdiction,
                        "rule": law.rule,
                        "satisfied": "yes" if ok else "no",
                        "why": why,
                    }
                    for law, ok, why in laws
                ],
                note="A record sealed on a UTC day is destroyed when that day ends plus the "
                "retention period.",
            ),
            Table(
                name="custodians",
                caption="Key custodians",
                columns=[
                    Column("id", "Custodian"),
                    Column("index", "Share", numeric=True),
                    Column("endorsed_current_key", "Endorsed the current key"),
                    Column("log", "Its public log"),
                    Column("since", "Enrolled since (UTC)"),
                ],
                rows=[
                    {
                        "id": c.id,
                        "index": c.index,
                        "endorsed_current_key": "yes" if c.id in endorsers else "no",
                        "log": f"{c.url}/v1/log/entries" if c.url else "",
                        "since": iso_time(c.enrolled_at),
                    }
                    for c in custodians
                ],
                note="Each holds one share of every live day's key; a record opens only when "
                "enough of them each check the warrant and agree.",
            ),
        ],
    )
