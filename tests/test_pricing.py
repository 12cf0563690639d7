"""Pricing: fares, promo codes, GST and the wallet, rounded HALF_UP to the paisa."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from booking.database import unit_of_work
from booking.extensions import db
from booking.models import Booking, PromoCode, Reservation, Schedule, Seat, User
from booking.models.enums import BookingStatus, BusType, Channel, HoldStatus, PromoKind
from booking.services import pricing
from booking.services.pricing import PricingError, PromoError, Quote, SeatFare
from tests.support import NOW, make_trip, make_user

D = Decimal


def seats_of(schedule: Schedule, *numbers: str) -> list[Seat]:
    """The named seats of a trip, in the order named."""
    rows = db.session.scalars(
        select(Seat).where(Seat.schedule_id == schedule.id, Seat.seat_number.in_(numbers))
    ).all()
    by_number = {seat.seat_number: seat for seat in rows}
    return [by_number[number] for number in numbers]


def make_promo(code: str = "SAVE10", **overrides) -> PromoCode:
    """A promo code valid around NOW (10% off unless told otherwise), committed."""
    values = {
        "code": code,
        "kind": PromoKind.PERCENT,
        "percent_off": 10,
        "valid_from": NOW - timedelta(days=1),
        "valid_until": NOW + timedelta(days=30),
    }
    values.update(overrides)
    if values["kind"] == PromoKind.FLAT:
        values["percent_off"] = None
    promo = PromoCode(**values)
    db.session.add(promo)
    db.session.commit()
    return promo


def book_with_promo(customer: User, schedule: Schedule, promo: PromoCode, status: BookingStatus):
    """A booking (no seats needed here) of ``customer`` that used ``promo``."""
    with unit_of_work() as session:
        hold = Reservation(
            user_id=customer.id,
            schedule_id=schedule.id,
            reserved_at=NOW,
            expires_at=NOW + timedelta(minutes=15),
            status=HoldStatus.CONFIRMED,
        )
        session.add(hold)
        session.flush()
        session.add(
            Booking(
                reference=f"R{hold.id.hex[:9].upper()}",
                reservation_id=hold.id,
                user_id=customer.id,
                channel=Channel.ONLINE,
                schedule_id=schedule.id,
                contact_name="Test",
                contact_phone="9800000000",
                base_amount=D("500.00"),
                discount_amount=D("50.00"),
                tax_amount=D("22.50"),
                total_amount=D("472.50"),
                promo_code_id=promo.id,
                status=status,
                confirmed_at=NOW,
            )
        )


def test_three_seats_of_333_33_with_ten_percent_off_and_five_percent_gst(app_ctx):
    """Worked by hand: 999.99 fare; 10% = 99.999 -> 100.00; 899.99; 5% = 44.9995 -> 45.00."""
    trip = make_trip(base_price="333.33")
    make_promo(percent_off=10)
    quote = pricing.quote(trip, seats_of(trip, "2A", "2B", "2C"), now=NOW, promo_code="SAVE10")
    assert quote.base_total == D("999.99")
    assert quote.extras_total == D("0.00")
    assert quote.fare_total == D("999.99")
    assert quote.discount == D("100.00")
    assert quote.subtotal == D("899.99")
    assert quote.tax_rate == D("5")
    assert quote.tax == D("45.00")
    assert quote.total == D("944.99")
    assert quote.gateway_payable == D("944.99")
    # 94499 paise in three equal parts: 31499 each and two paise left over for the first two.
    assert quote.seat_charges() == [D("315.00"), D("315.00"), D("314.99")]


def test_a_seat_costs_the_base_price_plus_its_modifier(trip):
    """Premium seat 1A carries +50: the modifier is counted as an extra and in its fare."""
    quote = pricing.quote(trip, seats_of(trip, "2A", "1A"), now=NOW)
    assert [(s.seat_number, s.base_price, s.price_modifier, s.fare) for s in quote.seats] == [
        ("1A", D("500.00"), D("50.00"), D("550.00")),
        ("2A", D("500.00"), D("0.00"), D("500.00")),
    ]
    assert (quote.base_total, quote.extras_total, quote.fare_total) == (
        D("1000.00"),
        D("50.00"),
        D("1050.00"),
    )
    assert (quote.discount, quote.tax, quote.total) == (D("0.00"), D("52.50"), D("1102.50"))
    assert quote.promo_code is None and quote.promo_id is None


def test_the_quote_does_not_depend_on_the_order_seats_are_given_in(trip):
    """Same seats, same quote (and the same seat shares), whatever order they were loaded in."""
    forward = pricing.quote(trip, seats_of(trip, "1A", "2B", "3C"), now=NOW)
    backward = pricing.quote(trip, seats_of(trip, "3C", "2B", "1A"), now=NOW)
    assert forward == backward
    assert forward.seat_charges() == backward.seat_charges()


def test_tax_rounds_half_up_not_to_even(app_ctx):
    """10.50 at 5% is 0.525: HALF_UP gives 0.53 (banker's rounding would give 0.52)."""
    trip = make_trip(base_price="10.50")
    quote = pricing.quote(trip, seats_of(trip, "2A"), now=NOW)
    assert (quote.tax, quote.total) == (D("0.53"), D("11.03"))


def test_discount_rounds_half_up_and_tax_is_on_the_discounted_subtotal(app_ctx):
    """10% of 1000.05 is 100.005 -> 100.01; GST 5% of 900.04 = 45.002 -> 45.00."""
    trip = make_trip(base_price="1000.05")
    make_promo(percent_off=10)
    quote = pricing.quote(trip, seats_of(trip, "2A"), now=NOW, promo_code="SAVE10")
    assert (quote.discount, quote.subtotal, quote.tax, quote.total) == (
        D("100.01"),
        D("900.04"),
        D("45.00"),
        D("945.04"),
    )


def test_percent_discount_is_capped_by_max_discount(trip):
    """20% of 1000 would be 200; the code caps it at 150."""
    make_promo(percent_off=20, max_discount=D("150.00"))
    quote = pricing.quote(trip, seats_of(trip, "2A", "2B"), now=NOW, promo_code="SAVE10")
    assert (quote.discount, quote.subtotal, quote.tax, quote.total) == (
        D("150.00"),
        D("850.00"),
        D("42.50"),
        D("892.50"),
    )


def test_percent_discount_under_the_cap_is_not_capped(trip):
    """20% of 500 is 100, under the 150 cap."""
    make_promo(percent_off=20, max_discount=D("150.00"))
    quote = pricing.quote(trip, seats_of(trip, "2A"), now=NOW, promo_code="SAVE10")
    assert quote.discount == D("100.00")


def test_flat_discount_is_taken_off_whole(trip):
    """A flat Rs 75 code takes Rs 75 off the fare total."""
    make_promo("FLAT75", kind=PromoKind.FLAT, amount_off=D("75.00"))
    quote = pricing.quote(trip, seats_of(trip, "2A", "2B"), now=NOW, promo_code="flat75")
    assert (quote.promo_code, quote.discount, quote.subtotal, quote.total) == (
        "FLAT75",
        D("75.00"),
        D("925.00"),
        D("971.25"),
    )


def test_flat_discount_is_capped_at_the_fare_total(app_ctx):
    """A Rs 300 code on a Rs 250 fare takes off 250: the price never goes below zero."""
    trip = make_trip(base_price="250.00")
    make_promo("BIG300", kind=PromoKind.FLAT, amount_off=D("300.00"))
    quote = pricing.quote(trip, seats_of(trip, "2A"), now=NOW, promo_code="BIG300")
    assert (quote.discount, quote.subtotal, quote.tax, quote.total) == (
        D("250.00"),
        D("0.00"),
        D("0.00"),
        D("0.00"),
    )
    assert quote.seat_charges() == [D("0.00")]


def test_gst_rate_follows_the_bus_type(app_ctx):
    """A sleeper bus is taxed at its own rate (12% by default)."""
    trip = make_trip(layout="sleeper_2x1", bus_type=BusType.SLEEPER, base_price="1000.00")
    seat = db.session.scalars(
        select(Seat).where(Seat.schedule_id == trip.id, Seat.price_modifier == 0).limit(1)
    ).one()
    quote = pricing.quote(trip, [seat], now=NOW)
    assert (quote.tax_rate, quote.tax, quote.total) == (D("12"), D("120.00"), D("1120.00"))


def test_gst_rate_comes_from_the_settings(make_app):
    """GST_RATES decides the rate: a deluxe bus at 18% when so configured."""
    app = make_app(GST_RATES={"deluxe": D("18")})
    with app.app_context():
        trip = make_trip()
        quote = pricing.quote(trip, seats_of(trip, "2A"), now=NOW)
        assert (quote.tax_rate, quote.tax) == (D("18"), D("90.00"))
        db.session.remove()


@pytest.mark.parametrize("blank", [None, "", "   "])
def test_a_blank_promo_code_means_no_promo(trip, blank):
    """Nothing typed in the promo box is not an error."""
    quote = pricing.quote(trip, seats_of(trip, "2A"), now=NOW, promo_code=blank)
    assert quote.discount == D("0.00") and quote.promo_code is None


def test_an_invalid_promo_code_raises_from_quote(trip):
    """quote does not silently drop a bad code; the caller decides whether to show the reason."""
    with pytest.raises(PromoError, match=r"We don't know the code 'NOPE'\."):
        pricing.quote(trip, seats_of(trip, "2A"), now=NOW, promo_code="nope")


def test_a_quote_needs_seats_of_its_own_trip(trip):
    """No seats, or a seat of another trip, cannot be priced."""
    with pytest.raises(PricingError, match="at least one seat"):
        pricing.quote(trip, [], now=NOW)
    other = make_trip()
    with pytest.raises(PricingError, match="not on this trip"):
        pricing.quote(trip, seats_of(other, "2A"), now=NOW)


def test_promo_codes_match_whatever_the_case_and_spaces(trip):
    """Codes are stored upper-case; ' save10 ' finds SAVE10."""
    promo = make_promo()
    found = pricing.check_promo(" save10 ", customer_id=None, fare_total=D("500.00"), now=NOW)
    assert found.id == promo.id


PROMO_REFUSALS = [
    ("unknown", {}, "XYZ", "We don't know the code 'XYZ'."),
    ("inactive", {"is_active": False}, "SAVE10", "The code 'SAVE10' is no longer available."),
    (
        "not yet valid",
        {"valid_from": NOW + timedelta(days=1)},
        "SAVE10",
        # 06:00 UTC the next day is 11:30 in Asia/Kolkata.
        "The code 'SAVE10' can be used from 02 Dec 2026, 11:30.",
    ),
    (
        "expired",
        {"valid_from": NOW - timedelta(days=30), "valid_until": NOW - timedelta(hours=1)},
        "SAVE10",
        "The code 'SAVE10' expired on 01 Dec 2026, 10:30.",
    ),
    (
        "used up",
        {"usage_limit": 3, "used_count": 3},
        "SAVE10",
        "The code 'SAVE10' has been used up.",
    ),
    (
        "below the minimum",
        {"min_amount": D("1200.00")},
        "SAVE10",
        "The code 'SAVE10' applies to fares of Rs 1,200.00 or more: add Rs 200.00 to use it.",
    ),
]


@pytest.mark.parametrize(
    ("overrides", "typed", "message"),
    [case[1:] for case in PROMO_REFUSALS],
    ids=[case[0] for case in PROMO_REFUSALS],
)
def test_check_promo_says_why_a_code_does_not_apply(trip, overrides, typed, message):
    """Each refusal has its own reason, in words a customer can act on."""
    make_promo(**overrides)
    with pytest.raises(PromoError) as refused:
        pricing.check_promo(typed, customer_id=None, fare_total=D("1000.00"), now=NOW)
    assert refused.value.message == message
    assert refused.value.status == 400


def test_a_code_is_valid_from_its_first_instant_until_just_before_its_end(trip):
    """valid_from is inclusive, valid_until exclusive."""
    promo = make_promo(valid_from=NOW, valid_until=NOW + timedelta(hours=1))
    assert pricing.check_promo("SAVE10", customer_id=None, fare_total=D("1"), now=NOW) == promo
    with pytest.raises(PromoError, match="expired"):
        pricing.check_promo("SAVE10", customer_id=None, fare_total=D("1"), now=promo.valid_until)


def test_the_minimum_is_met_by_a_fare_total_equal_to_it(trip):
    """min_amount is 'this much or more'."""
    promo = make_promo(min_amount=D("1000.00"))
    found = pricing.check_promo("SAVE10", customer_id=None, fare_total=D("1000.00"), now=NOW)
    assert found == promo


def test_per_customer_limit_counts_the_customers_live_bookings_with_the_code(trip):
    """Once per customer: a second use is refused; cancelled bookings and other people don't
    count; a walk-in (no customer) is not limited."""
    promo = make_promo(per_customer_limit=1)
    customer, other = make_user(), make_user()
    book_with_promo(customer, trip, promo, BookingStatus.CANCELLED)
    assert pricing.check_promo("SAVE10", customer_id=customer.id, fare_total=D("500"), now=NOW)

    book_with_promo(customer, trip, promo, BookingStatus.CONFIRMED)
    with pytest.raises(PromoError) as refused:
        pricing.check_promo("SAVE10", customer_id=customer.id, fare_total=D("500"), now=NOW)
    assert refused.value.message == "The code 'SAVE10' can be used once per customer."
    assert pricing.check_promo("SAVE10", customer_id=other.id, fare_total=D("500"), now=NOW)
    assert pricing.check_promo("SAVE10", customer_id=None, fare_total=D("500"), now=NOW)


def test_per_customer_limit_above_one_says_how_many_times(trip):
    """A limit of 2 allows two uses and says so when a third is tried."""
    promo = make_promo(per_customer_limit=2)
    customer = make_user()
    book_with_promo(customer, trip, promo, BookingStatus.CONFIRMED)
    assert pricing.check_promo("SAVE10", customer_id=customer.id, fare_total=D("500"), now=NOW)
    book_with_promo(customer, trip, promo, BookingStatus.COMPLETED)
    with pytest.raises(PromoError, match="can be used 2 times per customer"):
        pricing.quote(
            trip, seats_of(trip, "2A"), now=NOW, promo_code="SAVE10", customer_id=customer.id
        )


def test_redeem_promo_counts_uses_up_to_the_limit_then_refuses(trip):
    """used_count rises one per redemption; past usage_limit the code is refused."""
    promo = make_promo(usage_limit=2)
    for _ in range(2):
        with unit_of_work():
            pricing.redeem_promo(promo.id)
    assert db.session.get(PromoCode, promo.id).used_count == 2
    with pytest.raises(PromoError, match=r"This code has just been used up\."), unit_of_work():
        pricing.redeem_promo(promo.id)
    db.session.expire_all()
    assert db.session.get(PromoCode, promo.id).used_count == 2


def test_redeem_promo_refuses_an_inactive_code(trip):
    """A code switched off between quote and payment is not redeemed."""
    promo = make_promo(is_active=False)
    with pytest.raises(PromoError), unit_of_work():
        pricing.redeem_promo(promo.id)


def test_redeem_promo_without_a_limit_always_counts(trip):
    """No usage_limit: every redemption counts."""
    promo = make_promo(usage_limit=None, used_count=41)
    with unit_of_work():
        assert promo.used_count == 41
        pricing.redeem_promo(promo.id)
        assert promo.used_count == 42  # a loaded row sees the new count in the same transaction
    assert db.session.get(PromoCode, promo.id).used_count == 42


def test_redeem_promo_does_not_commit_on_its_own(trip):
    """It joins the caller's transaction: a rollback there undoes the redemption."""
    promo = make_promo(usage_limit=1)
    with pytest.raises(RuntimeError), unit_of_work():
        pricing.redeem_promo(promo.id)
        raise RuntimeError("payment failed after the promo was redeemed")
    db.session.expire_all()
    assert db.session.get(PromoCode, promo.id).used_count == 0


@pytest.mark.postgres
def test_racing_redemptions_never_pass_the_limit(app, trip):
    """Six payments race for a code with two uses left: exactly two win."""
    # A plain id: the threads must not touch this thread's session through lazy loads.
    promo_id = make_promo(usage_limit=2).id
    start = threading.Barrier(6)
    outcomes = []

    def redeem():
        with app.app_context():
            start.wait()
            try:
                with unit_of_work():
                    pricing.redeem_promo(promo_id)
                outcomes.append("redeemed")
            except PromoError:
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=redeem) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["redeemed"] * 2 + ["refused"] * 4
    db.session.expire_all()
    assert db.session.get(PromoCode, promo_id).used_count == 2


def test_wallet_covers_everything_when_the_balance_is_enough(trip):
    """Balance above the total: the wallet pays it all; nothing is left for the gateway."""
    quote = pricing.quote(
        trip, seats_of(trip, "2A"), now=NOW, wallet_balance=D("5000.00"), use_wallet=True
    )
    assert (quote.total, quote.wallet_applied, quote.gateway_payable) == (
        D("525.00"),
        D("525.00"),
        D("0.00"),
    )
    assert quote.wallet_balance == D("5000.00") and quote.wallet_covers_all


def test_wallet_covers_part_and_the_gateway_the_rest(trip):
    """Balance below the total: the wallet pays its balance, the gateway the remainder."""
    quote = pricing.quote(
        trip, seats_of(trip, "2A"), now=NOW, wallet_balance=D("100.50"), use_wallet=True
    )
    assert (quote.wallet_applied, quote.gateway_payable) == (D("100.50"), D("424.50"))
    assert not quote.wallet_covers_all


def test_wallet_is_not_used_unless_asked(trip):
    """A balance alone does not pay: the customer has to ask."""
    quote = pricing.quote(trip, seats_of(trip, "2A"), now=NOW, wallet_balance=D("5000.00"))
    assert (quote.wallet_applied, quote.gateway_payable) == (D("0.00"), D("525.00"))
    assert not quote.wallet_covers_all


def test_seat_charges_sum_exactly_to_the_total_with_mixed_fares(app_ctx):
    """Shares follow the fares (premium seats pay more) and add up to the paisa."""
    trip = make_trip(base_price="333.33")
    make_promo(percent_off=7)
    quote = pricing.quote(
        trip, seats_of(trip, "1A", "2A", "2B", "5D"), now=NOW, promo_code="SAVE10"
    )
    charges = quote.seat_charges()
    assert sum(charges) == quote.total
    assert charges[0] > charges[1]
    assert all(c == c.quantize(D("0.01")) for c in charges)
    by_seat = quote.charge_by_seat()
    assert [by_seat[seat.seat_id] for seat in quote.seats] == charges


def test_split_by_fare_gives_leftover_paise_to_the_largest_remainders():
    """1.00 over fares 1, 1, 1 -> 0.34, 0.33, 0.33; 10.00 over 1, 2 -> 3.33, 6.67."""
    assert pricing.split_by_fare(D("1.00"), [D("1"), D("1"), D("1")]) == [
        D("0.34"),
        D("0.33"),
        D("0.33"),
    ]
    assert pricing.split_by_fare(D("10.00"), [D("1.00"), D("2.00")]) == [D("3.33"), D("6.67")]


@settings(database=None, max_examples=300)
@given(
    total=st.decimals(min_value=0, max_value=1_000_000, places=2),
    fares=st.lists(
        st.decimals(min_value="0.01", max_value=100_000, places=2), min_size=1, max_size=6
    ),
)
def test_seat_charges_always_sum_to_the_total_and_stay_within_a_paisa_of_fair(total, fares):
    """For any total and fares: exact sum, and each share within one paisa of its exact part."""
    seats = tuple(SeatFare(None, str(i), fare, D("0.00"), fare) for i, fare in enumerate(fares))
    quote = Quote(
        seats=seats,
        base_total=sum(fares),
        extras_total=D(0),
        fare_total=sum(fares),
        promo_code=None,
        promo_id=None,
        discount=D(0),
        subtotal=total,
        tax_rate=D(0),
        tax=D(0),
        total=total,
        wallet_balance=D(0),
        wallet_applied=D(0),
        gateway_payable=total,
    )
    charges = quote.seat_charges()
    assert sum(charges) == total
    for charge, fare in zip(charges, fares, strict=True):
        assert abs(charge - total * fare / sum(fares)) < D("0.01")
