"""Shared plumbing for the hand-run benchmarks (never collected by pytest, never run by CI).

A throwaway PostgreSQL database per benchmark (created, migrated with Flask-Migrate, dropped),
the app on it, bulk builders for customers and trips, threads let go at one instant, percentiles
and the result tables with goals met or missed.
"""

from __future__ import annotations

import logging
import os
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/x.py` as well as `python -m bench.x`
    sys.path.insert(0, str(ROOT))

# The server the benchmark databases are made on (loopback only).
SERVER_DSN = os.environ.get("BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
LOG_DIR = Path(os.environ.get("BENCH_LOG_DIR", "/tmp"))
# One cheap password for every bench account (the hash is made once; logins are not measured).
PASSWORD = "BenchPassw0rd"


def utcnow() -> datetime:
    """The wall clock in UTC (the services take ``now``; the bench passes the real time)."""
    return datetime.now(UTC)


def _guard_loopback(dsn: str) -> None:
    """Refuse any database host that is not on this machine."""
    from sqlalchemy.engine import make_url

    host = make_url(dsn).host or "localhost"
    if not (host == "localhost" or host.startswith("127.") or host == "::1"):
        raise SystemExit(f"refusing non-loopback database host {host!r}")


def quiet_app_logs(name: str) -> Path:
    """Send the app's INFO event lines to a file (they are still formatted and written, as in
    production), so the console shows only the benchmark's tables."""
    path = LOG_DIR / f"bench_{name}_{os.getpid()}.log"
    logger = logging.getLogger("booking")
    if not logger.handlers:
        handler = logging.FileHandler(path)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        logger.addHandler(handler)
    # Alembic's fileConfig puts a console handler on the root logger: do not pass lines up.
    logger.propagate = False
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return path


@contextmanager
def bench_database(name: str) -> Iterator[str]:
    """CREATE DATABASE bench_<name>_<pid>; yield its SQLAlchemy (psycopg 3) URL; drop it."""
    import psycopg
    from sqlalchemy.engine import make_url

    _guard_loopback(SERVER_DSN)
    dbname = f"bench_{name}_{os.getpid()}"
    server = make_url(SERVER_DSN)
    admin = server.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}"')
        conn.execute(f'CREATE DATABASE "{dbname}"')
    try:
        yield server.set(drivername="postgresql+psycopg", database=dbname).render_as_string(
            hide_password=False
        )
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (dbname,),
            )
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}"')


def bench_config(url: str, **overrides: Any) -> dict[str, Any]:
    """The app settings every benchmark starts from: production defaults plus these."""
    config = {
        "SQLALCHEMY_DATABASE_URI": url,
        "SECRET_KEY": "bench",
        "GATEWAY_WEBHOOK_SECRET": "bench-webhook-secret",
        "WTF_CSRF_ENABLED": False,
        "REDIS_URL": None,
    }
    config.update(overrides)
    return config


def make_app(url: str, migrate: bool = False, **overrides: Any):
    """create_app on the bench database; run the Alembic migrations first when asked."""
    from booking import create_app
    from booking.extensions import db

    app = create_app(bench_config(url, **overrides))
    if migrate:
        from flask_migrate import upgrade

        with app.app_context():
            upgrade()
            db.session.remove()
    return app


def dispose(app) -> None:
    """Close the app's pooled connections and its realtime publisher."""
    from booking import realtime
    from booking.extensions import db

    realtime.shutdown(app)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


# ---- bulk builders (inside an app context) ----------------------------------------------------


def password_hash() -> str:
    """One hash of PASSWORD with the app's own default method (made once, shared by all)."""
    from booking.services.accounts import _hash

    return _hash(PASSWORD)


def insert_customers(
    count: int,
    *,
    now: datetime,
    tag: str = "c",
    wallet: Decimal | None = None,
    pw_hash: str = "x",
) -> list[uuid.UUID]:
    """Customers straight into the table (registration is not what is measured), each with a
    wallet; with ``wallet`` an opening credit of that much, recorded in the ledger."""
    from sqlalchemy import insert

    from booking.extensions import db
    from booking.models import User, Wallet, WalletTransaction
    from booking.models.enums import LedgerKind

    ids = [uuid.uuid4() for _ in range(count)]
    wallet_ids = [uuid.uuid4() for _ in range(count)]
    balance = wallet or Decimal("0.00")
    db.session.execute(
        insert(User),
        [
            {
                "id": i,
                "email": f"bench-{tag}{n}@example.com",
                "password_hash": pw_hash,
                "first_name": "Bench",
                "last_name": f"{tag}{n}",
                "phone": f"97{n:08d}",
                "created_at": now,
                "updated_at": now,
            }
            for n, i in enumerate(ids)
        ],
    )
    db.session.execute(
        insert(Wallet),
        [
            {"id": w, "user_id": i, "balance": balance, "created_at": now, "updated_at": now}
            for i, w in zip(ids, wallet_ids, strict=True)
        ],
    )
    if wallet:
        db.session.execute(
            insert(WalletTransaction),
            [
                {
                    "id": uuid.uuid4(),
                    "wallet_id": w,
                    "kind": LedgerKind.CREDIT,
                    "amount": balance,
                    "balance_after": balance,
                    "description": "Opening credit (bench)",
                    "created_at": now,
                }
                for w in wallet_ids
            ],
        )
    db.session.commit()
    return ids


def grid_layout(rows: int, name: str | None = None) -> dict:
    """A 2+2 seater layout of ``rows`` rows (4 seats a row), front row premium."""
    seat_rows = []
    for r in range(1, rows + 1):
        cells: list[Any] = []
        for col in "ABCD":
            cell: dict[str, Any] = {"number": f"{r}{col}"}
            if r == 1:
                cell.update(type="premium", price_modifier="50.00")
            cells.append(cell)
            if col == "B":
                cells.append("aisle")
        seat_rows.append(cells)
    return {
        "name": name or f"2+2 seater, {rows * 4} seats",
        "decks": [{"name": "Seats", "rows": seat_rows}],
    }


def make_trips(
    count: int,
    *,
    now: datetime,
    layout: dict | None = None,
    departs_in: timedelta = timedelta(days=2),
    base_price: Decimal = Decimal("500.00"),
    tag: str = "",
) -> list[uuid.UUID]:
    """One route and bus, ``count`` scheduled trips a minute apart, their seats generated from
    the layout (bulk inserts); returns the trip ids."""
    from sqlalchemy import insert

    from booking.extensions import db
    from booking.layouts import parse_layout
    from booking.models import Bus, Route, Schedule, Seat
    from booking.models.enums import BusType, ScheduleStatus, SeatStatus

    layout = layout or grid_layout(10)
    specs = parse_layout(layout)
    suffix = f"{tag}{uuid.uuid4().hex[:6]}"
    route = Route(
        origin_city=f"BenchFrom{suffix}",
        destination_city=f"BenchTo{suffix}",
        distance_km=350.0,
        estimated_duration_minutes=360,
        created_at=now,
        updated_at=now,
    )
    bus = Bus(
        bus_number=f"B{suffix}"[:20],
        bus_type=BusType.DELUXE,
        total_seats=len(specs),
        seat_layout_config=layout,
        amenities=["AC"],
        created_at=now,
        updated_at=now,
    )
    db.session.add_all([route, bus])
    db.session.flush()
    ids = [uuid.uuid4() for _ in range(count)]
    start = (now + departs_in).replace(second=0, microsecond=0)
    db.session.execute(
        insert(Schedule),
        [
            {
                "id": sid,
                "bus_id": bus.id,
                "route_id": route.id,
                "departure_at": start + timedelta(minutes=n),
                "arrival_at": start + timedelta(minutes=n, hours=6),
                "base_price": base_price,
                "available_seats": len(specs),
                "seat_version": 1,
                "status": ScheduleStatus.SCHEDULED,
                "created_at": now,
                "updated_at": now,
            }
            for n, sid in enumerate(ids)
        ],
    )
    seat_rows = [
        {
            "id": uuid.uuid4(),
            "schedule_id": sid,
            "seat_number": spec.number,
            "deck": spec.deck,
            "row_index": spec.row,
            "column_index": spec.column,
            "seat_type": spec.seat_type,
            "price_modifier": spec.price_modifier,
            "ladies_only": spec.ladies_only,
            "is_window": spec.is_window,
            "status": SeatStatus.AVAILABLE,
            "created_at": now,
            "updated_at": now,
        }
        for sid in ids
        for spec in specs
    ]
    for chunk in range(0, len(seat_rows), 5000):
        db.session.execute(insert(Seat), seat_rows[chunk : chunk + 5000])
    db.session.commit()
    return ids


def seat_numbers(layout: dict | None = None) -> list[str]:
    """The seat numbers of a layout, in reading order."""
    from booking.layouts import parse_layout

    return [spec.number for spec in parse_layout(layout or grid_layout(10))]


@contextmanager
def count_statements(engine) -> Iterator[list[str]]:
    """Collect the SQL statements sent through ``engine`` inside the block."""
    from sqlalchemy import event

    statements: list[str] = []

    def listener(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", listener)


# ---- running and measuring ----------------------------------------------------------------------


def run_together(calls: list[Callable[[], Any]], timeout: float = 120.0) -> tuple[list, float]:
    """Run each call in its own thread, all let go at one instant; return the outcomes (an
    exception counts as an outcome) and the wall time from the start signal to the last end."""
    go = threading.Event()
    ready = threading.Semaphore(0)
    results: list = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        ready.release()
        go.wait(timeout=30)
        try:
            results[index] = call()
        except BaseException as error:  # the caller looks at every outcome
            results[index] = error

    threads = [threading.Thread(target=run, args=(i, c), daemon=True) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for _ in threads:
        ready.acquire(timeout=30)
    started = time.perf_counter()
    go.set()
    deadline = started + timeout
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.perf_counter()))
    elapsed = time.perf_counter() - started
    stuck = sum(thread.is_alive() for thread in threads)
    if stuck:
        raise RuntimeError(f"{stuck} threads still running after {timeout:.0f} s")
    return results, elapsed


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of ``values``; NaN for none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100.0 * len(ordered) + 0.4999)))
    return ordered[rank - 1]


def median(values: list[float]) -> float:
    """The median, NaN for none."""
    return statistics.median(values) if values else float("nan")


def ms(seconds: float) -> str:
    """Seconds shown as milliseconds."""
    return "n/a" if seconds != seconds else f"{seconds * 1000:.1f} ms"


@dataclass
class Goal:
    """One goal of the brief: what was measured against what was asked."""

    name: str
    measured: str
    target: str
    met: bool


def table(title: str, headers: list[str], rows: list[list[Any]]) -> str:
    """A small Markdown table (also readable in a terminal)."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)
    ]
    lines = [f"\n### {title}", ""]
    lines.append("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    lines.append("| " + " | ".join("-" * w for w in widths) + " |")
    for row in cells:
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    text = "\n".join(lines)
    print(text, flush=True)
    return text


def goals_table(title: str, goals: list[Goal]) -> str:
    """The goals, each met or MISSED."""
    return table(
        title,
        ["goal", "measured", "target", "result"],
        [[g.name, g.measured, g.target, "met" if g.met else "MISSED"] for g in goals],
    )


def machine_line() -> str:
    """Date, cores and load when the run started (the machine is shared and noisy)."""
    load = os.getloadavg()
    return (
        f"{utcnow():%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
        f"load avg {load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f}"
    )


def statement_times(engine, run: Callable[[], Any]) -> tuple[Any, dict[str, tuple[int, float]]]:
    """Run ``run`` timing every statement from cursor execute to its end, grouped by its first
    90 characters; returns (run's result, {statement: (calls, seconds)})."""
    from sqlalchemy import event

    found: dict[str, list] = {}

    def before(_conn, _cursor, _statement, _params, context, _many):
        context._bench_started = time.perf_counter()

    def after(_conn, _cursor, statement, _params, context, _many):
        key = " ".join(statement.split())[:90]
        entry = found.setdefault(key, [0, 0.0])
        entry[0] += 1
        entry[1] += time.perf_counter() - context._bench_started

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        result = run()
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
    return result, {key: (calls, spent) for key, (calls, spent) in found.items()}


def profile_call(engine, run: Callable[[], Any], title: str, top: int = 25) -> Any:
    """Run ``run`` once, timing its statements; print where the time went."""
    started = time.perf_counter()
    result, found = statement_times(engine, run)
    wall = time.perf_counter() - started
    total = sum(spent for _, spent in found.values())
    table(
        f"{title}: {wall:.3f} s wall, of which {total:.3f} s inside statements "
        f"({sum(c for c, _ in found.values())} statements)",
        ["statement", "calls", "total", "mean"],
        [
            [key, calls, f"{spent:.3f} s", f"{spent / calls * 1000:.2f} ms"]
            for key, (calls, spent) in sorted(found.items(), key=lambda kv: -kv[1][1])[:20]
        ],
    )
    return result


def cprofile_call(run: Callable[[], Any], title: str, top: int = 25) -> Any:
    """Run ``run`` under cProfile and print the top functions by cumulative and own time."""
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    try:
        result = run()
    finally:
        profiler.disable()
    for order in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(top)
        print(f"\n### cProfile of {title}, by {order}\n")
        print("\n".join(out.getvalue().splitlines()[4:]), flush=True)
    return result
