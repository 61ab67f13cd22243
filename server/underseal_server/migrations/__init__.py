"""Alembic migrations, one history per service: ``migrate(engine, service)`` brings a database up.

The services call it at start-up, so a fresh SQLite file or an empty
PostgreSQL database needs no set-up; an operator can run the same upgrade
from the CLI before rolling out a new version (``underseal-server migrate``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

__all__ = ["Service", "migrate"]

Service = Literal["records", "custodian"]
_HERE = Path(__file__).parent


def config(service: Service) -> Config:
    """The Alembic configuration of ``service`` (no alembic.ini needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(_HERE / service))
    cfg.attributes["service"] = service
    return cfg


def migrate(engine: Engine, service: Service, revision: str = "head") -> None:
    """Upgrade ``engine``'s database to ``revision`` of ``service``'s history."""
    cfg = config(service)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)
