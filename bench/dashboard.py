"""Benchmark: the admin dashboard over 100,000 bookings. The bookings are built set-based (the
generator of bench/finalize.py, part c), then spread over the last 30 days, three channels and
trips departing across five weeks, with a cancelling act for one booking in twenty and an
expired hold for one in five; then `insight.dashboard()` for the last 30 days and for today,
and each report, are timed beside a plain `SELECT count(*) FROM bookings` (interleaved, median
of 5), so the ratio says what the aggregates cost over reading the table once.

    .venv/bin/python -m bench.dashboard [--bookings 100000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    Goal,
    bench_database,
    dispose,
    goals_table,
    machine_line,
    make_app,
    median,
    ms,
    quiet_app_logs,
    table,
    utcnow,
)
from bench.finalize import generate

# Spread the generated bookings (all online, confirmed a day ago, on trips three days ahead)
# like a month of trade: confirmed over 30 days, 1 in 10 at the desk and 1 in 20 by API, trips
# departing from 20 days ago to 15 days ahead, every twentieth booking partly refunded.
SPREAD = [
    "SELECT setseed(0.42)",
    """UPDATE bookings SET confirmed_at = %(now)s - (random() * interval '30 days')""",
    """UPDATE bookings SET channel = 'desk', sold_by_id = user_id
       WHERE ('x' || substr(md5(id::text), 1, 4))::bit(16)::int %% 10 = 0""",
    """UPDATE bookings SET channel = 'api'
       WHERE channel = 'online' AND ('x' || substr(md5(id::text), 5, 4))::bit(16)::int %% 20 = 0""",
    """UPDATE reservations r SET reserved_at = b.confirmed_at - interval '5 minutes',
              expires_at = b.confirmed_at + interval '10 minutes', channel = b.channel,
              sold_by_id = b.sold_by_id
       FROM bookings b WHERE b.reservation_id = r.id""",
    """UPDATE payments p SET created_at = b.confirmed_at, completed_at = b.confirmed_at,
              method = CASE b.channel WHEN 'desk' THEN 'cash' ELSE p.method END
       FROM bookings b WHERE b.id = p.booking_id""",
    """UPDATE schedules s
       SET departure_at = %(now)s - interval '20 days' + n.k * interval '8 minutes',
           arrival_at = %(now)s - interval '20 days' + n.k * interval '8 minutes' + interval '6 h'
       FROM (SELECT id, row_number() OVER (ORDER BY id) AS k FROM schedules) n
       WHERE n.id = s.id""",
    """INSERT INTO cancellations (id, booking_id, cancelled_by_id, reason, refund_percent,
              refund_amount, refund_mode, refund_status, processed_at, created_at, updated_at)
       SELECT md5('c' || b.id)::uuid, b.id, b.user_id,
              (ARRAY['plans changed', 'found another bus', NULL])[1 + (random() * 2)::int],
              50, 262.50, 'wallet', 'processed', b.confirmed_at + interval '1 hour',
              b.confirmed_at + interval '1 hour', b.confirmed_at + interval '1 hour'
       FROM bookings b WHERE ('x' || substr(md5(b.id::text), 9, 4))::bit(16)::int %% 20 = 0""",
    """UPDATE bookings SET refunded_amount = 262.50, payment_status = 'partially_refunded'
       WHERE id IN (SELECT booking_id FROM cancellations)""",
    # One unpaid hold lapsed for every five bookings, over the same 30 days (claims long gone).
    """INSERT INTO reservations (id, user_id, channel, schedule_id, reserved_at, expires_at,
              gateway_extended, status, total_amount, ended_at, end_reason, created_at,
              updated_at)
       SELECT md5('x' || i)::uuid, (SELECT id FROM users ORDER BY id LIMIT 1 OFFSET i %% 100),
              'online', (SELECT id FROM schedules ORDER BY id LIMIT 1 OFFSET i %% 1000),
              %(now)s - (i %% 43200) * interval '1 minute',
              %(now)s - (i %% 43200) * interval '1 minute' + interval '15 minutes', false,
              'expired', 1050, %(now)s, 'lapsed', %(now)s, %(now)s
       FROM generate_series(0, %(b)s / 5 - 1) i""",
]
PLAIN = "SELECT count(*) FROM bookings"


def spread(app, bookings: int) -> float:
    """Run SPREAD over the generated data, then VACUUM ANALYZE; seconds."""
    from booking.extensions import db

    with app.app_context():
        proxy = db.engine.raw_connection()
        try:
            pg = proxy.driver_connection
            started = time.perf_counter()
            with pg.cursor() as cur:
                for statement in SPREAD:
                    cur.execute(statement, {"now": utcnow(), "b": bookings})
            pg.commit()
            elapsed = time.perf_counter() - started
            pg.autocommit = True
            pg.execute("VACUUM ANALYZE")
            pg.autocommit = False
        finally:
            proxy.close()
        db.session.remove()
    return elapsed


def timed(call) -> float:
    """Seconds one call takes."""
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def measure(app, repeats: int) -> dict[str, list[float]]:
    """Each measured call and the plain count, interleaved, ``repeats`` times each."""
    from sqlalchemy import text

    from booking.extensions import db
    from booking.services import insight, reports

    times: dict[str, list[float]] = {}
    with app.app_context():
        now = utcnow()
        month = insight.resolve_period("30d", None, None, now)
        today = insight.resolve_period("today", None, None, now)
        everything = insight.Filters()
        calls = {
            "dashboard, last 30 days": lambda: insight.dashboard(month, now),
            "dashboard, today": lambda: insight.dashboard(today, now),
            "dashboard, 30 days, desk only": lambda: insight.dashboard(
                month, now, insight.resolve_filters(channel="desk")
            ),
            **{
                f"report {kind}, 30 days": (lambda k=kind: reports.build(k, month, everything))
                for kind in reports.KINDS
            },
            "bookings list, 30 days, page 1": lambda: reports.booking_list(month, everything),
            **{
                f"  part {name}, 30 days": (lambda f=part: f())
                for name, part in {
                    "sales_by_channel": lambda: insight.sales_by_channel(month),
                    "takings": lambda: insight.takings(month),
                    "sales_by_day": lambda: insight.sales_by_day(month),
                    "occupancy_by_route": lambda: insight.occupancy_by_route(month),
                    "occupancy_by_trip": lambda: insight.occupancy_by_trip(month.start, month.end),
                    "hold_funnel": lambda: insight.hold_funnel(month, now),
                    "payment_attempts": lambda: insight.payment_attempts(month),
                    "cancellations_by_reason": lambda: insight.cancellations_by_reason(month),
                    "cancellations_by_band": lambda: insight.cancellations_by_band(month),
                }.items()
            },
            PLAIN: lambda: db.session.execute(text(PLAIN)).scalar(),
        }
        for call in calls.values():  # warm the caches once
            call()
            db.session.remove()
        for round_ in range(repeats):
            order = list(calls.items())
            if round_ % 2:
                order.reverse()
            for name, call in order:
                times.setdefault(name, []).append(timed(call))
                db.session.remove()
        board = insight.dashboard(month, now)
        print(
            f"\nlast 30 days: {board.bookings} bookings, {board.seats} seats, gross "
            f"{board.takings.gross}, refunds {board.takings.refunds}, "
            f"{board.funnel.created} holds ({board.funnel.expiry_rate}% expired), "
            f"{board.cancellations} cancellations, {len(board.routes)} route(s)"
        )
        db.session.remove()
    return times


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bookings", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    bookings = max(1000, min(args.bookings, 300_000))
    repeats = max(1, min(args.repeats, 20))
    log_path = quiet_app_logs("dashboard")
    print(f"dashboard: {machine_line()}; app log lines go to {log_path}")
    with bench_database("dashboard") as url:
        app = make_app(url, migrate=True)
        try:
            built = generate(app, bookings)
            spread_s = spread(app, bookings)
            print(f"built {bookings} bookings in {built:.1f} s, spread in {spread_s:.1f} s")
            times = measure(app, repeats)
        finally:
            dispose(app)
    plain = median(times[PLAIN])
    table(
        f"median of {repeats}, interleaved, over {bookings} bookings",
        ["query", "median", "min", "max", f"ratio to {PLAIN}"],
        [
            [name, ms(median(t)), ms(min(t)), ms(max(t)), f"{median(t) / plain:.1f}"]
            for name, t in times.items()
        ],
    )
    worst = max(median(times[name]) for name in times if name.startswith("dashboard"))
    report_worst = max(median(times[name]) for name in times if name.startswith("report"))
    goals = [
        Goal(
            "every dashboard variant, median",
            ms(worst),
            "< 1 s",
            worst < 1.0,
        ),
        Goal("every report, median", ms(report_worst), "< 1 s", report_worst < 1.0),
    ]
    goals_table("goals", goals)
    return 0 if all(goal.met for goal in goals) else 1


if __name__ == "__main__":
    sys.exit(main())
