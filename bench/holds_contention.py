"""Benchmark 1: 50 clients race over one 40-seat trip until it is full, then every hold is
released; repeated for a bounded number of rounds. The hold service (booking.services.holds) and a
faithful minimal raw-SQL transaction (bench/_rawsql.py) run the same pattern, round by round,
alternating which goes first, in the same process and on the same connection pool.

Each client wants SEATS_PER_HOLD random seats from those it believes free; a loser re-reads the
free seats (one plain SELECT, the same on both sides, not counted in its latency) and tries again,
until it wins, the trip is full, or its attempts or the round's deadline run out.

    .venv/bin/python -m bench.holds_contention [--rounds 20] [--clients 50] [--only service|raw]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _rawsql as raw
from bench._common import (
    Goal,
    bench_database,
    dispose,
    goals_table,
    insert_customers,
    machine_line,
    make_app,
    make_trips,
    ms,
    pct,
    quiet_app_logs,
    run_together,
    seat_numbers,
    table,
    utcnow,
)

MAX_ATTEMPTS = 60  # per client per round
ROUND_DEADLINE = 30.0  # seconds per claim phase


class Lost(Exception):
    """A hold attempt lost (a seat was taken)."""


class Busy(Exception):
    """A hold attempt gave up waiting for a lock."""


@dataclass
class Side:
    """What one side (service or raw) did over all rounds."""

    name: str
    claim_time: float = 0.0
    release_time: float = 0.0
    wins: int = 0
    released: int = 0
    busy: int = 0
    win_latency: list = field(default_factory=list)
    loss_latency: list = field(default_factory=list)
    release_latency: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    not_full: int = 0

    @property
    def cycle_time(self) -> float:
        return self.claim_time + self.release_time

    @property
    def holds_per_s(self) -> float:
        return self.wins / self.cycle_time if self.cycle_time else 0.0

    @property
    def claim_holds_per_s(self) -> float:
        return self.wins / self.claim_time if self.claim_time else 0.0

    @property
    def transactions(self) -> int:
        return self.wins + len(self.loss_latency) + self.busy + self.released


def client(try_hold, refresh, numbers, k, rng, deadline):
    """One customer's attempts in a claim phase; returns (hold_id | None, [(kind, seconds)])."""
    free = list(numbers)
    log = []
    for _ in range(MAX_ATTEMPTS):
        if time.perf_counter() > deadline or len(free) < k:
            break
        want = rng.sample(free, k)
        started = time.perf_counter()
        try:
            hold_id = try_hold(want)
        except Lost:
            log.append(("loss", time.perf_counter() - started))
        except Busy:
            log.append(("busy", time.perf_counter() - started))
        except Exception as error:
            log.append(("error", repr(error)[:200]))
        else:
            log.append(("win", time.perf_counter() - started))
            return hold_id, log
        free = refresh()
    return None, log


def record_claims(side: Side, results, elapsed: float, k: int, seats: int):
    """Fold a claim phase's outcomes into ``side``; returns [(customer_index, hold_id)]."""
    side.claim_time += elapsed
    winners = []
    for index, outcome in enumerate(results):
        if isinstance(outcome, BaseException):
            side.errors.append(repr(outcome)[:200])
            continue
        hold_id, log = outcome
        for kind, value in log:
            if kind == "win":
                side.win_latency.append(value)
            elif kind == "loss":
                side.loss_latency.append(value)
            elif kind == "busy":
                side.busy += 1
            else:
                side.errors.append(value)
        if hold_id is not None:
            winners.append((index, hold_id))
    side.wins += len(winners)
    if len(winners) * k != seats - seats % k:
        side.not_full += 1
    return winners


def record_releases(side: Side, results, elapsed: float):
    """Fold a release phase's outcomes into ``side``."""
    side.release_time += elapsed
    for outcome in results:
        if isinstance(outcome, BaseException):
            side.errors.append(repr(outcome)[:200])
        else:
            side.released += 1
            side.release_latency.append(outcome)


def timed(call):
    """Run ``call``; return its duration."""
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


# ---- the two sides ------------------------------------------------------------------------------


def service_round(app, side, trip_id, customers, numbers, k, seed):
    """One round through booking.services.holds."""
    from sqlalchemy import text

    from booking.extensions import db
    from booking.services import holds
    from booking.services.errors import Busy as BusyError
    from booking.services.errors import DomainError

    deadline_box = {}

    def make_client(index, customer_id):
        rng = random.Random(seed * 1000 + index)

        def try_hold(want):
            try:
                return holds.hold_seats(
                    customer_id=customer_id, schedule_id=trip_id, seat_numbers=want, now=utcnow()
                ).id
            except BusyError as error:
                raise Busy() from error
            except DomainError as error:
                if error.status == 409:
                    raise Lost() from error
                raise

        def refresh():
            rows = db.session.execute(text(raw.FREE_SEATS.replace("%s", ":s")), {"s": trip_id})
            free = list(rows.scalars())
            db.session.rollback()
            return free

        def run():
            with app.app_context():
                try:
                    return client(try_hold, refresh, numbers, k, rng, deadline_box["at"])
                finally:
                    db.session.remove()

        return run

    calls = [make_client(i, c) for i, c in enumerate(customers)]
    deadline_box["at"] = time.perf_counter() + ROUND_DEADLINE + 2
    results, elapsed = run_together(calls, timeout=ROUND_DEADLINE + 30)
    winners = record_claims(side, results, elapsed, k, len(numbers))

    def make_release(index, hold_id):
        def run():
            with app.app_context():
                try:
                    return timed(
                        lambda: holds.release_hold(
                            hold_id, customer_id=customers[index], now=utcnow()
                        )
                    )
                finally:
                    db.session.remove()

        return run

    results, elapsed = run_together([make_release(i, h) for i, h in winners], timeout=60)
    record_releases(side, results, elapsed)


def raw_round(app, side, trip_id, customers, numbers, k, seed):
    """One round of the same pattern in raw SQL on connections from the same pool."""
    from booking.extensions import db

    deadline_box = {}

    def with_connection(body):
        def run():
            with app.app_context():
                proxy = db.engine.raw_connection()
                try:
                    return body(proxy.driver_connection)
                finally:
                    proxy.close()

        return run

    def make_client(index, customer_id):
        rng = random.Random(seed * 1000 + index)

        def body(pg):
            def try_hold(want):
                try:
                    return raw.claim(pg, trip_id, customer_id, want, utcnow())
                except raw.Lost as error:
                    raise Lost() from error
                except Exception as error:
                    if getattr(error, "sqlstate", None) == "55P03":
                        raise Busy() from error
                    raise

            return client(
                try_hold, lambda: raw.free_seats(pg, trip_id), numbers, k, rng, deadline_box["at"]
            )

        return with_connection(body)

    calls = [make_client(i, c) for i, c in enumerate(customers)]
    deadline_box["at"] = time.perf_counter() + ROUND_DEADLINE + 2
    results, elapsed = run_together(calls, timeout=ROUND_DEADLINE + 30)
    winners = record_claims(side, results, elapsed, k, len(numbers))

    def make_release(hold_id):
        return with_connection(
            lambda pg: timed(lambda: raw.release(pg, trip_id, hold_id, utcnow()))
        )

    results, elapsed = run_together([make_release(h) for _, h in winners], timeout=60)
    record_releases(side, results, elapsed)


def check_trip(app, trip_id, seats) -> str | None:
    """After a round: every seat free again and the counter back at the full count."""
    from sqlalchemy import text

    from booking.extensions import db

    with app.app_context():
        free, counter = db.session.execute(
            text(
                "SELECT (SELECT count(*) FROM seats"
                " WHERE schedule_id = :t AND status = 'available'),"
                " (SELECT available_seats FROM schedules WHERE id = :t)"
            ),
            {"t": trip_id},
        ).one()
        db.session.remove()
    if free != seats or counter != seats:
        return f"trip {trip_id}: {free} seats free, counter {counter}, expected {seats}"
    return None


class StatementTimer:
    """Time every statement the app sends (service rounds only), from all threads."""

    def __init__(self, app):
        import threading

        from booking.extensions import db

        with app.app_context():
            self.engine = db.engine
        self.lock = threading.Lock()
        self.found: dict[str, list] = {}

    def before(self, _conn, _cursor, _statement, _params, context, _many):
        context._bench_started = time.perf_counter()

    def after(self, _conn, _cursor, statement, _params, context, _many):
        spent = time.perf_counter() - context._bench_started
        key = " ".join(statement.split())[:80]
        with self.lock:
            entry = self.found.setdefault(key, [0, 0.0, 0.0])
            entry[0] += 1
            entry[1] += spent
            entry[2] = max(entry[2], spent)

    def on(self):
        from sqlalchemy import event

        event.listen(self.engine, "before_cursor_execute", self.before)
        event.listen(self.engine, "after_cursor_execute", self.after)

    def off(self):
        from sqlalchemy import event

        if event.contains(self.engine, "before_cursor_execute", self.before):
            event.remove(self.engine, "before_cursor_execute", self.before)
            event.remove(self.engine, "after_cursor_execute", self.after)

    def report(self, holds: int):
        total = sum(spent for _, spent, _ in self.found.values())
        table(
            f"service side under contention: time inside each statement, all threads "
            f"({total:.1f} thread-seconds, {total / max(holds, 1) * 1000:.1f} ms per hold made)",
            ["statement", "calls", "mean", "max", "share"],
            [
                [key, calls, ms(spent / calls), ms(worst), f"{spent / total:.0%}"]
                for key, (calls, spent, worst) in sorted(
                    self.found.items(), key=lambda kv: -kv[1][1]
                )[:15]
            ],
        )


# ---- main ---------------------------------------------------------------------------------------


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seats-per-hold", type=int, default=1)
    parser.add_argument("--only", choices=["service", "raw"], default=None)
    parser.add_argument(
        "--statements",
        action="store_true",
        help="time every statement of the service side (adds a little overhead)",
    )
    args = parser.parse_args(argv)
    args.rounds = max(1, min(args.rounds, 200))
    args.clients = max(2, min(args.clients, 80))

    log_path = quiet_app_logs("holds_contention")
    print(f"holds_contention: {machine_line()}; app log lines go to {log_path}")
    numbers = seat_numbers()
    service, baseline = Side("service"), Side("raw SQL")
    problems: list[str] = []
    with bench_database("holds") as url:
        app = make_app(
            url,
            migrate=True,
            SQLALCHEMY_ENGINE_OPTIONS={
                "pool_size": args.clients + 5,
                "max_overflow": 0,
                "pool_timeout": 60,
            },
        )
        try:
            from booking.extensions import db
            from booking.services import invariants

            with app.app_context():
                now = utcnow()
                customers = insert_customers(args.clients, now=now)
                service_trip, raw_trip = make_trips(2, now=now)
                # Open the pool's connections before anything is timed.
                proxies = [db.engine.raw_connection() for _ in range(args.clients + 2)]
                for proxy in proxies:
                    proxy.close()
                db.session.remove()

            timer = StatementTimer(app) if args.statements else None
            run_started = time.perf_counter()
            for round_ in range(args.rounds):
                order = [
                    ("service", service_round, service, service_trip),
                    ("raw", raw_round, baseline, raw_trip),
                ]
                if round_ % 2:
                    order.reverse()
                for name, play, side, trip in order:
                    if args.only and args.only != name:
                        continue
                    if timer and name == "service":
                        timer.on()
                    play(app, side, trip, customers, numbers, args.seats_per_hold, round_ + 1)
                    if timer:
                        timer.off()
                    problem = check_trip(app, trip, len(numbers))
                    if problem:
                        problems.append(f"round {round_ + 1} {name}: {problem}")
            run_time = time.perf_counter() - run_started

            with app.app_context():
                violations = invariants.run_all()
                db.session.remove()
            problems.extend(str(v) for v in violations[:5])
        finally:
            dispose(app)

    sides = [s for s in (service, baseline) if s.wins or s.errors]
    table(
        f"Hold contention: {args.clients} clients, one {len(numbers)}-seat trip, "
        f"{args.seats_per_hold} seat(s) a hold, {args.rounds} rounds ({run_time:.1f} s in all)",
        [
            "side",
            "holds",
            "holds/s (claim+release)",
            "holds/s (claim phase)",
            "tx/s",
            "loser attempts",
            "loser p50",
            "loser p95",
            "winner p50",
            "winner p95",
            "release p95",
            "busy",
            "errors",
            "rounds not full",
        ],
        [
            [
                s.name,
                s.wins,
                f"{s.holds_per_s:.0f}",
                f"{s.claim_holds_per_s:.0f}",
                f"{s.transactions / s.cycle_time:.0f}",
                len(s.loss_latency),
                ms(pct(s.loss_latency, 50)),
                ms(pct(s.loss_latency, 95)),
                ms(pct(s.win_latency, 50)),
                ms(pct(s.win_latency, 95)),
                ms(pct(s.release_latency, 95)),
                s.busy,
                len(s.errors),
                s.not_full,
            ]
            for s in sides
        ],
    )
    goals = []
    if service.wins and baseline.wins:
        ratio = service.holds_per_s / baseline.holds_per_s
        goals.append(
            Goal("service / raw holds/s (claim+release)", f"{ratio:.2f}", ">= 0.3", ratio >= 0.3)
        )
        claim_ratio = service.claim_holds_per_s / baseline.claim_holds_per_s
        print(f"\n(claim phase only: service / raw = {claim_ratio:.2f})")
    if service.loss_latency:
        p95 = pct(service.loss_latency, 95)
        goals.append(Goal("service loser p95", ms(p95), "< 50 ms", p95 < 0.050))
    if baseline.wins:
        tx = baseline.transactions / baseline.cycle_time
        goals.append(
            Goal(
                "raw claim+release transactions/s (reference)",
                f"{tx:.0f}",
                "about 5,000 on 2 cores",
                tx >= 5000,
            )
        )
    goals.append(
        Goal(
            "every round filled the trip, all freed, invariants hold",
            "yes"
            if not problems and not service.not_full and not baseline.not_full
            else f"{len(problems)} problem(s)",
            "yes",
            not problems and not service.not_full and not baseline.not_full,
        )
    )
    if timer:
        timer.report(service.wins)
    errors = service.errors + baseline.errors
    goals.append(Goal("unexpected errors", str(len(errors)), "0", not errors))
    goals_table("Goals", goals)
    for line in (problems + errors)[:10]:
        print("  !", line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
