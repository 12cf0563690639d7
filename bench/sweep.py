"""Benchmark 2: the sweep. 10,000 lapsed holds (one seat each, on 250 full 40-seat trips, put in
with bulk inserts like tests/test_holds_concurrency.py does for 1,000) retired by
sweep.expire_holds; beside it, on the same data reset between repetitions, a plain
`UPDATE reservations SET status = 'expired' WHERE ...` and a full set-based sweep in one SQL
statement (holds, claims, seats, counters and one audit row per hold), so the ratios say how far
the service is from the floor and from the same work done in SQL.

    .venv/bin/python -m bench.sweep [--holds 10000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

from booking.services import sweep

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    Goal,
    bench_database,
    cprofile_call,
    dispose,
    goals_table,
    insert_customers,
    machine_line,
    make_app,
    make_trips,
    median,
    profile_call,
    quiet_app_logs,
    table,
    utcnow,
)

PLAIN = (
    "UPDATE reservations SET status = 'expired', ended_at = %(now)s, end_reason = 'lapsed', "
    "updated_at = %(now)s WHERE status = 'active' AND expires_at <= %(now)s"
)
FULL_SQL = """
WITH r AS (
    UPDATE reservations SET status = 'expired', ended_at = %(now)s, end_reason = 'lapsed',
           updated_at = %(now)s
    WHERE status = 'active' AND expires_at <= %(now)s
    RETURNING id, schedule_id
), c AS (
    UPDATE reservation_seats rs SET is_live = false, released_at = %(now)s, updated_at = %(now)s
    FROM r WHERE rs.reservation_id = r.id AND rs.is_live
    RETURNING rs.seat_id, r.schedule_id, r.id AS hold_id
), s AS (
    UPDATE seats SET status = 'available', updated_at = %(now)s FROM c WHERE seats.id = c.seat_id
    RETURNING seats.id
), k AS (
    UPDATE schedules SET available_seats = available_seats + n.freed,
           seat_version = seat_version + 1, updated_at = %(now)s
    FROM (SELECT schedule_id, count(*) AS freed FROM c GROUP BY schedule_id) n
    WHERE schedules.id = n.schedule_id
    RETURNING schedules.id
)
INSERT INTO activity_logs (id, entity_type, entity_id, user_id, action_type, details, timestamp)
SELECT gen_random_uuid(), 'reservation', r.id::text, NULL, 'hold.expired',
       json_build_object('reason', 'lapsed', 'schedule_id', r.schedule_id::text,
                         'seat_ids', coalesce(a.seat_ids, '[]'::json)),
       %(now)s
FROM r LEFT JOIN (SELECT hold_id, json_agg(seat_id::text) AS seat_ids FROM c GROUP BY hold_id) a
     ON a.hold_id = r.id
"""
RESET = [
    "UPDATE reservations SET status = 'active', ended_at = NULL, end_reason = NULL",
    "UPDATE reservation_seats SET is_live = true, released_at = NULL",
    "UPDATE seats SET status = 'reserved' WHERE id IN (SELECT seat_id FROM reservation_seats)",
    "UPDATE schedules SET available_seats = 40 - (SELECT count(*) FROM reservation_seats rs "
    "JOIN seats ON seats.id = rs.seat_id WHERE seats.schedule_id = schedules.id)",
    "DELETE FROM activity_logs",
]


def build(app, count: int, now):
    """``count`` lapsed one-seat holds on full trips, by bulk inserts; returns the sweep time."""
    from sqlalchemy import insert, select, text

    from booking.extensions import db
    from booking.models import Reservation, ReservationSeat, Seat
    from booking.models.enums import HoldStatus

    trips = make_trips((count + 39) // 40, now=now)
    owners = insert_customers(count, now=now)
    seats = db.session.execute(
        select(Seat.id, Seat.schedule_id).where(Seat.schedule_id.in_(trips))
    ).all()[:count]
    reserved = now - timedelta(minutes=30)
    holds, claims = [], []
    for owner, (seat_id, schedule_id) in zip(owners, seats, strict=True):
        hold_id = uuid.uuid4()
        holds.append(
            {
                "id": hold_id,
                "user_id": owner,
                "schedule_id": schedule_id,
                "reserved_at": reserved,
                "expires_at": reserved + timedelta(minutes=15),
                "status": HoldStatus.ACTIVE,
                "total_amount": 0,
                "created_at": reserved,
                "updated_at": reserved,
            }
        )
        claims.append(
            {
                "id": uuid.uuid4(),
                "reservation_id": hold_id,
                "seat_id": seat_id,
                "is_live": True,
                "created_at": reserved,
                "updated_at": reserved,
            }
        )
    for start in range(0, count, 5000):
        db.session.execute(insert(Reservation), holds[start : start + 5000])
        db.session.execute(insert(ReservationSeat), claims[start : start + 5000])
    db.session.commit()
    # Only the claimed seats are taken (the last trip may be part full when count % 40 != 0).
    for statement in RESET[2:4]:
        db.session.execute(text(statement))
    db.session.commit()


def reset(app) -> None:
    """Put every hold back to lapsed-but-active, as built, and vacuum (outside the timing)."""
    from booking.extensions import db

    with app.app_context():
        proxy = db.engine.raw_connection()
        try:
            pg = proxy.driver_connection
            with pg.cursor() as cur:
                for statement in RESET:
                    cur.execute(statement)
            pg.commit()
            pg.autocommit = True
            pg.execute("VACUUM ANALYZE")
            pg.autocommit = False
        finally:
            proxy.close()
        db.session.remove()


def state(app) -> tuple[int, int, int]:
    """(active holds, live claims, trips not back to 40 free seats)."""
    from sqlalchemy import text

    from booking.extensions import db

    with app.app_context():
        row = db.session.execute(
            text(
                "SELECT (SELECT count(*) FROM reservations WHERE status = 'active'),"
                " (SELECT count(*) FROM reservation_seats WHERE is_live),"
                " (SELECT count(*) FROM schedules WHERE available_seats <> 40)"
            )
        ).one()
        db.session.remove()
    return tuple(row)


def run_service(app, now) -> tuple[float, int]:
    """sweep.expire_holds with the configured batch size; (seconds, holds retired)."""
    from booking.extensions import db

    with app.app_context():
        started = time.perf_counter()
        result = sweep.expire_holds(now, batch_size=app.config["SWEEP_BATCH_SIZE"])
        elapsed = time.perf_counter() - started
        db.session.remove()
    return elapsed, len(result.retired)


def run_sql(app, statement: str, now) -> tuple[float, int]:
    """One SQL statement in its own transaction; (seconds, rows)."""
    from booking.extensions import db

    with app.app_context():
        proxy = db.engine.raw_connection()
        try:
            pg = proxy.driver_connection
            started = time.perf_counter()
            with pg.cursor() as cur:
                cur.execute(statement, {"now": now})
                rows = cur.rowcount
            pg.commit()
            elapsed = time.perf_counter() - started
        finally:
            proxy.close()
    return elapsed, rows


def profile_service(app, now) -> None:
    """One more service sweep under cProfile, with the time of each kind of statement."""
    from booking.extensions import db

    with app.app_context():
        profile_call(db.engine, lambda: run_service(app, now), "expire_holds")
    reset(app)
    with app.app_context():
        cprofile_call(lambda: run_service(app, now), "expire_holds")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--holds", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--profile",
        action="store_true",
        help="after the timings, profile one more service sweep (cProfile and time per statement)",
    )
    args = parser.parse_args(argv)
    count = max(100, min(args.holds, 100_000))
    repeats = max(1, min(args.repeats, 10))
    log_path = quiet_app_logs("sweep")
    print(f"sweep: {machine_line()}; app log lines go to {log_path}")
    times: dict[str, list[float]] = {"service": [], "plain": [], "full": []}
    problems: list[str] = []
    with bench_database("sweep") as url:
        app = make_app(url, migrate=True)
        try:
            from booking.extensions import db
            from booking.services import invariants

            with app.app_context():
                now = utcnow()
                started = time.perf_counter()
                build(app, count, now)
                built_in = time.perf_counter() - started
                before = invariants.run_all()
                db.session.remove()
            if before:
                problems.append(f"invariants before the sweep: {before[:3]}")
            print(
                f"built {count} lapsed holds in {built_in:.1f} s; invariants: "
                f"{'hold' if not before else 'BROKEN'}"
            )
            sweep_at = now + timedelta(minutes=1)
            variants = [
                ("service", lambda: run_service(app, sweep_at)),
                ("plain", lambda: run_sql(app, PLAIN, sweep_at)),
                ("full", lambda: run_sql(app, FULL_SQL, sweep_at)),
            ]
            for rep in range(repeats):
                order = variants[rep % 3 :] + variants[: rep % 3]
                for name, run in order:
                    reset(app)
                    seconds, retired = run()
                    times[name].append(seconds)
                    if retired != count:
                        problems.append(f"{name} rep {rep + 1}: retired {retired} of {count}")
                    active, live, wrong = state(app)
                    if active:
                        problems.append(f"{name} rep {rep + 1}: {active} holds still active")
                    if name != "plain" and (live or wrong):
                        problems.append(
                            f"{name} rep {rep + 1}: {live} live claims, {wrong} trips not at 40"
                        )
                    if name == "service" and rep == 0:
                        with app.app_context():
                            after = invariants.run_all()
                            db.session.remove()
                        if after:
                            problems.append(f"invariants after the service sweep: {after[:3]}")
            if args.profile:
                reset(app)
                profile_service(app, sweep_at)
        finally:
            dispose(app)

    service, plain, full = (median(times[k]) for k in ("service", "plain", "full"))
    table(
        f"Sweep of {count} lapsed holds (median of {repeats}, alternating order; "
        f"batch size {app.config['SWEEP_BATCH_SIZE']})",
        ["variant", "median", "all runs", "holds/s", "ratio to service"],
        [
            [
                "sweep.expire_holds (service)",
                f"{service:.3f} s",
                ", ".join(f"{t:.3f}" for t in times["service"]),
                f"{count / service:.0f}",
                "1.00",
            ],
            [
                "plain UPDATE reservations only",
                f"{plain:.3f} s",
                ", ".join(f"{t:.3f}" for t in times["plain"]),
                f"{count / plain:.0f}",
                f"{plain / service:.2f}",
            ],
            [
                "full sweep in one SQL statement",
                f"{full:.3f} s",
                ", ".join(f"{t:.3f}" for t in times["full"]),
                f"{count / full:.0f}",
                f"{full / service:.2f}",
            ],
        ],
    )
    goals_table(
        "Goals",
        [
            Goal(
                f"expire_holds over {count} lapsed holds",
                f"{service:.3f} s",
                "< 1 s",
                service < 1.0,
            ),
            Goal("service time / plain UPDATE time", f"{service / plain:.1f}x", "(reported)", True),
            Goal(
                "every hold retired once, counters and invariants right",
                "yes" if not problems else f"{len(problems)} problem(s)",
                "yes",
                not problems,
            ),
        ],
    )
    for line in problems[:10]:
        print("  !", line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
