"""The sweep: retire holds whose expiry has passed, and give back wallet parts that abandoned
gateway payments still hold. Celery beat runs it every SWEEP_INTERVAL_SECONDS; so does
``flask holds expire``.

Nothing correct depends on the sweep having run (a lapsed hold already holds nothing); it tidies
state, writes the audit rows and log lines, and lets the seat maps know.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from booking.database import unit_of_work, with_retries
from booking.extensions import db
from booking.models import Reservation
from booking.models.enums import HoldStatus
from booking.services import claims, refunds
from booking.services.claims import EndedHold
from booking.services.holds import log_ended


@dataclass(frozen=True)
class SweepResult:
    """What a sweep retired (or, on a dry run, would retire), and the wallet parts it gave back."""

    retired: list[EndedHold]
    dry_run: bool = False
    wallet_parts_released: int = 0


def run(now: datetime, batch_size: int = 2000) -> SweepResult:
    """The whole sweep: retire lapsed holds, then give back stranded wallet parts."""
    retired = expire_holds(now, batch_size=batch_size).retired
    released = refunds.release_stranded_wallet_parts(now)
    return SweepResult(retired=retired, wallet_parts_released=released)


def lapsed_holds(now: datetime, limit: int | None = None) -> list[EndedHold]:
    """Holds still marked active whose expiry has passed (what a sweep would retire)."""
    ids = select(Reservation.id).where(
        Reservation.status == HoldStatus.ACTIVE, Reservation.expires_at <= now
    )
    if limit is not None:
        ids = ids.order_by(Reservation.expires_at, Reservation.id).limit(limit)
    return claims.describe(list(db.session.scalars(ids)))


def expire_holds(now: datetime, batch_size: int = 2000, dry_run: bool = False) -> SweepResult:
    """Retire every hold past its expiry, in batches of set-based statements.

    Two sweeps at once never retire the same hold twice: each batch locks its holds with
    SKIP LOCKED, and a hold is retired only while still active. A dry run changes nothing.
    """
    if dry_run:
        return SweepResult(retired=lapsed_holds(now), dry_run=True)
    retired: list[EndedHold] = []
    while True:
        done = with_retries(lambda: _sweep_batch(now, batch_size))
        retired.extend(done)
        if len(done) < batch_size:
            break
    return SweepResult(retired=retired)


def _sweep_batch(now: datetime, batch_size: int) -> list[EndedHold]:
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
        batch = claims.describe(ids)
        claims.retire(session, batch, now, HoldStatus.EXPIRED, "lapsed", actor_id=None)
    for hold in batch:
        log_ended("hold.expired", hold, reason="lapsed")
    return batch
