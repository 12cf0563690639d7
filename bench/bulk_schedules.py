"""Benchmark: 1,000 new trips (40 seats each) through the bulk CSV edit, preview and apply,
beside the same inserts in raw SQL (1,000 schedules and 1,001 activity rows by multi-row
INSERT ... VALUES, the 40,000 seats by one INSERT ... SELECT of the trips joined to the layout's
seats, as the apply does) in the same run, rounds interleaved, alternating which goes first.
Each round uses a bus of its own so every round creates the same 1,000 trips. Goal: preview and
apply each under 2 s on PostgreSQL.

    .venv/bin/python -m bench.bulk_schedules [--rounds 3] [--rows 1000]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    Goal,
    bench_database,
    dispose,
    goals_table,
    grid_layout,
    machine_line,
    make_app,
    make_trips,
    median,
    ms,
    quiet_app_logs,
    table,
    utcnow,
)


def new_bus(now) -> tuple[str, str, str]:
    """A bus and a route of their own (one far-off trip made with them): number, cities."""
    from booking.extensions import db
    from booking.models import Schedule

    (trip_id,) = make_trips(1, now=now, layout=grid_layout(10), departs_in=timedelta(days=300))
    trip = db.session.get(Schedule, trip_id)
    found = trip.bus.bus_number, trip.route.origin_city, trip.route.destination_city
    db.session.commit()
    return found


def trips_file(number: str, origin: str, destination: str, rows: int, now) -> bytes:
    """A CSV of ``rows`` new trips of one bus, two hours apart, 90 minutes each."""
    from booking.services.bulk.cells import show_time

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["bus_number", "departure", "arrival", "origin", "destination", "base_price"])
    start = (now + timedelta(days=2)).replace(second=0, microsecond=0)
    for n in range(rows):
        departure = start + timedelta(hours=2 * n)
        writer.writerow(
            [
                number,
                show_time(departure),
                show_time(departure + timedelta(minutes=90)),
                origin,
                destination,
                "450.00",
            ]
        )
    return out.getvalue().encode()


def many(cur, head: str, row: str, params: list[tuple], batch: int = 1000) -> None:
    """Multi-row INSERT ... VALUES in batches of ``batch`` rows (what SQLAlchemy's
    insertmanyvalues sends too), a fair floor for the inserts the apply makes."""
    for start in range(0, len(params), batch):
        chunk = params[start : start + batch]
        cur.execute(head + ", ".join([row] * len(chunk)), [v for p in chunk for v in p])


def raw_inserts(pg, bus_id, route_id, rows: int, now) -> None:
    """The same rows the apply writes, in plain SQL: schedules, seats, audit rows, one commit."""
    from booking.layouts import parse_layout

    specs = parse_layout(grid_layout(10))
    start = (now + timedelta(days=2)).replace(second=0, microsecond=0)
    schedules, logs = [], []
    batch = uuid.uuid4()
    for n in range(rows):
        sid = uuid.uuid4()
        departure = start + timedelta(hours=2 * n)
        schedules.append(
            (sid, bus_id, route_id, departure, departure + timedelta(minutes=90), now, now)
        )
        logs.append(
            (
                uuid.uuid4(),
                "schedule",
                str(sid),
                "schedule.bulk_created",
                json.dumps({"batch": str(batch), "line": n + 2}),
                now,
            )
        )
    logs.append((uuid.uuid4(), "bulk_edit", str(batch), "bulk_edit.applied", "{}", now))
    with pg.cursor() as cur:
        many(
            cur,
            "INSERT INTO schedules (id, bus_id, route_id, departure_at, arrival_at, created_at,"
            " updated_at, base_price, available_seats, seat_version, status) VALUES ",
            "(%s, %s, %s, %s, %s, %s, %s, 450.00, 40, 1, 'scheduled')",
            schedules,
        )
        # the seats set-based, as the apply makes them: the trips x the layout's seat rows
        layout = ", ".join(
            ["(%s, %s::int, %s::int, %s::int, %s, %s::numeric, %s, %s)"] * len(specs)
        )
        cur.execute(
            "INSERT INTO seats (id, schedule_id, seat_number, deck, row_index, column_index,"
            " seat_type, price_modifier, ladies_only, is_window, created_at, updated_at, status)"
            " SELECT gen_random_uuid(), s.id, l.n, l.d, l.r, l.c, l.t, l.m, l.lo, l.w, %s, %s,"
            f" 'available' FROM schedules s CROSS JOIN (VALUES {layout})"
            " AS l(n, d, r, c, t, m, lo, w) WHERE s.id = ANY(%s)",
            [now, now]
            + [
                value
                for x in specs
                for value in (
                    x.number,
                    x.deck,
                    x.row,
                    x.column,
                    str(x.seat_type),
                    x.price_modifier,
                    x.ladies_only,
                    x.is_window,
                )
            ]
            + [[row[0] for row in schedules]],
        )
        many(
            cur,
            "INSERT INTO activity_logs (id, entity_type, entity_id, action_type, details,"
            " timestamp) VALUES ",
            "(%s, %s, %s, %s, %s, %s)",
            logs,
        )
    pg.commit()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows", type=int, default=1000)
    args = parser.parse_args(argv)
    rounds, rows = max(1, min(args.rounds, 10)), max(10, min(args.rows, 20_000))
    quiet_app_logs("bulk_schedules")
    print(f"bulk_schedules: {machine_line()}")
    times: dict[str, list[float]] = {"preview": [], "apply": [], "raw": []}
    with bench_database("bulk") as url:
        app = make_app(url, migrate=True)
        try:
            from sqlalchemy import func, select

            from booking.extensions import db
            from booking.models import Bus, Route, Schedule
            from booking.services import bulk

            with app.app_context():
                for round_no in range(rounds):
                    now = utcnow()
                    number, origin, destination = new_bus(now)
                    data = trips_file(number, origin, destination, rows, now)
                    raw_bus, raw_origin, raw_dest = new_bus(now)
                    bus_id = db.session.scalar(select(Bus.id).where(Bus.bus_number == raw_bus))
                    route_id = db.session.scalar(
                        select(Route.id).where(
                            Route.origin_city == raw_origin, Route.destination_city == raw_dest
                        )
                    )
                    db.session.remove()

                    def service(data=data, now=now):
                        started = time.perf_counter()
                        preview = bulk.preview("schedules", data, now)
                        times["preview"].append(time.perf_counter() - started)
                        assert preview.ok and preview.counts["create"] == rows, preview.errors[:3]
                        db.session.remove()
                        started = time.perf_counter()
                        applied = bulk.apply("schedules", data, now, None)
                        times["apply"].append(time.perf_counter() - started)
                        assert applied.created == rows
                        db.session.remove()

                    def raw(bus_id=bus_id, route_id=route_id, now=now):
                        proxy = db.engine.raw_connection()
                        try:
                            started = time.perf_counter()
                            raw_inserts(proxy.driver_connection, bus_id, route_id, rows, now)
                            times["raw"].append(time.perf_counter() - started)
                        finally:
                            proxy.close()

                    for step in (service, raw) if round_no % 2 == 0 else (raw, service):
                        step()
                total = db.session.scalar(select(func.count()).select_from(Schedule))
                assert total == rounds * (2 * rows + 2), total
        finally:
            dispose(app)

    table(
        f"{rows} new 40-seat trips by CSV, {rounds} rounds (median)",
        ["step", "median", "min", "max", "vs raw-SQL inserts"],
        [
            [
                name,
                ms(median(v)),
                ms(min(v)),
                ms(max(v)),
                f"{median(v) / median(times['raw']):.1f}x",
            ]
            for name, v in times.items()
        ],
    )
    goals_table(
        "Goals",
        [
            Goal(
                "preview 1,000 rows",
                ms(median(times["preview"])),
                "< 2 s",
                median(times["preview"]) < 2,
            ),
            Goal(
                "apply 1,000 rows", ms(median(times["apply"])), "< 2 s", median(times["apply"]) < 2
            ),
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
