"""A morning's sales for the demo, so the admin dashboard, the reports, the manifests and the
seat maps have something to show: counter sales for cash and UPI from an open shift, one online
wallet booking and one cancelled seat. Only ``flask demo`` calls it, after ``flask seed``; it goes
through the same services as a clerk and a customer would, and does nothing when any booking
exists already."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from booking.extensions import db
from booking.models import Booking, Schedule, Seat, User
from booking.models.enums import PaymentMethod, ScheduleStatus, SeatStatus
from booking.services import cancellations, desk_sales, holds, payments, shifts
from booking.services.details import CheckoutDetails, Passenger

CLERK = "staff@example.com"
CUSTOMER = "asha@example.com"
# (seats sold, how paid) on each of the first trips that leave in more than two hours.
COUNTER_SALES = [
    (2, PaymentMethod.CASH),
    (1, PaymentMethod.UPI),
    (3, PaymentMethod.CASH),
    (2, PaymentMethod.DEBIT_CARD),
    (1, PaymentMethod.CASH),
    (2, PaymentMethod.UPI),
]
NAMES = [
    "Lakshmi Menon",
    "Arjun Das",
    "Fatima Shaikh",
    "Vikram Singh",
    "Meera Pillai",
    "Rahul Jain",
]


def sell_a_morning(now: datetime) -> int:
    """Make the demo's sales; the number of bookings made (0 when there were bookings)."""
    if db.session.scalar(select(func.count(Booking.id))):
        return 0
    clerk = db.session.scalar(select(User).where(User.email == CLERK))
    customer = db.session.scalar(select(User).where(User.email == CUSTOMER))
    trips = list(
        db.session.scalars(
            select(Schedule)
            .where(
                Schedule.status == ScheduleStatus.SCHEDULED,
                Schedule.departure_at > now + timedelta(hours=2),
            )
            .order_by(Schedule.departure_at, Schedule.id)
            .limit(len(COUNTER_SALES))
        )
    )
    if clerk is None or customer is None or not trips:
        return 0
    clerk_id, customer_id = clerk.id, customer.id
    shifts.open_shift(clerk_id, Decimal("2000.00"), now - timedelta(hours=3), station="Bengaluru")
    made = 0
    for index, (trip, (count, method)) in enumerate(zip(trips, COUNTER_SALES, strict=False)):
        seats = _free_seats(trip.id, count)
        hold = holds.hold_seats(
            customer_id=None,
            schedule_id=trip.id,
            seat_numbers=seats,
            now=now - timedelta(minutes=90 - index * 10),
            sold_by_id=clerk_id,
        )
        desk_sales.sell_at_desk(
            hold_id=hold.id,
            clerk_id=clerk_id,
            details=_details(seats, NAMES[index % len(NAMES)]),
            now=now - timedelta(minutes=88 - index * 10),
            method=method,
            tendered=None,  # exact money: nothing to count back
            terminal_reference=None if method == PaymentMethod.CASH else f"DEMO-{index:04d}",
        )
        made += 1
    seats = _free_seats(trips[0].id, 2)
    hold = holds.hold_seats(
        customer_id=customer_id, schedule_id=trips[0].id, seat_numbers=seats, now=now
    )
    booking = payments.pay_with_wallet(
        hold_id=hold.id,
        customer_id=customer_id,
        details=_details(seats, "Asha Nair"),
        now=now,
        idempotency_key=None,
    )
    cancellations.cancel_booking(
        booking.id,
        actor_id=customer_id,
        now=now,
        seat_numbers=seats[1:],
        reason="Travelling alone after all",
    )
    return made + 1


def _free_seats(schedule_id, count: int) -> list[str]:
    """The first ``count`` available seats of a trip that are not ladies-only."""
    return list(
        db.session.scalars(
            select(Seat.seat_number)
            .where(
                Seat.schedule_id == schedule_id,
                Seat.status == SeatStatus.AVAILABLE,
                Seat.ladies_only.is_(False),
            )
            .order_by(Seat.deck, Seat.row_index, Seat.column_index)
            .limit(count)
        )
    )


def _details(seats: list[str], name: str) -> CheckoutDetails:
    """One passenger per seat, the first named, the contact the first passenger."""
    first = name.split()[0]
    return CheckoutDetails(
        passengers=tuple(
            Passenger(seat, name if i == 0 else f"{first}'s companion {i}", 34 + i, "male")
            for i, seat in enumerate(seats)
        ),
        contact_name=name,
        contact_phone="+91 98450 12345",
        contact_email=None,
        promo_code=None,
    )
