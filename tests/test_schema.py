"""The database refuses bad rows by itself: one test per CHECK and unique rule."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import insert, text, update
from sqlalchemy.exc import IntegrityError

from booking.extensions import db
from booking.models import (
    Booking,
    BookingSeat,
    Bus,
    Cancellation,
    Payment,
    PaymentEvent,
    PromoCode,
    Reservation,
    ReservationSeat,
    Route,
    Schedule,
    Seat,
    Ticket,
    User,
    Wallet,
    WalletTransaction,
)
from booking.models.enums import (
    Channel,
    Gender,
    HoldStatus,
    LedgerKind,
    PaymentMethod,
    PaymentPurpose,
    PaymentStatus,
    PromoKind,
    RefundMode,
    Role,
)
from tests.support import NOW, make_trip, make_user


@dataclass
class World:
    """One valid row of every table, for the cases to break."""

    customer: User
    staff: User
    schedule: Schedule
    seat: Seat
    other_seat: Seat
    hold: Reservation
    claim: ReservationSeat
    booking: Booking
    booked_seat: BookingSeat
    payment: Payment
    ticket: Ticket
    cancellation: Cancellation
    wallet: Wallet
    debit: WalletTransaction
    promo: PromoCode


@pytest.fixture
def world(app_ctx) -> World:
    """A consistent little world: a customer who booked one seat and cancelled nothing yet."""
    customer = make_user(wallet="1000.00")
    staff = make_user(Role.STAFF)
    schedule = make_trip()
    session = db.session
    seat, other_seat = session.query(Seat).filter_by(schedule_id=schedule.id).limit(2).all()
    hold = Reservation(
        user_id=customer.id,
        schedule_id=schedule.id,
        reserved_at=NOW,
        expires_at=NOW + timedelta(minutes=15),
        status=HoldStatus.CONFIRMED,
        total_amount=Decimal("550.00"),
    )
    session.add(hold)
    session.flush()
    claim = ReservationSeat(reservation_id=hold.id, seat_id=seat.id)
    booking = Booking(
        reference="ABCD3467",
        reservation_id=hold.id,
        user_id=customer.id,
        channel=Channel.ONLINE,
        schedule_id=schedule.id,
        contact_name="Test User",
        contact_phone="9800000000",
        base_amount=Decimal("500.00"),
        tax_amount=Decimal("50.00"),
        total_amount=Decimal("550.00"),
        confirmed_at=NOW,
    )
    session.add_all([claim, booking])
    session.flush()
    booked_seat = BookingSeat(
        booking_id=booking.id,
        seat_id=seat.id,
        seat_number=seat.seat_number,
        fare=Decimal("500.00"),
        charged=Decimal("550.00"),
        passenger_name="Test User",
        passenger_age=30,
        passenger_gender=Gender.FEMALE,
    )
    payment = Payment(
        reservation_id=hold.id,
        booking_id=booking.id,
        user_id=customer.id,
        amount=Decimal("550.00"),
        method=PaymentMethod.WALLET,
        status=PaymentStatus.COMPLETED,
        idempotency_key="key-1",
        gateway_reference="gw-1",
    )
    ticket = Ticket(booking_id=booking.id, ticket_number="T-0001", qr_payload="x", issued_at=NOW)
    cancellation = Cancellation(
        booking_id=booking.id,
        refund_percent=100,
        refund_amount=Decimal("0.00"),
        refund_mode=RefundMode.WALLET,
    )
    wallet = session.query(Wallet).filter_by(user_id=customer.id).one()
    debit = WalletTransaction(
        wallet_id=wallet.id,
        kind=LedgerKind.DEBIT,
        amount=Decimal("550.00"),
        balance_after=Decimal("450.00"),
        description="Booking ABCD3467",
    )
    promo = PromoCode(
        code="SAVE10",
        kind=PromoKind.PERCENT,
        percent_off=10,
        valid_from=NOW,
        valid_until=NOW + timedelta(days=30),
        usage_limit=5,
    )
    session.add_all([booked_seat, payment, ticket, cancellation, debit, promo])
    session.commit()
    return World(
        customer,
        staff,
        schedule,
        seat,
        other_seat,
        hold,
        claim,
        booking,
        booked_seat,
        payment,
        ticket,
        cancellation,
        wallet,
        debit,
        promo,
    )


def _copy(row, **changes) -> dict:
    """The column values of ``row`` with a new id and ``changes`` applied."""
    values = {c.key: getattr(row, c.key) for c in row.__table__.columns}
    values.update(id=uuid.uuid4(), **changes)
    return values


def sql(statement: str):
    """Raw SQL, for values the ORM would refuse before the database saw them."""
    return lambda w: text(statement.format(w=w))


def _event(w: World):
    """An insert of gateway event 'evt-1' for the world's payment."""
    return insert(PaymentEvent).values(
        id=uuid.uuid4(),
        event_id="evt-1",
        payment_id=w.payment.id,
        event_type="payment.succeeded",
        outcome="applied",
        payload={},
        received_at=NOW,
        created_at=NOW,
        updated_at=NOW,
    )


# (name the database reports (PostgreSQL|SQLite when they differ), how to break the rule)
CASES = [
    # users
    ("email", lambda w: insert(User).values(_copy(w.staff, email=w.customer.email))),
    ("ck_users_email_lower_case", lambda w: update(User).values(email="Mixed@Example.com")),
    ("ck_users_phone_length", lambda w: update(User).values(phone="12345")),
    ("ck_users_session_version_not_negative", lambda w: update(User).values(session_version=-1)),
    ("ck_users_user_role", sql("UPDATE users SET role = 'guest'")),
    # routes
    (
        "origin_city",
        lambda w: insert(Route).values(_copy(w.schedule.route)),
    ),
    (
        "ck_routes_distinct_cities",
        lambda w: update(Route).values(destination_city=Route.origin_city),
    ),
    ("ck_routes_distance_positive", lambda w: update(Route).values(distance_km=0)),
    ("ck_routes_duration_positive", lambda w: update(Route).values(estimated_duration_minutes=0)),
    # buses
    ("bus_number", lambda w: insert(Bus).values(_copy(w.schedule.bus))),
    ("ck_buses_seat_count_range", lambda w: update(Bus).values(total_seats=0)),
    ("ck_buses_seat_count_range", lambda w: update(Bus).values(total_seats=101)),
    ("ck_buses_bus_type", sql("UPDATE buses SET bus_type = 'limo'")),
    # schedules
    ("departure_at", lambda w: insert(Schedule).values(_copy(w.schedule))),
    (
        "ck_schedules_arrival_after_departure",
        lambda w: update(Schedule).values(arrival_at=Schedule.departure_at),
    ),
    ("ck_schedules_base_price_positive", lambda w: update(Schedule).values(base_price=0)),
    (
        "ck_schedules_available_seats_not_negative",
        lambda w: update(Schedule).values(available_seats=-1),
    ),
    ("ck_schedules_seat_version_not_negative", lambda w: update(Schedule).values(seat_version=-1)),
    ("ck_schedules_schedule_status", sql("UPDATE schedules SET status = 'moving'")),
    # seats
    ("seat_number", lambda w: insert(Seat).values(_copy(w.seat))),
    (
        "ck_seats_price_modifier_not_negative",
        lambda w: update(Seat).values(price_modifier=Decimal("-1.00")),
    ),
    ("ck_seats_position", lambda w: update(Seat).values(row_index=-1)),
    ("ck_seats_seat_type", sql("UPDATE seats SET seat_type = 'vip'")),
    ("ck_seats_seat_status", sql("UPDATE seats SET status = 'broken'")),
    # reservations (holds)
    (
        "ck_reservations_expires_after_reserved",
        lambda w: update(Reservation).values(expires_at=Reservation.reserved_at),
    ),
    (
        "ck_reservations_total_not_negative",
        lambda w: update(Reservation).values(total_amount=Decimal("-1.00")),
    ),
    (
        "ck_reservations_desk_sales_name_the_clerk",
        lambda w: update(Reservation).values(channel=Channel.DESK),
    ),
    (
        "ck_reservations_online_holds_have_user",
        lambda w: update(Reservation).values(user_id=None),
    ),
    ("ck_reservations_hold_status", sql("UPDATE reservations SET status = 'paused'")),
    (
        "uq_reservations_one_active_per_customer|reservations.user_id, reservations.schedule_id",
        lambda w: [
            update(Reservation).values(status=HoldStatus.ACTIVE),
            insert(Reservation).values(_copy(w.hold, status=HoldStatus.ACTIVE)),
        ],
    ),
    # reservation_seats: one live claim per seat
    (
        "uq_reservation_seats_one_live_claim|reservation_seats.seat_id",
        lambda w: insert(ReservationSeat).values(_copy(w.claim)),
    ),
    (
        "ck_reservation_seats_released_has_time",
        lambda w: update(ReservationSeat).values(is_live=False),
    ),
    # bookings
    (
        "reference",
        lambda w: insert(Booking).values(_copy(w.booking, reservation_id=uuid.uuid4())),
    ),
    ("reservation_id", lambda w: insert(Booking).values(_copy(w.booking, reference="QRST4679"))),
    ("ck_bookings_reference_length", lambda w: update(Booking).values(reference="ABC")),
    (
        "ck_bookings_refund_within_total",
        lambda w: update(Booking).values(refunded_amount=Decimal("550.01")),
    ),
    (
        "ck_bookings_refunded_not_negative",
        lambda w: update(Booking).values(refunded_amount=Decimal("-1.00")),
    ),
    (
        "ck_bookings_breakdown_not_negative",
        lambda w: update(Booking).values(
            discount_amount=Decimal("-1.00"), total_amount=Decimal("551.00")
        ),
    ),
    (
        "ck_bookings_breakdown_adds_up",
        lambda w: update(Booking).values(total_amount=Decimal("549.00")),
    ),
    ("ck_bookings_desk_names_clerk", lambda w: update(Booking).values(channel=Channel.DESK)),
    ("ck_bookings_online_has_user", lambda w: update(Booking).values(user_id=None)),
    # booking_seats
    (
        "uq_booking_seats_one_booked_seat|booking_seats.seat_id",
        lambda w: insert(BookingSeat).values(_copy(w.booked_seat)),
    ),
    ("ck_booking_seats_amounts", lambda w: update(BookingSeat).values(fare=Decimal("0.00"))),
    (
        "ck_booking_seats_passenger_age_range",
        lambda w: update(BookingSeat).values(passenger_age=121),
    ),
    (
        "ck_booking_seats_cancelled_has_record",
        sql("UPDATE booking_seats SET status = 'cancelled'"),
    ),
    ("ck_booking_seats_gender", sql("UPDATE booking_seats SET passenger_gender = 'x'")),
    # tickets
    ("booking_id", lambda w: insert(Ticket).values(_copy(w.ticket, ticket_number="T-0002"))),
    ("ticket_number", lambda w: insert(Ticket).values(_copy(w.ticket, booking_id=uuid.uuid4()))),
    ("ck_tickets_version_positive", lambda w: update(Ticket).values(version=0)),
    # cancellations
    (
        "ck_cancellations_refund_not_negative",
        lambda w: update(Cancellation).values(refund_amount=Decimal("-1.00")),
    ),
    (
        "ck_cancellations_refund_percent_range",
        lambda w: update(Cancellation).values(refund_percent=101),
    ),
    # payments
    ("ck_payments_amount_positive", lambda w: update(Payment).values(amount=Decimal("0.00"))),
    (
        "ck_payments_refund_within_amount",
        lambda w: update(Payment).values(refunded_amount=Decimal("550.01")),
    ),
    (
        "ck_payments_refunded_not_negative",
        lambda w: update(Payment).values(refunded_amount=Decimal("-0.01")),
    ),
    (
        "ck_payments_completed_booking_payment_has_booking",
        lambda w: update(Payment).values(booking_id=None),
    ),
    (
        "ck_payments_booking_payment_has_hold",
        lambda w: update(Payment).values(reservation_id=None),
    ),
    (
        "ck_payments_topup_has_user",
        lambda w: update(Payment).values(purpose=PaymentPurpose.TOPUP, user_id=None),
    ),
    (
        "gateway_reference",
        lambda w: insert(Payment).values(_copy(w.payment, idempotency_key="key-2")),
    ),
    (
        "idempotency_key",
        lambda w: insert(Payment).values(_copy(w.payment, gateway_reference="gw-2")),
    ),
    ("ck_payments_payment_method", sql("UPDATE payments SET method = 'cheque'")),
    ("event_id", lambda w: [_event(w), _event(w)]),
    # wallets and the ledger
    ("ck_wallets_balance_not_negative", lambda w: update(Wallet).values(balance=Decimal("-0.01"))),
    ("user_id", lambda w: insert(Wallet).values(_copy(w.wallet))),
    (
        "ck_wallet_transactions_amount_positive",
        lambda w: update(WalletTransaction).values(amount=Decimal("0.00")),
    ),
    (
        "ck_wallet_transactions_balance_after_not_negative",
        lambda w: update(WalletTransaction).values(balance_after=Decimal("-1.00")),
    ),
    (
        "ck_wallet_transactions_refund_names_its_debit",
        lambda w: (
            update(WalletTransaction)
            .where(WalletTransaction.id == w.debit.id)
            .values(kind=LedgerKind.REFUND)
        ),
    ),
    (
        "ck_wallet_transactions_refund_names_its_debit",
        lambda w: (
            update(WalletTransaction)
            .where(WalletTransaction.id == w.debit.id)
            .values(parent_id=WalletTransaction.id)
        ),
    ),
    # promo codes
    ("code", lambda w: insert(PromoCode).values(_copy(w.promo))),
    ("ck_promo_codes_code_upper_case", lambda w: update(PromoCode).values(code="save10")),
    (
        "ck_promo_codes_discount_matches_kind",
        lambda w: update(PromoCode).values(percent_off=101),
    ),
    (
        "ck_promo_codes_discount_matches_kind",
        lambda w: update(PromoCode).values(kind=PromoKind.FLAT),
    ),
    (
        "ck_promo_codes_min_amount_not_negative",
        lambda w: update(PromoCode).values(min_amount=Decimal("-1.00")),
    ),
    (
        "ck_promo_codes_max_discount_positive",
        lambda w: update(PromoCode).values(max_discount=Decimal("0.00")),
    ),
    ("ck_promo_codes_window", lambda w: update(PromoCode).values(valid_until=PromoCode.valid_from)),
    ("ck_promo_codes_usage_limit_positive", lambda w: update(PromoCode).values(usage_limit=0)),
    (
        "ck_promo_codes_per_customer_positive",
        lambda w: update(PromoCode).values(per_customer_limit=0),
    ),
    ("ck_promo_codes_used_within_limit", lambda w: update(PromoCode).values(used_count=6)),
]


@pytest.mark.parametrize(
    ("constraint", "breach"), CASES, ids=[f"{i:02d}-{c[0]}" for i, c in enumerate(CASES)]
)
def test_database_refuses_the_bad_row(world, constraint, breach):
    """Each statement breaks one rule; the database must refuse it, naming the rule."""
    statements = breach(world)
    statements = statements if isinstance(statements, list) else [statements]
    with pytest.raises(IntegrityError) as caught:
        for statement in statements:
            db.session.execute(statement)
        db.session.flush()
    db.session.rollback()
    # PostgreSQL names the index; SQLite names the columns of a unique index instead.
    assert any(name in str(caught.value.orig) for name in constraint.split("|"))


def test_a_released_claim_frees_the_seat_for_a_new_live_claim(world):
    """The one-live-claim index ignores released claims: history does not block a seat."""
    db.session.execute(
        update(ReservationSeat).values(is_live=False, released_at=NOW + timedelta(minutes=1))
    )
    db.session.execute(insert(ReservationSeat).values(_copy(world.claim)))
    db.session.commit()
    assert db.session.query(ReservationSeat).filter_by(seat_id=world.seat.id).count() == 2


def test_a_customer_may_hold_again_once_the_first_hold_has_ended(world):
    """The one-active-hold index applies to active holds only."""
    db.session.execute(insert(Reservation).values(_copy(world.hold, status=HoldStatus.ACTIVE)))
    db.session.commit()
    assert db.session.query(Reservation).filter_by(user_id=world.customer.id).count() == 2


def test_money_keeps_paise_exactly(world):
    """Amounts round-trip exactly on both databases, and sub-paisa values are refused."""
    db.session.execute(update(Wallet).values(balance=Decimal("1234567.89")))
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Wallet, world.wallet.id).balance == Decimal("1234567.89")
    with pytest.raises(Exception, match="more than two decimal places"):
        db.session.execute(update(Wallet).values(balance=Decimal("1.001")))
    db.session.rollback()


def test_times_come_back_as_utc(world):
    """Datetimes are stored as UTC and come back timezone-aware; naive ones are refused."""
    db.session.expire_all()
    hold = db.session.get(Reservation, world.hold.id)
    assert hold.reserved_at == NOW and hold.reserved_at.utcoffset() == timedelta(0)
    with pytest.raises(Exception, match="naive datetime"):
        db.session.execute(update(Reservation).values(reserved_at=NOW.replace(tzinfo=None)))
    db.session.rollback()
