"""The conventional design: every read kept in plaintext, searchable, for 30 days.

What today's fixed ALPR vendors store per read (DESIGN §1): plate text,
time, camera, position and a reference to the photo, in one table indexed
by plate and by time so that anyone with access can search any plate. The
photos themselves live in object storage; only their reference is here.
Alerts: each read whose folded plate is on the hotlist (vendors match
OCR look-alikes as equal, as underseal's tokens do).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

from underseal.plates import fold
from underseal_server.demo.compare.traffic import Read, Traffic

__all__ = ["ConventionalStore"]

_SCHEMA = """
CREATE TABLE read (
    id INTEGER PRIMARY KEY,
    plate TEXT NOT NULL,
    observed_at INTEGER NOT NULL,
    camera_id TEXT NOT NULL,
    latitude_e6 INTEGER NOT NULL,
    longitude_e6 INTEGER NOT NULL,
    crop_ref TEXT NOT NULL
);
CREATE INDEX read_plate ON read (plate, observed_at);
CREATE INDEX read_time ON read (observed_at);
CREATE TABLE hotlist (plate TEXT PRIMARY KEY);
CREATE TABLE alert (read_id INTEGER NOT NULL, plate TEXT NOT NULL);
"""


class ConventionalStore:
    """A SQLite database of every read (a file, so its bytes are measured)."""

    def __init__(self, path: Path, traffic: Traffic) -> None:
        self.path = path
        self.traffic = traffic
        self.db = sqlite3.connect(path)
        self.db.executescript(_SCHEMA)
        self.db.executemany("INSERT INTO hotlist VALUES (?)", ((p,) for p in traffic.hotlist))
        self.db.commit()
        self._listed = {fold(p) for p in traffic.hotlist}
        self._next_id = 1
        self.alerts = 0
        self.alert_keys: list[tuple[str, str, int]] = []

    def ingest(self, reads: Iterable[Read]) -> int:
        """Store every read; raise an alert for each listed one. Returns reads stored."""
        rows = []
        alerts = []
        t = self.traffic
        for r in reads:
            camera = t.camera_id(r.camera)
            lat, lon = t.camera_position(r.camera)
            rid = self._next_id
            self._next_id += 1
            crop_ref = f"crops/{camera}/{r.at}/{rid:x}.jpg"
            rows.append((rid, r.plate, r.at, camera, lat, lon, crop_ref))
            if fold(r.plate) in self._listed:
                alerts.append((rid, r.plate))
                self.alert_keys.append((r.plate, camera, r.at))
        self.db.executemany("INSERT INTO read VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        self.db.executemany("INSERT INTO alert VALUES (?, ?)", alerts)
        self.db.commit()
        self.alerts += len(alerts)
        return len(rows)

    def records(self) -> int:
        """Reads stored."""
        (n,) = self.db.execute("SELECT count(*) FROM read").fetchone()
        return int(n)

    def size(self) -> int:
        """Bytes of the database file."""
        return self.path.stat().st_size

    def observations(self) -> list[tuple[str, str, int]]:
        """What anyone who can query the table gets: (plate, camera, time) of every read."""
        return [
            (str(p), str(c), int(t))
            for p, c, t in self.db.execute("SELECT plate, camera_id, observed_at FROM read")
        ]

    def search(self, plate: str, time_from: int, time_to: int) -> int:
        """A plate search (what a warrant, or a rogue query, gets): reads returned."""
        (n,) = self.db.execute(
            "SELECT count(*) FROM read WHERE plate = ? AND observed_at >= ? AND observed_at < ?",
            (plate, time_from, time_to),
        ).fetchone()
        return int(n)

    def close(self) -> None:
        """Close the database."""
        self.db.close()
