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
    SKIP LOCKED, and a hold is retired only while still active. A hold whose row or seats are
    locked elsewhere is skipped; a trip row locked past LOCK_TIMEOUT_MS makes that batch go one
    hold at a time without waiting, skipping that trip's holds. Skipped holds are counted in
    ``skipped`` and left to the next sweep. A dry run changes nothing.
    """
    if dry_run:
        return SweepResult(retired=lapsed_holds(now), dry_run=True)
    retired: list[EndedHold] = []
    after: uuid.UUID | None = None
    while True:
        try:
            done, seen, last = with_retries(partial(_sweep_batch, now, batch_size, after))
        except Busy:
            done, seen, last = _sweep_one_by_one(now, batch_size, after)
        retired.extend(done)
        if seen < batch_size:
            break
        after = last
    skipped = db.session.scalar(_lapsed(now, None).order_by(None).with_only_columns(func.count()))
    db.session.rollback()  # end the read
    if skipped:
        logger.warning("sweep: %s lapsed hold(s) locked elsewhere, left for the next run", skipped)
    return SweepResult(retired=retired, skipped=skipped)


def _lapsed(now: datetime, after: uuid.UUID | None):
    """The ids of holds still active past their expiry (after ``after``), in id order."""
    query = (
        select(Reservation.id)
        .where(Reservation.status == HoldStatus.ACTIVE, Reservation.expires_at <= now)
        .order_by(Reservation.id)
    )
    return query if after is None else query.where(Reservation.id > after)


def _sweep_batch(
    now: datetime, batch_size: int, after: uuid.UUID | None
) -> tuple[list[EndedHold], int, uuid.UUID | None]:
    """Retire the next ``batch_size`` lapsed holds (by id, after ``after``) that are not locked
    elsewhere, in one transaction; returns them, how many were looked at and the last id.

    :raise Busy: when a trip row stayed locked past the lock timeout (nothing was retired).
    """
    with unit_of_work() as session:
        query = _lapsed(now, after).limit(batch_size).with_for_update(skip_locked=True)
        ids = list(session.scalars(query))
        if not ids:
            return [], 0, None
        batch = _retire_unlocked(session, ids, now, wait_for_trips=True)
    for hold in batch:
        log_ended("hold.expired", hold, reason="lapsed")
    return batch, len(ids), ids[-1]


def _sweep_one_by_one(
    now: datetime, batch_size: int, after: uuid.UUID | None
) -> tuple[list[EndedHold], int, uuid.UUID | None]:
    """The same batch, one hold per transaction, never waiting for a lock: a hold whose trip
    row is locked is skipped (after a trip row held past the lock timeout)."""
    ids = list(db.session.scalars(_lapsed(now, after).limit(batch_size)))
    db.session.rollback()  # end the read
    done: list[EndedHold] = []
    for hold_id in ids:
        try:
            done.extend(with_retries(partial(_sweep_hold, now, hold_id)))
        except Busy:
            continue
    return done, len(ids), ids[-1] if ids else None


def _sweep_hold(now: datetime, hold_id: uuid.UUID) -> list[EndedHold]:
    """Retire one lapsed hold if nothing of it is locked elsewhere.

    :raise Busy: when its trip row is locked (NOWAIT).
    """
    with unit_of_work() as session:
        query = _lapsed(now, None).where(Reservation.id == hold_id)
        ids = list(session.scalars(query.with_for_update(skip_locked=True)))
        done = _retire_unlocked(session, ids, now, wait_for_trips=False) if ids else []
    for hold in done:
        log_ended("hold.expired", hold, reason="lapsed")
    return done


def _retire_unlocked(session, ids: list, now: datetime, wait_for_trips: bool) -> list[EndedHold]:
    """Retire these (locked) holds whose seats this transaction can lock without waiting; the
    trip rows, hot but held briefly, are waited for (up to the lock timeout) or, when not
    ``wait_for_trips``, locked NOWAIT. Lock order: seats, then trips, each by id."""
    holds = claims.describe(ids)
    seat_ids = sorted({seat for hold in holds for seat in hold.seat_ids})
    mine = set()
    if seat_ids:
        mine = set(
            session.scalars(
                select(Seat.id)
                .where(Seat.id.in_(seat_ids))
                .order_by(Seat.id)
                .with_for_update(skip_locked=True)
            )
        )
    holds = [hold for hold in holds if mine.issuperset(hold.seat_ids)]
    trip_ids = sorted({hold.schedule_id for hold in holds})
    if not trip_ids:
        return []
    session.execute(
        select(Schedule.id)
        .where(Schedule.id.in_(trip_ids))
        .order_by(Schedule.id)
        .with_for_update(nowait=not wait_for_trips)
    )
    claims.retire(session, holds, now, HoldStatus.EXPIRED, "lapsed", actor_id=None)
    return holds
