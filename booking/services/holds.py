"""Holds: customers (and clerks at the desk) claim up to MAX_SEATS_PER_HOLD seats of a trip for
HOLD_MINUTES, change them, drop them, revive them after they lapse; admins release and extend.

Against hoarding: a customer has at most MAX_LIVE_HOLDS_PER_CUSTOMER live holds across trips
(their user row is locked first, so concurrent holds on several trips queue and count), and seats
dropped and held again within HOLD_REHOLD_MEMORY_MINUTES keep the expiry they had.

A hold past its expires_at holds nothing: readers treat its seats as free, and the next hold on
one of them retires the lapsed hold in its own transaction. The sweep (``services.sweep``) only
tidies up, so nothing correct depends on it having run. Every seat-state write goes through
``services.claims``, which also keeps the lock order.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from flask import current_app
from sqlalchemy import func, null, select

from booking.database import StaleRead, on_commit, unit_of_work, with_retries
from booking.extensions import db
from booking.models import Reservation, ReservationSeat, Route, Schedule, Seat, User
from booking.models.enums import Channel, HoldStatus, SeatStatus
from booking.services import audit, claims, pricing, refunds
from booking.services.claims import EndedHold, HoldError, SeatChoiceError
from booking.services.errors import ConcurrentChange, NotFound

MESSAGES = {
    "not_found": "We could not find that hold.",
    "sign_in": "Sign in to hold seats.",
    "taken_meanwhile": "One of those seats was taken a moment ago. Choose your seats again.",
    "yours_taken_meanwhile": "One of your seats was taken a moment ago. Choose your seats again.",
    "release_reason": "Give a reason for releasing this hold.",
    "extend_minutes": "Extend a hold by 1 to {limit} minutes.",
    "extend_not_live": "Only a live hold can be extended; this one has ended or lapsed.",
    "already_paid": "This hold has already been paid for.",
    "paid_cancel_booking": "This hold has already been paid for; cancel the booking instead.",
    "dropped": "You dropped this hold. Choose your seats again.",
    "released": "This hold was released by our staff. Choose your seats again.",
    "ended": "This hold has ended.",
    "other_hold": "You already hold other seats on this trip; carry on with that hold.",
    "none_chosen": "Choose at least one seat.",
    "too_many": "You can hold at most {limit} seats at a time; you chose {count}.",
    "too_many_holds": (
        "You already hold seats on {count} trips, the most one account may hold at once. "
        "Pay for one of those holds or drop it, then choose these seats again."
    ),
    "rehold_too_soon": (
        "You dropped {seats} when their hold time was up. You can hold {them} again in "
        "{minutes} minutes, or choose other seats now."
    ),
}

_ENDED = {
    HoldStatus.CONFIRMED: MESSAGES["already_paid"],
    HoldStatus.CANCELLED: MESSAGES["dropped"],
    HoldStatus.RELEASED: MESSAGES["released"],
}


class _NotQuick(Exception):
    """The quick path does not apply (a seat is not free, or the customer already holds seats
    on the trip); the careful path runs instead, in a fresh transaction."""


@dataclass(frozen=True)
class HoldSummary:
    """A hold as listed for admins and ops."""

    id: uuid.UUID
    schedule_id: uuid.UUID
    user_id: uuid.UUID | None
    customer: str
    route: str
    departure_at: datetime
    seat_numbers: list[str]
    expires_at: datetime
    seconds_left: int
    channel: str


# ---- public operations ----------------------------------------------------------------------


def hold_seats(
    *,
    customer_id: uuid.UUID | None,
    schedule_id: uuid.UUID,
    seat_numbers: Iterable[str],
    now: datetime,
    sold_by_id: uuid.UUID | None = None,
) -> Reservation:
    """Hold these seats for the customer, or change the seats of their live hold on this trip.

    All or nothing: when any seat is taken nothing is held and the error names the taken seats.
    Changing the seats of a hold keeps its expiry. A walk-in at the desk has no customer
    account: pass ``customer_id=None`` and the clerk as ``sold_by_id``.

    :raise HoldError: for a bad selection, taken seats or a trip not on sale; NotFound for an
        unknown trip; Busy when the seats stay locked by others past the lock timeout.
    """
    numbers = _clean_numbers(seat_numbers)
    if customer_id is None and sold_by_id is None:
        raise HoldError(MESSAGES["sign_in"])
    wanted = _Wanted(customer_id, schedule_id, numbers, now, sold_by_id)

    def attempt() -> Reservation:
        try:
            return _quick_hold(wanted)
        except _NotQuick:
            return _hold_once(wanted)

    return with_retries(attempt, taken_message=MESSAGES["taken_meanwhile"])


def release_hold(hold_id: uuid.UUID, *, customer_id: uuid.UUID, now: datetime) -> Reservation:
    """The customer drops their hold; its seats are free at once. Repeating it is harmless.

    :raise NotFound: when the hold is not this customer's.
    """
    return with_retries(
        lambda: _end_hold(hold_id, customer_id, None, now, HoldStatus.CANCELLED, "dropped")
    )


def release_desk_hold(hold_id: uuid.UUID, *, clerk_id: uuid.UUID, now: datetime) -> Reservation:
    """A clerk gives back the seats of a walk-in's desk hold. Repeating it is harmless.

    :raise NotFound: for an unknown hold or one that is not a desk hold.
    """
    hold = get_hold(hold_id, None)
    if hold.channel != Channel.DESK:
        raise NotFound(MESSAGES["not_found"])
    return with_retries(
        lambda: _end_hold(hold_id, None, clerk_id, now, HoldStatus.CANCELLED, "dropped at the desk")
    )


def admin_release(
    hold_id: uuid.UUID, *, admin_id: uuid.UUID, reason: str, now: datetime
) -> Reservation:
    """An admin releases a hold, giving a reason (kept in the audit log).

    :raise HoldError: without a reason; NotFound for an unknown hold.
    """
    reason = (reason or "").strip()
    if not reason:
        raise HoldError(MESSAGES["release_reason"])
    return with_retries(
        lambda: _end_hold(hold_id, None, admin_id, now, HoldStatus.RELEASED, reason[:200])
    )


def admin_extend(
    hold_id: uuid.UUID, *, admin_id: uuid.UUID, minutes: int, now: datetime
) -> Reservation:
    """An admin gives a live hold more time: 1 to ADMIN_EXTEND_MAX_MINUTES minutes from its
    expiry (or from now, should it be nearly over).

    :raise HoldError: for a hold that is not live or a number of minutes outside the limit.
    """
    limit = current_app.config["ADMIN_EXTEND_MAX_MINUTES"]
    if not 1 <= minutes <= limit:
        raise HoldError(MESSAGES["extend_minutes"].format(limit=limit))
    with unit_of_work() as session:
        hold = claims.lock_hold(session, hold_id)
        if hold is None:
            raise NotFound(MESSAGES["not_found"])
        if not hold.is_live_at(now):
            raise HoldError(MESSAGES["extend_not_live"])
        previous = hold.expires_at
        hold.expires_at = max(hold.expires_at, now) + timedelta(minutes=minutes)
        audit.record(
            "reservation",
            hold.id,
            "hold.extended",
            actor_id=admin_id,
            at=now,
            minutes=minutes,
            previous_expires_at=previous,
            expires_at=hold.expires_at,
        )
        numbers = claims.numbers_of(session, claims.live_seat_ids(session, [hold.id]))
        _log_after_commit("hold.extended", hold, numbers, by=admin_id)
    return hold


def revive_hold(hold_id: uuid.UUID, *, customer_id: uuid.UUID, now: datetime) -> Reservation:
    """Give a customer back a hold that lapsed, with a new expiry, if its seats are still free.

    :raise HoldError: when a seat was taken meanwhile (naming it), or the hold was dropped,
        released or paid, with the trip in ``details['schedule_id']`` to choose again on;
        NotFound when it is not the customer's hold.
    """
    try:
        return with_retries(
            lambda: _revive_once(hold_id, customer_id, now),
            taken_message=MESSAGES["yours_taken_meanwhile"],
        )
    except (HoldError, ConcurrentChange) as refusal:
        trip = get_hold(hold_id, customer_id).schedule_id
        raise HoldError(refusal.message, **refusal.details, schedule_id=trip) from refusal


def get_hold(hold_id: uuid.UUID, customer_id: uuid.UUID | None) -> Reservation:
    """A customer's own hold (any status); ``customer_id=None`` for staff, who may see any.

    :raise NotFound: for an unknown hold or one that belongs to someone else.
    """
    hold = db.session.get(Reservation, hold_id)
    if hold is None or (customer_id is not None and hold.user_id != customer_id):
        raise NotFound(MESSAGES["not_found"])
    return hold


def live_hold_for(customer_id: uuid.UUID, schedule_id: uuid.UUID, now: datetime):
    """The customer's live hold on a trip, or None."""
    hold = db.session.scalar(select(Reservation).where(*_active_hold_of(customer_id, schedule_id)))
    return hold if hold is not None and hold.is_live_at(now) else None


def held_seats(hold_id: uuid.UUID) -> list[Seat]:
    """The seats a hold claims now, in seat-number order."""
    return claims.held_seats(hold_id)


def active_holds(now: datetime, schedule_id: uuid.UUID | None = None) -> list[HoldSummary]:
    """Holds still marked active (lapsed ones show 0 seconds left), soonest expiry first."""
    query = (
        select(Reservation, Schedule, Route, User, Seat.seat_number)
        .join(Schedule, Schedule.id == Reservation.schedule_id)
        .join(Route, Route.id == Schedule.route_id)
        .outerjoin(User, User.id == Reservation.user_id)
        .join(ReservationSeat, ReservationSeat.reservation_id == Reservation.id)
        .join(Seat, Seat.id == ReservationSeat.seat_id)
        .where(Reservation.status == HoldStatus.ACTIVE, ReservationSeat.is_live)
        .order_by(Reservation.expires_at, Reservation.id, Seat.seat_number)
    )
    if schedule_id is not None:
        query = query.where(Reservation.schedule_id == schedule_id)
    summaries: dict[uuid.UUID, HoldSummary] = {}
    for hold, schedule, route, user, number in db.session.execute(query):
        if hold.id not in summaries:
            summaries[hold.id] = HoldSummary(
                id=hold.id,
                schedule_id=schedule.id,
                user_id=hold.user_id,
                customer=user.email if user else "walk-in (desk)",
                route=route.name,
                departure_at=schedule.departure_at,
                seat_numbers=[],
                expires_at=hold.expires_at,
                seconds_left=max(0, int((hold.expires_at - now).total_seconds())),
                channel=hold.channel.value,
            )
        summaries[hold.id].seat_numbers.append(number)
    return list(summaries.values())


def extend_for_gateway(hold: Reservation, now: datetime) -> bool:
    """Inside the caller's transaction: stretch a live hold once to cover a gateway session.

    Returns whether the expiry moved. The hold row must already be locked by the caller.
    """
    if hold.gateway_extended or not hold.is_live_at(now):
        return False
    wanted = now + timedelta(minutes=current_app.config["GATEWAY_SESSION_MINUTES"])
    hold.gateway_extended = True
    if wanted <= hold.expires_at:
        return False
    previous, hold.expires_at = hold.expires_at, wanted
    audit.record(
        "reservation",
        hold.id,
        "hold.extended_for_gateway",
        actor_id=hold.user_id,
        at=now,
        previous_expires_at=previous,
        expires_at=wanted,
    )
    return True


# ---- the transactions -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Wanted:
    """What hold_seats was asked for."""

    customer_id: uuid.UUID | None
    schedule_id: uuid.UUID
    numbers: list[str]
    now: datetime
    sold_by_id: uuid.UUID | None

    @property
    def actor_id(self) -> uuid.UUID | None:
        return self.customer_id or self.sold_by_id


def _quick_hold(wanted: _Wanted) -> Reservation:
    """The common case in a handful of statements: free seats, no hold of this customer on the
    trip yet. Locks only the seats (nothing else is needed), so the lock order holds.

    :raise _NotQuick: when anything needs the careful path (which also words every refusal).
    """
    now = wanted.now
    with unit_of_work() as session:
        _lock_customer(session, wanted)
        own_hold = (
            select(Reservation.id)
            .where(*_active_hold_of(wanted.customer_id, wanted.schedule_id))
            .scalar_subquery()
        )
        rows = session.execute(
            select(Seat, Schedule, own_hold if wanted.customer_id else null())
            .join(Schedule, Schedule.id == Seat.schedule_id)
            .where(Seat.schedule_id == wanted.schedule_id, Seat.seat_number.in_(wanted.numbers))
            .order_by(Seat.id)
            .with_for_update(of=Seat)
        ).all()
        if len(rows) != len(wanted.numbers) or any(own is not None for *_, own in rows):
            raise _NotQuick
        seats = [seat for seat, _schedule, _own in rows]
        taken = {seat.id for seat in seats if seat.status != SeatStatus.AVAILABLE}
        if taken:
            # The usual loser: refuse now, naming the seats, unless a claim is a lapsed hold
            # (the careful path retires those). A fresh read sees claims committed while we
            # waited for the seat locks.
            claims.refuse_taken(claims.live_claims(session, taken), seats, now, mine=set())
            raise _NotQuick
        schedule = rows[0][1]
        claims.require_on_sale(schedule, now)
        seat_ids = {seat.id for seat in seats}
        expires_at = _expiry_of_new_hold(session, wanted, seat_ids)
        total = pricing.quote(schedule, seats, now=now).total
        hold = _new_hold(session, wanted, total, expires_at)
        claims.claim(session, hold, seat_ids, now)
        _audit_hold(hold, "hold.created", wanted, added=sorted(wanted.numbers), dropped=[])
        # Last: the trip's counter row is the one every hold on the trip queues for.
        claims.move_counter(session, schedule.id, -len(seats), now, claiming=True)
        claims.announce_seats(schedule.id, seat_ids)
        _log_after_commit("hold.created", hold, sorted(wanted.numbers), by=wanted.actor_id)
    return hold


def _hold_once(wanted: _Wanted) -> Reservation:
    """One attempt at hold_seats inside one transaction (any case the quick path left)."""
    now = wanted.now
    with unit_of_work() as session:
        _lock_customer(session, wanted)
        schedule = claims.schedule_on_sale(session, wanted.schedule_id, now)
        seats = claims.seats_by_number(session, wanted.schedule_id, wanted.numbers)
        wanted_ids = {seat.id for seat in seats}
        own_id = None
        if wanted.customer_id is not None:
            own_id = session.scalar(
                select(Reservation.id).where(
                    *_active_hold_of(wanted.customer_id, wanted.schedule_id)
                )
            )
        found = claims.live_claims(session, wanted_ids)
        claims.refuse_taken(found, seats, now, mine={own_id})
        own, retiring = _lock_for_change(session, found, own_id, now)
        current = claims.live_seat_ids(session, [own.id]) if own else set()
        claims.lock_seats(
            session, wanted_ids | current | claims.live_seat_ids(session, [h.id for h in retiring])
        )
        if claims.live_claims(session, wanted_ids, exclude={h.id for h in retiring} | {own_id}):
            raise StaleRead  # claimed between our read and our locks
        lapsed = claims.describe([h.id for h in retiring])
        freed = claims.retire(session, lapsed, now, HoldStatus.EXPIRED, "taken after expiry", None)
        for ended in lapsed:
            on_commit(partial(log_ended, "hold.expired", ended, reason="taken after expiry"))
        total = pricing.quote(schedule, seats, now=now).total
        if own is not None:
            hold, action = own, "hold.changed"
            dropped, added = current - wanted_ids, wanted_ids - current
            if not dropped and not added and not freed:
                return hold
            claims.release(session, [hold.id], dropped, now)
            hold.total_amount = total
        else:
            hold = _new_hold(
                session, wanted, total, _expiry_of_new_hold(session, wanted, wanted_ids)
            )
            action, dropped, added = "hold.created", set(), wanted_ids
        claims.claim(session, hold, added, now)
        # retire already gave back the seats of retired holds; count only this hold's moves.
        claims.move_counter(session, schedule.id, len(dropped) - len(added), now, claiming=True)
        _audit_hold(
            hold,
            action,
            wanted,
            added=sorted(s.seat_number for s in seats if s.id in added),
            dropped=claims.numbers_of(session, dropped),
        )
        claims.announce_seats(schedule.id, dropped | added)
        _log_after_commit(action, hold, sorted(wanted.numbers), by=wanted.actor_id)
    return hold


def _lock_for_change(session, found: list[claims.Claim], own_id, now: datetime):
    """Lock the customer's own hold and the lapsed holds on the wanted seats (holds first, by
    id). Returns (own hold or None when it lapsed, holds to retire).

    :raise StaleRead: when one of them changed since it was read.
    """
    lapsed_ids = {c.reservation_id for c in found if c.reservation_id != own_id}
    locked = claims.lock_holds(session, lapsed_ids | ({own_id} if own_id else set()))
    own = locked.get(own_id) if own_id else None
    if own_id and (own is None or own.status != HoldStatus.ACTIVE):
        raise StaleRead
    retiring = [locked[i] for i in lapsed_ids]
    if any(h.status != HoldStatus.ACTIVE or h.expires_at > now for h in retiring):
        raise StaleRead
    if own is not None and own.expires_at <= now:
        retiring.append(own)  # the customer's own hold lapsed: it ends, a new one starts
        own = None
    return own, retiring


def _revive_once(hold_id: uuid.UUID, customer_id: uuid.UUID, now: datetime) -> Reservation:
    """One attempt at revive_hold."""
    with unit_of_work() as session:
        schedule_id = get_hold(hold_id, customer_id).schedule_id
        _lock_customer(session, _Wanted(customer_id, schedule_id, [], now, None))
        hold = claims.lock_hold(session, hold_id)
        if hold.is_live_at(now):
            return hold
        if hold.status not in (HoldStatus.ACTIVE, HoldStatus.EXPIRED):
            raise HoldError(_ENDED.get(hold.status, MESSAGES["ended"]))
        _require_room_for_a_hold(session, customer_id, hold.schedule_id, now)
        if hold.status == HoldStatus.EXPIRED and session.scalar(
            select(Reservation.id).where(*_active_hold_of(customer_id, hold.schedule_id))
        ):
            raise HoldError(MESSAGES["other_hold"])
        seats = claims.retake(hold, now)
        hold.status = HoldStatus.ACTIVE
        hold.ended_at = hold.end_reason = None
        hold.gateway_extended = False
        hold.expires_at = now + timedelta(minutes=current_app.config["HOLD_MINUTES"])
        numbers = sorted(seat.seat_number for seat in seats)
        audit.record(
            "reservation",
            hold.id,
            "hold.revived",
            actor_id=customer_id,
            at=now,
            seats=numbers,
            expires_at=hold.expires_at,
        )
        _log_after_commit("hold.revived", hold, numbers, by=customer_id)
    return hold


def _end_hold(
    hold_id: uuid.UUID,
    customer_id: uuid.UUID | None,
    admin_id: uuid.UUID | None,
    now: datetime,
    status: HoldStatus,
    reason: str,
) -> Reservation:
    """Drop (customer) or release (admin) a hold that is still marked active."""
    with unit_of_work() as session:
        get_hold(hold_id, customer_id)
        open_payments = refunds.lock_open_payments(session, hold_id)
        locked = claims.lock_hold(session, hold_id)
        if locked.status != HoldStatus.ACTIVE:
            if locked.status == HoldStatus.CONFIRMED:
                raise HoldError(MESSAGES["paid_cancel_booking"])
            return locked  # already ended: nothing to do
        # Before the seats (lock order: wallet before seats): the payment started for this
        # hold can no longer be paid, and its wallet part goes back.
        refunds.void_open_payments(open_payments, now, _void_reason(status, reason))
        claims.lock_seats(session, claims.live_seat_ids(session, [hold_id]))
        ended = claims.describe([hold_id])
        claims.retire(session, ended, now, status, reason, actor_id=customer_id or admin_id)
        on_commit(
            partial(
                log_ended,
                "hold.released",
                ended[0],
                status=status.value,
                by=customer_id or admin_id,
                reason=reason,
            )
        )
    return locked


# ---- helpers ------------------------------------------------------------------------------------


def _void_reason(status: HoldStatus, reason: str) -> str:
    """Why an open gateway payment of an ended hold was voided, as its failure reason."""
    if status == HoldStatus.RELEASED:
        return f"hold released by the operator: {reason}"
    return f"hold {reason}"


def _active_hold_of(customer_id: uuid.UUID | None, schedule_id: uuid.UUID) -> tuple:
    """The conditions of "the customer's active hold on this trip" (at most one, by index)."""
    return (
        Reservation.user_id == customer_id,
        Reservation.schedule_id == schedule_id,
        Reservation.status == HoldStatus.ACTIVE,
    )


def _clean_numbers(seat_numbers: Iterable[str]) -> list[str]:
    """Upper-cased, de-duplicated seat numbers; 1 to MAX_SEATS_PER_HOLD of them.

    :raise SeatChoiceError: for none, too many, or malformed numbers.
    """
    limit = current_app.config["MAX_SEATS_PER_HOLD"]
    numbers = list(dict.fromkeys(str(n).strip().upper() for n in seat_numbers if str(n).strip()))
    if not numbers:
        raise SeatChoiceError(MESSAGES["none_chosen"])
    if len(numbers) > limit:
        raise SeatChoiceError(MESSAGES["too_many"].format(limit=limit, count=len(numbers)))
    bad = [n for n in numbers if not re.fullmatch(r"[A-Z0-9]{1,8}", n)]
    if bad:
        raise claims.no_such_seats(bad)
    return numbers


def _lock_customer(session, wanted: _Wanted) -> None:
    """Lock the customer's user row (first, before any hold or seat): their holds on several
    trips at once queue here, so each counts the others (MAX_LIVE_HOLDS_PER_CUSTOMER)."""
    if wanted.customer_id is not None:
        session.execute(select(User.id).where(User.id == wanted.customer_id).with_for_update())


def _require_room_for_a_hold(session, customer_id, schedule_id: uuid.UUID, now: datetime) -> None:
    """With the customer's row locked: refuse a new hold past MAX_LIVE_HOLDS_PER_CUSTOMER live
    holds on other trips (a lapsed hold holds nothing, so it does not count).

    :raise HoldError: naming the limit.
    """
    limit = current_app.config["MAX_LIVE_HOLDS_PER_CUSTOMER"]
    live = session.scalar(
        select(func.count())
        .select_from(Reservation)
        .where(
            Reservation.user_id == customer_id,
            Reservation.status == HoldStatus.ACTIVE,
            Reservation.expires_at > now,
            Reservation.schedule_id != schedule_id,
        )
    )
    if live >= limit:
        raise HoldError(MESSAGES["too_many_holds"].format(count=live))


def _expiry_of_new_hold(session, wanted: _Wanted, seat_ids: set) -> datetime:
    """When a new hold on these seats ends: HOLD_MINUTES from now, or, for seats the customer
    dropped within HOLD_REHOLD_MEMORY_MINUTES, the expiry their dropped hold had (dropping and
    holding again does not restart the clock). Checks the customer's hold limit first.

    :raise HoldError: past the hold limit, or when the remembered expiry has already passed.
    """
    now = wanted.now
    fresh = now + timedelta(minutes=current_app.config["HOLD_MINUTES"])
    if wanted.customer_id is None:
        return fresh  # a walk-in at the desk
    _require_room_for_a_hold(session, wanted.customer_id, wanted.schedule_id, now)
    memory = timedelta(minutes=current_app.config["HOLD_REHOLD_MEMORY_MINUTES"])
    dropped = session.execute(
        select(Reservation.expires_at, Reservation.ended_at, Seat.seat_number)
        .join(ReservationSeat, ReservationSeat.reservation_id == Reservation.id)
        .join(Seat, Seat.id == ReservationSeat.seat_id)
        .where(
            Reservation.user_id == wanted.customer_id,
            Reservation.schedule_id == wanted.schedule_id,
            Reservation.status == HoldStatus.CANCELLED,
            Reservation.ended_at > now - memory,
            ReservationSeat.seat_id.in_(seat_ids),
        )
    ).all()
    if not dropped:
        return fresh
    kept = min(expires_at for expires_at, _ended, _number in dropped)
    if kept > now:
        return min(kept, fresh)
    numbers = sorted({number for *_, number in dropped})
    free_again = max(ended for _expires, ended, _number in dropped) + memory
    raise HoldError(
        MESSAGES["rehold_too_soon"].format(
            seats=("seat " if len(numbers) == 1 else "seats ") + ", ".join(numbers),
            them="it" if len(numbers) == 1 else "them",
            minutes=max(1, -(-int((free_again - now).total_seconds()) // 60)),
        )
    )


def _new_hold(session, wanted: _Wanted, total, expires_at: datetime) -> Reservation:
    """A new active hold until ``expires_at``, priced at ``total``."""
    now = wanted.now
    hold = Reservation(
        total_amount=total,
        user_id=wanted.customer_id,
        sold_by_id=wanted.sold_by_id,
        channel=Channel.DESK if wanted.sold_by_id else Channel.ONLINE,
        schedule_id=wanted.schedule_id,
        reserved_at=now,
        expires_at=expires_at,
        created_at=now,
        updated_at=now,
    )
    session.add(hold)
    session.flush()
    return hold


def _audit_hold(hold: Reservation, action: str, wanted: _Wanted, *, added, dropped) -> None:
    """The activity row of a hold made or changed."""
    audit.record(
        "reservation",
        hold.id,
        action,
        actor_id=wanted.actor_id,
        at=wanted.now,
        schedule_id=wanted.schedule_id,
        seats=sorted(wanted.numbers),
        expires_at=hold.expires_at,
        added=added,
        dropped=dropped,
    )


def _log_after_commit(event: str, hold: Reservation, numbers: list[str], **fields) -> None:
    """A structured log line for a hold, written once the change is committed."""
    hold_id, schedule_id, user_id = hold.id, hold.schedule_id, hold.user_id
    expires = hold.expires_at
    on_commit(
        lambda: audit.log_event(
            event,
            hold=hold_id,
            schedule=schedule_id,
            customer=user_id,
            seats=numbers,
            expires_at=expires.isoformat(),
            **fields,
        )
    )


def log_ended(event: str, hold: EndedHold, **fields) -> None:
    """The structured log line of a hold that ended (call it once the change is committed)."""
    audit.log_event(
        event,
        hold=hold.id,
        schedule=hold.schedule_id,
        customer=hold.user_id,
        seats=list(hold.seat_numbers),
        expires_at=hold.expires_at.isoformat(),
        **fields,
    )


__all__ = [
    "HoldError",
    "HoldSummary",
    "SeatChoiceError",
    "active_holds",
    "admin_extend",
    "admin_release",
    "extend_for_gateway",
    "get_hold",
    "held_seats",
    "hold_seats",
    "live_hold_for",
    "release_desk_hold",
    "release_hold",
    "revive_hold",
]
