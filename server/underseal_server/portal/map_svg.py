"""The camera map as inline SVG, drawn from the registry (no tile server, no script).

Positions use an equirectangular projection scaled to the cameras' bounding
box (longitude shrunk by the cosine of the middle latitude, so a kilometre
is about as long east-west as north-south); each camera gets a view cone
from its direction and field of view, and a label.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import Final

from markupsafe import Markup

from underseal_server.records.models import Camera

__all__ = ["draw_map"]

WIDTH: Final = 720
HEIGHT: Final = 480
PAD: Final = 70
CONE: Final = 46  # view cone radius in pixels: where it looks, not how far it reads
MIN_SPAN: Final = 0.005  # degrees: a single camera still gets a map around it
KM_PER_DEGREE: Final = 111.32


def _project(
    cameras: Sequence[Camera],
) -> tuple[dict[str, tuple[float, float]], float]:
    lats = [c.latitude for c in cameras]
    lons = [c.longitude for c in cameras]
    mid = math.radians((min(lats) + max(lats)) / 2)
    shrink = max(math.cos(mid), 0.01)
    span_x = max((max(lons) - min(lons)) * shrink, MIN_SPAN)
    span_y = max(max(lats) - min(lats), MIN_SPAN)
    scale = min((WIDTH - 2 * PAD) / span_x, (HEIGHT - 2 * PAD) / span_y)
    # The bounding box's centre goes to the map's centre.
    cx, cy = (min(lons) + max(lons)) / 2 * shrink, (min(lats) + max(lats)) / 2
    points = {
        c.id: (
            WIDTH / 2 + (c.longitude * shrink - cx) * scale,
            HEIGHT / 2 - (c.latitude - cy) * scale,
        )
        for c in cameras
    }
    return points, scale


def _cone(x: float, y: float, direction: float, fov: float) -> str:
    if fov >= 359.9:
        return f'<circle class="cone" cx="{x:.1f}" cy="{y:.1f}" r="{CONE}"/>'
    # Degrees clockwise from north; SVG's y axis points down.
    a = math.radians(direction - fov / 2)
    b = math.radians(direction + fov / 2)
    ax, ay = x + CONE * math.sin(a), y - CONE * math.cos(a)
    bx, by = x + CONE * math.sin(b), y - CONE * math.cos(b)
    large = 1 if fov > 180 else 0
    return (
        f'<path class="cone" d="M{x:.1f},{y:.1f} L{ax:.1f},{ay:.1f} '
        f'A{CONE},{CONE} 0 {large} 1 {bx:.1f},{by:.1f} Z"/>'
    )


def draw_map(cameras: Sequence[Camera]) -> Markup:
    """An accessible ``<svg>`` (title, description, one titled group per camera)."""
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        'role="img" aria-labelledby="map-title map-desc" class="map">'
        '<title id="map-title">Map of the active cameras</title>'
    )
    if not cameras:
        return Markup(  # noqa: S704 - constant text only
            head + '<desc id="map-desc">No active camera is enrolled.</desc>'
            f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">No cameras</text></svg>'
        )
    points, scale = _project(cameras)
    width_km = WIDTH / scale * KM_PER_DEGREE
    parts = [
        head,
        f'<desc id="map-desc">{len(cameras)} cameras, drawn to scale: the map is about '
        f"{width_km:.1f} km wide, north is up. Each wedge shows the direction a camera faces "
        "and its field of view.</desc>",
        f'<rect class="ground" x="0" y="0" width="{WIDTH}" height="{HEIGHT}"/>',
        '<g class="north"><title>North</title>'
        f'<path d="M{WIDTH - 30},18 l8,22 l-8,-6 l-8,6 Z"/>'
        f'<text x="{WIDTH - 30}" y="56" text-anchor="middle">N</text></g>',
    ]
    bar_km = _round_km(width_km / 5)
    bar_px = bar_km / KM_PER_DEGREE * scale
    parts.append(
        f'<g class="scale"><title>Scale: {bar_km:g} km</title>'
        f'<path d="M20,{HEIGHT - 20} h{bar_px:.1f}"/>'
        f'<text x="20" y="{HEIGHT - 28}">{bar_km:g} km</text></g>'
    )
    for camera in cameras:
        x, y = points[camera.id]
        label = escape(camera.id)
        summary = escape(
            f"{camera.id}: {camera.description or 'no description'}; {camera.agency}; "
            f"faces {camera.direction:.0f}° with a {camera.field_of_view:.0f}° field of view"
        )
        parts.append(
            f'<g class="camera" id="map-{label}"><title>{summary}</title>'
            f"{_cone(x, y, camera.direction, camera.field_of_view)}"
            f'<circle class="dot" cx="{x:.1f}" cy="{y:.1f}" r="5"/>'
            f'<text x="{x + 9:.1f}" y="{y - 9:.1f}">{label}</text></g>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above


def _round_km(km: float) -> float:
    """The largest 1, 2 or 5 × 10^n not above ``km``."""
    if km <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(km))
    return float(max(step * power for step in (1, 2, 5) if step * power <= km))
