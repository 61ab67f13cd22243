"""The cameras page: the enrolment registry as a table, a drawn map and GeoJSON for OSM/DeFlock."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, col, select

from underseal_server.portal.content import Column, Fact, Page, Section, Table, iso_time
from underseal_server.portal.map_svg import draw_map
from underseal_server.records.models import Camera

__all__ = ["build", "cameras", "geojson"]

MANUFACTURER = "underseal"


def cameras(session: Session) -> list[Camera]:
    """Every enrolled camera, active or not, by id."""
    return list(session.exec(select(Camera).order_by(col(Camera.id))).all())


def _direction(degrees: float) -> str:
    # OSM writes directions as whole degrees clockwise from north.
    return str(round(degrees) % 360)


def geojson(rows: Sequence[Camera]) -> dict[str, Any]:
    """A FeatureCollection of the active cameras, tagged as OpenStreetMap maps ALPRs.

    Tags follow the OSM wiki's Tag:surveillance:type=ALPR page ("main tag
    combinations": man_made=surveillance, surveillance=public for street
    cameras, surveillance:zone=traffic) and the camera keys its surveillance
    layers use (camera:type=fixed|dome|panning, camera:direction). DeFlock maps
    onto OSM with the same tags; OSM's US Flock audit (community forum,
    "National Flock ALPR Audit") found ``direction`` on most mapped ALPRs and
    ``camera:direction`` on fewer, so both carry the same value here.
    """
    features = []
    for camera in rows:
        if not camera.active:
            continue
        direction = _direction(camera.direction)
        features.append(
            {
                "type": "Feature",
                "id": camera.id,
                "geometry": {"type": "Point", "coordinates": [camera.longitude, camera.latitude]},
                "properties": {
                    "man_made": "surveillance",
                    "surveillance": "public",
                    "surveillance:type": "ALPR",
                    "surveillance:zone": "traffic",
                    "camera:type": "fixed",
                    "camera:direction": direction,
                    "direction": direction,
                    "operator": camera.agency,
                    "manufacturer": MANUFACTURER,
                    "ref": camera.id,
                    "description": camera.description,
                    "start_date": iso_time(camera.enrolled_at)[:10],
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


def build(session: Session, *, now: int) -> Page:
    """The cameras page at ``now``."""
    rows = cameras(session)
    table = Table(
        name="cameras",
        caption="Enrolled cameras",
        columns=[
            Column("id", "Camera"),
            Column("location", "Location"),
            Column("latitude", "Latitude", numeric=True),
            Column("longitude", "Longitude", numeric=True),
            Column("agency", "Owner agency"),
            Column("direction", "Faces (° from north)", numeric=True),
            Column("field_of_view", "Field of view (°)", numeric=True),
            Column("since", "Enrolled since (UTC)"),
            Column("status", "Status"),
        ],
        rows=[
            {
                "id": c.id,
                "location": c.description,
                "latitude": round(c.latitude, 6),
                "longitude": round(c.longitude, 6),
                "agency": c.agency,
                "direction": round(c.direction, 1),
                "field_of_view": round(c.field_of_view, 1),
                "since": iso_time(c.enrolled_at),
                "status": "active" if c.active else "disabled",
            }
            for c in rows
        ],
        note="A disabled camera is refused by the server and left off the map and GeoJSON.",
    )
    active = [c for c in rows if c.active]
    return Page(
        name="cameras",
        title="Cameras",
        intro=(
            "Every camera enrolled on this deployment's records server: where it is, who owns "
            "it, which way it looks and since when. The map is drawn from the same registry."
        ),
        generated_at=now,
        facts=[
            Fact("active_cameras", "Active cameras", len(active)),
            Fact("agencies", "Owner agencies", len({c.agency for c in active})),
        ],
        sections=[
            Section(
                "openstreetmap",
                "For OpenStreetMap and DeFlock",
                [
                    "The GeoJSON download has one point per active camera, tagged as "
                    "OpenStreetMap maps licence-plate readers: man_made=surveillance, "
                    "surveillance=public, surveillance:type=ALPR, surveillance:zone=traffic, "
                    "camera:type=fixed, camera:direction, operator and manufacturer.",
                ],
            )
        ],
        tables=[table],
        extra={"_map_svg": draw_map(active)},
    )
