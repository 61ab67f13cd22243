"""camera hourly aggregates (camera_hour): counts per camera per hour, nothing per read

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 01:47:24.626761
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "camera_hour",
        sa.Column("camera_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("hour", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("frames", sa.Integer(), nullable=False),
        sa.Column("reads", sa.Integer(), nullable=False),
        sa.Column("passes", sa.Integer(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("uptime_seconds", sa.Integer(), nullable=False),
        sa.Column("healthy_seconds", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["camera_id"],
            ["camera.id"],
        ),
        sa.PrimaryKeyConstraint("camera_id", "hour"),
    )
    with op.batch_alter_table("camera_hour", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_camera_hour_day"), ["day"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("camera_hour", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_camera_hour_day"))

    op.drop_table("camera_hour")
