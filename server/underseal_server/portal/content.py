"""What a portal page holds: key figures, prose sections and tables, rendered three ways.

HTML, JSON and CSV are all rendered from one :class:`Page`, so a download
cannot disagree with the page it came from.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Cell", "Column", "Fact", "Page", "Section", "Table", "iso_date", "iso_time"]

Cell = str | int | float | bool | None


def iso_time(unix: int | None) -> str:
    """UTC time as ``YYYY-MM-DDTHH:MM:SSZ`` ("" for none)."""
    if unix is None:
        return ""
    return dt.datetime.fromtimestamp(unix, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_date(epoch_day: int) -> str:
    """An epoch day (days since 1970-01-01, UTC) as ``YYYY-MM-DD``."""
    return (dt.date(1970, 1, 1) + dt.timedelta(days=epoch_day)).isoformat()


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    numeric: bool = False


@dataclass(frozen=True, slots=True)
class Table:
    """One table: a ``name`` (its CSV's file name), a caption, columns and rows."""

    name: str
    caption: str
    columns: Sequence[Column]
    rows: Sequence[Mapping[str, Cell]]
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "caption": self.caption,
            "note": self.note,
            "columns": [c.key for c in self.columns],
            "rows": [{c.key: row.get(c.key) for c in self.columns} for row in self.rows],
        }

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([c.key for c in self.columns])
        for row in self.rows:
            writer.writerow([_csv_cell(row.get(c.key)) for c in self.columns])
        return out.getvalue()


def _csv_cell(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True, slots=True)
class Fact:
    """A key figure: ``label`` and ``value``, with what it counts in ``note``."""

    key: str
    label: str
    value: Cell
    note: str = ""


@dataclass(frozen=True, slots=True)
class Section:
    """A heading and its points, in plain words (policy, how to verify)."""

    key: str
    heading: str
    items: Sequence[str]
    code: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class Page:
    name: str
    title: str
    intro: str
    generated_at: int
    facts: Sequence[Fact] = ()
    sections: Sequence[Section] = ()
    tables: Sequence[Table] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    def table(self, name: str) -> Table | None:
        return next((t for t in self.tables if t.name == name), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "page": self.name,
            "title": self.title,
            "generated_at": iso_time(self.generated_at),
            "facts": {
                f.key: {"label": f.label, "value": f.value, "note": f.note} for f in self.facts
            },
            "sections": {
                s.key: {"heading": s.heading, "items": list(s.items), "code": list(s.code)}
                for s in self.sections
            },
            "tables": {t.name: t.to_json() for t in self.tables},
            **{k: v for k, v in self.extra.items() if not k.startswith("_")},
        }
