"""The services' answer to a database they cannot reach: 503, a code, Retry-After, no secret.

Both the records server and the custodians install these handlers
(``install_error_handlers``); the PostgreSQL restart test shows them on
the real thing. Here: the shape, what is logged, and that a statement the
database refuses is still a bug (500), not an outage.
"""

from __future__ import annotations

import logging
import sqlite3

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
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


class CodedError(Exception):
    """A driver error with the codes sqlite3 and psycopg attach."""

    def __init__(self, *, sqlite_errorcode: int | None = None, sqlstate: str | None = None):
        super().__init__("driver error")
        if sqlite_errorcode is not None:
            self.sqlite_errorcode = sqlite_errorcode
        if sqlstate is not None:
            self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("cause", "status"),
    [
        (CodedError(sqlite_errorcode=sqlite3.SQLITE_BUSY), 503),  # locked past busy_timeout
        (CodedError(sqlite_errorcode=sqlite3.SQLITE_IOERR | (3 << 8)), 503),  # IOERR_WRITE
        (CodedError(sqlite_errorcode=sqlite3.SQLITE_FULL), 503),
        (CodedError(sqlite_errorcode=sqlite3.SQLITE_ERROR), 500),  # "no such table": a bug
        (CodedError(sqlstate="57P01"), 503),  # admin_shutdown: PostgreSQL stopping
        (CodedError(sqlstate="08006"), 503),  # connection_failure
        (CodedError(sqlstate="53300"), 503),  # too_many_connections
        (CodedError(sqlstate="42P01"), 500),  # undefined_table: a bug
    ],
    ids=["sqlite-busy", "sqlite-ioerr", "sqlite-full", "sqlite-error", "pg-shutdown",
         "pg-connection", "pg-too-many", "pg-undefined-table"],
)  # fmt: skip
def test_only_outages_are_503_not_statements_the_database_refuses(
    cause: Exception, status: int
) -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/")
    def fail() -> None:
        raise OperationalError("SELECT 1", {}, cause)

    client = TestClient(app, raise_server_exceptions=False)
    assert client.get("/").status_code == status


def test_an_exhausted_connection_pool_is_a_503() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/")
    def fail() -> None:
        raise PoolTimeout("QueuePool limit of size 10 overflow 20 reached")

    reply = TestClient(app, raise_server_exceptions=False).get("/")
    assert reply.status_code == 503
    assert reply.json()["error"]["code"] == "database_unavailable"
