"""Crashes and vague rejections found by the hostile-input runs, pinned.

Found by tests/hostile/test_api_schemas.py (schemathesis): integers beyond
64 bits reached SQLite (``OverflowError``, a 500), and a body that is not
JSON was refused with the vague code ``http_error``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.server.deployment import Deployment

BIG = 2**70


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    deployment = Deployment(Path(tmp_path_factory.mktemp("regressions")), custodians=2)
    yield deployment
    deployment.close()


@pytest.mark.parametrize(
    ("caller", "url"),
    [
        ("officer", f"/v1/hotlist?offset={BIG}"),
        (None, f"/v1/log/entries?start={BIG}"),
        (None, f"/v1/epochs/{BIG}"),
        (None, "/v1/epochs/-1"),
    ],
)
def test_huge_integers_are_a_422_not_a_500(world: Deployment, caller: str | None, url: str) -> None:
    client = world.as_[caller] if caller else world.records
    headers = dict(client.headers)
    reply = TestClient(world.records_app, raise_server_exceptions=False, headers=headers).get(url)
    assert reply.status_code == 422, reply.text
    assert reply.json()["error"]["code"] == "invalid_request"


def test_custodian_log_entries_refuse_huge_start(world: Deployment) -> None:
    client = TestClient(world.custodian_apps[0], raise_server_exceptions=False)
    reply = client.get(f"/v1/log/entries?start={BIG}")
    assert reply.status_code == 422, reply.text


def test_a_body_that_is_not_json_has_a_specific_code(world: Deployment) -> None:
    reply = world.admin.post(
        "/v1/principals", content=b"\xc3\x28", headers={"content-type": "application/json"}
    )
    assert reply.status_code == 400
    assert reply.json() == {
        "error": {"code": "malformed_body", "message": "There was an error parsing the body"}
    }


def test_acknowledging_a_huge_alert_id_is_a_422(world: Deployment) -> None:
    client = TestClient(
        world.records_app,
        raise_server_exceptions=False,
        headers=dict(world.as_["dispatch"].headers),
    )
    reply = client.post("/v1/alerts/ack", json={"ids": [BIG]})
    assert reply.status_code == 422, reply.text
    assert client.post("/v1/alerts/ack", json={"ids": [1]}).status_code == 200


def test_a_png_claiming_a_huge_chunk_is_a_bad_image_not_gigabytes(tmp_path: Path) -> None:
    # Found by fuzz/fuzz_images.py: OpenCV allocated the declared 2.5 GB IDAT.
    import cv2
    import numpy as np
    from underseal_device.errors import BadImage
    from underseal_device.ocr.images import read_image

    ok, encoded = cv2.imencode(".png", np.zeros((48, 96, 3), np.uint8))
    assert ok
    good = encoded.tobytes()
    (tmp_path / "good.png").write_bytes(good)
    assert read_image(tmp_path / "good.png").shape == (48, 96, 3)
    at = good.index(b"IDAT") - 4
    bomb = good[:at] + (2_516_582_896).to_bytes(4, "big") + good[at + 4 :]
    (tmp_path / "bomb.png").write_bytes(bomb)
    with pytest.raises(BadImage):
        read_image(tmp_path / "bomb.png")
