"""The usage page: aggregates only (camera counts, hotlist sizes, warrants, destructions).

Camera figures come from the public daily sums (``stats_api.daily``, the
same query as ``GET /v1/public/stats/daily``); the hotlist appears only as
counts by reason and source; warrants and destructions are counts from the
records server's own tables and log.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict
from typing import Any, Final

from sqlalchemy import func
from sqlmodel import Session, col, select

from underseal.epochs import epoch_of
from underseal_server.auditlog import AuditEntry
from underseal_server.portal.content import Column, Fact, Page, Section, Table, iso_date, iso_time
from underseal_server.records import stats_api
from underseal_server.records.hotlist import Reason, Status
from underseal_server.records.models import (
    Camera,
    Custodian,
    EpochKey,
    HotlistEntry,
    WarrantRequest,
)
from underseal_server.records.state import ServerState

__all__ = ["WINDOW_DAYS", "build", "last_30_days"]

WINDOW_DAYS: Final = 30
DAY: Final = 86_400


def _window(now: int) -> tuple[int, int]:
    last = epoch_of(now)
    return last - WINDOW_DAYS + 1, last


def _camera_days(server: ServerState, now: int) -> list[stats_api.CameraDayOut]:
    first, last = _window(now)
    out = stats_api.daily(
        server,
        since=dt.date.fromisoformat(iso_date(first)),
        until=dt.date.fromisoformat(iso_date(last)),
    )
    return out.days


def _warrant_counts(session: Session, since: int) -> dict[str, tuple[int, int]]:
    """Measure → (last 30 days, all time)."""
    rows = session.exec(select(WarrantRequest)).all()

    def both(pick: Any) -> tuple[int, int]:
        chosen = [r for r in rows if pick(r)]
        recent = [r for r in chosen if (r.decided_at or r.requested_at) >= since]
        return len(recent), len(chosen)

    requested = (
        sum(1 for r in rows if r.requested_at >= since),
        len(rows),
    )
    searches = session.exec(
        select(AuditEntry.time).where(AuditEntry.kind == "warrant.search")
    ).all()
    released_recent = sum(
        r.records_released for r in rows if r.decided_at is not None and r.decided_at >= since
    )
    return {
        "requested": requested,
        "granted": both(lambda r: r.status == "granted"),
        "denied": both(lambda r: r.status == "denied"),
        "awaiting": (
            sum(1 for r in rows if r.status == "requested" and r.requested_at >= since),
            sum(1 for r in rows if r.status == "requested"),
        ),
        "searches": (sum(1 for t in searches if t >= since), len(searches)),
        "released": (released_recent, sum(r.records_released for r in rows)),
    }


def last_30_days(server: ServerState, session: Session, now: int) -> list[Fact]:
    """The figures Flock's portals show, from this deployment's data."""
    days = _camera_days(server, now)
    warrants = _warrant_counts(session, now - WINDOW_DAYS * DAY)
    active = session.exec(select(func.count()).select_from(Camera).where(col(Camera.active))).one()
    return [
        Fact("cameras", "Cameras", int(active), "active cameras enrolled now"),
        Fact(
            "vehicles_detected",
            "Vehicles detected",
            sum(d.passes for d in days),
            "passes: one per vehicle passing a camera, counted on the camera (never stored)",
        ),
        Fact(
            "plate_reads",
            "Plate reads processed",
            sum(d.reads for d in days),
            "plate reads the cameras checked against the hotlist and dropped unless they hit",
        ),
        Fact("hits", "Hotlist hits", sum(d.hits for d in days), "reads that matched the hotlist"),
        Fact(
            "searches",
            "Searches",
            warrants["requested"][0],
            "warrant requests filed; no search runs without a court-signed warrant",
        ),
        Fact(
            "records_released",
            "Sealed records released",
            warrants["released"][0],
            "sealed records returned to investigators under warrants decided in the window",
        ),
    ]


def _hotlist_tables(session: Session, now: int) -> list[Table]:
    rows = session.exec(
        select(
            HotlistEntry.reason, HotlistEntry.status, HotlistEntry.source, HotlistEntry.expires_at
        )
    ).all()
    live: Counter[str] = Counter()
    pending: Counter[str] = Counter()
    sources: Counter[str] = Counter()
    for reason, status, source, expires_at in rows:
        if status == Status.ACTIVE and expires_at > now:
            live[reason] += 1
            sources[source] += 1
        elif status == Status.PENDING and expires_at > now:
            pending[reason] += 1
    reasons = [r.value for r in Reason] + sorted(set(live) - {r.value for r in Reason})
    return [
        Table(
            name="hotlist_reasons",
            caption="Hotlist size by reason",
            columns=[
                Column("reason", "Reason"),
                Column("live", "Live entries", numeric=True),
                Column("pending", "Awaiting a second approver", numeric=True),
            ],
            rows=[{"reason": r, "live": live[r], "pending": pending[r]} for r in reasons],
            note="Counts only: no plate on the list is ever shown.",
        ),
        Table(
            name="hotlist_sources",
            caption="Live hotlist entries by source",
            columns=[Column("source", "Source"), Column("live", "Live entries", numeric=True)],
            rows=[{"source": s, "live": n} for s, n in sorted(sources.items())],
            note="manual: entered by an officer and approved by a second person; "
            "hot_file:NAME: imported from a vetted hot file (NCIC or the state's).",
        ),
    ]


_CHANGE_KINDS: Final = {
    "hotlist.add": "entered",
    "hotlist.approve": "approved",
    "hotlist.remove": "removed",
    "hotlist.import": "imported",
}


def _hotlist_changes(session: Session, since_day: int) -> Table:
    entries = session.exec(
        select(AuditEntry)
        .where(col(AuditEntry.kind).in_(_CHANGE_KINDS), AuditEntry.time >= since_day * DAY)
        .order_by(col(AuditEntry.seq))
    ).all()
    per_day: dict[int, Counter[str]] = defaultdict(Counter)
    for entry in entries:
        column = _CHANGE_KINDS[entry.kind]
        if column == "imported":  # one log entry per hot file: count its rows
            per_day[entry.time // DAY][column] += int(json.loads(entry.data)["details"]["entries"])
        else:
            per_day[entry.time // DAY][column] += 1
    return Table(
        name="hotlist_changes",
        caption="Hotlist changes per day (last 30 days)",
        columns=[
            Column("date", "Date (UTC)"),
            *(Column(c, c.capitalize(), numeric=True) for c in _CHANGE_KINDS.values()),
        ],
        rows=[
            {"date": iso_date(day), **{c: counts[c] for c in _CHANGE_KINDS.values()}}
            for day, counts in sorted(per_day.items())
        ],
        note="From the audit log; imported counts the rows of each imported hot file.",
    )


def _epochs_destroyed(session: Session) -> Table:
    destroyed = session.exec(
        select(EpochKey)
        .where(col(EpochKey.destroyed_at).is_not(None))
        .order_by(col(EpochKey.epoch).desc())
    ).all()
    deleted: dict[int, int] = {}
    for entry in session.exec(select(AuditEntry).where(AuditEntry.kind == "retention.destroy")):
        details = json.loads(entry.data)["details"]
        deleted[int(details["epoch"])] = int(details["records_deleted"])
    return Table(
        name="epochs_destroyed",
        caption="Epochs destroyed (crypto-shredding)",
        columns=[
            Column("epoch", "Epoch"),
            Column("day", "Day (UTC)"),
            Column("destroyed_at", "Destroyed at (UTC)"),
            Column("records_deleted", "Sealed records deleted", numeric=True),
        ],
        rows=[
            {
                "epoch": e.epoch,
                "day": iso_date(e.epoch),
                "destroyed_at": iso_time(e.destroyed_at),
                "records_deleted": deleted.get(e.epoch, 0),
            }
            for e in destroyed
        ],
        note="Each custodian destroys its share of the day's key at the same time; "
        "no one can open a record of a destroyed epoch.",
    )


def build(server: ServerState, session: Session, *, now: int) -> Page:
    """The usage page at ``now``."""
    first, last = _window(now)
    days = _camera_days(server, now)
    by_date: dict[str, Counter[str]] = defaultdict(Counter)
    by_camera: dict[str, Counter[str]] = defaultdict(Counter)
    for d in days:
        for key in ("reads", "passes", "hits"):
            by_date[d.date][key] += getattr(d, key)
            by_camera[d.camera_id][key] += getattr(d, key)
        by_date[d.date]["cameras"] += 1
        by_camera[d.camera_id]["days"] += 1
        for key in ("hours", "uptime_seconds", "healthy_seconds"):
            by_camera[d.camera_id][key] += getattr(d, key)
    counts = [Column(k, k.capitalize(), numeric=True) for k in ("reads", "passes", "hits")]
    warrants = _warrant_counts(session, now - WINDOW_DAYS * DAY)
    labels = {
        "requested": "Warrant requests filed",
        "granted": "Granted by a court",
        "denied": "Denied by a court",
        "awaiting": "Awaiting a decision",
        "searches": "Searches run under a warrant",
        "released": "Sealed records released",
    }
    custodians = session.exec(select(Custodian).order_by(col(Custodian.index))).all()
    tables = [
        Table(
            name="daily",
            caption=f"Camera counts per day, {iso_date(first)} to {iso_date(last)}",
            columns=[
                Column("date", "Date (UTC)"),
                Column("cameras", "Cameras reporting", True),
                *counts,
            ],
            rows=[{"date": date, **c} for date, c in sorted(by_date.items())],
            note="Reads: plates read and checked; passes: vehicles seen; hits: reads on the list.",
        ),
        Table(
            name="per_camera",
            caption="Camera counts per camera, last 30 days",
            columns=[
                Column("camera", "Camera"),
                Column("days", "Days reported", numeric=True),
                *counts,
                Column("uptime_percent", "Up (% of hours reported)", numeric=True),
                Column("healthy_percent", "Healthy (% of time up)", numeric=True),
            ],
            rows=[
                {
                    "camera": camera,
                    "days": c["days"],
                    "reads": c["reads"],
                    "passes": c["passes"],
                    "hits": c["hits"],
                    "uptime_percent": _percent(c["uptime_seconds"], c["hours"] * 3600),
                    "healthy_percent": _percent(c["healthy_seconds"], c["uptime_seconds"]),
                }
                for camera, c in sorted(by_camera.items())
            ],
        ),
        Table(
            name="camera_days",
            caption="Camera counts per camera and day, last 30 days",
            columns=[Column("date", "Date (UTC)"), Column("camera", "Camera"), *counts],
            rows=[
                {
                    "date": d.date,
                    "camera": d.camera_id,
                    "reads": d.reads,
                    "passes": d.passes,
                    "hits": d.hits,
                }
                for d in days
            ],
        ),
        *_hotlist_tables(session, now),
        _hotlist_changes(session, first),
        Table(
            name="warrants",
            caption="Warrants",
            columns=[
                Column("measure", "Measure"),
                Column("last_30_days", "Last 30 days", numeric=True),
                Column("all_time", "All time", numeric=True),
            ],
            rows=[
                {"measure": labels[k], "last_30_days": recent, "all_time": total}
                for k, (recent, total) in warrants.items()
            ],
            note="Granted and denied count decisions made in the window; released counts "
            "records returned by searches, which an investigator can open only with enough "
            "custodians.",
        ),
        _epochs_destroyed(session),
    ]
    return Page(
        name="usage",
        title="Usage",
        intro=(
            "What the cameras and the people using this system did, in aggregate. The cameras "
            "count reads, passes and hits per hour; a read that is not on the hotlist is dropped "
            "on the camera and is never sent, stored or counted per plate."
        ),
        generated_at=now,
        facts=last_30_days(server, session, now),
        sections=[
            Section(
                "records_decrypted",
                "Records decrypted",
                [
                    "This server cannot count decryptions: it holds only sealed records, and a "
                    "record opens on the investigator's machine from the partial decryptions of "
                    "enough custodians. Its closest figure is the sealed records released under "
                    f"warrants ({warrants['released'][1]} in all).",
                    "Each custodian logs every partial decryption it gives (entries of kind "
                    "partial.issue) and every refusal (partial.refuse) in its own public, signed "
                    "log at /v1/log/entries on its own server:",
                    *(
                        f"{c.id} (share {c.index}): {c.url or 'address not published here'}"
                        for c in custodians
                    ),
                ],
            )
        ],
        tables=tables,
    )


def _percent(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else 0.0
