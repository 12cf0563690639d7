"""The payments service with a fixed clock: every way of paying, each ending in one booking built by
the one finalization, or in nothing at all."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from booking.extensions import db
from booking.models import Booking, BookingSeat, Payment, PromoCode, Schedule, Seat, Ticket
from booking.models.booking import REFERENCE_ALPHABET
from booking.models.enums import (
    BookingPaymentStatus,
    BookingStatus,
    Channel,
    HoldStatus,
    LedgerKind,
    PaymentMethod,
    PaymentPurpose,
    PaymentStatus,
    Role,
    SeatStatus,
)
from booking.services import desk_sales, payments, tickets
from booking.services.details import CheckoutDetails, Passenger, PaymentError
from booking.services.errors import NotFound
from booking.services.payments import ProgressState
from booking.services.tickets import ScanStatus
from tests.money_support import (
    SEAT,
    actions,
    assert_invariants,
    balance,
    booking_of,
    count,
    deliver,
    desk_hold,
    details,
    emails,
    fresh,
    hold,
    hold_row,
    ledger,
    make_promo,
    open_shift,
    pay_wallet,
    payments_of,
    start_gateway,
    table_snapshot,
)
from tests.support import NOW, make_user

MIN = timedelta(minutes=1)


@pytest.fixture
def asha_wallet() -> str:
    """Asha starts with Rs 2,000 in her wallet in these tests."""
    return "2000.00"


def seat_statuses(trip_id, numbers) -> dict[str, SeatStatus]:
    """Seat number -> stored status."""
    rows = db.session.execute(
        select(Seat.seat_number, Seat.status)
        .where(Seat.schedule_id == trip_id, Seat.seat_number.in_(numbers))
        .execution_options(populate_existing=True)
    )
    return dict(rows.all())


def free_counter(trip_id) -> int:
    """The trip's stored free-seat counter."""
    return db.session.scalar(
        select(Schedule.available_seats)
        .where(Schedule.id == trip_id)
        .execution_options(populate_existing=True)
    )


def refused(call, *args, **kwargs) -> PaymentError:
    """Call a payment that must be refused with nothing changed; return the error."""
    before = table_snapshot()
    with pytest.raises(PaymentError) as caught:
        call(*args, **kwargs)
    assert table_snapshot() == before
    return caught.value


# ---- wallet only -------------------------------------------------------------------------------


def test_wallet_payment_books_the_hold_with_one_debit_a_ticket_audit_rows_and_an_email(trip, asha):
    """Paying from the wallet confirms at once: booking, seats, hold, payment, ledger, ticket,
    audit and outbox all agree."""
    hold_id = hold(asha.id, trip.id, ["2A", "2B"])
    booking_id = pay_wallet(asha.id, hold_id, ["2A", "2B"], now=NOW + MIN)

    booking = fresh(Booking, booking_id)
    assert 8 <= len(booking.reference) <= 12
    assert set(booking.reference) <= set(REFERENCE_ALPHABET)
    assert booking.status == BookingStatus.CONFIRMED
    assert booking.payment_status == BookingPaymentStatus.COMPLETED
    assert booking.total_amount == 2 * SEAT
    assert booking.base_amount - booking.discount_amount + booking.tax_amount == 2 * SEAT
    assert booking.user_id == asha.id and booking.channel == Channel.ONLINE
    assert booking.contact_phone == "919876543210"
    assert [(s.seat_number, s.passenger_name, s.charged) for s in booking.seats] == [
        ("2A", "Priya Raman", SEAT),
        ("2B", "Priya Raman", SEAT),
    ]
    assert seat_statuses(trip.id, ["2A", "2B"]) == {"2A": "booked", "2B": "booked"}
    assert free_counter(trip.id) == 38

    held = hold_row(hold_id)
    assert held.status == HoldStatus.CONFIRMED and held.end_reason == "paid"

    [payment] = payments_of(hold_id)
    assert payment.method == PaymentMethod.WALLET
    assert payment.status == PaymentStatus.COMPLETED
    assert payment.booking_id == booking_id and payment.amount == 2 * SEAT
    assert payment.completed_at == NOW + MIN

    [debit] = ledger(asha.id, LedgerKind.DEBIT)
    assert debit.amount == 2 * SEAT and debit.balance_after == Decimal("950.00")
    assert debit.payment_id == payment.id and debit.booking_id == booking_id
    assert balance(asha.id) == Decimal("950.00")

    ticket = db.session.scalar(select(Ticket).where(Ticket.booking_id == booking_id))
    at_the_door = fresh(Booking, booking_id).schedule.departure_at - timedelta(hours=1)
    assert tickets.verify(ticket.qr_payload, at_the_door).status == ScanStatus.VALID

    assert {"payment.completed", "booking.confirmed", "ticket.issued"} <= set(actions())
    [email] = emails("booking_confirmed")
    assert email.to_address == "priya@example.com" and email.booking_id == booking_id
    assert booking.reference in email.body and email.attach_ticket
    assert_invariants()


@pytest.mark.parametrize("keys", [("k1", "k1"), ("k1", "k2"), (None, None)])
def test_pressing_pay_twice_gives_one_booking_and_one_debit(trip, asha, keys):
    """Double-clicking Pay (the same form twice or two forms) returns the same booking."""
    hold_id = hold(asha.id, trip.id, ["2A"])
    first = pay_wallet(asha.id, hold_id, ["2A"], now=NOW + MIN, key=keys[0])
    second = pay_wallet(asha.id, hold_id, ["2A"], now=NOW + 2 * MIN, key=keys[1])
    assert first == second
    assert count(Booking) == 1
    assert count(Payment) == 1
    assert len(ledger(asha.id, LedgerKind.DEBIT)) == 1
    assert balance(asha.id) == Decimal("2000.00") - SEAT
    assert_invariants()


def test_wallet_payment_is_refused_when_the_wallet_does_not_cover_the_total(trip, app_ctx):
    """525.00 due, 500.00 in the wallet: refused with both amounts, nothing charged."""
    poor = make_user(wallet="500.00")
    hold_id = hold(poor.id, trip.id, ["2A"])
    error = refused(
        payments.pay_with_wallet,
        hold_id=hold_id,
        customer_id=poor.id,
        details=details(["2A"]),
        now=NOW + MIN,
    )
    assert "500.00" in error.message and "525.00" in error.message


def test_gateway_payment_is_refused_when_the_wallet_covers_everything(trip, asha):
    """No gateway when the wallet pays it all (the customer is told to pay by wallet)."""
    hold_id = hold(asha.id, trip.id, ["2A"])
    error = refused(start_gateway, asha.id, hold_id, ["2A"], now=NOW + MIN, use_wallet=True)
    assert "wallet" in error.message.lower()


def test_another_customers_hold_cannot_be_paid(trip, asha, ravi):
    """Paying someone else's hold is NotFound, and nothing changes."""
    hold_id = hold(ravi.id, trip.id, ["2A"])
    before = table_snapshot()
    with pytest.raises(NotFound):
        pay_wallet(asha.id, hold_id, ["2A"], now=NOW + MIN)
    assert table_snapshot() == before


def test_a_lapsed_hold_cannot_be_paid_from_the_wallet(trip, asha):
    """Past its expiry the hold is refused with HoldLapsed (the page offers to revive it)."""
    hold_id = hold(asha.id, trip.id, ["2A"])
    before = table_snapshot()
    with pytest.raises(payments.HoldLapsed):
        pay_wallet(asha.id, hold_id, ["2A"], now=NOW + 15 * MIN)
    assert table_snapshot() == before


# ---- bad details -------------------------------------------------------------------------------


def _details_with(seat: str, **passenger) -> CheckoutDetails:
    """Details for one seat, the passenger (or the contact) changed."""
    phone = passenger.pop("contact_phone", "9876543210")
    fields = {"name": "Priya Raman", "age": 30, "gender": "female"} | passenger
    return CheckoutDetails(
        passengers=(Passenger(seat, **fields),), contact_name="Priya", contact_phone=phone
    )


BAD_DETAILS = {
    "ladies-only seat, male passenger": ("3A", {"gender": "male"}, "3A", "women only"),
    "missing name": ("2A", {"name": "   "}, "2A", "name"),
    "age over 120": ("2A", {"age": 130}, "2A", "age"),
    "negative age": ("2A", {"age": -1}, "2A", "age"),
    "phone too short": ("2A", {"contact_phone": "12345"}, "contact_phone", "phone"),
    "phone with letters": ("2A", {"contact_phone": "98765abcde"}, "contact_phone", "phone"),
}


@pytest.mark.parametrize("case", BAD_DETAILS.values(), ids=BAD_DETAILS.keys())
@pytest.mark.parametrize("way", ["wallet", "gateway"])
def test_bad_details_are_refused_for_that_seat_with_nothing_changed(trip, app_ctx, case, way):
    """Each problem is reported against its seat (or field); no money moves, nothing is held
    differently."""
    seat, change, field, words = case
    customer = make_user(wallet="600.00" if way == "wallet" else "0")
    hold_id = hold(customer.id, trip.id, [seat])
    common = {"hold_id": hold_id, "customer_id": customer.id, "now": NOW + MIN}
    if way == "wallet":
        call = payments.pay_with_wallet
    else:
        call = payments.start_gateway_payment
        common |= {"method": PaymentMethod.UPI, "use_wallet": False, "return_url": "/r"}
    error = refused(call, details=_details_with(seat, **change), **common)
    assert list(error.details["errors"]) == [field]
    assert words in error.details["errors"][field].lower()


def test_a_ladies_only_seat_is_sold_to_a_female_passenger(trip, asha):
    """The same seat with a female passenger books fine."""
    hold_id = hold(asha.id, trip.id, ["3A"])
    booking_id = pay_wallet(asha.id, hold_id, ["3A"], now=NOW + MIN, gender="female")
    assert fresh(Booking, booking_id).seats[0].passenger_gender == "female"


# ---- wallet and gateway together ----------------------------------------------------------------


def test_gateway_start_debits_the_wallet_part_and_extends_the_hold_once(trip, app_ctx):
    """300.00 from the wallet now, 225.00 asked of the gateway; the hold stretches to cover the
    gateway session, and a second start does not stretch it again."""
    customer = make_user(wallet="300.00")
    hold_id = hold(customer.id, trip.id, ["2A"])
    started = start_gateway(customer.id, hold_id, ["2A"], now=NOW + 10 * MIN, key="a")
    assert (started.amount, started.wallet_part) == (Decimal("225.00"), Decimal("300.00"))
    assert started.url.endswith(str(started.payment_id))

    wallet_part, gateway_part = payments_of(hold_id)
    assert wallet_part.method == PaymentMethod.WALLET and wallet_part.amount == Decimal("300.00")
    assert gateway_part.id == started.payment_id
    assert gateway_part.paired_payment_id == wallet_part.id
    assert wallet_part.status == gateway_part.status == PaymentStatus.PENDING
    assert gateway_part.gateway_reference
    [debit] = ledger(customer.id, LedgerKind.DEBIT)
    assert debit.payment_id == wallet_part.id and debit.balance_after == 0
    assert balance(customer.id) == 0

    held = hold_row(hold_id)
    assert held.expires_at == NOW + 20 * MIN  # start + GATEWAY_SESSION_MINUTES
    assert held.gateway_extended
    assert actions(hold_id).count("hold.extended_for_gateway") == 1

    start_gateway(customer.id, hold_id, ["2A"], now=NOW + 18 * MIN, key="b")
    assert hold_row(hold_id).expires_at == NOW + 20 * MIN
    assert actions(hold_id).count("hold.extended_for_gateway") == 1
    assert_invariants()


def test_the_same_gateway_form_sent_twice_returns_the_same_payment(trip, app_ctx):
    """One idempotency key, one pending payment and one wallet debit."""
    customer = make_user(wallet="300.00")
    hold_id = hold(customer.id, trip.id, ["2A"])
    first = start_gateway(customer.id, hold_id, ["2A"], now=NOW + MIN, key="form-1")
    again = start_gateway(customer.id, hold_id, ["2A"], now=NOW + 2 * MIN, key="form-1")
    assert again.payment_id == first.payment_id and again.url == first.url
    assert len(payments_of(hold_id)) == 2
    assert len(ledger(customer.id, LedgerKind.DEBIT)) == 1
    assert_invariants()


def test_success_webhook_confirms_the_booking_with_both_payments_completed(trip, app_ctx):
    """The gateway's success finalizes: one booking, the wallet part and the gateway part both
    completed and linked to it, the wallet debited once."""
    customer = make_user(wallet="300.00")
    hold_id = hold(customer.id, trip.id, ["2A"])
    started = start_gateway(customer.id, hold_id, ["2A"], now=NOW + MIN)
    outcome = deliver("payment.succeeded", started.payment_id, NOW + 3 * MIN)
    assert outcome.outcome == "confirmed"

    booking = booking_of(hold_id)
    assert outcome.booking_id == booking.id
    assert booking.total_amount == SEAT
    assert {(p.method, p.status, p.booking_id) for p in payments_of(hold_id)} == {
        (PaymentMethod.WALLET, PaymentStatus.COMPLETED, booking.id),
        (PaymentMethod.UPI, PaymentStatus.COMPLETED, booking.id),
    }
    assert len(ledger(customer.id, LedgerKind.DEBIT)) == 1
    assert balance(customer.id) == 0
    assert hold_row(hold_id).status == HoldStatus.CONFIRMED
    assert seat_statuses(trip.id, ["2A"]) == {"2A": SeatStatus.BOOKED}
    assert payments.payment_progress(hold_id, customer.id).state is ProgressState.BOOKED
    assert len(emails("booking_confirmed")) == 1
    assert_invariants()


@pytest.mark.parametrize("event_type", ["payment.failed", "payment.abandoned"])
def test_declined_or_abandoned_gateway_payment_gives_the_wallet_part_back_and_keeps_the_hold(
    trip, app_ctx, event_type
):
    """The wallet part returns through a refund row pointing at its debit; the hold stays active
    so the customer can try again, and the next attempt books."""
    customer = make_user(wallet="300.00")
    hold_id = hold(customer.id, trip.id, ["2A"])
    started = start_gateway(customer.id, hold_id, ["2A"], now=NOW + MIN)
    outcome = deliver(event_type, started.payment_id, NOW + 2 * MIN)
    assert outcome.outcome == "failed"

    wallet_part, gateway_part = payments_of(hold_id)
    assert wallet_part.status == gateway_part.status == PaymentStatus.FAILED
    [debit] = ledger(customer.id, LedgerKind.DEBIT)
    [refund] = ledger(customer.id, LedgerKind.REFUND)
    assert refund.parent_id == debit.id and refund.amount == debit.amount == Decimal("300.00")
    assert balance(customer.id) == Decimal("300.00")
    assert hold_row(hold_id).status == HoldStatus.ACTIVE
    assert seat_statuses(trip.id, ["2A"]) == {"2A": SeatStatus.RESERVED}
    assert count(Booking) == 0
    assert payments.payment_progress(hold_id, customer.id).state is ProgressState.FAILED
    assert_invariants()

    retry = start_gateway(customer.id, hold_id, ["2A"], now=NOW + 3 * MIN)
    assert retry.wallet_part == Decimal("300.00")
    assert deliver("payment.succeeded", retry.payment_id, NOW + 4 * MIN).outcome == "confirmed"
    assert booking_of(hold_id) is not None
    assert len(ledger(customer.id, LedgerKind.DEBIT)) == 2
    assert balance(customer.id) == 0
    assert_invariants()


def test_a_new_gateway_start_supersedes_the_pending_one_and_returns_its_wallet_part(trip, app_ctx):
    """Starting again (another form) fails the older pending payment, refunds its wallet part,
    and debits the wallet part of the new one."""
    customer = make_user(wallet="300.00")
    hold_id = hold(customer.id, trip.id, ["2A"])
    old = start_gateway(customer.id, hold_id, ["2A"], now=NOW + MIN, key="first")
    new = start_gateway(customer.id, hold_id, ["2A"], now=NOW + 2 * MIN, key="second")
    assert new.payment_id != old.payment_id

    superseded = fresh(Payment, old.payment_id)
    assert superseded.status == PaymentStatus.FAILED
    assert "superseded" in superseded.failure_reason
    assert superseded.paired_payment.status == PaymentStatus.FAILED
    first_debit, second_debit = ledger(customer.id, LedgerKind.DEBIT)
    [refund] = ledger(customer.id, LedgerKind.REFUND)
    assert refund.parent_id == first_debit.id and refund.amount == Decimal("300.00")
    assert second_debit.payment_id == fresh(Payment, new.payment_id).paired_payment_id
    assert balance(customer.id) == 0
    assert fresh(Payment, new.payment_id).status == PaymentStatus.PENDING
    assert_invariants()


def test_gateway_only_payment_books_on_success(trip, ravi):
    """No wallet involved: one gateway payment for the whole fare, no ledger rows."""
    hold_id = hold(ravi.id, trip.id, ["2A", "2B"])
    started = start_gateway(ravi.id, hold_id, ["2A", "2B"], now=NOW + MIN, use_wallet=False)
    assert (started.amount, started.wallet_part) == (2 * SEAT, Decimal("0.00"))
    assert payments.payment_progress(hold_id, ravi.id).state is ProgressState.PENDING
    assert deliver("payment.succeeded", started.payment_id, NOW + 2 * MIN).outcome == "confirmed"
    [payment] = payments_of(hold_id)
    assert payment.status == PaymentStatus.COMPLETED
    assert payment.booking_id == booking_of(hold_id).id
    assert ledger(ravi.id) == []
    assert_invariants()


def test_a_customer_who_asks_not_to_use_the_wallet_pays_everything_at_the_gateway(trip, asha):
    """use_wallet=False leaves the balance alone even when it would cover the fare."""
    hold_id = hold(asha.id, trip.id, ["2A"])
    started = start_gateway(asha.id, hold_id, ["2A"], now=NOW + MIN, use_wallet=False)
    assert (started.amount, started.wallet_part) == (SEAT, Decimal("0.00"))
    assert ledger(asha.id, LedgerKind.DEBIT) == []


def test_a_cash_method_is_not_a_gateway_method(trip, ravi):
    """Only cards, UPI and net banking go to the gateway."""
    hold_id = hold(ravi.id, trip.id, ["2A"])
    refused(start_gateway, ravi.id, hold_id, ["2A"], now=NOW + MIN, method=PaymentMethod.CASH)


# ---- promo codes -------------------------------------------------------------------------------


def test_promo_discount_is_in_the_booking_amounts_and_counted_once(trip, asha):
    """10% off 1000.00 of fares: 100.00 off, GST on 900.00, total 945.00; one use counted even
    when Pay is pressed twice."""
    promo_id = make_promo("SAVE10", percent_off=10)
    hold_id = hold(asha.id, trip.id, ["2A", "2B"])
    booking_id = pay_wallet(asha.id, hold_id, ["2A", "2B"], now=NOW + MIN, promo_code="save10")
    pay_wallet(asha.id, hold_id, ["2A", "2B"], now=NOW + MIN, promo_code="save10")

    booking = fresh(Booking, booking_id)
    assert booking.base_amount == Decimal("1000.00")
    assert booking.discount_amount == Decimal("100.00")
    assert booking.tax_amount == Decimal("45.00")
    assert booking.total_amount == Decimal("945.00")
    assert booking.base_amount - booking.discount_amount + booking.tax_amount == (
        booking.total_amount
    )
    assert sum(s.charged for s in booking.seats) == booking.total_amount
    assert booking.promo_code_id == promo_id
    assert fresh(PromoCode, promo_id).used_count == 1
    assert balance(asha.id) == Decimal("2000.00") - Decimal("945.00")
    assert_invariants()


def test_promo_is_redeemed_only_when_the_gateway_payment_books(trip, app_ctx):
    """A declined attempt uses nothing; the attempt that books uses the code once."""
    promo_id = make_promo("FLAT50", percent_off=None, amount_off=Decimal("50.00"))
    customer = make_user()
    hold_id = hold(customer.id, trip.id, ["2A"])
    first = start_gateway(customer.id, hold_id, ["2A"], now=NOW + MIN, promo_code="FLAT50")
    assert first.amount == Decimal("472.50")  # (500 - 50) * 1.05
    deliver("payment.failed", first.payment_id, NOW + 2 * MIN)
    assert fresh(PromoCode, promo_id).used_count == 0
    second = start_gateway(customer.id, hold_id, ["2A"], now=NOW + 3 * MIN, promo_code="FLAT50")
    deliver("payment.succeeded", second.payment_id, NOW + 4 * MIN)
    assert fresh(PromoCode, promo_id).used_count == 1
    assert booking_of(hold_id).discount_amount == Decimal("50.00")
    assert_invariants()


# ---- the desk ----------------------------------------------------------------------------------


@pytest.fixture
def clerk(app_ctx):
    """A clerk with a shift open (cash needs one)."""
    person = make_user(Role.STAFF, first_name="Clerk")
    open_shift(person.id)
    return person


def test_desk_cash_sale_books_a_walk_in_with_one_cash_payment(trip, clerk):
    """The clerk takes cash: a desk booking with no account, one completed cash payment."""
    hold_id = desk_hold(clerk.id, trip.id, ["5A"])
    booking = desk_sales.sell_at_desk(
        hold_id=hold_id,
        clerk_id=clerk.id,
        details=details(["5A"], contact_email=None),
        now=NOW + MIN,
    )
    booking = fresh(Booking, booking.id)
    assert booking.channel == Channel.DESK
    assert booking.user_id is None and booking.sold_by_id == clerk.id
    assert booking.total_amount == SEAT
    [payment] = payments_of(hold_id)
    assert (payment.method, payment.status, payment.amount) == (
        PaymentMethod.CASH,
        PaymentStatus.COMPLETED,
        SEAT,
    )
    assert payment.booking_id == booking.id
    assert emails() == []  # a walk-in who gave no email gets none
    assert_invariants()


def test_admin_complimentary_ticket_costs_nothing_and_has_no_payment(trip, admin):
    """A complimentary ticket: the whole fare discounted, no tax, total 0, no payment rows."""
    hold_id = desk_hold(admin.id, trip.id, ["5A", "5B"])
    booking = desk_sales.sell_at_desk(
        hold_id=hold_id,
        clerk_id=admin.id,
        details=details(["5A", "5B"]),
        now=NOW + MIN,
        complimentary=True,
        reason="Driver's family",
    )
    booking = fresh(Booking, booking.id)
    assert booking.total_amount == 0 and booking.tax_amount == 0
    assert booking.discount_amount == booking.base_amount == Decimal("1000.00")
    assert [s.charged for s in booking.seats] == [0, 0]
    assert payments_of(hold_id) == []
    assert seat_statuses(trip.id, ["5A", "5B"]) == {"5A": "booked", "5B": "booked"}
    assert db.session.scalar(select(Ticket.id).where(Ticket.booking_id == booking.id))
    assert_invariants()


@pytest.mark.parametrize("who,reason", [("clerk", "Friend"), ("admin", "  ")])
def test_complimentary_needs_an_admin_and_a_reason(trip, clerk, admin, who, reason):
    """A clerk cannot give tickets away, and nor can an admin without saying why."""
    actor = clerk if who == "clerk" else admin
    hold_id = desk_hold(actor.id, trip.id, ["5A"])
    refused(
        desk_sales.sell_at_desk,
        hold_id=hold_id,
        clerk_id=actor.id,
        details=details(["5A"]),
        now=NOW + MIN,
        complimentary=True,
        reason=reason,
    )


def test_a_customer_cannot_sell_at_the_desk(trip, asha):
    """Desk sales are for staff and admins."""
    hold_id = hold(asha.id, trip.id, ["5A"])
    refused(
        desk_sales.sell_at_desk,
        hold_id=hold_id,
        clerk_id=asha.id,
        details=details(["5A"]),
        now=NOW + MIN,
    )


# ---- top-ups -----------------------------------------------------------------------------------


def test_topup_success_credits_the_wallet_once_however_often_it_is_delivered(asha):
    """One credit of the top-up; a replay is a duplicate, another success event is ignored."""
    started = payments.start_topup(
        customer_id=asha.id,
        amount=Decimal("1000.00"),
        method=PaymentMethod.UPI,
        now=NOW,
        return_url="/wallet",
    )
    payment = fresh(Payment, started.payment_id)
    assert payment.purpose == PaymentPurpose.TOPUP and payment.status == PaymentStatus.PENDING
    assert balance(asha.id) == Decimal("2000.00")

    assert deliver("payment.succeeded", payment.id, NOW + MIN, event_id="evt_1").outcome == (
        "credited"
    )
    assert deliver("payment.succeeded", payment.id, NOW + MIN, event_id="evt_1").outcome == (
        "duplicate"
    )
    assert deliver("payment.succeeded", payment.id, NOW + MIN, event_id="evt_2").outcome == (
        "ignored"
    )
    [credit] = ledger(asha.id, LedgerKind.CREDIT)[1:]  # after the opening credit
    assert credit.amount == Decimal("1000.00") and credit.payment_id == payment.id
    assert credit.balance_after == Decimal("3000.00")
    assert balance(asha.id) == Decimal("3000.00")
    assert fresh(Payment, payment.id).status == PaymentStatus.COMPLETED
    assert_invariants()


@pytest.mark.parametrize("event_type", ["payment.failed", "payment.abandoned"])
def test_topup_failure_credits_nothing(ravi, event_type):
    """A failed top-up leaves the wallet as it was."""
    started = payments.start_topup(
        customer_id=ravi.id,
        amount=Decimal("500.00"),
        method=PaymentMethod.NET_BANKING,
        now=NOW,
        return_url="/wallet",
    )
    assert deliver(event_type, started.payment_id, NOW + MIN).outcome == "failed"
    assert fresh(Payment, started.payment_id).status == PaymentStatus.FAILED
    assert ledger(ravi.id) == [] and balance(ravi.id) == 0
    assert_invariants()


@pytest.mark.parametrize("amount", ["99.99", "50000.01", "100.005"])
def test_topup_outside_the_limits_is_refused(ravi, amount):
    """Between 100.00 and 50000.00, in whole paise."""
    refused(
        payments.start_topup,
        customer_id=ravi.id,
        amount=Decimal(amount),
        method=PaymentMethod.UPI,
        now=NOW,
        return_url="/wallet",
    )


def test_booked_seats_each_carry_their_passenger(trip, asha):
    """Passenger snapshots are per seat, as entered."""
    hold_id = hold(asha.id, trip.id, ["2A", "2B"])
    given = CheckoutDetails(
        passengers=(Passenger("2A", "Asha", 34, "female"), Passenger("2B", "Ravi", 9, "male")),
        contact_name="Asha",
        contact_phone="9876543210",
    )
    payments.pay_with_wallet(hold_id=hold_id, customer_id=asha.id, details=given, now=NOW + MIN)
    rows = db.session.execute(
        select(
            BookingSeat.seat_number, BookingSeat.passenger_name, BookingSeat.passenger_age
        ).order_by(BookingSeat.seat_number)
    ).all()
    assert rows == [("2A", "Asha", 34), ("2B", "Ravi", 9)]
