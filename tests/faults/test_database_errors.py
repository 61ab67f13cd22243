"""The services' answer to a database they cannot reach: 503, a code, Retry-After, no secret.

Both the records server and the custodians install these handlers
(``install_error_handlers``); the PostgreSQL restart test shows them on
the real thing. Here: the shape, what is logged, and that a statement the
database refuses is still a bug (500), not an outage.
"""

from __future__ import annotations

import logging

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import IntegrityError, OperationalError
from underseal_server.api_errors import RETRY_AFTER_SECONDS, install_error_handlers

SECRET = "7ABC123-token-s3cret"


class DriverError(Exception):
    """Stands in for psycopg's error class."""


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/down")
    def down() -> None:
        raise OperationalError(
            "SELECT * FROM principal WHERE token_hash = %(t)s", {"t": SECRET}, DriverError(SECRET)
        )

    @app.get("/refused")
    def refused() -> None:
        raise IntegrityError("INSERT ...", {}, DriverError("duplicate key"))

    return app


def test_an_unreachable_database_is_a_503_with_a_code_and_retry_after_and_no_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = TestClient(_app())
    with caplog.at_level(logging.WARNING, logger="underseal_server.api_errors"):
        reply = client.get("/down")
    assert reply.status_code == 503
    assert reply.json() == {
        "error": {
            "code": "database_unavailable",
            "message": "the database is unavailable; retry later",
        }
    }
    assert reply.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
    assert SECRET not in reply.text
    assert [r.getMessage() for r in caplog.records] == [
        "database unavailable (DriverError) for GET /down: answered 503"
    ]
    assert SECRET not in caplog.text


def test_a_statement_the_database_refuses_is_still_a_server_error() -> None:
    client = TestClient(_app(), raise_server_exceptions=False)
    assert client.get("/refused").status_code == 500
