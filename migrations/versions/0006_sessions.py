"""sessions that end, sign-in throttled instead of locked

A per-user session version that session and remember-me cookies carry (raised on sign out,
password change and deactivation), and the sign-in lock-out columns dropped: failed sign-ins are
throttled by address and account (Flask-Limiter), so nobody can lock another person out.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 22:15:00

"""

import sqlalchemy as sa
from alembic import op

import booking.db_types

# revision identifiers, used by Alembic.
revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("session_version", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_users_session_version_not_negative"), "session_version >= 0"
        )
        batch_op.drop_constraint(batch_op.f("ck_users_failed_logins_not_negative"), type_="check")
        batch_op.drop_column("failed_logins")
        batch_op.drop_column("locked_until")


def downgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("locked_until", booking.db_types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_users_failed_logins_not_negative"), "failed_logins >= 0"
        )
        batch_op.drop_constraint(batch_op.f("ck_users_session_version_not_negative"), type_="check")
        batch_op.drop_column("session_version")
