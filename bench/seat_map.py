"""Benchmark 3: inventory.seat_map() for a 40-seat and a 60-seat bus: the SQL statements of one
call (must be equal, and at most 4) and the time per call (median of many, the two buses
interleaved call by call so the machine's noise falls on both alike). Each bus has some seats held
by others, some booked-like (confirmed claims), and some held by the viewer, so every branch of
the seat states is read. Each call starts on an empty session, as a request does.

    .venv/bin/python -m bench.seat_map [--calls 400]
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
    count_statements,
    dispose,
    goals_table,
    grid_layout,
    insert_customers,
    machine_line,
    make_app,
    make_trips,
    median,
    ms,
    pct,
    quiet_app_logs,
    table,
    utcnow,
)


def populate(trip_id, customers, now) -> None:
    """Holds on a few seats by others and by the viewer (customers[0]); one hold confirmed by
    SQL so some seats read as booked."""
    from sqlalchemy import text

    from booking.extensions import db
    from booking.services import holds

    picks = [["2A", "2B"], ["3C"], ["5A", "5B", "5C"], ["7D"], ["9A", "9B"]]
    made = []
    for customer, seats in zip(customers, picks, strict=False):
        made.append(
            holds.hold_seats(
                customer_id=customer, schedule_id=trip_id, seat_numbers=seats, now=now
            ).id
        )
        db.session.remove()
    # The last hold reads as paid: confirmed hold, booked seats (what the map shows as booked).
    db.session.execute(
        text("UPDATE reservations SET status = 'confirmed', ended_at = :now WHERE id = :h"),
        {"now": now, "h": made[-1]},
    )
    db.session.execute(
        text(
            "UPDATE seats SET status = 'booked' WHERE id IN "
            "(SELECT seat_id FROM reservation_seats WHERE reservation_id = :h)"
        ),
        {"h": made[-1]},
    )
    db.session.commit()


RAW_SCHEDULE = (
    "SELECT s.*, b.*, r.* FROM schedules s JOIN buses b ON b.id = s.bus_id "
    "JOIN routes r ON r.id = s.route_id WHERE s.id = %s"
)
RAW_SEATS = (
    "SELECT seats.*, reservations.status, reservations.expires_at, reservations.user_id "
    "FROM seats LEFT JOIN reservation_seats rs ON rs.seat_id = seats.id AND rs.is_live "
    "LEFT JOIN reservations ON reservations.id = rs.reservation_id WHERE seats.schedule_id = %s"
)


def raw_map(pg, trip_id):
    """The same two reads in raw SQL, rows fetched as tuples (the floor for seat_map())."""
    with pg.cursor() as cur:
        cur.execute(RAW_SCHEDULE, (trip_id,))
        cur.fetchone()
        cur.execute(RAW_SEATS, (trip_id,))
        rows = cur.fetchall()
    pg.rollback()
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=400)
    args = parser.parse_args(argv)
    calls = max(20, min(args.calls, 5000))
    quiet_app_logs("seat_map")
    print(f"seat_map: {machine_line()}")
    buses = {"40-seat": grid_layout(10), "60-seat": grid_layout(15)}
    results = {}
    with bench_database("seatmap") as url:
        app = make_app(url, migrate=True)
        try:
            from booking.extensions import db
            from booking.services import inventory

            with app.app_context():
                now = utcnow()
                customers = insert_customers(6, now=now)
                viewer = customers[0]
                trips = {}
                for name, layout in buses.items():
                    (trips[name],) = make_trips(1, now=now, layout=layout, tag=name[:2])
                    populate(trips[name], customers, now)
                db.session.remove()

                for name, trip in trips.items():
                    with count_statements(db.engine) as statements:
                        seat_map = inventory.seat_map(trip, utcnow(), viewer_id=viewer)
                        states = sorted({s.state for s in seat_map.seats.values()})
                        seats = len(seat_map.seats)
                    db.session.remove()
                    results[name] = {
                        "statements": list(statements),
                        "seats": seats,
                        "states": states,
                        "times": [],
                    }
                # Warm up, then interleave the two buses (and their raw floor) call by call.
                proxy = db.engine.raw_connection()
                pg = proxy.driver_connection
                for name in trips:
                    results[name]["raw"] = []
                for _ in range(20):
                    for trip in trips.values():
                        inventory.seat_map(trip, utcnow(), viewer_id=viewer)
                        db.session.remove()
                for _ in range(calls):
                    for name, trip in trips.items():
                        at = utcnow()
                        started = time.perf_counter()
                        inventory.seat_map(trip, at, viewer_id=viewer)
                        results[name]["times"].append(time.perf_counter() - started)
                        db.session.remove()
                        started = time.perf_counter()
                        raw_map(pg, trip)
                        results[name]["raw"].append(time.perf_counter() - started)
                proxy.close()
        finally:
            dispose(app)

    table(
        f"seat_map(): statements and time per call (median of {calls}, interleaved)",
        [
            "bus",
            "seats",
            "states seen",
            "SQL statements",
            "median",
            "p95",
            "per seat (median)",
            "same 2 reads, raw SQL (median)",
            "seat_map / raw",
        ],
        [
            [
                name,
                r["seats"],
                "/".join(r["states"]),
                len(r["statements"]),
                ms(median(r["times"])),
                ms(pct(r["times"], 95)),
                f"{median(r['times']) / r['seats'] * 1e6:.0f} us",
                ms(median(r["raw"])),
                f"{median(r['times']) / median(r['raw']):.1f}x",
            ]
            for name, r in results.items()
        ],
    )
    for name, r in results.items():
        table(
            f"statements of one seat_map() call, {name}",
            ["#", "statement"],
            [[i + 1, " ".join(s.split())[:140]] for i, s in enumerate(r["statements"])],
        )
    small, large = results["40-seat"], results["60-seat"]
    ratio = median(large["times"]) / median(small["times"])
    goals_table(
        "Goals",
        [
            Goal(
                "statements 40-seat == 60-seat",
                f"{len(small['statements'])} == {len(large['statements'])}",
                "equal",
                len(small["statements"]) == len(large["statements"]),
            ),
            Goal(
                "statements per call",
                str(max(len(small["statements"]), len(large["statements"]))),
                "<= 4",
                max(len(small["statements"]), len(large["statements"])) <= 4,
            ),
            Goal(
                "time 60-seat / 40-seat", f"{ratio:.2f}", "(reported; 1.5 = linear in seats)", True
            ),
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
