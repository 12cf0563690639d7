"""Shared builders for the money tests: checkout details, holds, signed webhooks, promo codes,
ledger reads and whole-database snapshots."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from flask import current_app
from sqlalchemy import func, select

from booking.database import unit_of_work
from booking.extensions import db
from booking.gateway.sandbox import build_event, sign
from booking.models import (
    ActivityLog,
    Booking,
    OutboxEmail,
    Payment,
    PromoCode,
    Reservation,
    Wallet,
    WalletTransaction,
)
from booking.models.enums import LedgerKind, PaymentMethod, PromoKind
from booking.services import desk_sales, holds, invariants, payments, shifts, webhooks
from booking.services.details import CheckoutDetails, Passenger
from tests.support import NOW

# One standard seat of the deluxe test bus: 500.00 base + 5% GST.
SEAT = Decimal("525.00")


class Boom(Exception):
    """The failure a fault-injection test plants inside a transaction."""


def details(
    seats,
    *,
    gender: str = "female",
    name: str = "Priya Raman",
    age: int = 30,
    contact_name: str = "Priya Raman",
    contact_phone: str = "+91 98765 43210",
    contact_email: str | None = "priya@example.com",
    promo_code: str | None = None,
) -> CheckoutDetails:
    """Checkout details with one passenger per seat."""
    return CheckoutDetails(
        passengers=tuple(Passenger(n, name, age, gender) for n in seats),
        contact_name=contact_name,
        contact_phone=contact_phone,
        contact_email=contact_email,
        promo_code=promo_code,
    )


def hold(customer_id, trip_id, seats, now: datetime = NOW) -> uuid.UUID:
    """A customer's hold on these seats; returns its id."""
    return holds.hold_seats(
        customer_id=customer_id, schedule_id=trip_id, seat_numbers=seats, now=now
    ).id


def desk_hold(clerk_id, trip_id, seats, now: datetime = NOW) -> uuid.UUID:
    """A walk-in hold made by a clerk at the desk; returns its id."""
    return holds.hold_seats(
        customer_id=None, schedule_id=trip_id, seat_numbers=seats, now=now, sold_by_id=clerk_id
    ).id


def open_shift(clerk_id, opening_float: Decimal | str = "500.00", now: datetime = NOW, **kw):
    """Open a shift at the counter for a clerk (cash sales and refunds need one); returns it."""
    return shifts.open_shift(clerk_id, Decimal(opening_float), now - timedelta(hours=1), **kw)


def cash_sale(clerk_id, trip_id, seats, now: datetime = NOW, **kw):
    """A walk-in's seats held and sold for cash by the clerk; returns the booking."""
    hold_id = desk_hold(clerk_id, trip_id, seats, now=now)
    return desk_sales.sell_at_desk(
        hold_id=hold_id,
        clerk_id=clerk_id,
        details=details(seats),
        now=now + timedelta(minutes=1),
        **kw,
    )


def pay_wallet(customer_id, hold_id, seats, now: datetime = NOW, key: str | None = None, **kw):
    """Pay a hold from the wallet; returns the booking id."""
    return payments.pay_with_wallet(
        hold_id=hold_id,
        customer_id=customer_id,
        details=details(seats, **kw),
        now=now,
        idempotency_key=key,
    ).id


def start_gateway(
    customer_id,
    hold_id,
    seats,
    now: datetime = NOW,
    *,
    use_wallet: bool = True,
    key: str | None = None,
    method: PaymentMethod = PaymentMethod.UPI,
    **kw,
):
    """Start a gateway payment for a hold; returns the GatewayStart."""
    return payments.start_gateway_payment(
        hold_id=hold_id,
        customer_id=customer_id,
        details=details(seats, **kw),
        method=method,
        use_wallet=use_wallet,
        now=now,
        return_url="/return",
        idempotency_key=key,
    )


def signed_webhook(
    event_type: str,
    reference: str,
    amount: Decimal,
    *,
    now: datetime,
    event_id: str | None = None,
    signed_at: datetime | None = None,
    secret: str | None = None,
) -> tuple[bytes, dict[str, str]]:
    """A webhook body and the headers signing it, as the sandbox gateway would send them."""
    body = build_event(event_type, reference, amount, now=now, event_id=event_id)
    secret = secret or current_app.config["GATEWAY_WEBHOOK_SECRET"]
    return body, sign(body, int((signed_at or now).timestamp()), secret)


def deliver(
    event_type: str,
    payment_id,
    now: datetime,
    *,
    event_id: str | None = None,
    amount: Decimal | None = None,
):
    """Deliver a signed gateway event about a payment straight to receive_webhook."""
    payment = db.session.get(Payment, payment_id)
    reference = payment.gateway_reference
    amount = payment.amount if amount is None else amount
    body, headers = signed_webhook(event_type, reference, amount, now=now, event_id=event_id)
    return webhooks.receive_webhook(headers, body, now)


def make_promo(
    code: str = "SAVE10",
    *,
    percent_off: int | None = 10,
    amount_off: Decimal | None = None,
    usage_limit: int | None = None,
    per_customer_limit: int | None = None,
    now: datetime = NOW,
) -> uuid.UUID:
    """An active promo code valid around ``now``; returns its id."""
    with unit_of_work() as session:
        promo = PromoCode(
            code=code,
            description="test code",
            kind=PromoKind.PERCENT if percent_off else PromoKind.FLAT,
            percent_off=percent_off,
            amount_off=amount_off,
            valid_from=now - timedelta(days=1),
            valid_until=now + timedelta(days=30),
            usage_limit=usage_limit,
            per_customer_limit=per_customer_limit,
            created_at=now,
            updated_at=now,
        )
        session.add(promo)
        session.flush()
        return promo.id


# ---- reading what happened ---------------------------------------------------------------------


def fresh(model, ident):
    """A row read again from the database (not the copy this session may hold)."""
    return db.session.scalar(
        select(model).where(model.id == ident).execution_options(populate_existing=True)
    )


def balance(user_id) -> Decimal:
    """A customer's wallet balance, fresh."""
    return db.session.scalar(
        select(Wallet.balance)
        .where(Wallet.user_id == user_id)
        .execution_options(populate_existing=True)
    )


def ledger(user_id, kind: LedgerKind | None = None) -> list[WalletTransaction]:
    """A customer's ledger rows (of one kind, when given), oldest first."""
    query = (
        select(WalletTransaction)
        .join(Wallet, Wallet.id == WalletTransaction.wallet_id)
        .where(Wallet.user_id == user_id)
        .order_by(WalletTransaction.created_at, WalletTransaction.balance_after)
        .execution_options(populate_existing=True)
    )
    if kind is not None:
        query = query.where(WalletTransaction.kind == kind)
    return list(db.session.scalars(query))


def count(model, *where) -> int:
    """How many rows of ``model`` match."""
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def payments_of(hold_id) -> list[Payment]:
    """A hold's payments, fresh, oldest first (a wallet part before its gateway payment)."""
    return list(
        db.session.scalars(
            select(Payment)
            .where(Payment.reservation_id == hold_id)
            .order_by(Payment.created_at, Payment.method != PaymentMethod.WALLET)
            .execution_options(populate_existing=True)
        )
    )


def booking_of(hold_id) -> Booking | None:
    """The booking a hold became, if any."""
    return db.session.scalar(
        select(Booking)
        .where(Booking.reservation_id == hold_id)
        .execution_options(populate_existing=True)
    )


def hold_row(hold_id) -> Reservation:
    """A hold, fresh."""
    return fresh(Reservation, hold_id)


def actions(entity_id=None) -> list[str]:
    """The audit action types written (about one entity, when given), in order."""
    query = select(ActivityLog.action_type).order_by(ActivityLog.timestamp, ActivityLog.id)
    if entity_id is not None:
        query = query.where(ActivityLog.entity_id == str(entity_id))
    return list(db.session.scalars(query))


def emails(kind: str | None = None) -> list[OutboxEmail]:
    """Outbox messages (of one kind, when given)."""
    query = select(OutboxEmail)
    if kind is not None:
        query = query.where(OutboxEmail.kind == kind)
    return list(db.session.scalars(query))


def assert_invariants() -> None:
    """Every invariant of DESIGN.md holds over the whole database."""
    db.session.expire_all()
    assert [str(v) for v in invariants.run_all()] == []


# What an event that is merely recorded (a replay noted, a late failure ignored) may add to.
EVENT_RECORDS = ("payment_events", "activity_logs")


def table_snapshot(exclude: tuple[str, ...] = ()) -> dict[str, list[str]]:
    """Every row of every table (bar ``exclude``) as committed: equal snapshots mean the
    database did not change at all in between."""
    db.session.rollback()  # read committed rows only, in a transaction of this read's own
    snapshot = {
        table.name: sorted(repr(tuple(row)) for row in db.session.execute(table.select()))
        for table in db.metadata.sorted_tables
        if table.name not in exclude
    }
    db.session.rollback()
    return snapshot
