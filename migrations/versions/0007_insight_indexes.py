"""indexes for the admin dashboard and reports: sales, holds, payments and
cancellations by time, the seats of a cancellation

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 09:00:00

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_bookings_confirmed_at", "bookings", ["confirmed_at"])
    op.create_index("ix_reservations_reserved_at", "reservations", ["reserved_at"])
    op.create_index("ix_payments_created_at", "payments", ["created_at"])
    op.create_index("ix_cancellations_created_at", "cancellations", ["created_at"])
    op.create_index("ix_booking_seats_cancellation_id", "booking_seats", ["cancellation_id"])


def downgrade():
    op.drop_index("ix_booking_seats_cancellation_id", table_name="booking_seats")
    op.drop_index("ix_cancellations_created_at", table_name="cancellations")
    op.drop_index("ix_payments_created_at", table_name="payments")
    op.drop_index("ix_reservations_reserved_at", table_name="reservations")
    op.drop_index("ix_bookings_confirmed_at", table_name="bookings")
