"""Holds: customers claim up to MAX_SEATS_PER_HOLD seats of a trip for HOLD_MINUTES.

Correctness lives in the database. A claim is a live reservation_seats row, and a partial unique
index allows one live claim per seat. Every transaction that changes claims locks rows in one
order: reservations (by id), then seats (by id), then the schedule row (its counter), so two
multi-seat holds cannot deadlock, and a short lock timeout (LOCK_TIMEOUT_MS) bounds any wait.
On SQLite, BEGIN IMMEDIATE serialises writers instead.

A hold past its expires_at holds nothing: readers treat its seats as free, and the next hold on
one of them retires the lapsed hold in its own transaction. The sweep (expire_holds) only tidies
up, logs and broadcasts, so nothing correct depends on it having run.
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import TypeVar

from flask import current_app
from sqlalchemy import case, insert, null, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from booking import realtime
from booking.database import on_commit, unit_of_work
from booking.extensions import db
from booking.models import ActivityLog, Reservation, ReservationSeat, Schedule, Seat
from booking.models.enums import Channel, HoldStatus, ScheduleStatus, SeatStatus
from booking.services import audit, pricing
from booking.services.errors import Busy, Conflict, DomainError, NotFound

T = TypeVar("T")
ATTEMPTS = 4


class HoldError(Conflict):
    """A hold could not be made, changed or revived; nothing was changed."""


class SeatChoiceError(HoldError):
    """The seats asked for are not a valid choice (none, too many, not on this bus)."""

    status = 400


class _NotQuick(Exception):
    """The quick path does not apply (a seat is not free, or the customer already holds seats
    on the trip); the careful path runs instead, in a fresh transaction."""


class StaleRead(Exception):
    """What was read before taking the locks changed meanwhile; with_retries runs it again."""


@dataclass(frozen=True)
class RetiredHold:
    """A hold the sweep retired."""

    id: uuid.UUID
    schedule_id: uuid.UUID
    user_id: uuid.UUID | None
    expires_at: datetime
    seat_ids: tuple[uuid.UUID, ...]
    seat_numbers: tuple[str, ...] = ()


@dataclass(frozen=True)
class SweepResult:
    """What a sweep retired (or, on a dry run, would retire)."""

    retired: list[RetiredHold]
    dry_run: bool = False


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
        raise HoldError("Sign in to hold seats.")

    def attempt() -> Reservation:
        try:
            return _quick_hold(customer_id, schedule_id, numbers, now, sold_by_id)
        except _NotQuick:
            return _hold_once(customer_id, schedule_id, numbers, now, sold_by_id)

    return with_retries(
        attempt,
        taken_message="One of those seats was taken a moment ago. Choose your seats again.",
    )


def release_hold(hold_id: uuid.UUID, *, customer_id: uuid.UUID, now: datetime) -> Reservation:
    """The customer drops their hold; its seats are free at once. Repeating it is harmless.

    :raise NotFound: when the hold is not this customer's.
    """
    return with_retries(
        lambda: _end_hold(hold_id, customer_id, None, now, HoldStatus.CANCELLED, "dropped")
    )


def admin_release(
    hold_id: uuid.UUID, *, admin_id: uuid.UUID, reason: str, now: datetime
) -> Reservation:
    """An admin releases a hold, giving a reason (kept in the audit log).

    :raise HoldError: without a reason; NotFound for an unknown hold.
    """
    reason = (reason or "").strip()
    if not reason:
        raise HoldError("Give a reason for releasing this hold.")
    return with_retries(
        lambda: _end_hold(hold_id, None, admin_id, now, HoldStatus.RELEASED, reason[:200])
    )


def admin_extend(
    hold_id: uuid.UUID, *, admin_id: uuid.UUID, minutes: int, now: datetime
) -> Reservation:
    """An admin gives a live hold more time (1 to 60 minutes from its expiry or from now).

    :raise HoldError: for a hold that is not live or a bad number of minutes.
    """
    if not 1 <= minutes <= 60:
        raise HoldError("Extend a hold by 1 to 60 minutes.")
    with unit_of_work() as session:
        hold = _lock_holds(session, {hold_id}).get(hold_id)
        if hold is None:
            raise NotFound("We could not find that hold.")
        if not hold.is_live_at(now):
            raise HoldError("Only a live hold can be extended; this one has ended or lapsed.")
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
        numbers = sorted(_numbers_of(session, _live_seat_ids(session, [hold.id])))
        _log_after_commit("hold.extended", hold, numbers, by=admin_id)
    return hold


def revive_hold(hold_id: uuid.UUID, *, customer_id: uuid.UUID, now: datetime) -> Reservation:
    """Give a customer back a hold that lapsed, with a new expiry, if its seats are still free.

    :raise HoldError: when a seat was taken meanwhile (naming it), or the hold was dropped,
        released or paid; NotFound when it is not the customer's hold.
    """
    return with_retries(
        lambda: _revive_once(hold_id, customer_id, now),
        taken_message="One of your seats was taken a moment ago. Choose your seats again.",
    )


def get_hold(hold_id: uuid.UUID, customer_id: uuid.UUID | None) -> Reservation:
    """A customer's own hold (any status).

    :raise NotFound: for an unknown hold or one that belongs to someone else.
    """
    hold = db.session.get(Reservation, hold_id)
    if hold is None or (customer_id is not None and hold.user_id != customer_id):
        raise NotFound("We could not find that hold.")
    return hold


def live_hold_for(customer_id: uuid.UUID, schedule_id: uuid.UUID, now: datetime):
    """The customer's live hold on a trip, or None."""
    hold = db.session.scalar(
        select(Reservation).where(
            Reservation.user_id == customer_id,
            Reservation.schedule_id == schedule_id,
            Reservation.status == HoldStatus.ACTIVE,
        )
    )
    return hold if hold is not None and hold.is_live_at(now) else None


def held_seats(hold_id: uuid.UUID) -> list[Seat]:
    """The seats a hold claims now, in seat-number order."""
    return list(
        db.session.scalars(
            select(Seat)
            .join(ReservationSeat, ReservationSeat.seat_id == Seat.id)
            .where(ReservationSeat.reservation_id == hold_id, ReservationSeat.is_live)
            .order_by(Seat.seat_number)
        )
    )


def active_holds(now: datetime, schedule_id: uuid.UUID | None = None) -> list[HoldSummary]:
    """Holds still marked active (lapsed ones show 0 seconds left), soonest expiry first."""
    from booking.models import Route, User

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


# ---- the sweep ----------------------------------------------------------------------------


def lapsed_holds(now: datetime, limit: int | None = None) -> list[RetiredHold]:
    """Holds still marked active whose expiry has passed (what a sweep would retire)."""
    ids = select(Reservation.id).where(
        Reservation.status == HoldStatus.ACTIVE, Reservation.expires_at <= now
    )
    if limit is not None:
        ids = ids.order_by(Reservation.expires_at, Reservation.id).limit(limit)
    return _describe(list(db.session.scalars(ids)))


def expire_holds(now: datetime, batch_size: int = 2000, dry_run: bool = False) -> SweepResult:
    """Retire every hold past its expiry, in batches of set-based statements.

    Two sweeps at once never retire the same hold twice: each batch locks its holds with
    SKIP LOCKED, and a hold is retired only while still active. A dry run changes nothing.
    """
    if dry_run:
        return SweepResult(retired=lapsed_holds(now), dry_run=True)
    retired: list[RetiredHold] = []
    while True:
        batch = with_retries(lambda: _sweep_batch(now, batch_size))
        retired.extend(batch)
        if len(batch) < batch_size:
            break
    return SweepResult(retired=retired)


def _sweep_batch(now: datetime, batch_size: int) -> list[RetiredHold]:
    """Retire up to ``batch_size`` lapsed holds in one transaction."""
    with unit_of_work() as session:
        ids = list(
            session.scalars(
                select(Reservation.id)
                .where(Reservation.status == HoldStatus.ACTIVE, Reservation.expires_at <= now)
                .order_by(Reservation.id)
                .limit(batch_size)
                .with_for_update(skip_locked=True)
            )
        )
        if not ids:
            return []
        batch = _describe(ids)
        _retire(session, batch, now, HoldStatus.EXPIRED, "lapsed", actor_id=None)
        freed: dict[uuid.UUID, list] = defaultdict(list)
        for hold in batch:
            freed[hold.schedule_id].extend(hold.seat_ids)
        for schedule_id, seat_ids in freed.items():
            _publish_after_commit(schedule_id, seat_ids)
    for hold in batch:
        _log_retired("hold.expired", hold, reason="lapsed")
    return batch


# ---- the transactions -------------------------------------------------------------------------


def _quick_hold(
    customer_id: uuid.UUID | None,
    schedule_id: uuid.UUID,
    numbers: list[str],
    now: datetime,
    sold_by_id: uuid.UUID | None,
) -> Reservation:
    """The common case in a handful of statements: free seats, no hold of this customer on the
    trip yet. Locks only the seats (nothing else is needed), so the lock order holds.

    :raise _NotQuick: when anything needs the careful path (which also words every refusal).
    """
    with unit_of_work() as session:
        own_hold = (
            select(Reservation.id)
            .where(
                Reservation.user_id == customer_id,
                Reservation.schedule_id == schedule_id,
                Reservation.status == HoldStatus.ACTIVE,
            )
            .scalar_subquery()
        )
        rows = session.execute(
            select(Seat, Schedule, own_hold if customer_id else null())
            .join(Schedule, Schedule.id == Seat.schedule_id)
            .where(Seat.schedule_id == schedule_id, Seat.seat_number.in_(numbers))
            .order_by(Seat.id)
            .with_for_update(of=Seat)
        ).all()
        if len(rows) != len(numbers) or any(own is not None for _seat, _sched, own in rows):
            raise _NotQuick
        seats = [seat for seat, _schedule, _own in rows]
        claimed = {seat.id for seat in seats if seat.status != SeatStatus.AVAILABLE}
        if claimed:
            # The usual loser: refuse now, naming the seats, unless a claim is a lapsed hold
            # (the careful path retires those). A fresh read sees claims committed while we
            # waited for the seat locks.
            _refuse_taken(_live_claims(session, claimed), seats, now, mine=set())
            raise _NotQuick
        schedule = rows[0][1]
        _require_on_sale(schedule, now)
        total = pricing.quote(schedule, seats, now=now).total
        hold = _new_hold(session, customer_id, sold_by_id, schedule_id, now, total)
        _claim(session, hold, {seat.id for seat in seats}, now)
        audit.record(
            "reservation",
            hold.id,
            "hold.created",
            actor_id=customer_id or sold_by_id,
            at=now,
            schedule_id=schedule_id,
            seats=sorted(numbers),
            expires_at=hold.expires_at,
            added=sorted(numbers),
            dropped=[],
        )
        # Last: the trip's counter row is the one every hold on the trip queues for.
        _move_counter(session, schedule, -len(seats), now, claiming=True)
        _publish_after_commit(schedule_id, {seat.id for seat in seats})
        _log_after_commit("hold.created", hold, sorted(numbers), by=customer_id or sold_by_id)
    return hold


def _hold_once(
    customer_id: uuid.UUID | None,
    schedule_id: uuid.UUID,
    numbers: list[str],
    now: datetime,
    sold_by_id: uuid.UUID | None,
) -> Reservation:
    """One attempt at hold_seats inside one transaction."""
    with unit_of_work() as session:
        schedule = _schedule_on_sale(session, schedule_id, now)
        wanted = _seats_by_number(session, schedule_id, numbers)
        wanted_ids = {seat.id for seat in wanted}

        own_id = None
        if customer_id is not None:
            own_id = session.scalar(
                select(Reservation.id).where(
                    Reservation.user_id == customer_id,
                    Reservation.schedule_id == schedule_id,
                    Reservation.status == HoldStatus.ACTIVE,
                )
            )
        claims = _live_claims(session, wanted_ids)
        _refuse_taken(claims, wanted, now, mine={own_id})
        lapsed_ids = {c.reservation_id for c in claims if c.reservation_id != own_id}

        # Lock order: holds, then seats, then the schedule row.
        locked = _lock_holds(session, lapsed_ids | ({own_id} if own_id else set()))
        own = locked.get(own_id) if own_id else None
        if own_id and (own is None or own.status != HoldStatus.ACTIVE):
            raise StaleRead
        retiring = [locked[i] for i in lapsed_ids]
        if any(h.status != HoldStatus.ACTIVE or h.expires_at > now for h in retiring):
            raise StaleRead
        if own is not None and own.expires_at <= now:
            retiring.append(own)  # the customer's own hold lapsed: it ends, a new one starts
            own = None
        current = _live_seat_ids(session, [own.id]) if own else set()
        _lock_seats(
            session, wanted_ids | current | _live_seat_ids(session, [h.id for h in retiring])
        )
        if _live_claims(session, wanted_ids, exclude={h.id for h in retiring} | {own_id}):
            raise StaleRead  # claimed between our read and our locks

        lapsed = _describe([h.id for h in retiring])
        freed = _retire(session, lapsed, now, HoldStatus.EXPIRED, "taken after expiry", None)
        for ended in lapsed:
            on_commit(partial(_log_retired, "hold.expired", ended, reason="taken after expiry"))
        total = pricing.quote(schedule, wanted, now=now).total
        if own is not None:
            hold, action = own, "hold.changed"
            dropped = current - wanted_ids
            added = wanted_ids - current
            if not dropped and not added and not freed:
                return hold
            _release_claims(session, [hold.id], dropped, now)
            hold.total_amount = total
        else:
            hold = _new_hold(session, customer_id, sold_by_id, schedule_id, now, total)
            action, dropped, added = "hold.created", set(), wanted_ids
        _claim(session, hold, added, now)
        # _retire already gave back the seats of retired holds; count only this hold's moves.
        _move_counter(session, schedule, len(dropped) - len(added), now, claiming=True)
        audit.record(
            "reservation",
            hold.id,
            action,
            actor_id=customer_id or sold_by_id,
            at=now,
            schedule_id=schedule_id,
            seats=sorted(numbers),
            expires_at=hold.expires_at,
            added=_numbers(wanted, added),
            dropped=_numbers_of(session, dropped),
        )
        _publish_after_commit(schedule_id, set(freed) | dropped | added)
        _log_after_commit(action, hold, sorted(numbers), by=customer_id or sold_by_id)
    return hold


def _revive_once(hold_id: uuid.UUID, customer_id: uuid.UUID, now: datetime) -> Reservation:
    """One attempt at revive_hold."""
    with unit_of_work() as session:
        hold = session.get(Reservation, hold_id)
        if hold is None or hold.user_id != customer_id:
            raise NotFound("We could not find that hold.")
        hold = _lock_holds(session, {hold.id})[hold.id]
        if hold.is_live_at(now):
            return hold
        if hold.status not in (HoldStatus.ACTIVE, HoldStatus.EXPIRED):
            raise HoldError(_ENDED.get(hold.status, "This hold has ended."))
        if hold.status == HoldStatus.EXPIRED and session.scalar(
            select(Reservation.id).where(
                Reservation.user_id == customer_id,
                Reservation.schedule_id == hold.schedule_id,
                Reservation.status == HoldStatus.ACTIVE,
            )
        ):
            raise HoldError("You already hold other seats on this trip; carry on with that hold.")
        seats = reclaim_seats(hold, now)
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


def reclaim_seats(hold: Reservation, now: datetime) -> list[Seat]:
    """Inside the caller's transaction, with ``hold`` locked: make the seats the hold had when
    it lapsed its live claims again (retiring other lapsed holds on them). Its status and expiry
    are the caller's business (revive makes it active again; a late payment confirms it).

    :raise HoldError: naming any seat someone else holds or booked, or when the trip is no
        longer on sale; StaleRead when claims moved under us (the caller retries).
    """
    session = db.session
    schedule = _schedule_on_sale(session, hold.schedule_id, now)
    seat_ids = set(_claimed_seat_ids(session, hold))
    seats = list(session.scalars(select(Seat).where(Seat.id.in_(seat_ids))))
    if not seats:
        raise HoldError("This hold has no seats to take back. Choose your seats again.")
    claims = _live_claims(session, seat_ids)
    _refuse_taken(claims, seats, now, mine={hold.id})
    others = {c.reservation_id for c in claims if c.reservation_id != hold.id}
    retiring = list(_lock_holds(session, others).values())
    if any(h.status != HoldStatus.ACTIVE or h.expires_at > now for h in retiring):
        raise StaleRead
    _lock_seats(session, seat_ids | _live_seat_ids(session, list(others)))
    if _live_claims(session, seat_ids, exclude=others | {hold.id}):
        raise StaleRead
    freed = _retire(
        session,
        _describe(list(others)),
        now,
        HoldStatus.EXPIRED,
        "taken after expiry",
        actor_id=None,
    )
    to_claim = seat_ids - _live_seat_ids(session, [hold.id])
    _claim(session, hold, to_claim, now)
    _move_counter(session, schedule, -len(to_claim), now, claiming=bool(to_claim))
    _publish_after_commit(hold.schedule_id, set(freed) | to_claim)
    return sorted(seats, key=lambda seat: seat.seat_number)


_ENDED = {
    HoldStatus.CONFIRMED: "This hold has already been paid for.",
    HoldStatus.CANCELLED: "You dropped this hold. Choose your seats again.",
    HoldStatus.RELEASED: "This hold was released by our staff. Choose your seats again.",
}


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
        hold = session.get(Reservation, hold_id)
        if hold is None or (customer_id is not None and hold.user_id != customer_id):
            raise NotFound("We could not find that hold.")
        locked = _lock_holds(session, {hold.id})[hold.id]
        if locked.status != HoldStatus.ACTIVE:
            if locked.status == HoldStatus.CONFIRMED:
                raise HoldError("This hold has already been paid for; cancel the booking instead.")
            return locked  # already ended: nothing to do
        _lock_seats(session, _live_seat_ids(session, [hold.id]))
        ended = _describe([hold.id])
        freed = _retire(session, ended, now, status, reason, actor_id=customer_id or admin_id)
        _publish_after_commit(hold.schedule_id, freed)
        on_commit(
            partial(
                _log_retired,
                "hold.released",
                ended[0],
                status=status.value,
                by=customer_id or admin_id,
                reason=reason,
            )
        )
    return locked


# ---- building blocks (inside a transaction) ----------------------------------------------------


@dataclass(frozen=True)
class _Claim:
    seat_id: uuid.UUID
    reservation_id: uuid.UUID
    status: HoldStatus
    expires_at: datetime


def _clean_numbers(seat_numbers: Iterable[str]) -> list[str]:
    """Upper-cased, de-duplicated seat numbers; 1 to MAX_SEATS_PER_HOLD of them.

    :raise SeatChoiceError: for none, too many, or malformed numbers.
    """
    limit = current_app.config["MAX_SEATS_PER_HOLD"]
    numbers = list(dict.fromkeys(str(n).strip().upper() for n in seat_numbers if str(n).strip()))
    if not numbers:
        raise SeatChoiceError("Choose at least one seat.")
    if len(numbers) > limit:
        raise SeatChoiceError(
            f"You can hold at most {limit} seats at a time; you chose {len(numbers)}."
        )
    bad = [n for n in numbers if not re.fullmatch(r"[A-Z0-9]{1,8}", n)]
    if bad:
        what = "is no seat" if len(bad) == 1 else "are no seats"
        raise SeatChoiceError(f"There {what} {', '.join(bad)} on this bus.")
    return numbers


def _schedule_on_sale(session, schedule_id: uuid.UUID, now: datetime) -> Schedule:
    """The trip, if seats can be sold on it at ``now``.

    :raise NotFound: unknown trip; HoldError: departed, cancelled, or past the sales cutoff.
    """
    schedule = session.get(Schedule, schedule_id)
    if schedule is None:
        raise NotFound("We could not find that trip.")
    _require_on_sale(schedule, now)
    return schedule


def _require_on_sale(schedule: Schedule, now: datetime) -> None:
    """:raise HoldError: when the trip was cancelled, has left, or is past the sales cutoff."""
    if schedule.status == ScheduleStatus.CANCELLED:
        raise HoldError("This trip has been cancelled.")
    if schedule.status != ScheduleStatus.SCHEDULED or schedule.departure_at <= now:
        raise HoldError("This bus has already left.")
    cutoff = timedelta(minutes=current_app.config["SALES_CUTOFF_MINUTES"])
    if now >= schedule.departure_at - cutoff:
        minutes = current_app.config["SALES_CUTOFF_MINUTES"]
        raise HoldError(f"Sales for this trip closed {minutes} minutes before departure.")


def _seats_by_number(session, schedule_id: uuid.UUID, numbers: list[str]) -> list[Seat]:
    """The trip's seats with these numbers.

    :raise SeatChoiceError: naming any number that is not a seat of this trip.
    """
    seats = list(
        session.scalars(
            select(Seat).where(Seat.schedule_id == schedule_id, Seat.seat_number.in_(numbers))
        )
    )
    missing = sorted(set(numbers) - {seat.seat_number for seat in seats})
    if missing:
        what = "is no seat" if len(missing) == 1 else "are no seats"
        raise SeatChoiceError(f"There {what} {', '.join(missing)} on this bus.")
    return seats


def _live_claims(session, seat_ids: set, exclude: set | None = None) -> list[_Claim]:
    """The live claims on these seats, with the status and expiry of the hold behind each."""
    if not seat_ids:
        return []
    query = (
        select(
            ReservationSeat.seat_id,
            ReservationSeat.reservation_id,
            Reservation.status,
            Reservation.expires_at,
        )
        .join(Reservation, Reservation.id == ReservationSeat.reservation_id)
        .where(ReservationSeat.seat_id.in_(seat_ids), ReservationSeat.is_live)
    )
    exclude = {i for i in (exclude or set()) if i is not None}
    if exclude:
        query = query.where(ReservationSeat.reservation_id.notin_(exclude))
    return [_Claim(*row) for row in session.execute(query)]


def _refuse_taken(claims: list[_Claim], seats: list[Seat], now: datetime, mine: set) -> None:
    """Refuse when any seat is claimed by a live hold that is not ``mine``, or is booked.

    :raise HoldError: naming the taken seats.
    """
    numbers = {seat.id: seat.seat_number for seat in seats}
    taken = sorted(
        numbers[c.seat_id]
        for c in claims
        if c.reservation_id not in mine and (c.status != HoldStatus.ACTIVE or c.expires_at > now)
    )
    if taken:
        label = "Seat" if len(taken) == 1 else "Seats"
        verb = "is" if len(taken) == 1 else "are"
        raise HoldError(
            f"{label} {', '.join(taken)} {verb} no longer available. Nothing was held; "
            "choose other seats.",
            taken=taken,
        )


def _lock_holds(session, hold_ids: set) -> dict[uuid.UUID, Reservation]:
    """Lock these holds in id order and return them fresh from the database."""
    hold_ids = {i for i in hold_ids if i is not None}
    if not hold_ids:
        return {}
    rows = session.scalars(
        select(Reservation)
        .where(Reservation.id.in_(sorted(hold_ids)))
        .order_by(Reservation.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {hold.id: hold for hold in rows}


def _lock_seats(session, seat_ids: set) -> None:
    """Lock these seats in id order (the fixed order that rules out deadlocks)."""
    if seat_ids:
        session.execute(
            select(Seat.id).where(Seat.id.in_(sorted(seat_ids))).order_by(Seat.id).with_for_update()
        )


def _live_seat_ids(session, hold_ids: list) -> set[uuid.UUID]:
    """The seats these holds claim now."""
    if not hold_ids:
        return set()
    return set(
        session.scalars(
            select(ReservationSeat.seat_id).where(
                ReservationSeat.reservation_id.in_(hold_ids), ReservationSeat.is_live
            )
        )
    )


def _claimed_seat_ids(session, hold: Reservation) -> list[uuid.UUID]:
    """Every seat a hold has claimed in its last stretch of life (live or released at its end)."""
    rows = session.execute(
        select(ReservationSeat.seat_id, ReservationSeat.is_live, ReservationSeat.released_at).where(
            ReservationSeat.reservation_id == hold.id
        )
    ).all()
    live = {seat for seat, is_live, _ in rows if is_live}
    if hold.status == HoldStatus.ACTIVE:
        return sorted(live)
    # An expired hold: the seats released when it ended are the ones it held last.
    return sorted({seat for seat, is_live, at in rows if not is_live and at == hold.ended_at})


def _describe(hold_ids: list) -> list[RetiredHold]:
    """Holds with the seats they claim now (one query)."""
    if not hold_ids:
        return []
    rows = db.session.execute(
        select(
            Reservation.id,
            Reservation.schedule_id,
            Reservation.user_id,
            Reservation.expires_at,
            ReservationSeat.seat_id,
            Seat.seat_number,
        )
        .outerjoin(
            ReservationSeat,
            (ReservationSeat.reservation_id == Reservation.id) & ReservationSeat.is_live,
        )
        .outerjoin(Seat, Seat.id == ReservationSeat.seat_id)
        .where(Reservation.id.in_(hold_ids))
        .order_by(Reservation.id)
    ).all()
    seats: dict[uuid.UUID, list] = defaultdict(list)
    meta = {}
    for hold_id, schedule_id, user_id, expires_at, seat_id, number in rows:
        meta[hold_id] = (schedule_id, user_id, expires_at)
        if seat_id is not None:
            seats[hold_id].append((seat_id, number))
    return [
        RetiredHold(
            h,
            *meta[h],
            seat_ids=tuple(sorted(seat_id for seat_id, _ in seats[h])),
            seat_numbers=tuple(sorted(number for _, number in seats[h])),
        )
        for h in meta
    ]


def _retire(
    session,
    holds: list[RetiredHold],
    now: datetime,
    status: HoldStatus,
    reason: str,
    actor_id: uuid.UUID | None,
) -> list[uuid.UUID]:
    """End holds (already locked) with set-based statements; returns the seats freed."""
    if not holds:
        return []
    ids = [h.id for h in holds]
    session.execute(
        update(Reservation)
        .where(Reservation.id.in_(ids), Reservation.status == HoldStatus.ACTIVE)
        .values(status=status, ended_at=now, end_reason=reason, updated_at=now)
        .execution_options(synchronize_session="fetch")
    )
    _lock_seats(session, {s for h in holds for s in h.seat_ids})
    freed = _release_claims(session, ids, None, now)
    action = {HoldStatus.EXPIRED: "hold.expired"}.get(status, f"hold.{status.value}")
    session.execute(
        insert(ActivityLog),
        [
            {
                "id": uuid.uuid4(),
                "entity_type": "reservation",
                "entity_id": str(hold.id),
                "user_id": actor_id,
                "action_type": action,
                "details": {
                    "reason": reason,
                    "schedule_id": str(hold.schedule_id),
                    "seat_ids": [str(s) for s in hold.seat_ids],
                },
                "ip_address": audit.client_ip.get(),
                "timestamp": now,
            }
            for hold in holds
        ],
    )
    # Last, so the hot schedule rows stay locked as briefly as possible: one statement gives
    # every trip back the seats released above (locked first, in id order, against deadlocks).
    schedule_ids = sorted({hold.schedule_id for hold in holds})
    session.execute(
        select(Schedule.id)
        .where(Schedule.id.in_(schedule_ids))
        .order_by(Schedule.id)
        .with_for_update()
    )
    gone = set(freed)
    given_back: dict[uuid.UUID, int] = defaultdict(int)
    for hold in holds:
        given_back[hold.schedule_id] += len(gone.intersection(hold.seat_ids))
    session.execute(
        update(Schedule)
        .where(Schedule.id.in_(schedule_ids))
        .values(
            available_seats=Schedule.available_seats + case(given_back, value=Schedule.id, else_=0),
            seat_version=Schedule.seat_version + 1,
        )
        .execution_options(synchronize_session=False)
    )
    return freed


def _release_claims(session, hold_ids: list, seat_ids: set | None, now: datetime) -> list:
    """End the live claims of these holds (on ``seat_ids`` only, when given); free the seats."""
    if seat_ids is not None and not seat_ids:
        return []
    statement = (
        update(ReservationSeat)
        .where(ReservationSeat.reservation_id.in_(hold_ids), ReservationSeat.is_live)
        .values(is_live=False, released_at=now, updated_at=now)
        .returning(ReservationSeat.seat_id)
        .execution_options(synchronize_session=False)
    )
    if seat_ids is not None:
        statement = statement.where(ReservationSeat.seat_id.in_(seat_ids))
    freed = list(session.scalars(statement))
    if freed:
        session.execute(
            update(Seat)
            .where(Seat.id.in_(freed))
            .values(status=SeatStatus.AVAILABLE, updated_at=now)
            .execution_options(synchronize_session=False)
        )
    return freed


def _new_hold(session, customer_id, sold_by_id, schedule_id, now: datetime, total) -> Reservation:
    """A new active hold lasting HOLD_MINUTES, priced at ``total``."""
    hold = Reservation(
        total_amount=total,
        user_id=customer_id,
        sold_by_id=sold_by_id,
        channel=Channel.DESK if sold_by_id else Channel.ONLINE,
        schedule_id=schedule_id,
        reserved_at=now,
        expires_at=now + timedelta(minutes=current_app.config["HOLD_MINUTES"]),
        created_at=now,
        updated_at=now,
    )
    session.add(hold)
    session.flush()
    return hold


def _claim(session, hold: Reservation, seat_ids: set, now: datetime) -> None:
    """Claim free, locked seats for a hold: live claim rows, seats marked reserved."""
    if not seat_ids:
        return
    session.execute(
        insert(ReservationSeat),
        [
            {
                "id": uuid.uuid4(),
                "reservation_id": hold.id,
                "seat_id": seat_id,
                "is_live": True,
                "created_at": now,
                "updated_at": now,
            }
            for seat_id in sorted(seat_ids)
        ],
    )
    result = session.execute(
        update(Seat)
        .where(Seat.id.in_(seat_ids), Seat.status == SeatStatus.AVAILABLE)
        .values(status=SeatStatus.RESERVED, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != len(seat_ids):
        raise StaleRead


def _move_counter(session, schedule: Schedule, delta: int, now: datetime, claiming: bool) -> None:
    """Move the trip's free-seat counter and version; refuse if the trip left sale meanwhile.

    :raise HoldError: when the trip was cancelled or closed while this transaction ran.
    """
    statement = (
        update(Schedule)
        .where(Schedule.id == schedule.id)
        .values(
            available_seats=Schedule.available_seats + delta,
            seat_version=Schedule.seat_version + 1,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if claiming:
        statement = statement.where(Schedule.status == ScheduleStatus.SCHEDULED)
    if session.execute(statement).rowcount != 1:
        raise HoldError("This trip is no longer on sale.")


def _numbers(seats: list[Seat], ids: set) -> list[str]:
    """Seat numbers of the given ids, sorted."""
    return sorted(seat.seat_number for seat in seats if seat.id in ids)


def _numbers_of(session, ids: set) -> list[str]:
    """Seat numbers for seat ids (one query, none when empty)."""
    if not ids:
        return []
    return sorted(session.scalars(select(Seat.seat_number).where(Seat.id.in_(ids))))


def _publish_after_commit(schedule_id: uuid.UUID, seat_ids: Iterable[uuid.UUID]) -> None:
    """Broadcast the changed seats once the transaction has committed."""
    changed = sorted(set(seat_ids))
    if changed:
        on_commit(lambda: realtime.seats_changed(schedule_id, changed))


def _log_after_commit(event: str, hold: Reservation, numbers: list[str], **fields) -> None:
    """A structured log line for a hold, written once the change is committed."""
    hold_id, schedule_id, user_id, expires = (
        hold.id,
        hold.schedule_id,
        hold.user_id,
        hold.expires_at,
    )
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


def _log_retired(event: str, hold: RetiredHold, **fields) -> None:
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


def with_retries(attempt: Callable[[], T], taken_message: str | None = None) -> T:
    """Run a transaction, retrying when a read went stale, a deadlock was broken, or the
    one-live-claim index refused a claim; a lock wait past the timeout becomes Busy.

    :raise Busy: when rows stayed locked; HoldError when retries ran out.
    """
    for _ in range(ATTEMPTS):
        try:
            return attempt()
        except StaleRead:
            continue
        except IntegrityError as error:
            if "reservation" not in str(error.orig):
                raise
            continue
        except OperationalError as error:
            code = getattr(error.orig, "sqlstate", None)
            if code == "40P01":  # deadlock detected: PostgreSQL aborted us; try again
                continue
            if code == "55P03" or "locked" in str(error.orig):
                raise Busy(
                    "Those seats are being booked by someone else right now. Try again in a moment."
                ) from error
            raise
    raise HoldError(taken_message or "The seats changed while we were working. Try again.")


__all__ = [
    "DomainError",
    "HoldError",
    "HoldSummary",
    "RetiredHold",
    "SeatChoiceError",
    "SweepResult",
    "active_holds",
    "admin_extend",
    "admin_release",
    "expire_holds",
    "extend_for_gateway",
    "get_hold",
    "held_seats",
    "hold_seats",
    "lapsed_holds",
    "live_hold_for",
    "reclaim_seats",
    "release_hold",
    "revive_hold",
    "with_retries",
]
