"""Prices: the one quote for seats on a trip (fares, promo, GST, wallet) that every page, the API
and the payment itself use, the one breakdown every page and document shows (of a quote, or of a
booking's sold fares), and the promo-code rules.

Rounding: every step rounds HALF_UP to the paisa. The discount is taken first (percent of the fare
total, capped by the code's max_discount, or flat, capped at the fare total); GST is then charged
on the discounted subtotal. A seat's share of the total is proportional to its fare, split by
largest remainder so the shares add up to the total exactly.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from flask import current_app
from sqlalchemy import func, or_, select, update

from booking.extensions import db
from booking.formatting import local_time, money
from booking.models import Booking, PromoCode, Schedule, Seat
from booking.models.enums import BookingSeatStatus, BookingStatus, PromoKind, SeatType
from booking.services.errors import DomainError, NotFound

PAISA = Decimal("0.01")
ZERO = Decimal("0.00")

MESSAGES = {
    "no_seats": "Choose at least one seat to see the price.",
    "trip_not_found": "We could not find that trip.",
    "unknown_seats": "There is no seat {seats} on this bus.",
    "other_trip": "Some of those seats are not on this trip.",
    "unknown": "We don't know the code '{code}'.",
    "inactive": "The code '{code}' is no longer available.",
    "not_yet": "The code '{code}' can be used from {start}.",
    "expired": "The code '{code}' expired on {end}.",
    "used_up": "The code '{code}' has been used up.",
    "per_customer": "The code '{code}' can be used {times} per customer.",
    "minimum": "The code '{code}' applies to fares of {minimum} or more: add {more} to use it.",
    "just_used_up": "This code has just been used up.",
}


class PricingError(DomainError):
    """The seats asked for cannot be priced."""


class PromoError(PricingError):
    """A promo code does not apply; the message says why."""


@dataclass(frozen=True)
class SeatFare:
    """One seat's fare: the trip's base price plus the seat's modifier (its extra, for what
    ``kind`` of seat it is)."""

    seat_id: uuid.UUID
    seat_number: str
    base_price: Decimal
    price_modifier: Decimal
    fare: Decimal
    kind: str = "seat"


@dataclass(frozen=True)
class FareLine:
    """One seat of a breakdown: base fare, its extra and the fare they make, and its share of
    the total (GST included) once paid."""

    seat_number: str
    kind: str  # what the extra is for: seat, premium, berth, lower_berth, upper_berth
    base_price: Decimal
    extra: Decimal
    fare: Decimal
    charged: Decimal
    cancelled: bool = False


@dataclass(frozen=True)
class Breakdown:
    """What every page and document shows of a price: each seat's fare, then base fares, seat
    extras, discount, GST and total. Built only here, from a quote or a booking's snapshot."""

    lines: tuple[FareLine, ...]
    base_total: Decimal
    extras_total: Decimal
    fare_total: Decimal
    promo_code: str | None
    discount: Decimal
    tax_rate: Decimal
    tax: Decimal
    total: Decimal

    @property
    def same_base_price(self) -> Decimal | None:
        """The base fare when every seat has the same one (to say 'n x Rs 500'), else None."""
        prices = {line.base_price for line in self.lines}
        return prices.pop() if len(prices) == 1 else None


@dataclass(frozen=True)
class Quote:
    """What a set of seats costs, step by step, and how it will be paid."""

    seats: tuple[SeatFare, ...]
    base_total: Decimal
    extras_total: Decimal
    fare_total: Decimal
    promo_code: str | None
    promo_id: uuid.UUID | None
    discount: Decimal
    subtotal: Decimal
    tax_rate: Decimal
    tax: Decimal
    total: Decimal
    wallet_balance: Decimal
    wallet_applied: Decimal
    gateway_payable: Decimal

    @property
    def wallet_covers_all(self) -> bool:
        """Whether the wallet pays everything, so no gateway choice should be offered."""
        return self.wallet_applied > 0 and self.gateway_payable == 0

    def seat_charges(self) -> list[Decimal]:
        """Each seat's share of ``total`` (in the order of ``seats``), summing to it exactly."""
        return split_by_fare(self.total, [seat.fare for seat in self.seats])

    def charge_by_seat(self) -> dict[uuid.UUID, Decimal]:
        """seat_charges keyed by seat id, for filling booking_seats.charged."""
        return dict(zip((seat.seat_id for seat in self.seats), self.seat_charges(), strict=True))

    def breakdown(self) -> Breakdown:
        """The breakdown the pages show of this quote."""
        lines = tuple(
            FareLine(
                seat_number=seat.seat_number,
                kind=seat.kind,
                base_price=seat.base_price,
                extra=seat.price_modifier,
                fare=seat.fare,
                charged=charged,
            )
            for seat, charged in zip(self.seats, self.seat_charges(), strict=True)
        )
        return Breakdown(
            lines=lines,
            base_total=self.base_total,
            extras_total=self.extras_total,
            fare_total=self.fare_total,
            promo_code=self.promo_code,
            discount=self.discount,
            tax_rate=self.tax_rate,
            tax=self.tax,
            total=self.total,
        )


def to_paisa(amount: Decimal) -> Decimal:
    """Round an amount HALF_UP to the paisa."""
    return Decimal(amount).quantize(PAISA, rounding=ROUND_HALF_UP)


def split_by_fare(total: Decimal, fares: list[Decimal]) -> list[Decimal]:
    """Split ``total`` in proportion to ``fares`` by largest remainder (ties go to the earlier)."""
    if not fares:
        return []
    total_paise = int(to_paisa(total) * 100)
    fare_paise = [int(to_paisa(fare) * 100) for fare in fares]
    whole = sum(fare_paise)
    if whole == 0:
        # Only reachable with free seats; share equally so the sum still holds.
        fare_paise, whole = [1] * len(fares), len(fares)
    # Integer arithmetic keeps every share exact before the leftover paise are handed out.
    shares = [total_paise * part // whole for part in fare_paise]
    remainders = [total_paise * part % whole for part in fare_paise]
    leftover = total_paise - sum(shares)
    by_remainder = sorted(range(len(fares)), key=lambda i: (-remainders[i], i))
    for i in by_remainder[:leftover]:
        shares[i] += 1
    return [(Decimal(share) / 100).quantize(PAISA) for share in shares]


def seat_fare(base_price: Decimal, price_modifier: Decimal) -> Decimal:
    """One seat's fare before GST: the trip's base price plus the seat's extra (the figure the
    seat map shows on the seat)."""
    return to_paisa(base_price) + to_paisa(price_modifier)


def seat_kind(seat: Seat, deck_count: int) -> str:
    """What a seat's extra is for: a lower or upper berth on a two-deck bus, a berth, a premium
    seat, or a plain seat."""
    if seat.seat_type == SeatType.SLEEPER:
        if deck_count > 1:
            return "lower_berth" if seat.deck == 0 else "upper_berth"
        return "berth"
    return "premium" if seat.seat_type == SeatType.PREMIUM else "seat"


def _deck_count(schedule: Schedule) -> int:
    """How many decks the trip's bus has."""
    return len((schedule.bus.seat_layout_config or {}).get("decks", [])) or 1


def booking_breakdown(booking: Booking) -> Breakdown:
    """The breakdown of a booking as sold: each seat's fare and charge from its booking_seats
    snapshot (a later change of the base fare does not touch it), the totals from the booking.
    The seat's extra is its modifier, at most its fare; the rest is its base fare."""
    schedule = booking.schedule
    decks = _deck_count(schedule)
    lines = []
    for sold in sorted(
        booking.seats, key=lambda s: (s.seat.deck, s.seat.row_index, s.seat.column_index)
    ):
        fare = to_paisa(sold.fare)
        extra = min(to_paisa(sold.seat.price_modifier), fare)
        lines.append(
            FareLine(
                seat_number=sold.seat_number,
                kind=seat_kind(sold.seat, decks),
                base_price=fare - extra,
                extra=extra,
                fare=fare,
                charged=to_paisa(sold.charged),
                cancelled=sold.status == BookingSeatStatus.CANCELLED,
            )
        )
    promo = db.session.get(PromoCode, booking.promo_code_id) if booking.promo_code_id else None
    return Breakdown(
        lines=tuple(lines),
        base_total=sum((line.base_price for line in lines), ZERO),
        extras_total=sum((line.extra for line in lines), ZERO),
        fare_total=to_paisa(booking.base_amount),
        promo_code=promo.code if promo else None,
        discount=to_paisa(booking.discount_amount),
        tax_rate=gst_rate(schedule),
        tax=to_paisa(booking.tax_amount),
        total=to_paisa(booking.total_amount),
    )


def quote_seat_numbers(schedule_id: uuid.UUID, seat_numbers: Iterable[str], *, now) -> Quote:
    """The quote of seats named by number on a trip, whatever their state (the seat map's
    running total; holding them is what checks they are free).

    :raise NotFound: for an unknown trip.
    :raise PricingError: when no seat is named or a number is not a seat of this bus.
    """
    schedule = db.session.get(Schedule, schedule_id)
    if schedule is None:
        raise NotFound(MESSAGES["trip_not_found"])
    wanted = {number.strip().upper() for number in seat_numbers if number.strip()}
    if not wanted:
        raise PricingError(MESSAGES["no_seats"])
    seats = list(
        db.session.scalars(
            select(Seat).where(Seat.schedule_id == schedule.id, Seat.seat_number.in_(wanted))
        )
    )
    unknown = wanted - {seat.seat_number for seat in seats}
    if unknown:
        raise PricingError(MESSAGES["unknown_seats"].format(seats=", ".join(sorted(unknown))))
    return quote(schedule, seats, now=now)


def gst_rate(schedule: Schedule) -> Decimal:
    """The GST percent for the trip's bus type, from GST_RATES.

    :raise RuntimeError: when the settings name no rate for that bus type (a deployment error).
    """
    rates = current_app.config["GST_RATES"]
    bus_type = schedule.bus.bus_type.value
    if bus_type not in rates:
        raise RuntimeError(f"GST_RATES has no rate for bus type {bus_type!r}.")
    return Decimal(rates[bus_type])


def quote(
    schedule: Schedule,
    seats: Iterable[Seat],
    *,
    now: datetime,
    promo_code: str | None = None,
    customer_id: uuid.UUID | None = None,
    wallet_balance: Decimal = ZERO,
    use_wallet: bool = False,
) -> Quote:
    """Price ``seats`` of ``schedule`` with an optional promo code and wallet contribution.

    :raise PricingError: when no seat is given or a seat belongs to another trip.
    :raise PromoError: when the promo code does not apply (the message says why).
    """
    # Layout order, so the same seats always give the same quote and the same seat shares,
    # whatever order the caller loaded them in.
    chosen = sorted(seats, key=lambda s: (s.deck, s.row_index, s.column_index, s.seat_number))
    if not chosen:
        raise PricingError(MESSAGES["no_seats"])
    if any(seat.schedule_id != schedule.id for seat in chosen):
        raise PricingError(MESSAGES["other_trip"])

    base_price = to_paisa(schedule.base_price)
    decks = _deck_count(schedule)
    fares = tuple(
        SeatFare(
            seat_id=seat.id,
            seat_number=seat.seat_number,
            base_price=base_price,
            price_modifier=to_paisa(seat.price_modifier),
            fare=seat_fare(base_price, seat.price_modifier),
            kind=seat_kind(seat, decks),
        )
        for seat in chosen
    )
    base_total = sum((fare.base_price for fare in fares), ZERO)
    extras_total = sum((fare.price_modifier for fare in fares), ZERO)
    fare_total = base_total + extras_total

    promo = None
    if promo_code and promo_code.strip():
        promo = check_promo(promo_code, customer_id=customer_id, fare_total=fare_total, now=now)
    discount = promo_discount(promo, fare_total) if promo else ZERO
    subtotal = fare_total - discount
    tax_rate = gst_rate(schedule)
    tax = to_paisa(subtotal * tax_rate / 100)
    total = subtotal + tax

    balance = to_paisa(wallet_balance)
    wallet_applied = min(balance, total) if use_wallet else ZERO
    return Quote(
        seats=fares,
        base_total=base_total,
        extras_total=extras_total,
        fare_total=fare_total,
        promo_code=promo.code if promo else None,
        promo_id=promo.id if promo else None,
        discount=discount,
        subtotal=subtotal,
        tax_rate=tax_rate,
        tax=tax,
        total=total,
        wallet_balance=balance,
        wallet_applied=wallet_applied,
        gateway_payable=total - wallet_applied,
    )


def promo_discount(promo: PromoCode, fare_total: Decimal) -> Decimal:
    """The discount a code gives on ``fare_total``: capped by max_discount and the fare total."""
    if promo.kind == PromoKind.PERCENT:
        discount = to_paisa(fare_total * promo.percent_off / 100)
    else:
        discount = to_paisa(promo.amount_off)
    if promo.max_discount is not None:
        discount = min(discount, promo.max_discount)
    return min(discount, fare_total)


def normalize_code(code: str) -> str:
    """A promo code as stored: trimmed and upper-case."""
    return code.strip().upper()


def check_promo(
    code: str, *, customer_id: uuid.UUID | None, fare_total: Decimal, now: datetime
) -> PromoCode:
    """Return the promo code if it applies to this customer's fare total at ``now``.

    The per-customer limit is only checked when a customer is named (a walk-in has no account).

    :raise PromoError: saying why the code does not apply.
    """
    wanted = normalize_code(code)
    promo = db.session.scalar(select(PromoCode).where(PromoCode.code == wanted))
    if promo is None:
        raise PromoError(MESSAGES["unknown"].format(code=wanted))
    if not promo.is_active:
        raise PromoError(MESSAGES["inactive"].format(code=wanted))
    if now < promo.valid_from:
        raise PromoError(
            MESSAGES["not_yet"].format(code=wanted, start=local_time(promo.valid_from))
        )
    if now >= promo.valid_until:
        raise PromoError(MESSAGES["expired"].format(code=wanted, end=local_time(promo.valid_until)))
    if promo.usage_limit is not None and promo.used_count >= promo.usage_limit:
        raise PromoError(MESSAGES["used_up"].format(code=wanted))
    if customer_id is not None and promo.per_customer_limit is not None:
        used = customer_uses(promo.id, customer_id)
        if used >= promo.per_customer_limit:
            times = "once" if promo.per_customer_limit == 1 else f"{promo.per_customer_limit} times"
            raise PromoError(MESSAGES["per_customer"].format(code=wanted, times=times))
    if fare_total < promo.min_amount:
        raise PromoError(
            MESSAGES["minimum"].format(
                code=wanted,
                minimum=money(promo.min_amount),
                more=money(promo.min_amount - fare_total),
            )
        )
    return promo


def customer_uses(promo_id: uuid.UUID, customer_id: uuid.UUID) -> int:
    """How many of the customer's bookings, cancelled ones aside, used this promo code."""
    return db.session.scalar(
        select(func.count())
        .select_from(Booking)
        .where(
            Booking.user_id == customer_id,
            Booking.promo_code_id == promo_id,
            Booking.status != BookingStatus.CANCELLED,
        )
    )


def redeem_promo(promo_id: uuid.UUID) -> None:
    """Count one use of a promo code, inside the caller's transaction (no commit).

    The limit is checked by the UPDATE itself, so two payments racing for the last use cannot
    both win: the database re-checks the row the other one changed.

    :raise PromoError: when the code is inactive or its usage limit is already reached.
    """
    result = db.session.execute(
        update(PromoCode)
        .where(
            PromoCode.id == promo_id,
            PromoCode.is_active.is_(True),
            or_(PromoCode.usage_limit.is_(None), PromoCode.used_count < PromoCode.usage_limit),
        )
        .values(used_count=PromoCode.used_count + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise PromoError(MESSAGES["just_used_up"])
    # The UPDATE bypassed the identity map; make a loaded PromoCode re-read its count.
    promo = db.session.identity_map.get(db.session.identity_key(PromoCode, promo_id))
    if promo is not None:
        db.session.expire(promo, ["used_count"])
