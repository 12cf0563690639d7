"""Invariant 6, all-or-nothing: a step of finalization or cancellation raises part-way, and every
table is exactly as it was before (then, with the fault gone, the same call succeeds)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest

from booking.extensions import db
from booking.models import Schedule
from booking.models.enums import LedgerKind, PaymentStatus, RefundMode, Role
from booking.services import (
    audit,
    bookings,
    cancellations,
    claims,
    desk_sales,
    notifications,
    tickets,
    wallet,
)
from tests.money_support import (
    Boom,
    assert_invariants,
    booking_of,
    deliver,
    desk_hold,
    details,
    hold,
    ledger,
    open_shift,
    pay_wallet,
    payments_of,
    start_gateway,
    table_snapshot,
)
from tests.support import NOW, make_user

MIN = timedelta(minutes=1)


def boom(where: str) -> Boom:
    """Write what the transaction has done so far to the database, then fail: the rollback must
    undo real writes, not just forget pending objects."""
    db.session.flush()
    return Boom(f"injected {where}")


def after(original: Callable) -> Callable:
    """``original`` doing its work, then the transaction failing right after it."""

    def step_then_fail(*args, **kwargs):
        original(*args, **kwargs)
        raise boom(f"after {original.__name__}")

    return step_then_fail


def failing(*_args, **_kwargs):
    """A step that fails outright."""
    raise boom("instead of the step")


def _fail_on_schedule_update(monkeypatch) -> None:
    """The seats are updated to booked, then building the schedule update fails."""
    real_update = claims.update

    def update(entity):
        if entity is Schedule:
            raise boom("after the seats update")
        return real_update(entity)

    monkeypatch.setattr(claims, "update", update)


def _fail_on_audit(action: str):
    """Plant a failure in audit.record for one action (the rows before it are written)."""

    def plant(monkeypatch) -> None:
        real_record = audit.record

        def record(entity_type, entity_id, action_type, **kwargs):
            if action_type == action:
                raise boom(f"at audit {action}")
            return real_record(entity_type, entity_id, action_type, **kwargs)

        monkeypatch.setattr(audit, "record", record)

    return plant


FINALIZE_FAULTS = {
    "after the wallet debit": lambda mp: mp.setattr(wallet, "debit", after(wallet.debit)),
    "after the booking insert": lambda mp: mp.setattr(bookings, "BookingSeat", failing),
    "after the payments are completed": _fail_on_audit("payment.completed"),
    "after the seats update": _fail_on_schedule_update,
    "after the ticket": _fail_on_audit("booking.confirmed"),
    "after the audit rows": lambda mp: mp.setattr(notifications, "queue", failing),
}


def faults_without(*names: str) -> dict:
    """The finalization faults bar those whose step this way of paying never takes."""
    return {name: plant for name, plant in FINALIZE_FAULTS.items() if name not in names}


NO_DEBIT_FAULTS = faults_without("after the wallet debit")  # the debit happened earlier, or never


def assert_fault_changes_nothing(monkeypatch, plant, call) -> None:
    """With the fault planted the call raises and no table changes; without it, it works."""
    before = table_snapshot()
    with monkeypatch.context() as patched:
        plant(patched)
        with pytest.raises(Boom):
            call()
    assert table_snapshot() == before
    call()
    assert_invariants()


@pytest.mark.parametrize("plant", FINALIZE_FAULTS.values(), ids=FINALIZE_FAULTS.keys())
def test_a_fault_in_wallet_finalization_leaves_every_table_as_it_was(trip, monkeypatch, plant):
    """Pay from the wallet: balance, ledger, seats, hold, payments, booking, ticket, audit and
    outbox all unchanged by the failed attempt."""
    customer = make_user(wallet="2000.00")
    hold_id = hold(customer.id, trip.id, ["2A", "2B"])
    assert_fault_changes_nothing(
        monkeypatch, plant, lambda: pay_wallet(customer.id, hold_id, ["2A", "2B"], now=NOW + MIN)
    )
    assert booking_of(hold_id) is not None
    assert len(ledger(customer.id, LedgerKind.DEBIT)) == 1


@pytest.mark.parametrize("plant", NO_DEBIT_FAULTS.values(), ids=NO_DEBIT_FAULTS.keys())
def test_a_fault_while_a_success_webhook_finalizes_leaves_every_table_as_it_was(
    trip, monkeypatch, plant
):
    """The webhook's transaction rolls back whole (the event is not even recorded), so the
    gateway's redelivery of the same event books the hold."""
    customer = make_user(wallet="300.00")
    hold_id = hold(customer.id, trip.id, ["2A"])
    started = start_gateway(customer.id, hold_id, ["2A"], now=NOW + MIN)
    assert_fault_changes_nothing(
        monkeypatch,
        plant,
        lambda: deliver("payment.succeeded", started.payment_id, NOW + 2 * MIN, event_id="evt"),
    )
    assert {p.status for p in payments_of(hold_id)} == {PaymentStatus.COMPLETED}
    assert len(ledger(customer.id, LedgerKind.DEBIT)) == 1


@pytest.mark.parametrize("plant", NO_DEBIT_FAULTS.values(), ids=NO_DEBIT_FAULTS.keys())
def test_a_fault_in_a_desk_cash_sale_leaves_every_table_as_it_was(trip, monkeypatch, plant):
    clerk = make_user(Role.STAFF)
    open_shift(clerk.id)
    hold_id = desk_hold(clerk.id, trip.id, ["5A"])
    assert_fault_changes_nothing(
        monkeypatch,
        plant,
        lambda: desk_sales.sell_at_desk(
            hold_id=hold_id, clerk_id=clerk.id, details=details(["5A"]), now=NOW + MIN
        ),
    )
    assert booking_of(hold_id) is not None


def test_a_fault_after_the_wallet_part_is_debited_at_gateway_start_changes_nothing(
    trip, monkeypatch
):
    """Starting a gateway payment is all-or-nothing too: debit, payments, hold extension."""
    customer = make_user(wallet="300.00")
    hold_id = hold(customer.id, trip.id, ["2A"])
    assert_fault_changes_nothing(
        monkeypatch,
        lambda mp: mp.setattr(wallet, "debit", after(wallet.debit)),
        lambda: start_gateway(customer.id, hold_id, ["2A"], now=NOW + 10 * MIN),
    )
    assert len(ledger(customer.id, LedgerKind.DEBIT)) == 1


def test_a_fault_while_a_decline_returns_the_wallet_part_changes_nothing(trip, monkeypatch):
    customer = make_user(wallet="300.00")
    hold_id = hold(customer.id, trip.id, ["2A"])
    started = start_gateway(customer.id, hold_id, ["2A"], now=NOW + MIN)
    assert_fault_changes_nothing(
        monkeypatch,
        lambda mp: mp.setattr(wallet, "refund", after(wallet.refund)),
        lambda: deliver("payment.failed", started.payment_id, NOW + 2 * MIN, event_id="evt"),
    )
    assert len(ledger(customer.id, LedgerKind.REFUND)) == 1


# ---- cancellation ------------------------------------------------------------------------------

CANCEL_FAULTS = {
    "after the wallet refund": lambda mp: mp.setattr(wallet, "refund", after(wallet.refund)),
    "after the wallet credit": lambda mp: mp.setattr(wallet, "credit", after(wallet.credit)),
    "after the seat release": lambda mp: mp.setattr(claims, "free", after(claims.free)),
    "after the ticket reissue": lambda mp: mp.setattr(
        tickets, "reissue_ticket", after(tickets.reissue_ticket)
    ),
    "after the audit rows": lambda mp: mp.setattr(notifications, "queue", failing),
}


@pytest.mark.parametrize("seats", [None, ["2B"]], ids=["whole", "one-seat"])
@pytest.mark.parametrize("plant", CANCEL_FAULTS.values(), ids=CANCEL_FAULTS.keys())
def test_a_fault_in_cancellation_leaves_every_table_as_it_was(trip, monkeypatch, plant, seats):
    """A booking paid partly from the wallet, partly by UPI, cancelled with the refund to the
    wallet (a refund row for the wallet part, a credit for the UPI part)."""
    customer = make_user(wallet="300.00")
    hold_id = hold(customer.id, trip.id, ["2A", "2B"])
    started = start_gateway(customer.id, hold_id, ["2A", "2B"], now=NOW + MIN)
    deliver("payment.succeeded", started.payment_id, NOW + 2 * MIN)
    booking_id = booking_of(hold_id).id
    assert_fault_changes_nothing(
        monkeypatch,
        plant,
        lambda: cancellations.cancel_booking(
            booking_id,
            actor_id=customer.id,
            now=NOW + 3 * MIN,
            seat_numbers=seats,
            refund_mode=RefundMode.WALLET,
        ),
    )
    assert booking_of(hold_id).refunded_amount > Decimal("0.00")
    assert len(ledger(customer.id, LedgerKind.REFUND)) == 1
    assert len(ledger(customer.id, LedgerKind.CREDIT)) == 2  # the opening credit, the UPI part
