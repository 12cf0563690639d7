"""The checkout of a hold: what the page shows (seats, countdown, price by the one pricing
function, wallet, the last payment's outcome). Paying is ``payments.pay``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from booking.extensions import db
from booking.models import Booking, Reservation, Schedule, Seat, User
from booking.models.enums import HoldStatus
from booking.services import claims, holds, payments, pricing, refunds, wallet
from booking.services.payments import PaymentProgress
from booking.services.pricing import PromoError, Quote


@dataclass(frozen=True)
class CheckoutPage:
    """Everything the checkout page shows for one hold."""

    hold: Reservation
    schedule: Schedule
    seats: list[Seat]
    live: bool
    seconds_left: int
    quote: Quote
    promo_error: str | None
    wallet_balance: Decimal
    use_wallet: bool
    booking: Booking | None
    last_payment: PaymentProgress | None

    @property
    def needs_gateway(self) -> bool:
        """Whether the customer must pick a gateway method (the wallet does not cover it)."""
        return self.quote.gateway_payable > 0

    @property
    def can_revive(self) -> bool:
        """A lapsed hold the customer may try to revive."""
        return not self.live and self.hold.status in (HoldStatus.ACTIVE, HoldStatus.EXPIRED)

    @property
    def ended_as(self) -> str:
        """How a hold that is no longer live ended: ``released`` by the operator, ``dropped``
        by the customer, else ``lapsed`` (its time ran out, swept or not)."""
        if self.hold.status == HoldStatus.RELEASED:
            return "released"
        if self.hold.status == HoldStatus.CANCELLED:
            return "dropped"
        return "lapsed"

    @property
    def ended_at(self) -> datetime:
        """When the hold ended: the release or drop itself, else its expiry."""
        if self.ended_as != "lapsed" and self.hold.ended_at is not None:
            return self.hold.ended_at
        return self.hold.expires_at


def page(
    hold_id: uuid.UUID,
    customer_id: uuid.UUID,
    now: datetime,
    *,
    promo_code: str | None = None,
    use_wallet: bool | None = None,
) -> CheckoutPage:
    """The checkout of the customer's hold as of ``now`` (a bad promo code is reported, not
    raised, and the price is shown without it).

    :raise NotFound: for an unknown hold or another customer's.
    """
    hold = holds.get_hold(hold_id, customer_id)
    refunds.give_back_stranded(customer_id, now)  # a lapsed or ended hold's wallet part
    schedule = db.session.get(Schedule, hold.schedule_id)
    live = hold.is_live_at(now)
    seats = claims.held_seats(hold.id) or _last_seats(hold)
    balance = wallet.balance(customer_id)
    use_wallet = balance > 0 if use_wallet is None else use_wallet
    promo_error = None
    try:
        quote = _price(schedule, seats, now, promo_code, customer_id, balance, use_wallet)
    except PromoError as error:
        promo_error = error.message
        quote = _price(schedule, seats, now, None, customer_id, balance, use_wallet)
    booking = db.session.scalar(select(Booking).where(Booking.reservation_id == hold.id))
    progress = payments.payment_progress(hold.id, customer_id) if booking is None else None
    return CheckoutPage(
        hold=hold,
        schedule=schedule,
        seats=seats,
        live=live,
        seconds_left=max(0, int((hold.expires_at - now).total_seconds())) if live else 0,
        quote=quote,
        promo_error=promo_error,
        wallet_balance=balance,
        use_wallet=use_wallet,
        booking=booking,
        last_payment=progress,
    )


def contact_defaults(customer_id: uuid.UUID) -> dict:
    """Contact fields prefilled from the account."""
    user = db.session.get(User, customer_id)
    return {
        "contact_name": user.full_name,
        "contact_phone": user.phone,
        "contact_email": user.email,
    }


def _price(schedule, seats, now, promo_code, customer_id, balance, use_wallet) -> Quote:
    """The one pricing function, as the page shows it."""
    return pricing.quote(
        schedule,
        seats,
        now=now,
        promo_code=promo_code,
        customer_id=customer_id,
        wallet_balance=balance,
        use_wallet=use_wallet,
    )


def _last_seats(hold: Reservation) -> list[Seat]:
    """The seats a hold had when it ended (shown on a lapsed checkout)."""
    ids = claims.last_seat_ids(db.session, hold)
    if not ids:
        return []
    return list(db.session.scalars(select(Seat).where(Seat.id.in_(ids)).order_by(Seat.seat_number)))
