"""Cancellations: the refund policy, whole or partial cancellation of a booking, and an operator
cancelling a whole trip. One preview function gives the refund the cancellation will pay.

Policy (settings): a customer cancels up to CANCEL_CUSTOMER_CUTOFF_HOURS before departure, with
100% back more than CANCEL_FULL_REFUND_HOURS before and CANCEL_PARTIAL_REFUND_PERCENT after;
staff and admins may also cancel later, at 0%. A trip the operator cancels refunds 100%.
Lock order: booking, wallet, seats, schedule.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from flask import current_app
from sqlalchemy import select

from booking.database import on_commit, unit_of_work, with_retries
from booking.extensions import db
from booking.models import (
    Booking,
    BookingSeat,
    Cancellation,
    Reservation,
    Schedule,
    User,
)
from booking.models.enums import (
    BookingPaymentStatus,
    BookingSeatStatus,
    BookingStatus,
    HoldStatus,
    RefundMode,
    RefundStatus,
    Role,
    ScheduleStatus,
    TicketValidity,
)
from booking.services import audit, claims, events, holds, notifications, refunds, tickets
from booking.services.errors import DomainError, NotFound
from booking.services.refunds import account_email

ZERO = Decimal("0.00")

MESSAGES = {
    "not_found": "We could not find that booking.",
    "trip_not_found": "We could not find that trip.",
    "no_wallet": "A walk-in booking has no wallet; refund to the original method.",
    "trip_reason": "Give a reason for cancelling the trip; passengers will read it.",
    "trip_left": "This trip has already left; it cannot be cancelled.",
    "not_booked": "Seats {seats} are not booked on this booking.",
    "none_chosen": "Choose at least one booked seat to cancel.",
    "bus_left": "This bus has already left; it can no longer be cancelled.",
    "busy": "This booking or its wallet is being updated by another request right now; nothing "
    "changed. Try again in a moment.",
    "boarded": (
        "This ticket was checked in at the bus door, so the booking can no longer be cancelled "
        "online. Please speak to our counter staff."
    ),
}


class CancelError(DomainError):
    """A cancellation was refused; nothing changed."""


class CancelRefused(CancelError):
    """The refund policy does not allow this cancellation now (too late, or the booking is no
    longer active); ``details["preview"]`` is the RefundPreview that says why. Nothing changed."""

    status = 409


@dataclass(frozen=True)
class RefundPreview:
    """What cancelling these seats would refund, and the rule that decides it."""

    seat_numbers: tuple[str, ...]
    charged: Decimal
    percent: int
    amount: Decimal
    rule: str
    allowed: bool
    refusal: str | None = None


@dataclass(frozen=True)
class TripCancellation:
    """What cancelling a trip did (zeros when it had been done already)."""

    bookings_cancelled: int
    holds_released: int
    refunded: Decimal


def refund_preview(
    booking: Booking,
    seat_numbers: list[str] | None,
    *,
    actor_role: Role,
    now: datetime,
    operator: bool = False,
) -> RefundPreview:
    """The refund for cancelling ``seat_numbers`` (all booked seats when None) right now."""
    booked = [s for s in booking.seats if s.status == BookingSeatStatus.BOOKED]
    chosen = _chosen(booked, seat_numbers)
    charged = sum((s.charged for s in chosen), ZERO)
    numbers = tuple(s.seat_number for s in chosen)
    percent, rule, refusal = _policy(booking, actor_role, now, operator)
    if booking.status != BookingStatus.CONFIRMED:
        refusal = "This booking is not active any more."
    if refusal:
        return RefundPreview(numbers, charged, 0, ZERO, rule, False, refusal)
    amount = (charged * percent / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    amount = min(amount, booking.total_amount - booking.refunded_amount)
    return RefundPreview(numbers, charged, percent, amount, rule, True)


def cancel_booking(
    booking_id: uuid.UUID,
    *,
    actor_id: uuid.UUID,
    now: datetime,
    seat_numbers: list[str] | None = None,
    reason: str | None = None,
    refund_mode: RefundMode | None = None,
    operator: bool = False,
) -> Cancellation:
    """Cancel some or all seats of a booking, refund by the policy, free the seats.

    The refund goes to the wallet (default for customers: at once, refund rows linked to the
    wallet debit where the wallet paid) or back to the original methods (the gateway part through
    the gateway, cash at the desk). The remaining seats keep a reissued ticket.

    :raise CancelRefused: (a CancelError, 409) when the policy does not allow it, with the
        preview; CancelError when a seat is not booked; NotFound for a booking the actor may
        not touch.
    """
    args = (booking_id, actor_id, now, seat_numbers, reason, refund_mode, operator)
    return with_retries(lambda: _cancel_once(*args), busy_message=MESSAGES["busy"])


def _cancel_once(booking_id, actor_id, now, seat_numbers, reason, refund_mode, operator):
    """One attempt at cancel_booking."""
    with unit_of_work() as session:
        actor, booking = _locked_booking(session, booking_id, actor_id)
        preview = refund_preview(
            booking, seat_numbers, actor_role=actor.role, now=now, operator=operator
        )
        if not preview.allowed:
            raise CancelRefused(preview.refusal, preview=preview)
        mode = refund_mode or (RefundMode.WALLET if booking.user_id else RefundMode.ORIGINAL)
        if mode == RefundMode.WALLET and booking.user_id is None:
            raise CancelError(MESSAGES["no_wallet"])
        chosen = _chosen(booking.booked_seats, seat_numbers)
        cancellation = _new_cancellation(session, booking, actor, reason, preview, mode, now)
        if preview.amount > 0:
            made = refunds.pay_back(
                booking,
                preview.amount,
                mode,
                now,
                actor.id,
                operator=operator,
                cancellation_id=cancellation.id,
            )
            # Pending while a gateway refund runs after commit, or cash is owed at the counter.
            refunds.settle_cancellation(cancellation, made, now)
        for booked_seat in chosen:
            booked_seat.status = BookingSeatStatus.CANCELLED
            booked_seat.cancellation_id = cancellation.id
        seat_ids = [s.seat_id for s in chosen]
        claims.free(session, booking.reservation_id, booking.schedule_id, seat_ids, now)
        whole = _settle(booking, preview.amount, now)
        with audit.acting_for(actor.id):  # the new ticket is the canceller's doing
            tickets.reissue_ticket(booking.ticket, now)
        _record_cancelled(booking, cancellation, actor, preview, mode, whole, now)
    return cancellation


def _locked_booking(session, booking_id, actor_id) -> tuple[User, Booking]:
    """The acting user and the booking, locked.

    :raise NotFound: unknown booking or actor, or a customer's cancel of someone else's.
    """
    actor = session.get(User, actor_id)
    booking = session.scalar(
        select(Booking)
        .where(Booking.id == booking_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if booking is None or actor is None:
        raise NotFound(MESSAGES["not_found"])
    if actor.role == Role.CUSTOMER and booking.user_id != actor.id:
        raise NotFound(MESSAGES["not_found"])
    return actor, booking


def _new_cancellation(session, booking, actor, reason, preview, mode, now) -> Cancellation:
    """The cancellation row of this act, with its refund."""
    cancellation = Cancellation(
        id=uuid.uuid4(),
        booking_id=booking.id,
        cancelled_by_id=actor.id,
        reason=(reason or "").strip()[:500] or None,
        refund_percent=preview.percent,
        refund_amount=preview.amount,
        refund_mode=mode,
        refund_status=RefundStatus.PROCESSED,
        processed_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(cancellation)
    session.flush()
    return cancellation


def _settle(booking: Booking, refunded, now) -> bool:
    """The booking's amounts and status after the refund; returns whether it is all cancelled."""
    booking.refunded_amount += refunded
    booking.payment_status = _payment_status(booking)
    whole = all(s.status == BookingSeatStatus.CANCELLED for s in booking.seats)
    if whole:
        booking.status = BookingStatus.CANCELLED
    booking.updated_at = now
    return whole


def _record_cancelled(booking, cancellation, actor, preview, mode, whole, now) -> None:
    """The audit row, the customer's email, the after-commit announcement and log line."""
    fields = {
        "booking": booking.reference,
        "seats": list(preview.seat_numbers),
        "refund": preview.amount,
        "percent": preview.percent,
        "mode": mode,
        "by": actor.id,
        "whole": whole,
    }
    event = "booking.cancelled" if whole else "booking.seats_cancelled"
    on_commit(lambda: audit.log_event(event, **fields))
    audit.record(
        "booking",
        booking.id,
        "booking.cancelled" if whole else "booking.seats_cancelled",
        actor_id=actor.id,
        at=now,
        reference=booking.reference,
        seats=list(preview.seat_numbers),
        refund=preview.amount,
        percent=preview.percent,
        mode=mode,
        rule=preview.rule,
        reason=cancellation.reason,
    )
    notifications.queue(
        kind="booking_cancelled",
        to=booking.contact_email or account_email(booking.user_id),
        context={"booking": booking, "preview": preview, "mode": mode, "whole": whole},
        now=now,
        booking_id=booking.id,
        attach_ticket=not whole,
    )
    events.announce(
        events.booking_cancelled,
        booking.id,
        reference=booking.reference,
        schedule_id=booking.schedule_id,
        seats=list(preview.seat_numbers),
    )


def cancel_trip(
    schedule_id: uuid.UUID, *, admin_id: uuid.UUID, reason: str, now: datetime
) -> TripCancellation:
    """The operator cancels a trip: no more sales, every hold released, every booking refunded
    100% to its original methods. Running it again does nothing more.

    :raise CancelError: without a reason or for a trip that has already left.
    """
    reason = (reason or "").strip()
    if not reason:
        raise CancelError(MESSAGES["trip_reason"])
    with unit_of_work() as session:
        schedule = session.get(Schedule, schedule_id)
        if schedule is None:
            raise NotFound(MESSAGES["trip_not_found"])
        if schedule.status in (ScheduleStatus.DEPARTED, ScheduleStatus.COMPLETED):
            raise CancelError(MESSAGES["trip_left"])
        # Stop sales first (its own short transaction), so no new hold or booking can start.
        if schedule.status != ScheduleStatus.CANCELLED:
            schedule.status = ScheduleStatus.CANCELLED
            audit.record(
                "schedule",
                schedule.id,
                "schedule.cancelled",
                actor_id=admin_id,
                at=now,
                reason=reason,
            )
    hold_ids = db.session.scalars(
        select(Reservation.id).where(
            Reservation.schedule_id == schedule_id, Reservation.status == HoldStatus.ACTIVE
        )
    ).all()
    for hold_id in hold_ids:
        holds.admin_release(hold_id, admin_id=admin_id, reason=f"trip cancelled: {reason}", now=now)
    booking_ids = db.session.scalars(
        select(Booking.id).where(
            Booking.schedule_id == schedule_id, Booking.status == BookingStatus.CONFIRMED
        )
    ).all()
    refunded = ZERO
    for booking_id in booking_ids:
        done = cancel_booking(
            booking_id,
            actor_id=admin_id,
            now=now,
            reason=f"Trip cancelled: {reason}",
            refund_mode=RefundMode.ORIGINAL,
            operator=True,
        )
        refunded += done.refund_amount
    return TripCancellation(len(booking_ids), len(hold_ids), refunded)


# ---- inside the transaction -------------------------------------------------------------------


def _policy(booking: Booking, role: Role, now: datetime, operator: bool):
    """(percent, rule in words, refusal or None) for cancelling now."""
    config = current_app.config
    full_hours = config["CANCEL_FULL_REFUND_HOURS"]
    cutoff_hours = config["CANCEL_CUSTOMER_CUTOFF_HOURS"]
    partial = config["CANCEL_PARTIAL_REFUND_PERCENT"]
    if operator:
        return 100, "Trip cancelled by the operator: full refund.", None
    departure = db.session.scalar(
        select(Schedule.departure_at).where(Schedule.id == booking.schedule_id)
    )
    hours = (departure - now).total_seconds() / 3600
    boarded = booking.ticket is not None and booking.ticket.validity == TicketValidity.USED
    if boarded and role == Role.CUSTOMER:
        return 0, "Checked in at the bus door.", MESSAGES["boarded"]
    if hours <= 0:
        return 0, "The bus has left.", MESSAGES["bus_left"]
    if hours > full_hours:
        return 100, f"More than {full_hours} hours before departure: full refund.", None
    if hours >= cutoff_hours:  # "up to 2 hours before departure" includes the 2 hours
        return partial, f"Between {cutoff_hours} and {full_hours} hours: {partial}% refund.", None
    rule = f"Within {cutoff_hours} hours of departure: no refund."
    if role in (Role.STAFF, Role.ADMIN):
        return 0, rule, None
    return (
        0,
        rule,
        (
            f"Bookings can be cancelled online up to {cutoff_hours} hours before departure. "
            "Please speak to our counter staff."
        ),
    )


def _chosen(booked: list[BookingSeat], seat_numbers: list[str] | None) -> list[BookingSeat]:
    """The booked seats to cancel.

    :raise CancelError: naming any seat that is not booked on this booking, or for none.
    """
    if seat_numbers is None:
        chosen = booked
    else:
        wanted = {n.strip().upper() for n in seat_numbers if n.strip()}
        chosen = [s for s in booked if s.seat_number in wanted]
        missing = sorted(wanted - {s.seat_number for s in chosen})
        if missing:
            raise CancelError(MESSAGES["not_booked"].format(seats=", ".join(missing)))
    if not chosen:
        raise CancelError(MESSAGES["none_chosen"])
    return chosen


def _payment_status(booking: Booking) -> BookingPaymentStatus:
    """Completed, partially refunded or refunded, from the amounts."""
    if booking.refunded_amount == 0:
        return BookingPaymentStatus.COMPLETED
    if booking.refunded_amount >= booking.total_amount:
        return BookingPaymentStatus.REFUNDED
    return BookingPaymentStatus.PARTIALLY_REFUNDED
