"""boarding and dropping points of a route

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 09:00:00

"""

import sqlalchemy as sa
from alembic import op

import booking.db_types

# revision identifiers, used by Alembic.
revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "route_stops",
        sa.Column("route_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "boarding", "dropping", name="stop_kind", native_enum=False, create_constraint=True
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("minutes_from_departure", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", booking.db_types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", booking.db_types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "minutes_from_departure >= 0", name=op.f("ck_route_stops_minutes_not_negative")
        ),
        sa.CheckConstraint("position >= 0", name=op.f("ck_route_stops_position_not_negative")),
        sa.ForeignKeyConstraint(
            ["route_id"], ["routes.id"], name=op.f("fk_route_stops_route_id_routes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_route_stops")),
        sa.UniqueConstraint(
            "route_id", "kind", "position", name=op.f("uq_route_stops_route_id_kind_position")
        ),
    )
    with op.batch_alter_table("route_stops", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_route_stops_route_id"), ["route_id"], unique=False)


def downgrade():
    with op.batch_alter_table("route_stops", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_route_stops_route_id"))
    op.drop_table("route_stops")
