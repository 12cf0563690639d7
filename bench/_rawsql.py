"""The baseline: the same claim and release as the hold service, as a faithful minimal transaction
in raw SQL through psycopg 3 (no ORM, no audit rows, no pricing, no broadcasts).

Claim:   lock the wanted seat rows FOR UPDATE in id order; mark them reserved only where still
         available (the conditional UPDATE decides winner and loser); insert the hold and its live
         claim rows (the partial unique index still guards them); move the trip's counter.
Release: lock the hold, lock its seats in id order, end the hold, end its claims, free the seats,
         move the counter back.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

CLAIM_LOCK = (
    "SELECT id FROM seats WHERE schedule_id = %s AND seat_number = ANY(%s) ORDER BY id FOR UPDATE"
)
CLAIM_MARK = (
    "UPDATE seats SET status = 'reserved', updated_at = %s "
    "WHERE id = ANY(%s) AND status = 'available'"
)
CLAIM_HOLD = (
    "INSERT INTO reservations (id, user_id, channel, schedule_id, reserved_at, expires_at, "
    "gateway_extended, status, total_amount, created_at, updated_at) "
    "VALUES (%s, %s, 'online', %s, %s, %s, false, 'active', %s, %s, %s)"
)
CLAIM_ROWS = (
    "INSERT INTO reservation_seats (id, reservation_id, seat_id, is_live, created_at, updated_at) "
    "SELECT gen_random_uuid(), %s, s, true, %s, %s FROM unnest(%s::uuid[]) AS s"
)
CLAIM_COUNTER = (
    "UPDATE schedules SET available_seats = available_seats - %s, "
    "seat_version = seat_version + 1, updated_at = %s WHERE id = %s AND status = 'scheduled'"
)
RELEASE_LOCK_HOLD = "SELECT status FROM reservations WHERE id = %s FOR UPDATE"
RELEASE_SEATS = (
    "SELECT id FROM seats WHERE id IN "
    "(SELECT seat_id FROM reservation_seats WHERE reservation_id = %s AND is_live) "
    "ORDER BY id FOR UPDATE"
)
RELEASE_HOLD = (
    "UPDATE reservations SET status = 'cancelled', ended_at = %s, end_reason = 'dropped', "
    "updated_at = %s WHERE id = %s AND status = 'active'"
)
RELEASE_ROWS = (
    "UPDATE reservation_seats SET is_live = false, released_at = %s, updated_at = %s "
    "WHERE reservation_id = %s AND is_live"
)
RELEASE_MARK = "UPDATE seats SET status = 'available', updated_at = %s WHERE id = ANY(%s)"
RELEASE_COUNTER = (
    "UPDATE schedules SET available_seats = available_seats + %s, "
    "seat_version = seat_version + 1, updated_at = %s WHERE id = %s"
)
FREE_SEATS = "SELECT seat_number FROM seats WHERE schedule_id = %s AND status = 'available'"


class Lost(Exception):
    """The claim lost: a wanted seat was no longer available; nothing was changed."""


def claim(pg, schedule_id: uuid.UUID, customer_id: uuid.UUID, numbers: list[str], now: datetime):
    """One claim transaction on a psycopg connection; returns the new hold id.

    :raise Lost: when any wanted seat was taken (the transaction is rolled back).
    """
    try:
        with pg.cursor() as cur:
            cur.execute(CLAIM_LOCK, (schedule_id, numbers))
            ids = [row[0] for row in cur.fetchall()]
            cur.execute(CLAIM_MARK, (now, ids))
            if len(ids) != len(numbers) or cur.rowcount != len(ids):
                raise Lost(numbers)
            hold_id = uuid.uuid4()
            cur.execute(
                CLAIM_HOLD,
                (hold_id, customer_id, schedule_id, now, now + timedelta(minutes=15), 0, now, now),
            )
            cur.execute(CLAIM_ROWS, (hold_id, now, now, ids))
            cur.execute(CLAIM_COUNTER, (len(ids), now, schedule_id))
        pg.commit()
        return hold_id
    except BaseException:
        pg.rollback()
        raise


def release(pg, schedule_id: uuid.UUID, hold_id: uuid.UUID, now: datetime) -> int:
    """One release transaction; returns the number of seats freed."""
    try:
        with pg.cursor() as cur:
            cur.execute(RELEASE_LOCK_HOLD, (hold_id,))
            cur.execute(RELEASE_SEATS, (hold_id,))
            ids = [row[0] for row in cur.fetchall()]
            cur.execute(RELEASE_HOLD, (now, now, hold_id))
            cur.execute(RELEASE_ROWS, (now, now, hold_id))
            cur.execute(RELEASE_MARK, (now, ids))
            cur.execute(RELEASE_COUNTER, (len(ids), now, schedule_id))
        pg.commit()
        return len(ids)
    except BaseException:
        pg.rollback()
        raise


def free_seats(pg, schedule_id: uuid.UUID) -> list[str]:
    """The seat numbers still available (what a refreshed seat map would offer)."""
    with pg.cursor() as cur:
        cur.execute(FREE_SEATS, (schedule_id,))
        rows = [row[0] for row in cur.fetchall()]
    pg.commit()
    return rows
