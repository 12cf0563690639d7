"""Counter shifts: opening with a float, cash and terminal sales into the shift, cash refunds out
of it, closing with the cash report, the admin's list, and reconcile over the drawer."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from booking.extensions import db
from booking.models import ActivityLog, Payment, Shift, ShiftMovement
from booking.models.enums import MovementKind, PaymentMethod, PaymentStatus, RefundMode, Role
from booking.services import cancellations, desk_sales, shifts
from booking.services.details import PaymentError
from booking.services.errors import DomainError, NotFound
from booking.services.shifts import ShiftError
from tests.money_support import (
    SEAT,
    Boom,
    assert_invariants,
    booking_of,
    cash_sale,
    desk_hold,
    details,
    fresh,
    open_shift,
    payments_of,
    table_snapshot,
)
from tests.support import NOW, make_user, race
from tests.test_fault_injection import NO_DEBIT_FAULTS, after, assert_fault_changes_nothing

MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)
FLOAT = Decimal("500.00")


@pytest.fixture
def clerk(app_ctx):
    """A member of the counter staff, no shift open yet."""
    return make_user(Role.STAFF, first_name="Clerk")


def movements(shift_id) -> list[tuple[MovementKind, Decimal]]:
    """A shift's movements as (kind, signed amount), oldest first."""
    rows = db.session.execute(
        select(ShiftMovement.kind, ShiftMovement.amount)
        .where(ShiftMovement.shift_id == shift_id)
        .order_by(ShiftMovement.created_at, ShiftMovement.kind)
    ).all()
    return [tuple(r) for r in rows]


def sell(clerk_id, trip_id, seats, **kw):
    """Hold and sell at the desk at NOW + 1 min."""
    hold_id = desk_hold(clerk_id, trip_id, seats)
    return hold_id, lambda: desk_sales.sell_at_desk(
        hold_id=hold_id, clerk_id=clerk_id, details=details(seats), now=NOW + MIN, **kw
    )


# ---- opening ---------------------------------------------------------------------------------


def test_a_clerk_opens_one_shift_and_a_second_is_refused(clerk):
    shift = shifts.open_shift(clerk.id, FLOAT, NOW)
    assert shift.opening_float == FLOAT and shift.closed_at is None
    assert movements(shift.id) == [(MovementKind.OPENING_FLOAT, FLOAT)]
    before = table_snapshot()
    with pytest.raises(ShiftError, match="already have a shift open since 01 Dec 11:30"):
        shifts.open_shift(clerk.id, Decimal("100.00"), NOW + MIN)
    assert table_snapshot() == before
    assert shifts.current_shift(clerk.id).id == shift.id


def test_the_station_defaults_to_the_clerks_home_station(clerk):
    clerk.home_station = "Bengaluru"
    db.session.commit()
    assert shifts.open_shift(clerk.id, FLOAT, NOW).station == "Bengaluru"
    other = make_user(Role.STAFF)
    assert shifts.open_shift(other.id, FLOAT, NOW, station=" Mysuru ").station == "Mysuru"


@pytest.mark.parametrize("bad", ["-1", "10.005", "abc", "NaN"])
def test_a_float_must_be_money(clerk, bad):
    with pytest.raises(ShiftError, match="opening float"):
        shifts.open_shift(clerk.id, bad, NOW)
    assert shifts.current_shift(clerk.id) is None


def test_a_customer_cannot_open_a_shift(asha):
    with pytest.raises(ShiftError, match="counter staff"):
        shifts.open_shift(asha.id, FLOAT, NOW)


@pytest.mark.postgres
def test_two_opens_racing_leave_one_open_shift(make_app):
    """Two requests open a shift for the same clerk at the same instant: the index decides."""
    race_app = make_app(SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 10, "max_overflow": 0})
    for _ in range(3):
        with race_app.app_context():
            clerk_id = make_user(Role.STAFF).id
            results = race(
                race_app,
                [lambda c=clerk_id: shifts.open_shift(c, FLOAT, NOW) for _ in range(6)],
            )
            opened = [r for r in results if isinstance(r, Shift)]
            refused = [r for r in results if isinstance(r, ShiftError)]
            assert len(opened) == 1 and len(refused) == 5, results
            count = db.session.scalar(
                select(func.count()).select_from(Shift).where(Shift.clerk_id == clerk_id)
            )
            assert count == 1
            db.session.remove()


# ---- selling ---------------------------------------------------------------------------------


def test_cash_needs_an_open_shift_and_nothing_changes_without_one(trip, clerk):
    hold_id, call = sell(clerk.id, trip.id, ["5A"])
    before = table_snapshot()
    with pytest.raises(PaymentError, match=r"^Open a shift before taking cash\.$"):
        call()
    assert table_snapshot() == before
    shift = open_shift(clerk.id)
    booking = call()
    assert movements(shift.id)[-1] == (MovementKind.CASH_SALE, SEAT)
    [payment] = payments_of(hold_id)
    movement = db.session.scalar(
        select(ShiftMovement).where(ShiftMovement.kind == MovementKind.CASH_SALE)
    )
    assert (movement.payment_id, movement.booking_id) == (payment.id, booking.id)
    assert movement.actor_id == clerk.id
    assert shifts.drawer_total(shift.id) == FLOAT + SEAT
    assert_invariants()


def test_a_closed_shift_takes_no_more_cash(trip, clerk):
    shift = open_shift(clerk.id)
    shifts.close_shift(shift.id, clerk.id, FLOAT, NOW)
    _, call = sell(clerk.id, trip.id, ["5A"])
    with pytest.raises(PaymentError, match="Open a shift"):
        call()


def test_cash_tendered_below_the_total_is_refused_and_changes_nothing(trip, clerk):
    shift = open_shift(clerk.id)
    hold_id, call = sell(clerk.id, trip.id, ["5A"], tendered=Decimal("500.00"))
    before = table_snapshot()
    with pytest.raises(PaymentError) as refusal:
        call()
    assert "500.00" in refusal.value.message and "525.00" in refusal.value.message
    assert refusal.value.details["errors"]["tendered"]
    assert table_snapshot() == before
    assert shifts.drawer_total(shift.id) == FLOAT
    enough = desk_sales.sell_at_desk(
        hold_id=hold_id,
        clerk_id=clerk.id,
        details=details(["5A"]),
        now=NOW + MIN,
        tendered=Decimal("600.00"),
    )
    assert enough.total_amount == SEAT
    assert shifts.drawer_total(shift.id) == FLOAT + SEAT  # the drawer keeps the fare, not 600


def test_change_due_is_what_is_handed_back(app_ctx):
    assert desk_sales.change_due(Decimal("525.00"), Decimal("600.00")) == Decimal("75.00")
    assert desk_sales.change_due(Decimal("525.00"), Decimal("525.00")) == Decimal("0.00")
    assert desk_sales.change_due(Decimal("525.00"), None) == Decimal("0.00")
    with pytest.raises(PaymentError, match="less than the total"):
        desk_sales.change_due(Decimal("525.00"), Decimal("524.99"))


@pytest.mark.parametrize("reference", [None, "", "   "])
def test_a_terminal_sale_needs_the_terminal_reference(trip, clerk, reference):
    open_shift(clerk.id)
    _, call = sell(
        clerk.id, trip.id, ["5A"], method=PaymentMethod.DEBIT_CARD, terminal_reference=reference
    )
    with pytest.raises(PaymentError, match="reference the card or UPI terminal printed"):
        call()


def test_the_desk_takes_no_wallet_or_net_banking(trip, clerk):
    _, call = sell(clerk.id, trip.id, ["5A"], method=PaymentMethod.NET_BANKING)
    with pytest.raises(PaymentError, match="cash, a card or UPI"):
        call()


def test_terminal_sales_are_kept_by_method_and_not_counted_as_cash(trip, clerk):
    shift = open_shift(clerk.id)
    card_hold, card = sell(
        clerk.id, trip.id, ["5A"], method=PaymentMethod.CREDIT_CARD, terminal_reference=" T-1 "
    )
    card()
    _, upi = sell(clerk.id, trip.id, ["5B"], method=PaymentMethod.UPI, terminal_reference="U-9")
    upi()
    [payment] = payments_of(card_hold)
    assert (payment.method, payment.status, payment.gateway_reference) == (
        PaymentMethod.CREDIT_CARD,
        PaymentStatus.COMPLETED,
        "T-1",
    )
    assert movements(shift.id)[1:] == [
        (MovementKind.CARD_SALE, SEAT),
        (MovementKind.UPI_SALE, SEAT),
    ]
    assert shifts.drawer_total(shift.id) == FLOAT
    _, again = sell(clerk.id, trip.id, ["6A"], method=PaymentMethod.UPI, terminal_reference="U-9")
    with pytest.raises(PaymentError, match="already on another payment"):
        again()
    assert_invariants()


def test_a_terminal_sale_without_a_shift_is_taken_and_not_recorded(trip, clerk):
    _, call = sell(clerk.id, trip.id, ["5A"], method=PaymentMethod.UPI, terminal_reference="U-1")
    assert call().total_amount == SEAT
    assert db.session.scalar(select(func.count()).select_from(ShiftMovement)) == 0
    assert_invariants()


# ---- refunds ---------------------------------------------------------------------------------


def test_a_cash_refund_leaves_the_acting_clerks_shift(trip, clerk):
    shift = open_shift(clerk.id)
    booking = cash_sale(clerk.id, trip.id, ["5A", "5B"])
    cancellations.cancel_booking(booking.id, actor_id=clerk.id, now=NOW + HOUR, seat_numbers=["5A"])
    assert movements(shift.id)[-1] == (MovementKind.CASH_REFUND, -SEAT)
    assert shifts.drawer_total(shift.id) == FLOAT + SEAT
    refund = db.session.scalar(
        select(ShiftMovement).where(ShiftMovement.kind == MovementKind.CASH_REFUND)
    )
    assert refund.booking_id == booking.id and refund.actor_id == clerk.id
    assert_invariants()


def test_a_cash_refund_without_an_open_shift_is_refused_and_changes_nothing(trip, clerk):
    shift = open_shift(clerk.id)
    booking = cash_sale(clerk.id, trip.id, ["5A"])
    shifts.close_shift(shift.id, clerk.id, FLOAT + SEAT, NOW + 2 * MIN)
    before = table_snapshot()
    with pytest.raises(DomainError, match=r"^Open a shift to pay the refund in cash\.$"):
        cancellations.cancel_booking(booking.id, actor_id=clerk.id, now=NOW + HOUR)
    assert table_snapshot() == before
    another = make_user(Role.STAFF)
    other_shift = open_shift(another.id)  # a colleague with an open shift pays it out
    cancellations.cancel_booking(booking.id, actor_id=another.id, now=NOW + HOUR)
    assert movements(other_shift.id)[-1] == (MovementKind.CASH_REFUND, -SEAT)
    assert_invariants()


def test_a_terminal_payment_is_refunded_at_the_terminal(trip, clerk, gateway_refunds):
    open_shift(clerk.id)
    hold_id, call = sell(
        clerk.id, trip.id, ["5A"], method=PaymentMethod.DEBIT_CARD, terminal_reference="T-7"
    )
    booking = call()
    cancellations.cancel_booking(
        booking.id, actor_id=clerk.id, now=NOW + HOUR, refund_mode=RefundMode.ORIGINAL
    )
    [payment] = payments_of(hold_id)
    assert payment.status == PaymentStatus.REFUNDED
    assert gateway_refunds == []
    row = db.session.scalar(
        select(ActivityLog).where(
            ActivityLog.action_type == "payment.refunded", ActivityLog.entity_id == str(payment.id)
        )
    )
    assert row.details["via"] == "refund at the terminal"
    assert_invariants()


def test_an_operator_trip_cancellation_owes_cash_when_no_shift_is_open(trip, clerk, admin):
    open_shift(clerk.id)
    booking = cash_sale(clerk.id, trip.id, ["5A"])
    cancellations.cancel_trip(trip.id, admin_id=admin.id, reason="Flood", now=NOW + HOUR)
    done = fresh(type(booking), booking.id).cancellations[-1]
    assert done.refund_status == "pending" and done.refund_amount == SEAT
    assert_invariants()


# ---- closing and the report --------------------------------------------------------------------


def test_the_close_report_adds_up(trip, clerk):
    shift = open_shift(clerk.id)
    first = cash_sale(clerk.id, trip.id, ["5A"])
    cash_sale(clerk.id, trip.id, ["6A", "6B"], tendered=Decimal("2000.00"))
    _, card = sell(
        clerk.id, trip.id, ["7A"], method=PaymentMethod.CREDIT_CARD, terminal_reference="C-1"
    )
    card()
    _, upi = sell(clerk.id, trip.id, ["7B"], method=PaymentMethod.UPI, terminal_reference="U-1")
    upi()
    cancellations.cancel_booking(first.id, actor_id=clerk.id, now=NOW + HOUR)

    expected = FLOAT + SEAT + 2 * SEAT - SEAT
    running = shifts.current_report(clerk.id)
    assert running.is_open and running.expected_cash == expected

    counted = expected - Decimal("20.00")
    report = shifts.close_shift(shift.id, clerk.id, counted, NOW + 2 * HOUR, note=" short ")
    assert report.opening_float == FLOAT
    assert (report.cash_sales.count, report.cash_sales.total) == (2, 3 * SEAT)
    assert (report.cash_refunds.count, report.cash_refunds.total) == (1, SEAT)
    assert (report.card_sales.count, report.card_sales.total) == (1, SEAT)
    assert (report.upi_sales.count, report.upi_sales.total) == (1, SEAT)
    assert report.expected_cash == FLOAT + report.cash_sales.total - report.cash_refunds.total
    assert report.counted_cash == counted and report.variance == Decimal("-20.00")
    closed = fresh(Shift, shift.id)
    assert (closed.expected_cash, closed.variance, closed.closing_note) == (
        expected,
        Decimal("-20.00"),
        "short",
    )
    assert closed.closed_by_id == clerk.id
    assert shifts.current_shift(clerk.id) is None
    assert_invariants()


def test_closing_someone_elses_shift_is_refused_but_an_admin_may(clerk, admin):
    shift = open_shift(clerk.id)
    colleague = make_user(Role.STAFF)
    with pytest.raises(ShiftError, match="Only the clerk who opened this shift"):
        shifts.close_shift(shift.id, colleague.id, FLOAT, NOW)
    report = shifts.close_shift(shift.id, admin.id, FLOAT, NOW)
    assert report.variance == 0 and fresh(Shift, shift.id).closed_by_id == admin.id
    with pytest.raises(ShiftError, match="closed already"):
        shifts.close_shift(shift.id, clerk.id, FLOAT, NOW)


def test_a_report_is_for_its_clerk_and_admins(clerk, admin):
    shift = open_shift(clerk.id)
    assert shifts.shift_report(shift.id, clerk).shift.id == shift.id
    assert shifts.shift_report(shift.id, admin).expected_cash == FLOAT
    with pytest.raises(NotFound):
        shifts.shift_report(shift.id, make_user(Role.STAFF))


def test_the_admin_list_flags_shifts_open_overnight(clerk, admin):
    # NOW is 11:30 in Kolkata: local midnight was 18:30 UTC the day before.
    late = shifts.open_shift(clerk.id, FLOAT, NOW - timedelta(hours=12))
    today = open_shift(admin.id)
    done = shifts.open_shift(make_user(Role.STAFF).id, FLOAT, NOW - timedelta(hours=13))
    shifts.close_shift(done.id, admin.id, Decimal("510.00"), NOW - timedelta(hours=2))
    rows = {row.id: row for row in shifts.shifts_for_admin(NOW)}
    assert rows[late.id].open_overnight is True
    assert rows[today.id].open_overnight is False
    assert rows[done.id].open_overnight is False
    assert rows[done.id].variance == Decimal("10.00")
    assert rows[late.id].expected_cash == FLOAT and rows[late.id].variance is None
    assert [r.id for r in shifts.shifts_for_admin(NOW, open_only=True)] == [today.id, late.id]


# ---- all-or-nothing and reconcile --------------------------------------------------------------

CASH_SALE_FAULTS = {
    **NO_DEBIT_FAULTS,
    "after the shift movement": lambda mp: mp.setattr(
        shifts, "record_cash", after(shifts.record_cash)
    ),
}


@pytest.mark.parametrize("plant", CASH_SALE_FAULTS.values(), ids=CASH_SALE_FAULTS.keys())
def test_a_fault_in_a_cash_desk_sale_leaves_the_drawer_and_every_table_unchanged(
    trip, clerk, monkeypatch, plant
):
    shift = open_shift(clerk.id)
    hold_id, call = sell(clerk.id, trip.id, ["5A"])
    assert_fault_changes_nothing(monkeypatch, plant, call)
    assert booking_of(hold_id) is not None
    assert shifts.drawer_total(shift.id) == FLOAT + SEAT
    assert_invariants()


def test_a_fault_in_a_cash_refund_leaves_the_drawer_unchanged(trip, clerk, monkeypatch):
    shift = open_shift(clerk.id)
    booking = cash_sale(clerk.id, trip.id, ["5A"])
    assert_fault_changes_nothing(
        monkeypatch,
        lambda mp: mp.setattr(shifts, "record_cash", after(shifts.record_cash)),
        lambda: cancellations.cancel_booking(booking.id, actor_id=clerk.id, now=NOW + HOUR),
    )
    assert shifts.drawer_total(shift.id) == FLOAT


def reconcile(runner) -> set[str]:
    """The names of the checks `flask reconcile` fails."""
    db.session.commit()
    result = runner.invoke(args=["reconcile"])
    return set(re.findall(r"^FAIL (\S+)", result.output, flags=re.MULTILINE))


def test_reconcile_catches_a_tampered_movement(trip, clerk, runner):
    shift = open_shift(clerk.id)
    cash_sale(clerk.id, trip.id, ["5A"])
    shifts.close_shift(shift.id, clerk.id, FLOAT + SEAT, NOW + HOUR)
    assert reconcile(runner) == set()
    db.session.execute(
        update(ShiftMovement)
        .where(ShiftMovement.kind == MovementKind.CASH_SALE)
        .values(amount=Decimal("425.00"))
    )
    db.session.commit()
    assert reconcile(runner) == {"shift-cash-adds-up", "desk-cash-sale-in-a-shift"}


def test_reconcile_catches_a_cash_payment_outside_any_shift(trip, clerk, runner):
    open_shift(clerk.id)
    cash_sale(clerk.id, trip.id, ["5A"])
    db.session.execute(
        update(ShiftMovement)
        .where(ShiftMovement.kind == MovementKind.CASH_SALE)
        .values(kind=MovementKind.FLOAT_CHANGE)
    )
    db.session.commit()
    assert reconcile(runner) == {"desk-cash-sale-in-a-shift"}
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 1


def test_the_database_refuses_a_movement_of_the_wrong_sign(clerk):
    shift = open_shift(clerk.id)
    db.session.add(
        ShiftMovement(
            shift_id=shift.id, kind=MovementKind.CASH_REFUND, amount=Decimal("5.00"), created_at=NOW
        )
    )
    with pytest.raises(Exception, match=r"(?i)check"):
        db.session.commit()
    db.session.rollback()


def test_boom_is_the_planted_failure():
    assert issubclass(Boom, Exception)
