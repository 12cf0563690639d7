"""Refunds waiting for the gateway: one attempt at a time, backing off after a failure, failed
after REFUND_MAX_ATTEMPTS until retried by hand (the admin's queue, `flask refunds retry`); and
the queue itself, every refund with its state and the totals per state.

An attempt is claimed in one short transaction (the refund row locked, its attempt counted and
its next attempt set, so a worker that dies is retried then), the gateway is asked outside any
transaction (a network call holds no row lock), and its answer is recorded in another.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from flask import current_app
from sqlalchemy import func, or_, select

from booking.database import on_commit, unit_of_work, with_retries
from booking.extensions import db
from booking.gateway import RefundAnswer, get_gateway
from booking.models import Booking, Cancellation, Payment, Refund
from booking.models.enums import PaymentMethod, RefundMethod, RefundStatus
from booking.services import audit, refunds
from booking.services.errors import DomainError, NotFound

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
PER_PAGE = 50

MESSAGES = {
    "not_found": "We could not find that refund.",
    "cancellation_not_found": "We could not find that cancellation.",
    "not_gateway": "Only a refund through the payment gateway can be retried; this one is {how}.",
    "processed": "This refund has already been processed.",
    "under_way": "An attempt at this refund is under way right now. Look again in a minute.",
    "nothing_to_retry": "This cancellation has no gateway refund waiting or failed.",
    "no_reference": "The payment has no gateway reference to refund against.",
}

METHOD_WORDS = {
    RefundMethod.WALLET: "to the wallet",
    RefundMethod.CASH: "cash at the counter",
    RefundMethod.TERMINAL: "at the counter's terminal",
}


class RefundError(DomainError):
    """A refund cannot be retried as asked; nothing changed."""

    status = 409


@dataclass(frozen=True)
class _Claimed:
    """One attempt claimed: what to ask the gateway."""

    refund_id: uuid.UUID
    gateway_reference: str | None
    amount: Decimal
    reason: str
    attempt: int


def backoff(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt: the base delay doubling each
    time (REFUND_RETRY_BASE_SECONDS), at most REFUND_RETRY_MAX_SECONDS."""
    config = current_app.config
    base = int(config["REFUND_RETRY_BASE_SECONDS"])
    seconds = base * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, int(config["REFUND_RETRY_MAX_SECONDS"])))


# ---- attempts ----------------------------------------------------------------------------------


def process_refund(refund_id: uuid.UUID, now: datetime) -> RefundStatus | None:
    """Ask the gateway for a pending gateway refund that is due, and record its answer: processed
    (with processed_at), or a failed attempt (tried again later, failed after the last one).

    Returns the refund's state afterwards, or None when it was not due, not pending, or another
    worker has it right now.
    """
    claimed = with_retries(lambda: _claim(refund_id, now))
    if claimed is None:
        return None
    try:
        if not claimed.gateway_reference:
            raise RuntimeError(MESSAGES["no_reference"])
        answer = get_gateway().refund(
            claimed.gateway_reference, claimed.amount, claimed.reason, key=str(claimed.refund_id)
        )
    except Exception as error:  # any failure of the network call is one failed attempt
        said = getattr(error, "message", None) or str(error) or type(error).__name__
        return with_retries(lambda: _record_failure(claimed, said, now))
    if not isinstance(answer, RefundAnswer):
        answer = RefundAnswer(answer)
    if not answer.processed:
        return with_retries(lambda: _record_accepted(claimed, answer.reference, now))
    return with_retries(lambda: _record_success(claimed, answer.reference, now))


def process_due_refunds(now: datetime, limit: int = 100) -> int:
    """Attempt every pending gateway refund that is due (the beat runs this; so does
    `flask refunds retry` without an id). Returns how many attempts were made."""
    due = db.session.scalars(
        select(Refund.id)
        .where(
            Refund.status == RefundStatus.PENDING,
            Refund.method == RefundMethod.GATEWAY,
            or_(Refund.next_attempt_at.is_(None), Refund.next_attempt_at <= now),
        )
        .order_by(Refund.created_at, Refund.id)
        .limit(limit)
    ).all()
    db.session.commit()  # end the read: each attempt runs its own transactions
    return sum(1 for refund_id in due if process_refund(refund_id, now) is not None)


def retry_gateway_refund(
    refund_id: uuid.UUID, now: datetime, actor_id: uuid.UUID | None = None
) -> RefundStatus:
    """Retry one gateway refund by hand, now, whatever its backoff (a failed one gets one more
    attempt). Returns its state afterwards.

    :raise NotFound: for an unknown refund; RefundError for one that is not a gateway refund,
        is already processed, or has an attempt under way.
    """
    with_retries(lambda: _reopen(refund_id, now, actor_id))
    done = process_refund(refund_id, now)
    return done if done is not None else _status_of(refund_id)


def retry_refund(
    cancellation_id: uuid.UUID, now: datetime, actor_id: uuid.UUID | None = None
) -> list[RefundStatus]:
    """Retry by hand, now, every gateway refund of a cancellation that is pending or failed.
    Returns the state of each afterwards.

    :raise NotFound: for an unknown cancellation; RefundError when none is left to retry.
    """
    if db.session.get(Cancellation, cancellation_id) is None:
        raise NotFound(MESSAGES["cancellation_not_found"])
    ids = db.session.scalars(
        select(Refund.id)
        .where(
            Refund.cancellation_id == cancellation_id,
            Refund.method == RefundMethod.GATEWAY,
            Refund.status != RefundStatus.PROCESSED,
        )
        .order_by(Refund.created_at, Refund.id)
    ).all()
    if not ids:
        raise RefundError(MESSAGES["nothing_to_retry"])
    return [retry_gateway_refund(refund_id, now, actor_id) for refund_id in ids]


def _locked(session, refund_id: uuid.UUID, *, skip_locked: bool = False) -> Refund | None:
    """The refund row, locked for this transaction and read fresh."""
    return session.scalar(
        select(Refund)
        .where(Refund.id == refund_id)
        .with_for_update(skip_locked=skip_locked)
        .execution_options(populate_existing=True)
    )


def _claim(refund_id: uuid.UUID, now: datetime) -> _Claimed | None:
    """Take the next attempt of a due pending gateway refund, or None."""
    with unit_of_work() as session:
        refund = _locked(session, refund_id, skip_locked=True)
        if refund is None or refund.status != RefundStatus.PENDING:
            return None
        if refund.method != RefundMethod.GATEWAY:
            return None
        if refund.next_attempt_at is not None and refund.next_attempt_at > now:
            return None
        refund.attempts += 1
        refund.attempt_started_at = now
        # Also the lease: should this worker die mid-attempt, the refund is due again then.
        refund.next_attempt_at = now + backoff(refund.attempts)
        refund.updated_at = now
        reference = session.scalar(
            select(Payment.gateway_reference).where(Payment.id == refund.payment_id)
        )
        return _Claimed(refund.id, reference, refund.amount, refund.reason, refund.attempts)


def _record_success(claimed: _Claimed, reference: str, now: datetime) -> RefundStatus:
    """The gateway returned the money: processed, with the time and its refund reference."""
    with unit_of_work() as session:
        refund = _locked(session, claimed.refund_id)
        refund.status = RefundStatus.PROCESSED
        refund.processed_at = now
        refund.next_attempt_at = refund.attempt_started_at = None
        refund.gateway_refund_reference = (reference or "")[:64] or None
        refund.updated_at = now
        audit.record(
            "refund",
            refund.id,
            "refund.processed",
            actor_id=None,
            at=now,
            amount=refund.amount,
            attempt=claimed.attempt,
            payment_id=refund.payment_id,
            gateway_refund_reference=refund.gateway_refund_reference,
        )
        _settle_cancellation_of(session, refund, now)
        fields = {"refund": refund.id, "amount": refund.amount, "attempt": claimed.attempt}
        on_commit(lambda: audit.log_event("gateway.refunded", **fields))
        return refund.status


def _record_accepted(claimed: _Claimed, reference: str, now: datetime) -> RefundStatus:
    """The gateway took the refund and will say when the money is back (its refund webhook):
    still pending, with its reference. Should no webhook come, the next attempt after the
    backoff asks again with the same key, which finds this refund rather than making another."""
    with unit_of_work() as session:
        refund = _locked(session, claimed.refund_id)
        if refund.status != RefundStatus.PENDING:
            return refund.status  # its webhook came first
        refund.gateway_refund_reference = (reference or "")[:64] or None
        refund.attempt_started_at = None
        refund.updated_at = now
        audit.record(
            "refund",
            refund.id,
            "refund.accepted",
            actor_id=None,
            at=now,
            amount=refund.amount,
            attempt=claimed.attempt,
            gateway_refund_reference=refund.gateway_refund_reference,
            next_attempt_at=refund.next_attempt_at,
        )
        return refund.status


def apply_gateway_answer(
    session, refund: Refund, processed: bool, said: str, now: datetime
) -> RefundStatus:
    """The gateway's later word on a refund it took (its refund webhook), in the caller's
    transaction with ``refund`` locked: processed, or a failed attempt (tried again, as a new
    refund at the gateway, after the backoff; failed after the last attempt)."""
    if refund.status != RefundStatus.PENDING:
        return refund.status  # already processed, or failed and waiting for a hand
    refund.attempt_started_at = None
    refund.updated_at = now
    if processed:
        refund.status = RefundStatus.PROCESSED
        refund.processed_at = now
        refund.next_attempt_at = None
        action = "refund.processed"
    else:
        refund.last_error = said[:500]
        refund.gateway_refund_reference = None  # that refund is dead: the next try makes another
        if refund.attempts >= int(current_app.config["REFUND_MAX_ATTEMPTS"]):
            refund.status = RefundStatus.FAILED
            refund.next_attempt_at = None
        else:
            refund.next_attempt_at = now + backoff(refund.attempts)
        failed = refund.status == RefundStatus.FAILED
        action = "refund.failed" if failed else "refund.attempt_failed"
    audit.record(
        "refund",
        refund.id,
        action,
        actor_id=None,
        at=now,
        amount=refund.amount,
        payment_id=refund.payment_id,
        error=refund.last_error if not processed else None,
        via="gateway webhook",
    )
    _settle_cancellation_of(session, refund, now)
    return refund.status


def _record_failure(claimed: _Claimed, said: str, now: datetime) -> RefundStatus:
    """The gateway did not return the money: try again after the backoff, or, after the last
    attempt, failed (the queue shows it for a retry by hand)."""
    with unit_of_work() as session:
        refund = _locked(session, claimed.refund_id)
        if refund.status == RefundStatus.PROCESSED:
            return refund.status  # the gateway's webhook said it was done meanwhile
        refund.last_error = said[:500]
        refund.attempt_started_at = None
        refund.updated_at = now
        if refund.attempts >= int(current_app.config["REFUND_MAX_ATTEMPTS"]):
            refund.status = RefundStatus.FAILED
            refund.next_attempt_at = None
        else:
            refund.next_attempt_at = now + backoff(refund.attempts)
        audit.record(
            "refund",
            refund.id,
            "refund.failed" if refund.status == RefundStatus.FAILED else "refund.attempt_failed",
            actor_id=None,
            at=now,
            amount=refund.amount,
            attempt=claimed.attempt,
            error=refund.last_error,
            next_attempt_at=refund.next_attempt_at,
        )
        _settle_cancellation_of(session, refund, now)
        fields = {
            "refund": refund.id,
            "amount": refund.amount,
            "attempt": claimed.attempt,
            "status": refund.status.value,
            "error": refund.last_error,
        }
        on_commit(lambda: audit.log_event("gateway.refund_failed", **fields))
        return refund.status


def _reopen(refund_id: uuid.UUID, now: datetime, actor_id: uuid.UUID | None) -> None:
    """Make a gateway refund due now again (a failed one pending again), for a retry by hand.

    :raise NotFound: RefundError: as retry_gateway_refund says.
    """
    with unit_of_work() as session:
        refund = _locked(session, refund_id)
        if refund is None:
            raise NotFound(MESSAGES["not_found"])
        if refund.method != RefundMethod.GATEWAY:
            raise RefundError(MESSAGES["not_gateway"].format(how=METHOD_WORDS[refund.method]))
        if refund.status == RefundStatus.PROCESSED:
            raise RefundError(MESSAGES["processed"])
        lease = refund.next_attempt_at
        if refund.attempt_started_at is not None and lease is not None and lease > now:
            raise RefundError(MESSAGES["under_way"])
        previous = refund.status
        refund.status = RefundStatus.PENDING
        refund.next_attempt_at = None
        refund.updated_at = now
        audit.record(
            "refund",
            refund.id,
            "refund.retry_requested",
            actor_id=actor_id,
            at=now,
            previous=previous,
            attempts=refund.attempts,
        )
        _settle_cancellation_of(session, refund, now)


def _settle_cancellation_of(session, refund: Refund, now: datetime) -> None:
    """The cancellation's refund state follows its refund rows (the cancellation locked first,
    so two refunds of one cancellation finishing at once both count)."""
    if refund.cancellation_id is None:
        return
    cancellation = session.scalar(
        select(Cancellation)
        .where(Cancellation.id == refund.cancellation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    rows = list(
        session.scalars(
            select(Refund)
            .where(Refund.cancellation_id == cancellation.id)
            .execution_options(populate_existing=True)
        )
    )
    refunds.settle_cancellation(cancellation, rows, now)


def _status_of(refund_id: uuid.UUID) -> RefundStatus:
    """A refund's state as committed."""
    return db.session.scalar(
        select(Refund.status)
        .where(Refund.id == refund_id)
        .execution_options(populate_existing=True)
    )


# ---- the queue ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueRow:
    """One refund as the admin's queue shows it."""

    id: uuid.UUID
    created_at: datetime
    status: RefundStatus
    method: RefundMethod
    payment_method: PaymentMethod
    amount: Decimal
    reason: str
    booking_reference: str | None
    cancellation_id: uuid.UUID | None
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    processed_at: datetime | None

    @property
    def retryable(self) -> bool:
        """A gateway refund not processed yet may be retried by hand."""
        return self.method == RefundMethod.GATEWAY and self.status != RefundStatus.PROCESSED


@dataclass(frozen=True)
class StateTotal:
    """How many refunds are in one state, and how much money."""

    count: int
    amount: Decimal


@dataclass(frozen=True)
class Queue:
    """A page of the refunds queue, with the totals per state over every refund."""

    rows: list[QueueRow]
    totals: dict[RefundStatus, StateTotal]
    state: RefundStatus | None
    page: int
    pages: int
    total: int


def refund_row(refund_id: uuid.UUID) -> QueueRow:
    """One refund as the queue shows it.

    :raise NotFound: for an unknown refund.
    """
    found = db.session.execute(
        _rows().where(Refund.id == refund_id).execution_options(populate_existing=True)
    ).first()
    if found is None:
        raise NotFound(MESSAGES["not_found"])
    return _row(*found)


def state_totals() -> dict[RefundStatus, StateTotal]:
    """The count and amount of refunds in each state (the queue's header, the dashboard's card)."""
    grouped = db.session.execute(
        select(
            Refund.status, func.count(Refund.id), func.coalesce(func.sum(Refund.amount), 0)
        ).group_by(Refund.status)
    ).all()
    totals = {s: StateTotal(0, ZERO) for s in RefundStatus}
    for status, count, amount in grouped:
        totals[RefundStatus(status)] = StateTotal(count, Decimal(amount).quantize(CENT))
    return totals


def queue(state: RefundStatus | None = None, page: int = 1, per_page: int = PER_PAGE) -> Queue:
    """Every refund, newest first (only those in ``state``, when given), a page at a time, and
    the count and amount in each state."""
    totals = state_totals()
    total = totals[state].count if state else sum(t.count for t in totals.values())
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    query = (
        _rows()
        .order_by(Refund.created_at.desc(), Refund.id)
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    if state is not None:
        query = query.where(Refund.status == state)
    rows = [_row(*found) for found in db.session.execute(query).all()]
    return Queue(rows, totals, state, page, pages, total)


def _rows():
    """Refunds with their payment's method and their booking's reference."""
    return (
        select(Refund, Payment.method, Booking.reference)
        .join(Payment, Payment.id == Refund.payment_id)
        .outerjoin(Booking, Booking.id == Refund.booking_id)
    )


def _row(refund: Refund, payment_method: PaymentMethod, reference: str | None) -> QueueRow:
    """A refund as a queue row."""
    return QueueRow(
        id=refund.id,
        created_at=refund.created_at,
        status=refund.status,
        method=refund.method,
        payment_method=payment_method,
        amount=refund.amount,
        reason=refund.reason,
        booking_reference=reference,
        cancellation_id=refund.cancellation_id,
        attempts=refund.attempts,
        next_attempt_at=refund.next_attempt_at,
        last_error=refund.last_error,
        processed_at=refund.processed_at,
    )
