"""The portal over a seeded deployment, in-process: figures, downloads, links and privacy."""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

import pytest
from fastapi.testclient import TestClient
from underseal_server.portal.laws import LAWS, assess
from underseal_server.portal.map_svg import CONE, draw_map
from underseal_server.records.models import Camera
from underseal_server.retention import PRESETS

from tests.portal.crawl import PAGES, crawl
from tests.portal.world import EXTRA_CAMERAS, HOT_FILE, SeededWorld
from tests.server.deployment import CAMERA


def _client(seeded: SeededWorld) -> TestClient:
    return seeded.deployment.records


def _get(seeded: SeededWorld, path: str) -> Any:
    reply = _client(seeded).get(path)
    assert reply.status_code == 200, (path, reply.text)
    return reply


def test_every_page_and_download_linked_from_the_front_page_resolves(seeded: SeededWorld) -> None:
    def fetch(path: str) -> tuple[int, str, str]:
        reply = _client(seeded).get(path)
        return reply.status_code, reply.headers.get("content-type", ""), reply.text

    seen = crawl(fetch)
    assert {p: s for p, s in seen.items() if s != 200} == {}
    for page in PAGES[1:]:
        assert f"/portal/{page}" in seen
        assert any(p.split("?")[0] == f"/portal/{page}.json" for p in seen)
    assert "/portal/cameras.geojson" in seen
    assert "/portal/audit/searches.csv" in seen


def test_nothing_on_any_page_or_download_reveals_a_plate_token_or_secret(
    seeded: SeededWorld,
) -> None:
    client = _client(seeded)
    bodies: dict[str, bytes] = {}

    def fetch(path: str) -> tuple[int, str, str]:
        reply = client.get(path)
        bodies[path] = reply.content
        return reply.status_code, reply.headers.get("content-type", ""), reply.text

    crawl(fetch)
    for start in range(0, 400, 7):  # every page of the log, not only those linked
        for path in (f"/portal/audit?start={start}", f"/portal/audit.json?start={start}"):
            bodies[path] = client.get(path).content
    assert len(bodies) > 40
    assert len(seeded.secrets) > 30
    for path, body in bodies.items():
        upper = body.upper()
        for name, needle in seeded.secrets.items():
            haystack = upper if name.startswith(("plate", "folded")) else body
            # The name, never the needle: a failure must not print a secret either.
            assert needle not in haystack, f"{name} appears in {path}"


def test_the_usage_figures_are_the_camera_counts_and_tables(seeded: SeededWorld) -> None:
    usage = _get(seeded, "/portal/usage.json").json()
    daily = _get(seeded, "/v1/public/stats/daily").json()["days"]
    facts = {k: v["value"] for k, v in usage["facts"].items()}
    assert facts["vehicles_detected"] == sum(d["passes"] for d in daily) > 0
    assert facts["plate_reads"] == sum(d["reads"] for d in daily)
    assert facts["hits"] == sum(d["hits"] for d in daily)
    assert facts["cameras"] == 1 + len(EXTRA_CAMERAS)
    assert facts["searches"] == 1  # W-3, filed after the clock moved 35 days on
    reasons = {r["reason"]: r for r in usage["tables"]["hotlist_reasons"]["rows"]}
    assert reasons["stolen_vehicle"]["live"] == 3  # 7ABC123, 2STU789 and one from the hot file
    assert reasons["amber_alert"]["live"] == 1
    assert reasons["protection_order"]["live"] == 0  # removed
    assert reasons["felony_warrant"] == {"reason": "felony_warrant", "live": 0, "pending": 1}
    sources = {r["source"]: r["live"] for r in usage["tables"]["hotlist_sources"]["rows"]}
    assert sources == {"hot_file:NCIC": len(HOT_FILE), "manual": 3}
    warrants = {r["measure"]: r for r in usage["tables"]["warrants"]["rows"]}
    assert warrants["Warrant requests filed"]["all_time"] == 3
    assert warrants["Granted by a court"]["all_time"] == 1
    assert warrants["Denied by a court"]["all_time"] == 1
    assert warrants["Awaiting a decision"] == {
        "measure": "Awaiting a decision",
        "last_30_days": 1,
        "all_time": 1,
    }
    assert warrants["Sealed records released"]["all_time"] == 1
    destroyed = usage["tables"]["epochs_destroyed"]["rows"]
    assert len(destroyed) == 2
    assert sum(r["records_deleted"] for r in destroyed) == 2
    changes = usage["tables"]["hotlist_changes"]["rows"]
    assert sum(r["entered"] for r in changes) == 1  # only 2STU789 is within the last 30 days


def test_csv_downloads_hold_the_same_rows_as_the_json(seeded: SeededWorld) -> None:
    for page in PAGES:
        data = _get(seeded, f"/portal/{page}.json").json()
        for name, table in data["tables"].items():
            reply = _get(seeded, f"/portal/{page}/{name}.csv")
            assert reply.headers["content-type"].startswith("text/csv")
            rows = list(csv.reader(io.StringIO(reply.text)))
            assert rows[0] == table["columns"]
            expected = [
                ["" if row[c] is None else str(row[c]) for c in table["columns"]]
                for row in table["rows"]
            ]
            assert rows[1:] == expected, (page, name)
            assert _get(seeded, f"/portal/{page}/{name}.json").json() == table


def test_geojson_has_every_active_camera_with_the_osm_alpr_tags(seeded: SeededWorld) -> None:
    collection = json.loads(_get(seeded, "/portal/cameras.geojson").content)
    assert collection["type"] == "FeatureCollection"
    registry = {c["id"]: c for c in _get(seeded, "/v1/public/cameras").json()}
    features = {f["id"]: f for f in collection["features"]}
    assert set(features) == set(registry) == {CAMERA, *EXTRA_CAMERAS}
    for camera_id, feature in features.items():
        camera = registry[camera_id]
        assert feature["geometry"] == {
            "type": "Point",
            "coordinates": [camera["longitude"], camera["latitude"]],
        }
        tags = feature["properties"]
        assert {k: tags[k] for k in ("man_made", "surveillance", "surveillance:type")} == {
            "man_made": "surveillance",
            "surveillance": "public",
            "surveillance:type": "ALPR",
        }
        assert tags["surveillance:zone"] == "traffic"
        assert tags["camera:type"] == "fixed"
        assert tags["camera:direction"] == str(round(camera["direction"]))
        assert tags["operator"] == camera["agency"]
        assert tags["manufacturer"] == "underseal"


def test_the_policy_names_the_laws_the_retention_satisfies(seeded: SeededWorld) -> None:
    policy = _get(seeded, "/portal/policy.json").json()
    assert policy["facts"]["retention_days"]["value"] == 30
    assert policy["facts"]["threshold"]["value"] == "2 of 3"
    laws = {r["jurisdiction"]: r["satisfied"] for r in policy["tables"]["retention_laws"]["rows"]}
    assert laws["New Hampshire"] == "yes"
    assert laws["Maine"] == laws["Virginia"] == "no"  # 30 days > 21
    assert laws["California Highway Patrol"] == laws["Vermont"] == "yes"
    custodians = policy["tables"]["custodians"]["rows"]
    assert [c["endorsed_current_key"] for c in custodians] == ["yes"] * 3


def test_the_laws_table_agrees_with_the_retention_presets() -> None:
    # The presets (retention.py) are named for the laws; each preset satisfies its own law.
    limits = {law.jurisdiction: law.max_days for law in LAWS}
    assert limits["Maine"] == PRESETS["maine"] == limits["Virginia"] == PRESETS["virginia"]
    assert limits["California Highway Patrol"] == PRESETS["california-chp"]
    assert limits["Montana"] == limits["Tennessee"] == PRESETS["montana"] == PRESETS["tennessee"]
    assert limits["Arkansas"] == PRESETS["arkansas"]
    assert limits["Vermont"] == PRESETS["vermont"]
    assert all(ok for _, ok, _ in assess(21))
    assert [law.jurisdiction for law, ok, _ in assess(548) if not ok] == [
        "Maine",
        "Virginia",
        "California Highway Patrol",
        "Montana",
        "Tennessee",
        "Arkansas",
    ]


def test_the_audit_page_shows_a_checkpoint_that_verifies(seeded: SeededWorld) -> None:
    from nacl.signing import VerifyKey

    from underseal.encoding import b64d
    from underseal.merkle import verify_checkpoint

    audit = _get(seeded, "/portal/audit.json").json()
    key = VerifyKey(b64d(audit["facts"]["log_key"]["value"]))
    checkpoint = verify_checkpoint(b64d(audit["checkpoint"]), key)
    assert checkpoint.size == audit["facts"]["size"]["value"]
    entries = _get(seeded, "/v1/log/entries?start=0&limit=1000").json()
    assert len(entries) == checkpoint.size
    page = _get(seeded, "/portal/audit.json?start=3").json()["tables"]["entries"]["rows"]
    assert [r["seq"] for r in page] == list(range(3, min(53, checkpoint.size)))
    searches = audit["tables"]["searches"]["rows"]
    assert [r["kind"] for r in searches].count("warrant.request") == 3
    assert {r["kind"] for r in searches} >= {"warrant.grant", "warrant.deny", "warrant.search"}
    assert all("terms_sealed" in r["details"] for r in searches if r["kind"] == "warrant.request")


@pytest.mark.parametrize("path", ["/portal/nowhere", "/portal/usage/nowhere.csv", "/portal/x.json"])
def test_an_unknown_page_or_table_is_404(seeded: SeededWorld, path: str) -> None:
    reply = _client(seeded).get(path)
    assert reply.status_code == 404
    assert reply.json()["error"]["code"] == "not_found"


def test_the_map_draws_each_cone_towards_its_direction() -> None:
    def camera(cid: str, lat: float, lon: float, direction: float) -> Camera:
        return Camera(
            id=cid,
            verify_key=b"",
            box_key=b"",
            agency="A & B",
            latitude=lat,
            longitude=lon,
            direction=direction,
            field_of_view=2.0,
            enrolled_at=0,
        )

    svg = str(draw_map([camera("east", 0.0, 0.0, 90.0), camera("north<", 0.01, 0.01, 0.0)]))
    assert "<title" in svg
    assert "north&lt;" in svg
    assert "A &amp; B" in svg
    # The first camera faces east: its cone's far edge is CONE pixels to the right.
    east = svg.split('id="map-east"')[1]
    d = east.split('d="')[1].split('"')[0]
    x0, y0 = (float(v) for v in d[1:].split(" ")[0].split(","))
    ax, ay = (float(v) for v in d.split("L")[1].split(" ")[0].split(","))
    assert math.isclose(ax - x0, CONE, rel_tol=0.01)
    assert abs(ay - y0) < 2
    # North-east of it on the ground is up and to the right on the map.
    north = svg.split('id="map-north&lt;"')[1]
    nx, ny = (float(v) for v in north.split('d="M')[1].split(" ")[0].split(","))
    assert nx > x0
    assert ny < y0
