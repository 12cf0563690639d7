"""Seat claims: the one module that writes seat state.

A claim is a live reservation_seats row; a partial unique index allows one live claim per seat,
so two processes can never both win a seat. Every write of seat state goes through here: claim
(available -> reserved), release and retire (reserved -> available), book (reserved -> booked),
free (booked -> available), and the trip's free-seat counter and version that move with them.

Lock order, in every transaction that changes claims: the customer's user row (holds.py, for the
cap on live holds), then reservations (by id), then seats (by id), then the schedule row (its
counter), so two multi-seat holds cannot deadlock; a short lock
timeout (LOCK_TIMEOUT_MS) bounds any wait. On SQLite, BEGIN IMMEDIATE serialises writers.

Everything here runs inside the caller's unit of work and announces changed seats after commit.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import case, insert, select, update

from booking.database import StaleRead, on_commit, transaction_state
from booking.extensions import db
from booking.models import ActivityLog, Reservation, ReservationSeat, Schedule, Seat
from booking.models.enums import HoldStatus, ScheduleStatus, SeatStatus
from booking.services import audit, events, notifications
from booking.services.errors import Conflict, NotFound

MESSAGES = {
    "trip_not_found": "We could not find that trip.",
    "trip_cancelled": "This trip has been cancelled.",
    "trip_left": "This bus has already left.",
    "sales_closed": "Sales for this trip closed {minutes} minutes before departure.",
    "not_on_sale": "This trip is no longer on sale.",
    "no_such_seats": "There {what} {numbers} on this bus.",
    "taken": "{label} {numbers} {verb} no longer available. Nothing was held; choose other seats.",
    "claimed_seat_removed": "A seat that was held or sold cannot be removed from the trip.",
}


class HoldError(Conflict):
    """Seats could not be held, changed or taken back; nothing was changed."""


class SeatChoiceError(HoldError):
    """The seats asked for are not a valid choice (none, too many, not on this bus)."""

    status = 400


@dataclass(frozen=True)
class Claim:
    """A live claim on a seat, with the status and expiry of the hold behind it."""

    seat_id: uuid.UUID
    reservation_id: uuid.UUID
    status: HoldStatus
    expires_at: datetime


@dataclass(frozen=True)
class EndedHold:
    """A hold with the seats it claimed when it was ended (or is about to be)."""

    id: uuid.UUID
    schedule_id: uuid.UUID
    user_id: uuid.UUID | None
    expires_at: datetime
    seat_ids: tuple[uuid.UUID, ...]
    seat_numbers: tuple[str, ...] = ()


# ---- reading, inside the transaction ---------------------------------------------------------


def schedule_on_sale(session, schedule_id: uuid.UUID, now: datetime) -> Schedule:
    """The trip, if seats can be sold on it at ``now``.

    :raise NotFound: unknown trip; HoldError: departed, cancelled, or past the sales cutoff.
    """
    schedule = session.get(Schedule, schedule_id)
    if schedule is None:
        raise NotFound(MESSAGES["trip_not_found"])
    require_on_sale(schedule, now)
    return schedule


def require_on_sale(schedule: Schedule, now: datetime) -> None:
    """:raise HoldError: when the trip was cancelled, has left, or is past the sales cutoff."""
    if schedule.status == ScheduleStatus.CANCELLED:
        raise HoldError(MESSAGES["trip_cancelled"])
    if schedule.status != ScheduleStatus.SCHEDULED or schedule.departure_at <= now:
        raise HoldError(MESSAGES["trip_left"])
    minutes = current_app.config["SALES_CUTOFF_MINUTES"]
    if now >= schedule.departure_at - timedelta(minutes=minutes):
        raise HoldError(MESSAGES["sales_closed"].format(minutes=minutes))


def seats_by_number(session, schedule_id: uuid.UUID, numbers: list[str]) -> list[Seat]:
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
        raise no_such_seats(missing)
    return seats


def no_such_seats(numbers: list[str]) -> SeatChoiceError:
    """The refusal for seat numbers that are not on the bus."""
    what = "is no seat" if len(numbers) == 1 else "are no seats"
    return SeatChoiceError(MESSAGES["no_such_seats"].format(what=what, numbers=", ".join(numbers)))


def live_claims(session, seat_ids: set, exclude: set | None = None) -> list[Claim]:
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
    return [Claim(*row) for row in session.execute(query)]


def refuse_taken(claims: list[Claim], seats: list[Seat], now: datetime, mine: set) -> None:
    """Refuse when any seat is claimed by a live hold that is not ``mine``, or is booked.

    :raise HoldError: naming the taken seats (also in ``details['taken']``).
    """
    numbers = {seat.id: seat.seat_number for seat in seats}
    taken = sorted(
        numbers[c.seat_id]
        for c in claims
        if c.reservation_id not in mine and (c.status != HoldStatus.ACTIVE or c.expires_at > now)
    )
    if taken:
        one = len(taken) == 1
        raise HoldError(
            MESSAGES["taken"].format(
                label="Seat" if one else "Seats",
                numbers=", ".join(taken),
                verb="is" if one else "are",
            ),
            taken=taken,
        )


def live_seat_ids(session, hold_ids: list) -> set[uuid.UUID]:
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


def last_seat_ids(session, hold: Reservation) -> list[uuid.UUID]:
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


def numbers_of(session, ids: Iterable[uuid.UUID]) -> list[str]:
    """Seat numbers for seat ids (one query, none when empty)."""
    ids = set(ids)
    if not ids:
        return []
    return sorted(session.scalars(select(Seat.seat_number).where(Seat.id.in_(ids))))


def describe(hold_ids: list) -> list[EndedHold]:
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
        EndedHold(
            h,
            *meta[h],
            seat_ids=tuple(sorted(seat_id for seat_id, _ in seats[h])),
            seat_numbers=tuple(sorted(number for _, number in seats[h])),
        )
        for h in meta
    ]


# ---- locking, in the fixed order -----------------------------------------------------------


def lock_holds(session, hold_ids: set) -> dict[uuid.UUID, Reservation]:
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


def lock_hold(session, hold_id: uuid.UUID) -> Reservation | None:
    """Lock one hold row and return it fresh (None for an unknown hold)."""
    return lock_holds(session, {hold_id}).get(hold_id)


def lock_seats(session, seat_ids: set) -> None:
    """Lock these seats in id order (the fixed order that rules out deadlocks)."""
    if seat_ids:
        session.execute(
            select(Seat.id).where(Seat.id.in_(sorted(seat_ids))).order_by(Seat.id).with_for_update()
        )


# ---- writing seat state ------------------------------------------------------------------------


def claim(session, hold: Reservation, seat_ids: set, now: datetime) -> None:
    """Claim free, locked seats for a hold: live claim rows, seats marked reserved.

    :raise StaleRead: when a seat stopped being available meanwhile.
    """
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


def release(session, hold_ids: list, seat_ids: set | None, now: datetime) -> list[uuid.UUID]:
    """End the live claims of these holds (on ``seat_ids`` only, when given); free the seats.

    The counter is the caller's to move (see ``move_counter``); returns the seats freed.
    """
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


def retire(
    session,
    holds: list[EndedHold],
    now: datetime,
    status: HoldStatus,
    reason: str,
    actor_id: uuid.UUID | None,
) -> list[uuid.UUID]:
    """End holds (already locked) with set-based statements: their status, their claims, one
    audit row each, every trip's counter and, for lapsed (expired) holds, the customer's email.
    Returns the seats freed."""
    if not holds:
        return []
    ids = [h.id for h in holds]
    session.execute(
        update(Reservation)
        .where(Reservation.id.in_(ids), Reservation.status == HoldStatus.ACTIVE)
        .values(status=status, ended_at=now, end_reason=reason, updated_at=now)
        .execution_options(synchronize_session="fetch")
    )
    lock_seats(session, {s for h in holds for s in h.seat_ids})
    freed = release(session, ids, None, now)
    _audit_retired(session, holds, now, status, reason, actor_id)
    if status == HoldStatus.EXPIRED:
        notifications.queue_hold_expired(holds, now)
    # Last, so the hot schedule rows stay locked as briefly as possible: one statement gives
    # every trip back the seats released above (locked first, in id order, against deadlocks).
    gone = set(freed)
    given_back: dict[uuid.UUID, int] = defaultdict(int)
    for hold in holds:
        given_back[hold.schedule_id] += len(gone.intersection(hold.seat_ids))
    _give_back(session, given_back)
    by_trip: dict[uuid.UUID, set] = defaultdict(set)
    for hold in holds:
        by_trip[hold.schedule_id].update(gone.intersection(hold.seat_ids))
    for schedule_id, seat_ids in by_trip.items():
        announce_seats(schedule_id, seat_ids)
    return freed


def _audit_retired(session, holds, now, status: HoldStatus, reason, actor_id) -> None:
    """One activity row per retired hold, in one statement, naming its seats by number (one
    query for the whole batch) so the log reads "Seats 4C, 4D"."""
    action = f"hold.{status.value}"
    wanted = {seat for hold in holds for seat in hold.seat_ids}
    numbers = (
        dict(session.execute(select(Seat.id, Seat.seat_number).where(Seat.id.in_(wanted))).all())
        if wanted
        else {}
    )
    session.execute(
        insert(ActivityLog.__table__),  # Core: no per-row ORM bookkeeping for a batch
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
                    "seats": sorted(numbers[s] for s in hold.seat_ids if s in numbers),
                    "seat_ids": [str(s) for s in hold.seat_ids],
                },
                "ip_address": audit.client_ip.get(),
                "timestamp": now,
            }
            for hold in holds
        ],
    )


def _give_back(session, counts: dict[uuid.UUID, int]) -> None:
    """Add freed seats back to several trips' counters (locked in id order) in one statement."""
    schedule_ids = sorted(counts)
    session.execute(
        select(Schedule.id)
        .where(Schedule.id.in_(schedule_ids))
        .order_by(Schedule.id)
        .with_for_update()
    )
    session.execute(
        update(Schedule)
        .where(Schedule.id.in_(schedule_ids))
        .values(
            available_seats=Schedule.available_seats + case(counts, value=Schedule.id, else_=0),
            seat_version=Schedule.seat_version + 1,
        )
        .execution_options(synchronize_session=False)
    )


def book(session, schedule_id: uuid.UUID, seat_ids: list[uuid.UUID], now: datetime) -> None:
    """Reserved seats become booked (the claims stay live: a booking keeps its seats).

    :raise StaleRead: when a seat was not reserved any more.
    """
    booked = session.execute(
        update(Seat)
        .where(Seat.id.in_(seat_ids), Seat.status == SeatStatus.RESERVED)
        .values(status=SeatStatus.BOOKED, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if booked.rowcount != len(seat_ids):
        raise StaleRead
    move_counter(session, schedule_id, 0, now)
    announce_seats(schedule_id, seat_ids)


def free(
    session, hold_id: uuid.UUID, schedule_id: uuid.UUID, seat_ids: list[uuid.UUID], now: datetime
) -> None:
    """Booked seats of a cancelled booking become available and go back to the counter."""
    lock_seats(session, set(seat_ids))
    session.execute(
        update(ReservationSeat)
        .where(
            ReservationSeat.reservation_id == hold_id,
            ReservationSeat.seat_id.in_(seat_ids),
            ReservationSeat.is_live,
        )
        .values(is_live=False, released_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Seat)
        .where(Seat.id.in_(seat_ids))
        .values(status=SeatStatus.AVAILABLE, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    move_counter(session, schedule_id, len(seat_ids), None)
    announce_seats(schedule_id, seat_ids)


def move_counter(
    session, schedule_id: uuid.UUID, delta: int, now: datetime | None, claiming: bool = False
) -> None:
    """Move the trip's free-seat counter by ``delta`` and bump its seat version; when
    ``claiming``, refuse if the trip left sale meanwhile (``now`` None keeps updated_at).

    :raise HoldError: when the trip was cancelled or closed while this transaction ran.
    """
    values = {
        "available_seats": Schedule.available_seats + delta,
        "seat_version": Schedule.seat_version + 1,
    }
    if now is not None:
        values["updated_at"] = now
    statement = (
        update(Schedule)
        .where(Schedule.id == schedule_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if claiming:
        statement = statement.where(Schedule.status == ScheduleStatus.SCHEDULED)
    if session.execute(statement).rowcount != 1 and claiming:
        raise HoldError(MESSAGES["not_on_sale"])


def announce_seats(schedule_id: uuid.UUID, seat_ids: Iterable[uuid.UUID]) -> None:
    """Tell the seat maps about these seats once the transaction has committed: one
    announcement per trip and transaction, however many steps changed its seats."""
    changed = set(seat_ids)
    if not changed:
        return
    state = transaction_state()
    pending: dict[uuid.UUID, set] | None = state.get(_PENDING)
    if pending is None:
        pending = state[_PENDING] = defaultdict(set)
        on_commit(lambda: _announce(pending))
    pending[schedule_id] |= changed


_PENDING = "claims.changed_seats"


def _announce(pending: dict[uuid.UUID, set]) -> None:
    """After commit: announce every trip's changed seats gathered during the transaction."""
    for schedule_id, seat_ids in pending.items():
        events.send(events.seats_changed, schedule_id, seat_ids=sorted(seat_ids))


# ---- taking seats back ------------------------------------------------------------------------


def retake(hold: Reservation, now: datetime) -> list[Seat]:
    """With ``hold`` locked: make the seats it had when it lapsed its live claims again,
    retiring other lapsed holds on them. Its status and expiry are the caller's business
    (revive makes it active again; a late payment confirms it).

    :raise HoldError: naming any seat someone else holds or booked, or when the trip is no
        longer on sale; StaleRead when claims moved under us (the caller retries).
    """
    session = db.session
    schedule = schedule_on_sale(session, hold.schedule_id, now)
    seat_ids = set(last_seat_ids(session, hold))
    seats = list(session.scalars(select(Seat).where(Seat.id.in_(seat_ids))))
    if not seats:
        raise HoldError("This hold has no seats to take back. Choose your seats again.")
    claims = live_claims(session, seat_ids)
    refuse_taken(claims, seats, now, mine={hold.id})
    others = {c.reservation_id for c in claims if c.reservation_id != hold.id}
    retiring = list(lock_holds(session, others).values())
    if any(h.status != HoldStatus.ACTIVE or h.expires_at > now for h in retiring):
        raise StaleRead
    lock_seats(session, seat_ids | live_seat_ids(session, list(others)))
    if live_claims(session, seat_ids, exclude=others | {hold.id}):
        raise StaleRead
    retire(session, describe(list(others)), now, HoldStatus.EXPIRED, "taken after expiry", None)
    to_claim = seat_ids - live_seat_ids(session, [hold.id])
    claim(session, hold, to_claim, now)
    move_counter(session, schedule.id, -len(to_claim), now, claiming=bool(to_claim))
    announce_seats(hold.schedule_id, to_claim)
    return sorted(seats, key=lambda seat: seat.seat_number)


# ---- a trip moved to another bus ----------------------------------------------------------------


def refit_seats(session, schedule_id: uuid.UUID, specs: list, now: datetime) -> tuple[int, int]:
    """Fit a trip's seat rows (already locked) to another bus's layout: a seat whose number is
    on both buses keeps its row, and so its claims and history, with the new position, type and
    extra; seats only on the new bus are added free; seats only on the old one are deleted.
    The caller has made sure no seat being deleted was ever claimed. Returns (added, removed).

    :raise HoldError: when a seat to delete has a claim after all (nothing is changed then).
    """
    rows = session.execute(select(Seat.id, Seat.seat_number).where(Seat.schedule_id == schedule_id))
    current = {number: seat_id for seat_id, number in rows}
    wanted = {spec.number: spec for spec in specs}
    gone = [current[n] for n in current if n not in wanted]
    if gone and session.scalar(
        select(ReservationSeat.id).where(ReservationSeat.seat_id.in_(gone)).limit(1)
    ):
        raise HoldError(MESSAGES["claimed_seat_removed"])
    kept = [
        {"id": current[n], **s.columns(), "updated_at": now}
        for n, s in wanted.items()
        if n in current
    ]
    fresh = {"schedule_id": schedule_id, "status": SeatStatus.AVAILABLE, "created_at": now}
    added = [
        {"id": uuid.uuid4(), "seat_number": n, **fresh, **s.columns(), "updated_at": now}
        for n, s in wanted.items()
        if n not in current
    ]
    if gone:
        session.execute(Seat.__table__.delete().where(Seat.id.in_(gone)))
    if kept:
        session.execute(update(Seat), kept)
    if added:
        session.execute(insert(Seat), added)
    move_counter(session, schedule_id, len(added) - len(gone), now)
    announce_seats(schedule_id, [row["id"] for row in kept + added])
    return len(added), len(gone)
