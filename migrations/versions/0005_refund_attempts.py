"""refunds: one row per payment refunded, with attempts, backoff and last error

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 09:00:00

"""

import sqlalchemy as sa
from alembic import op

import booking.db_types

# revision identifiers, used by Alembic.
revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "refunds",
        sa.Column("payment_id", sa.Uuid(), nullable=False),
        sa.Column("cancellation_id", sa.Uuid(), nullable=True),
        sa.Column("booking_id", sa.Uuid(), nullable=True),
        sa.Column("amount", booking.db_types.Money(precision=12, scale=2), nullable=False),
        sa.Column(
            "method",
            sa.Enum(
                "wallet",
                "gateway",
                "cash",
                "terminal",
                name="refund_method",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "processed",
                "failed",
                name="refund_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", booking.db_types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempt_started_at", booking.db_types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("gateway_refund_reference", sa.String(length=64), nullable=True),
        sa.Column("processed_at", booking.db_types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", booking.db_types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", booking.db_types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status <> 'processed' OR processed_at IS NOT NULL",
            name=op.f("ck_refunds_processed_has_time"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_refunds_amount_positive")),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_refunds_attempts_not_negative")),
        sa.ForeignKeyConstraint(
            ["booking_id"], ["bookings.id"], name=op.f("fk_refunds_booking_id_bookings")
        ),
        sa.ForeignKeyConstraint(
            ["cancellation_id"],
            ["cancellations.id"],
            name=op.f("fk_refunds_cancellation_id_cancellations"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_refunds_payment_id_payments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refunds")),
    )
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_refunds_booking_id"), ["booking_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_refunds_cancellation_id"), ["cancellation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_refunds_payment_id"), ["payment_id"], unique=False)
        batch_op.create_index(
            "ix_refunds_status_next_attempt_at", ["status", "next_attempt_at"], unique=False
        )


def downgrade():
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.drop_index("ix_refunds_status_next_attempt_at")
        batch_op.drop_index(batch_op.f("ix_refunds_payment_id"))
        batch_op.drop_index(batch_op.f("ix_refunds_cancellation_id"))
        batch_op.drop_index(batch_op.f("ix_refunds_booking_id"))

    op.drop_table("refunds")
