"""Alembic environment of the records service: its own tables only, on the given connection."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel
from underseal_server.records.models import TABLES

NAMES = {t.name for t in TABLES}


def _include(_object: object, name: str | None, type_: str, *_: object) -> bool:
    # One metadata holds both services' models: each history owns its tables only.
    return type_ != "table" or name in NAMES


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through underseal_server.migrations.migrate()")
context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    include_object=_include,
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
