"""Where a hold's time and statements go, without contention: the SQL statements of one
hold_seats (winner), one losing hold_seats and one release_hold, then cProfile over a bounded
number of sequential hold+release cycles (top functions by cumulative and by own time), beside
the same number of raw-SQL cycles for a ratio.

    .venv/bin/python -m bench.profile_holds [--cycles 300] [--top 25]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _rawsql as raw
from bench._common import (
    bench_database,
    count_statements,
    dispose,
    insert_customers,
    machine_line,
    make_app,
    make_trips,
    quiet_app_logs,
    table,
    utcnow,
)


def short(sql: str) -> str:
    """One line of a statement, trimmed."""
    return " ".join(sql.split())[:150]


def statement_times(engine, run) -> dict[str, tuple[int, float]]:
    """Run ``run`` timing every statement from cursor execute to its end, grouped by text."""
    from sqlalchemy import event

    found: dict[str, list] = {}

    def before(_conn, _cursor, statement, _params, context, _many):
        context._bench_started = time.perf_counter()

    def after(_conn, _cursor, statement, _params, context, _many):
        key = " ".join(statement.split())[:90]
        entry = found.setdefault(key, [0, 0.0])
        entry[0] += 1
        entry[1] += time.perf_counter() - context._bench_started

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
    return {key: (calls, spent) for key, (calls, spent) in found.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=300)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    cycles = max(10, min(args.cycles, 3000))
    quiet_app_logs("profile_holds")
    print(f"profile_holds: {machine_line()}")
    with bench_database("profile") as url:
        app = make_app(url, migrate=True)
        try:
            from booking.extensions import db
            from booking.services import holds
            from booking.services.errors import DomainError

            with app.app_context():
                now = utcnow()
                first, second = insert_customers(2, now=now)
                trip, raw_trip = make_trips(2, now=now)
                db.session.remove()

                with count_statements(db.engine) as won:
                    hold_id = holds.hold_seats(
                        customer_id=first, schedule_id=trip, seat_numbers=["5A"], now=utcnow()
                    ).id
                db.session.remove()
                with count_statements(db.engine) as lost, contextlib.suppress(DomainError):
                    holds.hold_seats(
                        customer_id=second, schedule_id=trip, seat_numbers=["5A"], now=utcnow()
                    )
                db.session.remove()
                with count_statements(db.engine) as released:
                    holds.release_hold(hold_id, customer_id=first, now=utcnow())
                db.session.remove()
                for title, statements in (
                    ("hold_seats, winner", won),
                    ("hold_seats, loser (seat already held)", lost),
                    ("release_hold", released),
                ):
                    table(
                        f"{title}: {len(statements)} statements",
                        ["#", "statement"],
                        [[i + 1, short(s)] for i, s in enumerate(statements)],
                    )

                def service_cycles(n=cycles):
                    for _ in range(n):
                        made = holds.hold_seats(
                            customer_id=first, schedule_id=trip, seat_numbers=["5A"], now=utcnow()
                        ).id
                        db.session.remove()
                        holds.release_hold(made, customer_id=first, now=utcnow())
                        db.session.remove()

                def raw_cycles(n=cycles):
                    proxy = db.engine.raw_connection()
                    try:
                        pg = proxy.driver_connection
                        for _ in range(n):
                            hold_id = raw.claim(pg, raw_trip, first, ["5A"], utcnow())
                            raw.release(pg, raw_trip, hold_id, utcnow())
                    finally:
                        proxy.close()

                # Warm both, then time them side by side in alternating blocks (the machine is
                # noisy: alternation spreads the noise over both), then profile the service.
                service_cycles(20)
                raw_cycles(20)
                block = max(5, cycles // 10)
                timings = {"service": 0.0, "raw": 0.0}
                for _ in range(cycles // block):
                    for name, run in (("service", service_cycles), ("raw", raw_cycles)):
                        started = time.perf_counter()
                        run(block)
                        timings[name] += time.perf_counter() - started
                done = block * (cycles // block)
                service_s, raw_s = timings["service"], timings["raw"]
                table(
                    f"{done} sequential hold+release cycles each, one thread, alternating blocks "
                    f"of {block}",
                    ["side", "cycles/s", "ms per cycle", "ratio service/raw"],
                    [
                        [
                            "service",
                            f"{done / service_s:.0f}",
                            f"{service_s / done * 1000:.2f}",
                            f"{raw_s / service_s:.2f}",
                        ],
                        ["raw SQL", f"{done / raw_s:.0f}", f"{raw_s / done * 1000:.2f}", "1.00"],
                    ],
                )
                per_statement = statement_times(db.engine, service_cycles)
                total = sum(t for _, t in per_statement.values())
                table(
                    f"client-side time per statement over {cycles} service cycles "
                    f"(execute to result; {total / cycles * 1000:.2f} ms of each cycle)",
                    ["statement", "calls", "mean", "total share of statements"],
                    [
                        [key, calls, f"{spent / calls * 1000:.2f} ms", f"{spent / total:.0%}"]
                        for key, (calls, spent) in sorted(
                            per_statement.items(), key=lambda kv: -kv[1][1]
                        )
                    ],
                )
                profiler = cProfile.Profile()
                profiler.enable()
                service_cycles()
                profiler.disable()
                for order in ("cumulative", "tottime"):
                    out = io.StringIO()
                    stats = pstats.Stats(profiler, stream=out)
                    stats.strip_dirs().sort_stats(order).print_stats(args.top)
                    print(f"\n### cProfile of {cycles} service cycles, by {order}\n")
                    print("\n".join(out.getvalue().splitlines()[4:]))
        finally:
            dispose(app)
    return 0


if __name__ == "__main__":
    sys.exit(main())
