"""Refund states: every refund is a row; gateway refunds are pending until the gateway has
returned the money (asked after commit, retried with backoff, failed after the last attempt,
retried by hand), wallet refunds are processed in the cancelling transaction; reconcile checks
them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

import celeryconfig
from booking import tasks
from booking.extensions import db
from booking.gateway.sandbox import SandboxGateway
from booking.models import Booking, Cancellation, Payment, Refund
from booking.models.enums import RefundMethod, RefundMode, RefundStatus, Role
from booking.services import cancellations, holds, invariants, refund_queue
from booking.services.errors import NotFound
from booking.services.refund_queue import RefundError
from tests.money_support import (
    SEAT,
    actions,
    assert_invariants,
    booking_of,
    deliver,
    fresh,
    hold,
    pay_wallet,
    start_gateway,
)
from tests.support import NOW, make_trip, make_user, race

MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)
CANCELLED_AT = NOW + HOUR


@pytest.fixture
def no_worker(monkeypatch) -> list:
    """Redis is down: handing a refund to a worker fails (the ids it was asked for are kept)."""
    asked: list = []

    def broker_down(refund_id):
        asked.append(refund_id)
        raise ConnectionError("Error 111 connecting to 127.0.0.1:1. Connection refused.")

    monkeypatch.setattr(tasks.process_refund, "delay", broker_down)
    return asked


@pytest.fixture
def failing_gateway(app_ctx, monkeypatch):
    """The sandbox refuses refunds; three attempts at most, 60 s doubling, capped at 10 min."""
    config = app_ctx.config
    monkeypatch.setitem(config, "SANDBOX_FAIL_REFUNDS", True)
    monkeypatch.setitem(config, "REFUND_MAX_ATTEMPTS", 3)
    monkeypatch.setitem(config, "REFUND_RETRY_BASE_SECONDS", 60)
    monkeypatch.setitem(config, "REFUND_RETRY_MAX_SECONDS", 600)
    return config


def book_by_upi(trip, seats=("2A",)):
    """A customer pays ``seats`` wholly by UPI; returns (customer, booking id)."""
    customer = make_user()
    hold_id = hold(customer.id, trip.id, list(seats))
    started = start_gateway(customer.id, hold_id, list(seats), now=NOW + MIN, use_wallet=False)
    assert deliver("payment.succeeded", started.payment_id, NOW + 2 * MIN).outcome == "confirmed"
    return customer, booking_of(hold_id).id


def cancel_to_card(customer, booking_id, at=CANCELLED_AT) -> Cancellation:
    """The customer cancels every seat, refunded to the original method."""
    return cancellations.cancel_booking(
        booking_id, actor_id=customer.id, now=at, refund_mode=RefundMode.ORIGINAL
    )


def refunds_of(cancellation_id) -> list[Refund]:
    return list(
        db.session.scalars(
            select(Refund)
            .where(Refund.cancellation_id == cancellation_id)
            .execution_options(populate_existing=True)
        )
    )


# ---- pending until the gateway has done it ------------------------------------------------------


def test_a_gateway_refund_is_pending_until_the_gateway_returns_it(trip, no_worker, gateway_refunds):
    """With Redis down the cancellation still commits: its refund is pending (no processed_at),
    and the beat's pass over the database asks the gateway and marks both processed."""
    customer, booking_id = book_by_upi(trip)
    done = cancel_to_card(customer, booking_id)

    assert fresh(Cancellation, done.id).refund_status == RefundStatus.PENDING
    assert fresh(Cancellation, done.id).processed_at is None
    [refund] = refunds_of(done.id)
    assert (refund.method, refund.status, refund.amount) == (
        RefundMethod.GATEWAY,
        RefundStatus.PENDING,
        SEAT,
    )
    assert refund.processed_at is None and refund.attempts == 0
    assert no_worker == [str(refund.id)] and gateway_refunds == []
    assert_invariants()

    assert refund_queue.process_due_refunds(NOW + 2 * HOUR) == 1
    [refund] = refunds_of(done.id)
    assert refund.status == RefundStatus.PROCESSED and refund.processed_at == NOW + 2 * HOUR
    assert refund.attempts == 1 and refund.gateway_refund_reference.startswith("sbx_rf_")
    cancellation = fresh(Cancellation, done.id)
    assert cancellation.refund_status == RefundStatus.PROCESSED
    assert cancellation.processed_at == NOW + 2 * HOUR
    payment = fresh(Payment, refund.payment_id)
    assert gateway_refunds == [(payment.gateway_reference, SEAT)]
    assert "refund.processed" in actions(refund.id)
    assert refund_queue.process_due_refunds(NOW + 3 * HOUR) == 0  # nothing twice
    assert len(gateway_refunds) == 1
    assert_invariants()


def test_with_a_worker_the_gateway_refund_runs_right_after_the_commit(trip, gateway_refunds):
    customer, booking_id = book_by_upi(trip)
    done = cancel_to_card(customer, booking_id)
    [refund] = refunds_of(done.id)
    assert refund.status == RefundStatus.PROCESSED and refund.processed_at is not None
    assert fresh(Cancellation, done.id).refund_status == RefundStatus.PROCESSED
    assert len(gateway_refunds) == 1
    assert_invariants()


def test_a_wallet_refund_is_processed_in_the_cancelling_transaction(trip, no_worker):
    customer = make_user(wallet="1000.00")
    hold_id = hold(customer.id, trip.id, ["2A"])
    booking_id = pay_wallet(customer.id, hold_id, ["2A"], now=NOW + MIN)
    done = cancellations.cancel_booking(booking_id, actor_id=customer.id, now=CANCELLED_AT)

    [refund] = refunds_of(done.id)
    assert (refund.method, refund.status, refund.processed_at) == (
        RefundMethod.WALLET,
        RefundStatus.PROCESSED,
        CANCELLED_AT,
    )
    cancellation = fresh(Cancellation, done.id)
    assert cancellation.refund_status == RefundStatus.PROCESSED
    assert cancellation.processed_at == CANCELLED_AT
    assert no_worker == []  # nothing for the gateway
    assert_invariants()


def test_a_trip_cancelled_by_the_operator_leaves_its_gateway_refunds_pending(trip, no_worker):
    _customer, booking_id = book_by_upi(trip, ("3A", "3B"))
    admin = make_user(Role.ADMIN)
    cancellations.cancel_trip(trip.id, admin_id=admin.id, reason="Flood", now=CANCELLED_AT)
    [cancellation] = fresh(Booking, booking_id).cancellations
    assert cancellation.refund_status == RefundStatus.PENDING
    [refund] = refunds_of(cancellation.id)
    assert refund.status == RefundStatus.PENDING and refund.amount == 2 * SEAT
    assert_invariants()


def test_a_late_payment_refund_is_a_pending_refund_row(trip, no_worker):
    """A success that arrives after the hold was dropped is refunded through the gateway: a
    pending refund of the whole payment, no cancellation, processed by the next pass."""
    customer = make_user()
    hold_id = hold(customer.id, trip.id, ["2A"])
    started = start_gateway(customer.id, hold_id, ["2A"], now=NOW + MIN, use_wallet=False)
    holds.release_hold(hold_id, customer_id=customer.id, now=NOW + 2 * MIN)
    assert deliver("payment.succeeded", started.payment_id, NOW + 3 * MIN).outcome == "refunded"

    [refund] = db.session.scalars(select(Refund).where(Refund.payment_id == started.payment_id))
    assert refund.status == RefundStatus.PENDING and refund.cancellation_id is None
    assert refund.amount == started.amount and refund.booking_id is None
    assert refund_queue.process_due_refunds(NOW + 4 * MIN) == 1
    assert fresh(Refund, refund.id).status == RefundStatus.PROCESSED
    assert_invariants()


# ---- failures, backoff, by hand -----------------------------------------------------------------


def test_a_failing_gateway_refund_backs_off_then_fails_after_the_last_attempt(
    trip, no_worker, failing_gateway
):
    customer, booking_id = book_by_upi(trip)
    done = cancel_to_card(customer, booking_id)
    [refund] = refunds_of(done.id)

    first = CANCELLED_AT + MIN
    assert refund_queue.process_due_refunds(first) == 1
    refund = fresh(Refund, refund.id)
    assert (refund.status, refund.attempts) == (RefundStatus.PENDING, 1)
    assert refund.next_attempt_at == first + timedelta(seconds=60)
    assert "refused the refund" in refund.last_error
    assert refund.attempt_started_at is None
    assert "refund.attempt_failed" in actions(refund.id)

    # Not due before its backoff has passed.
    assert refund_queue.process_due_refunds(refund.next_attempt_at - timedelta(seconds=1)) == 0
    second = refund.next_attempt_at
    assert refund_queue.process_due_refunds(second) == 1
    refund = fresh(Refund, refund.id)
    assert refund.attempts == 2 and refund.next_attempt_at == second + timedelta(seconds=120)
    assert fresh(Cancellation, done.id).refund_status == RefundStatus.PENDING

    assert refund_queue.process_due_refunds(refund.next_attempt_at) == 1
    refund = fresh(Refund, refund.id)
    assert (refund.status, refund.attempts, refund.next_attempt_at) == (
        RefundStatus.FAILED,
        3,
        None,
    )
    assert fresh(Cancellation, done.id).refund_status == RefundStatus.FAILED
    assert fresh(Cancellation, done.id).processed_at is None
    assert refund_queue.process_due_refunds(NOW + 30 * HOUR) == 0  # failed waits for a person
    assert "refund.failed" in actions(refund.id)
    assert_invariants()


def test_backoff_doubles_up_to_its_cap(failing_gateway):
    assert [refund_queue.backoff(n).total_seconds() for n in range(1, 6)] == [
        60,
        120,
        240,
        480,
        600,
    ]


def test_retry_refund_by_hand_processes_a_failed_refund(trip, no_worker, failing_gateway):
    customer, booking_id = book_by_upi(trip)
    done = cancel_to_card(customer, booking_id)
    failing_gateway["REFUND_MAX_ATTEMPTS"] = 1
    refund_queue.process_due_refunds(CANCELLED_AT + MIN)
    assert fresh(Cancellation, done.id).refund_status == RefundStatus.FAILED

    # Still failing: one more attempt, failed again, with the error kept.
    assert refund_queue.retry_refund(done.id, CANCELLED_AT + 2 * MIN) == [RefundStatus.FAILED]
    [refund] = refunds_of(done.id)
    assert refund.attempts == 2 and refund.last_error

    failing_gateway["SANDBOX_FAIL_REFUNDS"] = False
    at = CANCELLED_AT + 3 * MIN
    assert refund_queue.retry_refund(done.id, at, actor_id=customer.id) == [RefundStatus.PROCESSED]
    [refund] = refunds_of(done.id)
    assert refund.status == RefundStatus.PROCESSED and refund.processed_at == at
    cancellation = fresh(Cancellation, done.id)
    assert cancellation.refund_status == RefundStatus.PROCESSED and cancellation.processed_at == at
    assert "refund.retry_requested" in actions(refund.id)
    with pytest.raises(RefundError, match="already been processed"):
        refund_queue.retry_gateway_refund(refund.id, at)
    with pytest.raises(RefundError, match="no gateway refund"):
        refund_queue.retry_refund(done.id, at)
    assert_invariants()


def test_retrying_what_cannot_be_retried_is_refused(trip, no_worker):
    customer = make_user(wallet="1000.00")
    hold_id = hold(customer.id, trip.id, ["2A"])
    booking_id = pay_wallet(customer.id, hold_id, ["2A"], now=NOW + MIN)
    done = cancellations.cancel_booking(booking_id, actor_id=customer.id, now=CANCELLED_AT)
    [refund] = refunds_of(done.id)
    with pytest.raises(RefundError, match="to the wallet"):
        refund_queue.retry_gateway_refund(refund.id, CANCELLED_AT)
    with pytest.raises(NotFound):
        refund_queue.retry_gateway_refund(done.id, CANCELLED_AT)
    with pytest.raises(NotFound):
        refund_queue.retry_refund(refund.id, CANCELLED_AT)


def test_an_attempt_under_way_is_not_claimed_twice(trip, no_worker, gateway_refunds):
    """A worker has claimed the attempt (the row says so until its answer is recorded): another
    pass and a retry by hand leave it alone."""
    customer, booking_id = book_by_upi(trip)
    done = cancel_to_card(customer, booking_id)
    [refund] = refunds_of(done.id)
    claimed = refund_queue._claim(refund.id, CANCELLED_AT)
    assert claimed is not None and claimed.attempt == 1
    assert refund_queue.process_due_refunds(CANCELLED_AT + timedelta(seconds=10)) == 0
    with pytest.raises(RefundError, match="under way"):
        refund_queue.retry_gateway_refund(refund.id, CANCELLED_AT + timedelta(seconds=5))
    assert gateway_refunds == []


# ---- the CLI, the beat and reconcile -----------------------------------------------------------


def test_flask_refunds_retry_attempts_due_and_named_refunds(trip, no_worker, runner):
    customer, booking_id = book_by_upi(trip)
    done = cancel_to_card(customer, booking_id)
    result = runner.invoke(args=["refunds", "retry", "--cancellation", str(done.id)])
    assert result.exit_code == 0, result.output
    assert "processed" in result.output
    assert fresh(Cancellation, done.id).refund_status == RefundStatus.PROCESSED

    result = runner.invoke(args=["refunds", "retry"])
    assert result.exit_code == 0 and "0 due refund(s) attempted." in result.output
    result = runner.invoke(args=["refunds", "retry", "--refund", str(done.id)])
    assert result.exit_code == 1 and "could not find that refund" in result.output


def test_the_beat_runs_the_due_refunds_task():
    entry = celeryconfig.beat_schedule["retry-due-refunds"]
    assert entry["task"] == tasks.retry_due_refunds.name == "booking.tasks.retry_due_refunds"
    assert entry["schedule"] > 0


def test_reconcile_finds_refunds_over_their_payment_and_processed_without_a_time(trip, no_worker):
    customer, booking_id = book_by_upi(trip)
    done = cancel_to_card(customer, booking_id)
    [refund] = refunds_of(done.id)
    assert invariants.run_all(["refunds-within-their-payment", "processed-refund-has-time"]) == []

    db.session.execute(update(Refund).where(Refund.id == refund.id).values(amount=2 * SEAT))
    db.session.execute(
        update(Cancellation)
        .where(Cancellation.id == done.id)
        .values(refund_status=RefundStatus.PROCESSED, processed_at=None)
    )
    found = {v.invariant for v in invariants.run_all()}
    assert {
        "refunds-within-their-payment",
        "processed-refund-has-time",
        "cancellation-refund-adds-up",
    } <= found
    db.session.rollback()


# ---- racing workers ----------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.parametrize("round_", range(3))
def test_ten_workers_on_one_due_refund_ask_the_gateway_once(make_app, monkeypatch, round_):
    """The task, the beat and a retry pass all reach the same refund at the same instant: one
    attempt, one gateway refund, processed once."""
    race_app = make_app(
        SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 12, "max_overflow": 0, "pool_timeout": 60}
    )
    asked: list = []
    monkeypatch.setattr(tasks.process_refund, "delay", lambda refund_id: None)
    original = SandboxGateway.refund
    monkeypatch.setattr(
        SandboxGateway,
        "refund",
        lambda self, *args, **kwargs: asked.append(args) or original(self, *args, **kwargs),
    )
    with race_app.app_context():
        customer, booking_id = book_by_upi(make_trip())
        done = cancel_to_card(customer, booking_id)
        [refund] = refunds_of(done.id)
        refund_id = refund.id
    results = race(
        race_app, [lambda: refund_queue.process_refund(refund_id, CANCELLED_AT) for _ in range(10)]
    )
    assert sorted(map(str, results)) == ["None"] * 9 + ["processed"]
    assert len(asked) == 1
    with race_app.app_context():
        assert fresh(Refund, refund_id).attempts == 1
        assert fresh(Cancellation, done.id).refund_status == RefundStatus.PROCESSED
        assert_invariants()
