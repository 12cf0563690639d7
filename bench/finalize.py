"""Benchmark 4: money paths.

a) Wallet-only finalizations per second: 20 customers, each with its own one-seat hold and enough
   wallet balance, pay at the same instant through payments.pay_with_wallet; bounded rounds, each
   on a fresh trip. Beside it, round by round, a minimal raw-SQL finalization (lock hold, read its
   seats, lock and debit the wallet, booking, payment, booking seats, ledger row, seats booked,
   hold confirmed, trip version, ticket) on holds made the same way.
b) 1,000 replays of one signed payment.succeeded webhook (a wallet+UPI payment) from 20 threads
   through webhooks.receive_webhook: asserts one booking and one debit, reports the time taken;
   beside it the least a duplicate needs in raw SQL (lock the payment, look the event id up).
c) invariants.run_all() over 100,000 bookings built with set-based SQL (users, wallets, ledger
   credits and debits, confirmed holds, live claims, booked seats, bookings, booking seats,
   completed wallet payments, tickets), after checking on a small N that run_all() returns [] for
   the generator (and that it does catch a planted fault); beside it, a plain scan of every table
   the checks read, for a ratio.

    .venv/bin/python -m bench.finalize [--rounds 10] [--replays 1000] [--bookings 100000]
        [--skip a,b,c] [--profile]
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections import Counter
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from booking.services import webhooks

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
    ms,
    pct,
    profile_call,
    quiet_app_logs,
    run_together,
    seat_numbers,
    table,
    utcnow,
)

CUSTOMERS = 20
CENT = Decimal("0.01")


def details_for(seat: str):
    """Checkout details for one seat (a female passenger, so ladies-only seats are fine)."""
    from booking.services.details import CheckoutDetails, Passenger

    return CheckoutDetails(
        passengers=(Passenger(seat, "Bench Passenger", 30, "female"),),
        contact_name="Bench Customer",
        contact_phone="9876543210",
        contact_email="bench@example.com",
    )


# ---- a) wallet finalizations --------------------------------------------------------------------


def make_holds(app, trip_id, customers, seats):
    """One one-seat hold per customer on this trip (not timed); [(customer, hold, seat)]."""
    from booking.extensions import db
    from booking.services import holds

    made = []
    with app.app_context():
        for customer, seat in zip(customers, seats, strict=False):
            hold_id = holds.hold_seats(
                customer_id=customer, schedule_id=trip_id, seat_numbers=[seat], now=utcnow()
            ).id
            made.append((customer, hold_id, seat))
            db.session.remove()
    return made


def service_pay(app, customer, hold_id, seat):
    """pay_with_wallet in its own app context; returns its duration."""
    from booking.extensions import db
    from booking.services import payments

    with app.app_context():
        try:
            started = time.perf_counter()
            payments.pay_with_wallet(
                hold_id=hold_id, customer_id=customer, details=details_for(seat), now=utcnow()
            )
            return time.perf_counter() - started
        finally:
            db.session.remove()


RAW_FINALIZE = {
    "hold": "SELECT schedule_id, status, expires_at FROM reservations "
    "WHERE id = %s AND user_id = %s FOR UPDATE",
    "seats": "SELECT s.id, s.seat_number, s.price_modifier, sc.base_price "
    "FROM reservation_seats rs "
    "JOIN seats s ON s.id = rs.seat_id JOIN schedules sc ON sc.id = s.schedule_id "
    "WHERE rs.reservation_id = %s AND rs.is_live ORDER BY s.id",
    "wallet": "SELECT id, balance FROM wallets WHERE user_id = %s FOR UPDATE",
    "debit": "UPDATE wallets SET balance = balance - %s, updated_at = %s WHERE id = %s",
    "booking": "INSERT INTO bookings (id, reference, reservation_id, user_id, channel, "
    "schedule_id, "
    "contact_name, contact_phone, contact_email, base_amount, discount_amount, tax_amount, "
    "total_amount, refunded_amount, payment_status, status, confirmed_at, created_at, updated_at) "
    "VALUES (%s, %s, %s, %s, 'online', %s, %s, %s, %s, %s, 0, %s, %s, 0, 'completed', "
    "'confirmed', %s, %s, %s)",
    "payment": "INSERT INTO payments (id, purpose, reservation_id, booking_id, user_id, amount, "
    "refunded_amount, method, status, completed_at, created_at, updated_at) VALUES "
    "(%s, 'booking', %s, %s, %s, %s, 0, 'wallet', 'completed', %s, %s, %s)",
    "booking_seats": "INSERT INTO booking_seats (id, booking_id, seat_id, seat_number, fare, "
    "charged, passenger_name, passenger_age, passenger_gender, status, created_at, updated_at) "
    "SELECT gen_random_uuid(), %s, s, n, f, c, 'Bench Passenger', 30, 'female', 'booked', %s, %s "
    "FROM unnest(%s::uuid[], %s::text[], %s::numeric[], %s::numeric[]) AS x(s, n, f, c)",
    "ledger": "INSERT INTO wallet_transactions (id, wallet_id, kind, amount, balance_after, "
    "payment_id, booking_id, description, created_at) VALUES "
    "(%s, %s, 'debit', %s, %s, %s, %s, 'Booking (bench)', %s)",
    "book_seats": "UPDATE seats SET status = 'booked', updated_at = %s "
    "WHERE id = ANY(%s) AND status = 'reserved'",
    "confirm": "UPDATE reservations SET status = 'confirmed', ended_at = %s, end_reason = 'paid', "
    "total_amount = %s, updated_at = %s WHERE id = %s",
    "version": "UPDATE schedules SET seat_version = seat_version + 1 WHERE id = %s",
    "ticket": "INSERT INTO tickets (id, booking_id, ticket_number, version, qr_payload, validity, "
    "issued_at, created_at, updated_at) VALUES (%s, %s, %s, 1, %s, 'valid', %s, %s, %s)",
}


def raw_finalize(pg, customer, hold_id, now):
    """A minimal wallet finalization in one transaction; returns the booking id."""
    q = RAW_FINALIZE
    try:
        with pg.cursor() as cur:
            cur.execute(q["hold"], (hold_id, customer))
            schedule_id, status, expires_at = cur.fetchone()
            if status != "active" or expires_at <= now:
                raise RuntimeError("hold not live")
            cur.execute(q["seats"], (hold_id,))
            seats = cur.fetchall()
            fares = [Decimal(base) + Decimal(mod) for _, _, mod, base in seats]
            charged = [(f * Decimal("1.05")).quantize(CENT, ROUND_HALF_UP) for f in fares]
            base, total = sum(fares), sum(charged)
            cur.execute(q["wallet"], (customer,))
            wallet_id, balance = cur.fetchone()
            if balance < total:
                raise RuntimeError("wallet short")
            cur.execute(q["debit"], (total, now, wallet_id))
            booking_id, payment_id = uuid.uuid4(), uuid.uuid4()
            reference = "R" + uuid.uuid4().hex[:9].upper()
            cur.execute(
                q["booking"],
                (
                    booking_id,
                    reference,
                    hold_id,
                    customer,
                    schedule_id,
                    "Bench Customer",
                    "9876543210",
                    "bench@example.com",
                    base,
                    total - base,
                    total,
                    now,
                    now,
                    now,
                ),
            )
            cur.execute(
                q["payment"], (payment_id, hold_id, booking_id, customer, total, now, now, now)
            )
            cur.execute(
                q["booking_seats"],
                (
                    booking_id,
                    now,
                    now,
                    [s[0] for s in seats],
                    [s[1] for s in seats],
                    fares,
                    charged,
                ),
            )
            cur.execute(
                q["ledger"],
                (uuid.uuid4(), wallet_id, total, balance - total, payment_id, booking_id, now),
            )
            cur.execute(q["book_seats"], (now, [s[0] for s in seats]))
            if cur.rowcount != len(seats):
                raise RuntimeError("seats moved")
            cur.execute(q["confirm"], (now, total, now, hold_id))
            cur.execute(q["version"], (schedule_id,))
            cur.execute(
                q["ticket"],
                (
                    uuid.uuid4(),
                    booking_id,
                    "TR" + uuid.uuid4().hex[:12],
                    "bench-token",
                    now,
                    now,
                    now,
                ),
            )
        pg.commit()
        return booking_id
    except BaseException:
        pg.rollback()
        raise


def raw_pay(app, customer, hold_id, seat):
    """raw_finalize on a pooled connection; returns its duration."""
    from booking.extensions import db

    with app.app_context():
        proxy = db.engine.raw_connection()
        try:
            started = time.perf_counter()
            raw_finalize(proxy.driver_connection, customer, hold_id, utcnow())
            return time.perf_counter() - started
        finally:
            proxy.close()


def bench_finalize(app, rounds: int):
    """Part a: rounds of 20 simultaneous wallet payments, service and raw alternating."""
    from booking.extensions import db

    seats = seat_numbers()[4 : 4 + CUSTOMERS]  # past the premium front row
    with app.app_context():
        now = utcnow()
        customers = insert_customers(CUSTOMERS, now=now, tag="pay", wallet=Decimal("100000.00"))
        trips = make_trips(2 * rounds, now=now, tag="pay")
        db.session.remove()
    sides = {
        "service": {"time": 0.0, "lat": [], "errors": []},
        "raw": {"time": 0.0, "lat": [], "errors": []},
    }
    for round_ in range(rounds):
        order = [
            ("service", service_pay, trips[2 * round_]),
            ("raw", raw_pay, trips[2 * round_ + 1]),
        ]
        if round_ % 2:
            order.reverse()
        for name, pay, trip in order:
            made = make_holds(app, trip, customers, seats)
            calls = [lambda c=c, h=h, s=s, pay=pay: pay(app, c, h, s) for c, h, s in made]
            results, elapsed = run_together(calls, timeout=120)
            side = sides[name]
            side["time"] += elapsed
            for outcome in results:
                if isinstance(outcome, BaseException):
                    side["errors"].append(repr(outcome)[:200])
                else:
                    side["lat"].append(outcome)
    return sides


# ---- b) webhook replays -------------------------------------------------------------------------


def bench_replays(app, replays: int, threads: int = 20):
    """Part b: one signed success webhook delivered ``replays`` times from ``threads`` threads."""
    from sqlalchemy import func, select

    from booking.extensions import db
    from booking.gateway.sandbox import build_event, sign
    from booking.models import Booking, Payment, Wallet, WalletTransaction
    from booking.models.enums import LedgerKind, PaymentMethod
    from booking.services import holds, payments

    with app.app_context():
        now = utcnow()
        (customer,) = insert_customers(1, now=now, tag="hook", wallet=Decimal("300.00"))
        (trip,) = make_trips(1, now=now, tag="hook")
        hold_id = holds.hold_seats(
            customer_id=customer, schedule_id=trip, seat_numbers=["2A"], now=now
        ).id
        db.session.remove()
        started = payments.start_gateway_payment(
            hold_id=hold_id,
            customer_id=customer,
            details=details_for("2A"),
            method=PaymentMethod.UPI,
            use_wallet=True,
            now=now,
            return_url="/return",
        )
        payment = db.session.get(Payment, started.payment_id)
        reference, amount = payment.gateway_reference, payment.amount
        db.session.remove()
    at = utcnow()
    body = build_event(
        "payment.succeeded",
        reference,
        amount,
        now=at,
        event_id=f"evt_bench_{uuid.uuid4().hex[:12]}",
    )
    headers = sign(body, int(at.timestamp()), app.config["GATEWAY_WEBHOOK_SECRET"])

    per_thread = replays // threads

    def service_worker():
        outcomes, times = Counter(), []
        with app.app_context():
            for _ in range(per_thread):
                t0 = time.perf_counter()
                try:
                    outcomes[webhooks.receive_webhook(headers, body, at).outcome] += 1
                except Exception as error:
                    outcomes[f"error {type(error).__name__}"] += 1
                times.append(time.perf_counter() - t0)
                db.session.remove()
        return outcomes, times

    def raw_worker():
        times = []
        with app.app_context():
            proxy = db.engine.raw_connection()
            try:
                pg = proxy.driver_connection
                for _ in range(per_thread):
                    t0 = time.perf_counter()
                    with pg.cursor() as cur:
                        cur.execute(
                            "SELECT id FROM payments WHERE gateway_reference = %s FOR UPDATE",
                            (reference,),
                        )
                        payment_id = cur.fetchone()[0]
                        cur.execute(
                            "SELECT id FROM payment_events WHERE event_id = %s",
                            (f"evt-raw-{payment_id}",),
                        )
                        cur.fetchall()
                    pg.commit()
                    times.append(time.perf_counter() - t0)
            finally:
                proxy.close()
        return Counter(), times

    results, service_s = run_together([service_worker] * threads, timeout=300)
    raw_results, raw_s = run_together([raw_worker] * threads, timeout=300)
    outcomes, times = Counter(), []
    for result in results:
        if isinstance(result, BaseException):
            outcomes[f"thread died: {result!r}"[:80]] += 1
            continue
        outcomes.update(result[0])
        times.extend(result[1])
    raw_times = [t for r in raw_results if not isinstance(r, BaseException) for t in r[1]]
    with app.app_context():
        bookings = db.session.scalar(
            select(func.count()).select_from(Booking).where(Booking.reservation_id == hold_id)
        )
        wallet_id = db.session.scalar(select(Wallet.id).where(Wallet.user_id == customer))
        debits = db.session.scalar(
            select(func.count())
            .select_from(WalletTransaction)
            .where(
                WalletTransaction.wallet_id == wallet_id,
                WalletTransaction.kind == LedgerKind.DEBIT,
            )
        )
        db.session.remove()
    return {
        "outcomes": outcomes,
        "times": times,
        "seconds": service_s,
        "bookings": bookings,
        "debits": debits,
        "raw_times": raw_times,
        "raw_seconds": raw_s,
        "count": per_thread * threads,
    }


# ---- c) reconcile over many bookings ------------------------------------------------------------

GENERATOR = [
    """INSERT INTO routes (id, origin_city, destination_city, distance_km,
       estimated_duration_minutes, is_active, created_at, updated_at)
       VALUES (md5('route')::uuid, 'GenFrom', 'GenTo', 350, 360, true, %(now)s, %(now)s)""",
    """INSERT INTO buses (id, bus_number, bus_type, total_seats, seat_layout_config, amenities,
       is_active, created_at, updated_at)
       VALUES (md5('bus')::uuid, 'GEN00001', 'deluxe', 40, %(layout)s::json, '["AC"]', true,
               %(now)s, %(now)s)""",
    # 16 bookings of 2 seats on each 40-seat trip: 32 booked, 8 free.
    """INSERT INTO schedules (id, bus_id, route_id, departure_at, arrival_at, base_price,
       available_seats, seat_version, status, created_at, updated_at)
       SELECT md5('t' || t)::uuid, md5('bus')::uuid, md5('route')::uuid,
              %(dep)s + t * interval '1 minute', %(dep)s + t * interval '1 minute' + interval '6 h',
              500, 40 - 2 * least(16, %(b)s - 16 * t), 1, 'scheduled', %(now)s, %(now)s
       FROM generate_series(0, %(t)s - 1) t""",
    """INSERT INTO seats (id, schedule_id, seat_number, deck, row_index, column_index, seat_type,
       price_modifier, ladies_only, is_window, status, created_at, updated_at)
       SELECT md5('s' || t || '.' || j)::uuid, md5('t' || t)::uuid,
              (j / 4 + 1)::text || substr('ABCD', j %% 4 + 1, 1), 0, j / 4,
              CASE WHEN j %% 4 < 2 THEN j %% 4 ELSE j %% 4 + 1 END, 'standard', 0, false,
              j %% 4 IN (0, 3),
              CASE WHEN j < 2 * least(16, %(b)s - 16 * t) THEN 'booked' ELSE 'available' END,
              %(now)s, %(now)s
       FROM generate_series(0, %(t)s - 1) t, generate_series(0, 39) j""",
    """INSERT INTO users (id, email, password_hash, first_name, last_name, phone, role, is_active,
       created_at, updated_at)
       SELECT md5('u' || u)::uuid, 'gen' || u || '@example.com', 'x', 'Gen', 'User' || u,
              '97' || lpad(u::text, 8, '0'), 'customer', true, %(now)s, %(now)s
       FROM generate_series(0, %(u)s - 1) u""",
    """INSERT INTO wallets (id, user_id, balance, created_at, updated_at)
       SELECT md5('w' || u)::uuid, md5('u' || u)::uuid, 100, %(now)s, %(now)s
       FROM generate_series(0, %(u)s - 1) u""",
    # Opening credit: what the customer's bookings cost plus the 100 left in the wallet.
    """INSERT INTO wallet_transactions (id, wallet_id, kind, amount, balance_after, description,
       created_at)
       SELECT md5('wc' || u)::uuid, md5('w' || u)::uuid, 'credit', n * 1050 + 100, n * 1050 + 100,
              'Opening credit (generated)', %(now)s - interval '2 days'
       FROM (SELECT u, (%(b)s - 1 - u) / %(u)s + 1 AS n FROM generate_series(0, %(u)s - 1) u) x""",
    """INSERT INTO reservations (id, user_id, channel, schedule_id, reserved_at, expires_at,
       gateway_extended, status, total_amount, ended_at, end_reason, created_at, updated_at)
       SELECT md5('r' || i)::uuid, md5('u' || i %% %(u)s)::uuid, 'online',
              md5('t' || i / 16)::uuid, %(now)s - interval '1 day',
              %(now)s - interval '1 day' + interval '15 minutes', false, 'confirmed', 1050,
              %(now)s - interval '1 day' + interval '5 minutes', 'paid', %(now)s, %(now)s
       FROM generate_series(0, %(b)s - 1) i""",
    """INSERT INTO reservation_seats (id, reservation_id, seat_id, is_live, created_at, updated_at)
       SELECT md5('rs' || i || '.' || x)::uuid, md5('r' || i)::uuid,
              md5('s' || i / 16 || '.' || (2 * (i %% 16) + x))::uuid, true, %(now)s, %(now)s
       FROM generate_series(0, %(b)s - 1) i, generate_series(0, 1) x""",
    """INSERT INTO bookings (id, reference, reservation_id, user_id, channel, schedule_id,
       contact_name, contact_phone, base_amount, discount_amount, tax_amount, total_amount,
       refunded_amount, payment_status, status, confirmed_at, created_at, updated_at)
       SELECT md5('b' || i)::uuid, 'G' || lpad(i::text, 9, '0'), md5('r' || i)::uuid,
              md5('u' || i %% %(u)s)::uuid, 'online', md5('t' || i / 16)::uuid, 'Gen Customer',
              '9876543210', 1000, 0, 50, 1050, 0, 'completed', 'confirmed',
              %(now)s - interval '1 day', %(now)s, %(now)s
       FROM generate_series(0, %(b)s - 1) i""",
    """INSERT INTO booking_seats (id, booking_id, seat_id, seat_number, fare, charged,
       passenger_name, passenger_age, passenger_gender, status, created_at, updated_at)
       SELECT md5('bs' || i || '.' || x)::uuid, md5('b' || i)::uuid,
              md5('s' || i / 16 || '.' || (2 * (i %% 16) + x))::uuid,
              ((2 * (i %% 16) + x) / 4 + 1)::text
                || substr('ABCD', (2 * (i %% 16) + x) %% 4 + 1, 1),
              500, 525, 'Gen Passenger', 30, 'female', 'booked', %(now)s, %(now)s
       FROM generate_series(0, %(b)s - 1) i, generate_series(0, 1) x""",
    """INSERT INTO payments (id, purpose, reservation_id, booking_id, user_id, amount,
       refunded_amount, method, status, completed_at, created_at, updated_at)
       SELECT md5('p' || i)::uuid, 'booking', md5('r' || i)::uuid, md5('b' || i)::uuid,
              md5('u' || i %% %(u)s)::uuid, 1050, 0, 'wallet', 'completed',
              %(now)s - interval '1 day', %(now)s, %(now)s
       FROM generate_series(0, %(b)s - 1) i""",
    """INSERT INTO wallet_transactions (id, wallet_id, kind, amount, balance_after, payment_id,
       booking_id, description, created_at)
       SELECT md5('wd' || i)::uuid, md5('w' || i %% %(u)s)::uuid, 'debit', 1050,
              ((%(b)s - 1 - i %% %(u)s) / %(u)s + 1) * 1050 + 100 - (i / %(u)s + 1) * 1050,
              md5('p' || i)::uuid, md5('b' || i)::uuid, 'Booking (generated)',
              %(now)s - interval '1 day'
       FROM generate_series(0, %(b)s - 1) i""",
    """INSERT INTO tickets (id, booking_id, ticket_number, version, qr_payload, validity,
       issued_at, created_at, updated_at)
       SELECT md5('tk' || i)::uuid, md5('b' || i)::uuid, 'TG' || lpad(i::text, 10, '0'), 1,
              'generated', 'valid', %(now)s - interval '1 day', %(now)s, %(now)s
       FROM generate_series(0, %(b)s - 1) i""",
]
TABLES = [
    "activity_logs",
    "tickets",
    "wallet_transactions",
    "payment_events",
    "payments",
    "booking_seats",
    "cancellations",
    "outbox_emails",
    "bookings",
    "reservation_seats",
    "reservations",
    "seats",
    "schedules",
    "wallets",
    "users",
    "buses",
    "routes",
    "promo_codes",
]
READ_BY_CHECKS = [
    "reservation_seats",
    "reservations",
    "seats",
    "schedules",
    "wallets",
    "wallet_transactions",
    "payments",
    "bookings",
    "booking_seats",
    "tickets",
]


def generate(app, bookings: int) -> float:
    """Empty the tables, then build ``bookings`` healthy bookings with set-based SQL; seconds."""
    import json

    from bench._common import grid_layout
    from booking.extensions import db

    users = max(1, bookings // 5)
    params = {
        "now": utcnow(),
        "dep": utcnow() + timedelta(days=3),
        "b": bookings,
        "u": users,
        "t": (bookings + 15) // 16,
        "layout": json.dumps(grid_layout(10)),
    }
    with app.app_context():
        proxy = db.engine.raw_connection()
        try:
            pg = proxy.driver_connection
            with pg.cursor() as cur:
                cur.execute("TRUNCATE " + ", ".join(TABLES) + " CASCADE")
            pg.commit()
            started = time.perf_counter()
            with pg.cursor() as cur:
                for statement in GENERATOR:
                    cur.execute(statement, params)
            pg.commit()
            elapsed = time.perf_counter() - started
            pg.autocommit = True
            pg.execute("VACUUM ANALYZE")
            pg.autocommit = False
        finally:
            proxy.close()
        db.session.remove()
    return elapsed


def check_generator(app) -> list[str]:
    """run_all() must be [] on a small generated set, and must catch one planted fault."""
    from sqlalchemy import text

    from booking.extensions import db
    from booking.services import invariants

    problems = []
    generate(app, 160)
    with app.app_context():
        found = invariants.run_all()
        if found:
            problems.append(f"generator is not healthy: {[str(v) for v in found[:3]]}")
        db.session.execute(
            text(
                "UPDATE wallets SET balance = balance + 1 WHERE id = "
                "(SELECT id FROM wallets LIMIT 1)"
            )
        )
        db.session.commit()
        planted = invariants.run_all()
        if [v.invariant for v in planted] != ["wallet-balance-matches-ledger"]:
            problems.append(f"planted fault not caught as expected: {planted[:3]}")
        db.session.remove()
    return problems


def bench_reconcile(app, bookings: int, repeats: int = 2, profile: bool = False):
    """Part c: time run_all() (and each check) over ``bookings`` generated bookings."""
    from sqlalchemy import text

    from booking.extensions import db
    from booking.services import invariants

    problems = check_generator(app)
    built = generate(app, bookings)
    runs, per_check, scans = [], {}, []
    with app.app_context():
        counts = dict(
            db.session.execute(
                text(" UNION ALL ".join(f"SELECT '{t}', count(*) FROM {t}" for t in READ_BY_CHECKS))
            ).all()
        )
        db.session.remove()
        for _ in range(repeats):
            started = time.perf_counter()
            scan = db.session.execute(
                text("SELECT " + ", ".join(f"(SELECT count(*) FROM {t})" for t in READ_BY_CHECKS))
            ).one()
            scans.append(time.perf_counter() - started)
            db.session.remove()
            started = time.perf_counter()
            found = invariants.run_all()
            runs.append(time.perf_counter() - started)
            db.session.remove()
            if found:
                problems.append(f"{len(found)} violations over the generated data: {found[:2]}")
        for name, check in invariants.CHECKS.items():
            started = time.perf_counter()
            check()
            per_check[name] = time.perf_counter() - started
            db.session.remove()
        if profile:
            profile_call(db.engine, invariants.run_all, "run_all")
        del scan
    return {
        "built": built,
        "runs": runs,
        "per_check": per_check,
        "scans": scans,
        "counts": counts,
        "problems": problems,
    }


# ---- main ---------------------------------------------------------------------------------------


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--replays", type=int, default=1000)
    parser.add_argument("--bookings", type=int, default=100_000)
    parser.add_argument("--skip", default="", help="parts to skip, e.g. 'c' or 'a,b'")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="profile one wallet payment and the reconcile statements",
    )
    args = parser.parse_args(argv)
    rounds = max(1, min(args.rounds, 50))
    replays = max(20, min(args.replays, 5000))
    bookings = max(1000, min(args.bookings, 300_000))
    skip = {p.strip() for p in args.skip.split(",") if p.strip()}
    log_path = quiet_app_logs("finalize")
    print(f"finalize: {machine_line()}; app log lines go to {log_path}")
    goals: list[Goal] = []
    with bench_database("finalize") as url:
        app = make_app(
            url,
            migrate=True,
            SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 25, "max_overflow": 0, "pool_timeout": 60},
        )
        try:
            if "a" not in skip:
                sides = bench_finalize(app, rounds)
                s, r = sides["service"], sides["raw"]
                s_rate = len(s["lat"]) / s["time"] if s["time"] else 0
                r_rate = len(r["lat"]) / r["time"] if r["time"] else 0
                table(
                    f"a) wallet-only finalizations: {CUSTOMERS} customers at once, {rounds} rounds",
                    ["side", "finalized", "per second", "p50", "p95", "errors"],
                    [
                        [
                            "pay_with_wallet (service)",
                            len(s["lat"]),
                            f"{s_rate:.0f}",
                            ms(pct(s["lat"], 50)),
                            ms(pct(s["lat"], 95)),
                            len(s["errors"]),
                        ],
                        [
                            "minimal raw SQL",
                            len(r["lat"]),
                            f"{r_rate:.0f}",
                            ms(pct(r["lat"], 50)),
                            ms(pct(r["lat"], 95)),
                            len(r["errors"]),
                        ],
                    ],
                )
                for line in (s["errors"] + r["errors"])[:5]:
                    print("  !", line)
                goals.append(
                    Goal(
                        "finalizations/s, service / raw",
                        f"{s_rate:.0f}/s, ratio {s_rate / r_rate:.2f}" if r_rate else "n/a",
                        "(reported)",
                        not s["errors"],
                    )
                )
                if args.profile:
                    from booking.extensions import db
                    from booking.services import payments

                    with app.app_context():
                        now = utcnow()
                        (c,) = insert_customers(1, now=now, tag="prof", wallet=Decimal("50000.00"))
                        (trip,) = make_trips(1, now=now, tag="prof")
                        db.session.remove()
                    (made,) = make_holds(app, trip, [c], ["6A"])
                    with app.app_context():
                        profile_call(
                            db.engine,
                            lambda: payments.pay_with_wallet(
                                hold_id=made[1],
                                customer_id=c,
                                details=details_for("6A"),
                                now=utcnow(),
                            ),
                            "one pay_with_wallet",
                        )
                        db.session.remove()
                    # cProfile over 20 sequential payments (one customer, 20 trips).
                    with app.app_context():
                        more = make_trips(20, now=utcnow(), tag="prof")
                        db.session.remove()
                    held = [make_holds(app, t, [c], ["6B"])[0] for t in more]

                    def pay_all():
                        for _c, hold_id, seat in held:
                            payments.pay_with_wallet(
                                hold_id=hold_id,
                                customer_id=c,
                                details=details_for(seat),
                                now=utcnow(),
                            )
                            db.session.remove()

                    with app.app_context():
                        cprofile_call(pay_all, "20 sequential pay_with_wallet", top=35)
            if "b" not in skip:
                hooks = bench_replays(app, replays)
                t = hooks["times"]
                table(
                    f"b) {hooks['count']} replays of one signed success webhook, 20 threads",
                    ["side", "time taken", "per second", "p50", "p95", "outcomes"],
                    [
                        [
                            "receive_webhook (service)",
                            f"{hooks['seconds']:.2f} s",
                            f"{hooks['count'] / hooks['seconds']:.0f}",
                            ms(pct(t, 50)),
                            ms(pct(t, 95)),
                            dict(hooks["outcomes"]),
                        ],
                        [
                            "minimal raw duplicate check",
                            f"{hooks['raw_seconds']:.2f} s",
                            f"{len(hooks['raw_times']) / hooks['raw_seconds']:.0f}",
                            ms(pct(hooks["raw_times"], 50)),
                            ms(pct(hooks["raw_times"], 95)),
                            "-",
                        ],
                    ],
                )
                ok = hooks["bookings"] == 1 and hooks["debits"] == 1
                goals.append(
                    Goal(
                        "replays leave one booking and one debit",
                        f"{hooks['bookings']} booking, {hooks['debits']} debit",
                        "1 and 1",
                        ok,
                    )
                )
                goals.append(
                    Goal(
                        "time for the replays (service / raw)",
                        f"{hooks['seconds']:.2f} s "
                        f"({hooks['seconds'] / hooks['raw_seconds']:.1f}x raw)",
                        "(reported)",
                        ok,
                    )
                )
            if "c" not in skip:
                rec = bench_reconcile(app, bookings, profile=args.profile)
                best, scan = min(rec["runs"]), min(rec["scans"])
                table(
                    f"c) reconcile over {bookings} bookings (built in {rec['built']:.1f} s; "
                    f"rows: " + ", ".join(f"{k} {v}" for k, v in rec["counts"].items()) + ")",
                    ["what", "time", "ratio to scan"],
                    [
                        [
                            "invariants.run_all() (best of " + str(len(rec["runs"])) + ")",
                            f"{best:.2f} s",
                            f"{best / scan:.1f}x",
                        ],
                        ["plain count(*) of the tables it reads", f"{scan:.2f} s", "1.0x"],
                    ]
                    + [
                        [f"  check {name}", f"{sec:.2f} s", f"{sec / scan:.1f}x"]
                        for name, sec in sorted(rec["per_check"].items(), key=lambda kv: -kv[1])
                    ],
                )
                goals.append(
                    Goal(
                        "generator healthy on small N (run_all() == [], fault caught)",
                        "yes" if not rec["problems"] else "; ".join(rec["problems"])[:120],
                        "yes",
                        not rec["problems"],
                    )
                )
                goals.append(
                    Goal(
                        f"run_all() over {bookings} bookings", f"{best:.2f} s", "< 10 s", best < 10
                    )
                )
        finally:
            dispose(app)
    goals_table("Goals", goals)
    return 0


if __name__ == "__main__":
    sys.exit(main())
