"""Each service's migration history builds exactly the schema its models describe."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel
from underseal_server.custodian.models import TABLES as CUSTODIAN_TABLES
from underseal_server.db import make_engine
from underseal_server.migrations import Service, migrate
from underseal_server.records.models import TABLES as RECORDS_TABLES

from tests.server.conftest import UrlFactory

TABLES = {"records": RECORDS_TABLES, "custodian": CUSTODIAN_TABLES}


@pytest.mark.parametrize("service", ["records", "custodian"])
def test_migrations_match_the_models(
    service: Service, tmp_path: Path, database: UrlFactory | None
) -> None:
    url = database(service) if database else f"sqlite:///{tmp_path / service}.db"
    engine = make_engine(url)
    try:
        migrate(engine, service)
        migrate(engine, service)  # a second run is a no-op
        names = {t.name for t in TABLES[service]}
        assert set(inspect(engine).get_table_names()) == names | {"alembic_version"}
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={
                    "include_object": lambda _o, name, type_, *_: type_ != "table" or name in names,
                    "compare_type": True,
                },
            )
            assert compare_metadata(context, SQLModel.metadata) == []
    finally:
        engine.dispose()
