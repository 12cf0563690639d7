"""counter shifts, their cash movements, and a staff member's home station

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 09:00:00

"""

import sqlalchemy as sa
from alembic import op

import booking.db_types

# revision identifiers, used by Alembic.
revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

MOVEMENT_KINDS = (
    "opening_float",
    "cash_sale",
    "cash_refund",
    "float_change",
    "card_sale",
    "upi_sale",
)
SALE_KINDS = "kind IN ('cash_sale', 'card_sale', 'upi_sale')"


def upgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("home_station", sa.String(length=80), nullable=True))

    op.create_table(
        "shifts",
        sa.Column("clerk_id", sa.Uuid(), nullable=False),
        sa.Column("station", sa.String(length=80), nullable=True),
        sa.Column("opened_at", booking.db_types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("opening_float", booking.db_types.Money(precision=12, scale=2), nullable=False),
        sa.Column("closed_at", booking.db_types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_by_id", sa.Uuid(), nullable=True),
        sa.Column("counted_cash", booking.db_types.Money(precision=12, scale=2), nullable=True),
        sa.Column("expected_cash", booking.db_types.Money(precision=12, scale=2), nullable=True),
        sa.Column("variance", booking.db_types.Money(precision=12, scale=2), nullable=True),
        sa.Column("closing_note", sa.String(length=500), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", booking.db_types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", booking.db_types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("opening_float >= 0", name=op.f("ck_shifts_opening_float_not_negative")),
        sa.CheckConstraint(
            "counted_cash IS NULL OR counted_cash >= 0", name=op.f("ck_shifts_counted_not_negative")
        ),
        sa.CheckConstraint(
            "(closed_at IS NULL AND counted_cash IS NULL AND expected_cash IS NULL "
            "AND variance IS NULL AND closed_by_id IS NULL) OR "
            "(closed_at IS NOT NULL AND counted_cash IS NOT NULL AND expected_cash IS NOT NULL "
            "AND variance IS NOT NULL AND closed_by_id IS NOT NULL)",
            name=op.f("ck_shifts_closed_all_at_once"),
        ),
        sa.CheckConstraint(
            "variance IS NULL OR variance = counted_cash - expected_cash",
            name=op.f("ck_shifts_variance_is_counted_less_expected"),
        ),
        sa.CheckConstraint(
            "closed_at IS NULL OR closed_at >= opened_at",
            name=op.f("ck_shifts_closed_after_opened"),
        ),
        sa.ForeignKeyConstraint(["clerk_id"], ["users.id"], name=op.f("fk_shifts_clerk_id_users")),
        sa.ForeignKeyConstraint(
            ["closed_by_id"], ["users.id"], name=op.f("fk_shifts_closed_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shifts")),
    )
    with op.batch_alter_table("shifts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_shifts_clerk_id"), ["clerk_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_shifts_opened_at"), ["opened_at"], unique=False)
        # One open shift per clerk: the database decides, even when two opens race.
        batch_op.create_index(
            "uq_shifts_one_open_per_clerk",
            ["clerk_id"],
            unique=True,
            sqlite_where=sa.text("closed_at IS NULL"),
            postgresql_where=sa.text("closed_at IS NULL"),
        )

    op.create_table(
        "shift_movements",
        sa.Column("shift_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                *MOVEMENT_KINDS, name="movement_kind", native_enum=False, create_constraint=True
            ),
            nullable=False,
        ),
        # Signed: what the entry changed in the drawer (card/UPI: positive, report only).
        sa.Column("amount", booking.db_types.Money(precision=12, scale=2), nullable=False),
        sa.Column("payment_id", sa.Uuid(), nullable=True),
        sa.Column("booking_id", sa.Uuid(), nullable=True),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", booking.db_types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "(kind = 'opening_float' AND amount >= 0) "
            "OR (kind IN ('cash_sale', 'card_sale', 'upi_sale') AND amount > 0) "
            "OR (kind = 'cash_refund' AND amount < 0) "
            "OR (kind = 'float_change' AND amount <> 0)",
            name=op.f("ck_shift_movements_amount_sign_matches_kind"),
        ),
        sa.CheckConstraint(
            "kind NOT IN ('cash_sale', 'cash_refund', 'card_sale', 'upi_sale') "
            "OR payment_id IS NOT NULL",
            name=op.f("ck_shift_movements_sale_or_refund_names_its_payment"),
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_shift_movements_actor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["booking_id"], ["bookings.id"], name=op.f("fk_shift_movements_booking_id_bookings")
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_shift_movements_payment_id_payments")
        ),
        sa.ForeignKeyConstraint(
            ["shift_id"], ["shifts.id"], name=op.f("fk_shift_movements_shift_id_shifts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shift_movements")),
    )
    with op.batch_alter_table("shift_movements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_shift_movements_booking_id"), ["booking_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_shift_movements_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_shift_movements_payment_id"), ["payment_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_shift_movements_shift_id"), ["shift_id"], unique=False)
        # A payment is taken once: one sale movement per payment.
        batch_op.create_index(
            "uq_shift_movements_one_sale_per_payment",
            ["payment_id"],
            unique=True,
            sqlite_where=sa.text(SALE_KINDS),
            postgresql_where=sa.text(SALE_KINDS),
        )


def downgrade():
    with op.batch_alter_table("shift_movements", schema=None) as batch_op:
        batch_op.drop_index("uq_shift_movements_one_sale_per_payment")
        batch_op.drop_index(batch_op.f("ix_shift_movements_shift_id"))
        batch_op.drop_index(batch_op.f("ix_shift_movements_payment_id"))
        batch_op.drop_index(batch_op.f("ix_shift_movements_created_at"))
        batch_op.drop_index(batch_op.f("ix_shift_movements_booking_id"))
    op.drop_table("shift_movements")
    with op.batch_alter_table("shifts", schema=None) as batch_op:
        batch_op.drop_index("uq_shifts_one_open_per_clerk")
        batch_op.drop_index(batch_op.f("ix_shifts_opened_at"))
        batch_op.drop_index(batch_op.f("ix_shifts_clerk_id"))
    op.drop_table("shifts")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("home_station")
