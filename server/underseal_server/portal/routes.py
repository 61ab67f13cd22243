"""The portal's routes: each page as HTML, its data as JSON, each table as CSV (and JSON).

| path | what |
|---|---|
| ``/portal``, ``/portal/{page}`` | the page as HTML (no script) |
| ``/portal/{page}.json`` | everything on the page as JSON |
| ``/portal/{page}/{table}.csv`` and ``.json`` | one table |
| ``/portal/cameras.geojson`` | the active cameras with OpenStreetMap's ALPR tags |

``?start=N`` pages the audit log's entries on every audit path.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Final

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates
from sqlmodel import Session

from underseal_server.api_errors import ApiError
from underseal_server.db import session_scope
from underseal_server.portal import audit, cameras, policy, usage
from underseal_server.portal.content import Page, Section, iso_time
from underseal_server.records.state import Server, ServerState

__all__ = ["PAGES", "router"]

router = APIRouter(prefix="/portal", tags=["transparency portal"])
_templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

Start = Annotated[int | None, Query(ge=0, description="audit log: first entry to show")]

# Everything the page loads is on this server; no script runs at all.
_HEADERS: Final = {
    "content-security-policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


def _overview(server: ServerState, session: Session, *, now: int) -> Page:
    return Page(
        name="overview",
        title="Transparency portal",
        intro=(
            "This deployment's licence-plate cameras keep only hotlist hits, sealed so that no "
            "one can read them without a court's warrant and the agreement of independent key "
            "custodians, and destroy them when the retention period ends. These pages show what "
            "the system holds and what was done with it, from its own records."
        ),
        generated_at=now,
        facts=usage.last_30_days(server, session, now),
        sections=[
            Section(
                "pages",
                "On this portal",
                [
                    "Cameras: where each camera is, who owns it and which way it faces, with a "
                    "map and a GeoJSON export for OpenStreetMap.",
                    "Usage: reads, passes and hits per day and per camera; hotlist size by "
                    "reason; warrants; destroyed keys.",
                    "Audit log: the signed checkpoint, every entry, the search audits and how "
                    "to verify them yourself.",
                    "Policy: what is and is not captured, permitted and prohibited uses, "
                    "retention and the laws it satisfies, custodians, sharing.",
                ],
            )
        ],
    )


_Builder = Callable[[ServerState, Session, int, int | None], Page]
PAGES: Final[dict[str, tuple[str, _Builder]]] = {
    "overview": ("Overview", lambda s, db, now, _: _overview(s, db, now=now)),
    "cameras": ("Cameras", lambda s, db, now, _: cameras.build(db, now=now)),
    "usage": ("Usage", lambda s, db, now, _: usage.build(s, db, now=now)),
    "audit": ("Audit log", lambda s, db, now, start: audit.build(s, db, now=now, start=start)),
    "policy": ("Policy", lambda s, db, now, _: policy.build(s, db, now=now)),
}
"""Page name → (navigation label, builder)."""


def _build(server: ServerState, name: str, start: int | None) -> Page:
    if name not in PAGES:
        raise ApiError(404, "not_found", "no portal page with this name")
    with session_scope(server.engine, write=False) as session:
        return PAGES[name][1](server, session, server.clock(), start)


def _number(value: Any) -> str:
    """Thousands separators for people; the downloads keep plain numbers."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else ("yes" if value else "no")
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.6f}".rstrip("0").rstrip(".")
    return str(value)


_templates.env.filters["number"] = _number


def _html(request: Request, page: Page) -> HTMLResponse:
    return _templates.TemplateResponse(
        request,
        "page.html",
        {
            "page": page,
            "generated": iso_time(page.generated_at),
            "nav": [(name, label) for name, (label, _) in PAGES.items()],
        },
        headers=_HEADERS,
    )


def _attachment(body: str, media_type: str, filename: str) -> Response:
    return Response(
        body,
        media_type=media_type,
        headers={**_HEADERS, "content-disposition": f'attachment; filename="{filename}"'},
    )


@router.get("", response_class=HTMLResponse, summary="The portal's front page")
def front(request: Request, server: Server) -> HTMLResponse:
    """The overview: the last 30 days' figures and what each page shows."""
    return _html(request, _build(server, "overview", None))


@router.get("/cameras.geojson", summary="Cameras as GeoJSON (OpenStreetMap ALPR tags)")
def cameras_geojson(server: Server) -> Response:
    """A FeatureCollection of the active cameras, tagged for OpenStreetMap and DeFlock."""
    with session_scope(server.engine, write=False) as session:
        collection = cameras.geojson(cameras.cameras(session))
    return _attachment(
        json.dumps(collection, indent=1, ensure_ascii=False),
        "application/geo+json",
        "underseal-cameras.geojson",
    )


@router.get("/{page}.json", summary="A portal page's data as JSON")
def page_json(page: str, server: Server, start: Start = None) -> JSONResponse:
    """Every figure, section and table of the page, as the HTML shows them."""
    return JSONResponse(_build(server, page, start).to_json(), headers=_HEADERS)


@router.get("/{page}/{table}.csv", summary="One table of a portal page as CSV")
def table_csv(page: str, table: str, server: Server, start: Start = None) -> Response:
    """One table, a header row of column keys then one line per row."""
    found = _build(server, page, start).table(table)
    if found is None:
        raise ApiError(404, "not_found", "no table with this name on this page")
    return _attachment(found.to_csv(), "text/csv; charset=utf-8", f"underseal-{page}-{table}.csv")


@router.get("/{page}/{table}.json", summary="One table of a portal page as JSON")
def table_json(page: str, table: str, server: Server, start: Start = None) -> JSONResponse:
    """One table: caption, note, column keys and rows."""
    found = _build(server, page, start).table(table)
    if found is None:
        raise ApiError(404, "not_found", "no table with this name on this page")
    return JSONResponse(found.to_json(), headers=_HEADERS)


@router.get("/{page}", response_class=HTMLResponse, summary="A portal page")
def page_html(request: Request, page: str, server: Server, start: Start = None) -> HTMLResponse:
    """The page as server-rendered HTML that needs no script."""
    return _html(request, _build(server, page, start))
