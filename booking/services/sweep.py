"""The sweep: retire holds whose expiry has passed, and give back wallet parts that abandoned
gateway payments still hold. Celery beat runs it every SWEEP_INTERVAL_SECONDS; so does
``flask holds expire``.

Nothing correct depends on the sweep having run (a lapsed hold already holds nothing); it tidies
state, writes the audit rows and log lines, emails the customers whose online holds lapsed
unpaid (``claims.retire``), and lets the seat maps know.

It never waits for a lock: a hold whose row, seats or trip row another transaction has locked
(a payment finishing, a clerk's sale) is skipped with SKIP LOCKED and left to the next sweep, so
one busy row never stops the others from being retired.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from sqlalchemy import func, select

from booking.database import unit_of_work, with_retries
from booking.errors import Busy
from booking.extensions import db
from booking.models import Reservation, Schedule, Seat
from booking.models.enums import HoldStatus
from booking.services import claims, refunds
from booking.services.claims import EndedHold
from booking.services.holds import log_ended

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepResult:
    """What a sweep retired (or, on a dry run, would retire), and the wallet parts it gave back."""

    retired: list[EndedHold]
    dry_run: bool = False
    wallet_parts_released: int = 0
    # Lapsed holds left for the next sweep because another transaction had them locked.
    skipped: int = 0


def run(now: datetime, batch_size: int = 2000) -> SweepResult:
    """The whole sweep: retire lapsed holds, then give back stranded wallet parts."""
    expired = expire_holds(now, batch_size=batch_size)
    try:
        released = refunds.release_stranded_wallet_parts(now)
    except Busy:  # a wallet row locked right now: the next sweep gives the rest back
        logger.warning("sweep: a wallet was locked; stranded wallet parts left for the next run")
        released = 0
    return SweepResult(
        retired=expired.retired, wallet_parts_released=released, skipped=expired.skipped
    )


def lapsed_holds(now: datetime, limit: int | None = None) -> list[EndedHold]:
    """Holds still marked active whose expiry has passed (what a sweep would retire)."""
    ids = select(Reservation.id).where(
        Reservation.status == HoldStatus.ACTIVE, Reservation.expires_at <= now
    )
    if limit is not None:
        ids = ids.order_by(Reservation.expires_at, Reservation.id).limit(limit)
    return claims.describe(list(db.session.scalars(ids)))


def expire_holds(now: datetime, batch_size: int = 2000, dry_run: bool = False) -> SweepResult:
    """Retire every hold past its expiry, in batches of set-based statements, in id order.

    Two sweeps at once never retire the same hold twice: each batch locks its holds with
    SKIP LOCKED, and a hold is retired only while still active. A hold locked elsewhere (its
    row, a seat or its trip's row) is skipped, counted in ``skipped``. A dry run changes nothing.
    """
    if dry_run:
        return SweepResult(retired=lapsed_holds(now), dry_run=True)
    retired: list[EndedHold] = []
    after: uuid.UUID | None = None
    while True:
        done, seen, last = with_retries(partial(_sweep_batch, now, batch_size, after))
        retired.extend(done)
        if seen < batch_size:
            break
        after = last
    skipped = db.session.scalar(
        select(func.count())
        .select_from(Reservation)
        .where(Reservation.status == HoldStatus.ACTIVE, Reservation.expires_at <= now)
    )
    db.session.rollback()  # end the read
    if skipped:
        logger.warning("sweep: %s lapsed hold(s) locked elsewhere, left for the next run", skipped)
    return SweepResult(retired=retired, skipped=skipped)


def _sweep_batch(
    now: datetime, batch_size: int, after: uuid.UUID | None
) -> tuple[list[EndedHold], int, uuid.UUID | None]:
    """Retire the lapsed holds among the next ``batch_size`` (by id, after ``after``) that are
    not locked elsewhere, in one transaction; returns them, how many were looked at, the last id.
    """
    with unit_of_work() as session:
        query = (
            select(Reservation.id)
            .where(Reservation.status == HoldStatus.ACTIVE, Reservation.expires_at <= now)
            .order_by(Reservation.id)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        )
        if after is not None:
            query = query.where(Reservation.id > after)
        ids = list(session.scalars(query))
        if not ids:
            return [], 0, None
        batch = _lock_the_rest(session, claims.describe(ids))
        claims.retire(session, batch, now, HoldStatus.EXPIRED, "lapsed", actor_id=None)
    for hold in batch:
        log_ended("hold.expired", hold, reason="lapsed")
    return batch, len(ids), ids[-1]


def _lock_the_rest(session, holds: list[EndedHold]) -> list[EndedHold]:
    """Lock the seats and trip rows of these (locked) holds without waiting, in the fixed order
    (seats, then trips, by id); keep only the holds whose every row this transaction now has."""
    seat_ids = sorted({seat for hold in holds for seat in hold.seat_ids})
    seats = set()
    if seat_ids:
        seats = set(
            session.scalars(
                select(Seat.id)
                .where(Seat.id.in_(seat_ids))
                .order_by(Seat.id)
                .with_for_update(skip_locked=True)
            )
        )
    holds = [hold for hold in holds if seats.issuperset(hold.seat_ids)]
    trip_ids = sorted({hold.schedule_id for hold in holds})
    if not trip_ids:
        return []
    trips = set(
        session.scalars(
            select(Schedule.id)
            .where(Schedule.id.in_(trip_ids))
            .order_by(Schedule.id)
            .with_for_update(skip_locked=True)
        )
    )
    return [hold for hold in holds if hold.schedule_id in trips]
