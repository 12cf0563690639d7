"""Benchmark 5: holds over HTTP. gunicorn (-w 2 --threads 16, bench/wsgi_bench.py: the production
app with CSRF off) on 127.0.0.1 and PostgreSQL; 50 clients (threads, http.client, keep-alive),
each signed in as its own customer through POST /login, race to hold seats of one 40-seat trip
through POST /schedules/<id>/holds until it is full; then every winner drops its hold through
POST /holds/<id>/drop; bounded rounds. A loser reads the free seats off the seat map page it gets
back (data-state="available"), as a browser user would, and tries again.

Beside it, round by round in the same run, the same claim and release in raw SQL via psycopg
(bench/_rawsql.py, the 50-thread pattern of bench/holds_contention.py).

Also: SQL statements per hold request (the whole request in-process through the Flask test
client: session user load, the hold, the redirect), the seat-map page's p50/p95 at 20 concurrent
clients beside GET /healthz at the same concurrency, and the page's size in bytes.

    .venv/bin/python -m bench.http_holds [--rounds 10] [--clients 50] [--port 0]
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    LOG_DIR,
    PASSWORD,
    ROOT,
    Goal,
    bench_database,
    count_statements,
    dispose,
    goals_table,
    insert_customers,
    machine_line,
    make_app,
    make_trips,
    median,
    ms,
    pct,
    quiet_app_logs,
    run_together,
    seat_numbers,
    table,
    utcnow,
)
from bench.holds_contention import Side, raw_round

HOST = "127.0.0.1"  # loopback only
MAX_ATTEMPTS = 60
ROUND_DEADLINE = 30.0
SEAT_TAG = re.compile(r"<[^>]*\bdata-seat=[^>]*>")
SEAT_ATTR = re.compile(r'\bdata-(seat|state)="([^"]*)"')
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class Client:
    """One browser: a keep-alive connection to the server and its session cookie."""

    def __init__(self, port: int):
        self.port = port
        self.cookies: dict[str, str] = {}
        self.conn: http.client.HTTPConnection | None = None

    def connect(self) -> None:
        """A fresh connection (gunicorn closes idle keep-alive ones after 2 s)."""
        if self.conn is not None:
            self.conn.close()
        self.conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
        self.conn.connect()

    def request(self, method: str, path: str, form: dict | list | None = None):
        """(status, headers, body bytes); keeps the cookies the server sets."""
        headers = {}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form, doseq=True)
            headers.update(FORM)
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if self.conn is None:
            self.connect()
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionError, BrokenPipeError):
            self.connect()  # the server closed an idle connection before reading: send again
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
        data = response.read()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key.strip()] = rest.split(";", 1)[0]
        return response.status, dict(response.getheaders()), data


def available_seats(page: str) -> list[str]:
    """Seat numbers shown as available on a seat-map page (attributes in any order)."""
    free = []
    for tag in SEAT_TAG.findall(page):
        attrs = dict(SEAT_ATTR.findall(tag))
        if attrs.get("state") == "available" and attrs.get("seat"):
            free.append(attrs["seat"])
    return free


# ---- the server ---------------------------------------------------------------------------------


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def start_gunicorn(url: str, port: int, log: Path) -> subprocess.Popen:
    """gunicorn on 127.0.0.1:port serving bench.wsgi_bench:app; waits for /healthz."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "FLASK_ENV")}
    env.update(
        DATABASE_URL=url.replace("postgresql+psycopg://", "postgresql://"),
        SECRET_KEY="bench",
        PYTHONPATH=str(ROOT),
    )
    out = open(log, "ab")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "-w",
            "2",
            "--threads",
            "16",
            "-b",
            f"{HOST}:{port}",
            "bench.wsgi_bench:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=out,
        start_new_session=True,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}; see {log}")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return process
        except OSError:
            time.sleep(0.3)
    stop_gunicorn(process)
    raise RuntimeError(f"gunicorn did not answer /healthz within 60 s; see {log}")


def stop_gunicorn(process: subprocess.Popen) -> None:
    """Stop the gunicorn this benchmark started (its own process group, by id)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


# ---- one HTTP round -----------------------------------------------------------------------------


def http_round(clients: list[Client], side: Side, trip_id, numbers, seed: int) -> None:
    """Every client races for a seat until it wins or the trip is full; winners then drop."""
    deadline = time.perf_counter() + ROUND_DEADLINE + 2
    path = f"/schedules/{trip_id}/holds"

    def make(index: int, client: Client):
        rng = random.Random(seed * 1000 + index)

        def run():
            free, log = list(numbers), []
            for _ in range(MAX_ATTEMPTS):
                if time.perf_counter() > deadline or not free:
                    break
                want = rng.choice(free)
                started = time.perf_counter()
                status, headers, body = client.request("POST", path, {"seats": [want]})
                took = time.perf_counter() - started
                location = headers.get("Location", "")
                if status in (302, 303) and "/holds/" in location:
                    log.append(("win", took))
                    return location.rsplit("/holds/", 1)[1].strip("/"), log
                if status == 409:
                    log.append(("loss", took))
                    free = available_seats(body.decode("utf-8", "replace"))
                elif status == 503:
                    log.append(("busy", took))
                else:
                    log.append(("error", f"HTTP {status} {location} {body[:120]!r}"))
                    break
            return None, log

        return run

    for client in clients:
        client.connect()
    results, elapsed = run_together(
        [make(i, c) for i, c in enumerate(clients)], timeout=ROUND_DEADLINE + 30
    )
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
        if hold_id:
            winners.append((index, hold_id))
    side.wins += len(winners)
    if len(winners) != len(numbers):
        side.not_full += 1

    def drop(index: int, hold_id: str):
        def run():
            started = time.perf_counter()
            status, _headers, body = clients[index].request("POST", f"/holds/{hold_id}/drop", {})
            if status not in (302, 303):
                raise RuntimeError(f"drop answered HTTP {status}: {body[:120]!r}")
            return time.perf_counter() - started

        return run

    for index, _ in winners:
        clients[index].connect()
    results, elapsed = run_together([drop(i, h) for i, h in winners], timeout=60)
    side.release_time += elapsed
    for outcome in results:
        if isinstance(outcome, BaseException):
            side.errors.append(repr(outcome)[:200])
        else:
            side.released += 1
            side.release_latency.append(outcome)


def page_load(clients: list[Client], path: str, per_client: int):
    """Each client GETs ``path`` ``per_client`` times back to back; (latencies, wall, sizes)."""

    def make(client: Client):
        def run():
            times, sizes = [], set()
            for _ in range(per_client):
                started = time.perf_counter()
                status, _headers, body = client.request("GET", path)
                times.append(time.perf_counter() - started)
                if status != 200:
                    raise RuntimeError(f"GET {path} answered HTTP {status}")
                sizes.add(len(body))
            return times, sizes

        return run

    for client in clients:
        client.connect()
    results, wall = run_together([make(c) for c in clients], timeout=120)
    times, sizes = [], set()
    for outcome in results:
        if isinstance(outcome, BaseException):
            raise outcome
        times.extend(outcome[0])
        sizes |= outcome[1]
    return times, wall, sizes


# ---- statements per request, in-process ---------------------------------------------------------


def statements_per_request(app, trip_id, emails: list[str]) -> dict[str, list[str]]:
    """The SQL of whole requests through the test client: a winning hold, a losing hold, a drop,
    and a seat-map page view (signed in)."""
    from booking.extensions import db

    found: dict[str, list[str]] = {}
    winner, loser = app.test_client(), app.test_client()
    for client, email in ((winner, emails[0]), (loser, emails[1])):
        response = client.post("/login", data={"email": email, "password": PASSWORD})
        assert response.status_code in (302, 303), response.status_code
    with app.app_context():
        engine = db.engine
    with count_statements(engine) as statements:
        response = winner.post(f"/schedules/{trip_id}/holds", data={"seats": ["6A"]})
    assert response.status_code in (302, 303), response.status_code
    found["POST /schedules/<id>/holds (winner)"] = list(statements)
    hold_path = response.headers["Location"]
    with count_statements(engine) as statements:
        response = loser.post(f"/schedules/{trip_id}/holds", data={"seats": ["6A"]})
    assert response.status_code == 409, (
        response.status_code,
        response.headers.get("Location"),
        hold_path,
    )
    found["POST /schedules/<id>/holds (loser, page re-rendered)"] = list(statements)
    with count_statements(engine) as statements:
        response = winner.post(f"{hold_path}/drop")
    found["POST /holds/<id>/drop"] = list(statements)
    with count_statements(engine) as statements:
        response = loser.get(f"/schedules/{trip_id}")
    found["GET /schedules/<id> (signed in)"] = list(statements)
    return found


# ---- main ---------------------------------------------------------------------------------------


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--page-clients", type=int, default=20)
    parser.add_argument("--page-requests", type=int, default=25, help="per page client")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free one")
    args = parser.parse_args(argv)
    rounds = max(1, min(args.rounds, 100))
    n = max(2, min(args.clients, 60))
    page_clients = max(1, min(args.page_clients, 40))
    per_page = max(5, min(args.page_requests, 200))
    quiet_app_logs("http_holds")
    server_log = LOG_DIR / f"bench_http_gunicorn_{os.getpid()}.log"
    print(f"http_holds: {machine_line()}; gunicorn log {server_log}")
    numbers = seat_numbers()
    web, baseline = Side("HTTP (gunicorn -w 2 --threads 16)"), Side("raw SQL (psycopg)")
    problems: list[str] = []
    with bench_database("http") as url:
        app = make_app(
            url,
            migrate=True,
            SQLALCHEMY_ENGINE_OPTIONS={"pool_size": n + 2, "max_overflow": 0, "pool_timeout": 60},
        )
        process = None
        try:
            from bench._common import password_hash
            from booking.extensions import db
            from booking.services import invariants

            with app.app_context():
                now = utcnow()
                pw = password_hash()
                customers = insert_customers(n, now=now, tag="web", pw_hash=pw)
                emails = [f"bench-web{i}@example.com" for i in range(n)]
                web_trip, raw_trip, count_trip = make_trips(3, now=now)
                db.session.remove()
            # Outside any app context: each test request gets its own, as in the server.
            per_request = statements_per_request(app, count_trip, emails[:2])
            with app.app_context():
                db.session.remove()
                db.engine.dispose()  # no idle connections of ours while gunicorn runs

            port = args.port or free_port()
            process = start_gunicorn(url, port, server_log)
            clients = [Client(port) for _ in range(n)]
            for client, email in zip(clients, emails, strict=True):
                status, _headers, _ = client.request(
                    "POST", "/login", {"email": email, "password": PASSWORD}
                )
                if status not in (302, 303) or "session" not in client.cookies:
                    raise RuntimeError(f"login of {email} answered HTTP {status}")
            # Warm the workers (imports, pools, templates) before anything is timed.
            page_load(clients[:page_clients], f"/schedules/{web_trip}", 3)

            run_started = time.perf_counter()
            for round_ in range(rounds):
                order = ["http", "raw"] if round_ % 2 == 0 else ["raw", "http"]
                for name in order:
                    if name == "http":
                        http_round(clients, web, web_trip, numbers, round_ + 1)
                        trip = web_trip
                    else:
                        with app.app_context():  # warm the raw pool outside the timing
                            proxies = [db.engine.raw_connection() for _ in range(n)]
                            for proxy in proxies:
                                proxy.close()
                        raw_round(app, baseline, raw_trip, customers, numbers, 1, round_ + 1)
                        with app.app_context():
                            db.engine.dispose()
                        trip = raw_trip
                    with app.app_context():
                        free, counter = db.session.execute(
                            __import__("sqlalchemy").text(
                                "SELECT (SELECT count(*) FROM seats WHERE schedule_id = :t "
                                "AND status = 'available'), (SELECT available_seats FROM "
                                "schedules WHERE id = :t)"
                            ),
                            {"t": trip},
                        ).one()
                        db.session.remove()
                        db.engine.dispose()
                    if free != len(numbers) or counter != len(numbers):
                        problems.append(
                            f"round {round_ + 1} {name}: {free} free, counter {counter}"
                        )
            run_time = time.perf_counter() - run_started

            # The seat-map page at 20 concurrent clients, beside /healthz at the same concurrency.
            page_times, page_wall, page_sizes = page_load(
                clients[:page_clients], f"/schedules/{web_trip}", per_page
            )
            health_times, health_wall, _ = page_load(clients[:page_clients], "/healthz", per_page)
            page_times2, page_wall2, _ = page_load(
                clients[:page_clients], f"/schedules/{web_trip}", per_page
            )
            page_times += page_times2
            anonymous = Client(port)
            _, anon_headers, anon_body = anonymous.request("GET", f"/schedules/{web_trip}")
            with app.app_context():
                violations = invariants.run_all()
                db.session.remove()
            problems.extend(str(v) for v in violations[:5])
        finally:
            if process is not None:
                stop_gunicorn(process)
            dispose(app)

    sides = [web, baseline]
    table(
        f"Holds over HTTP: {n} clients, one {len(numbers)}-seat trip, {rounds} rounds "
        f"({run_time:.1f} s in all)",
        [
            "side",
            "holds",
            "holds/s (hold+drop)",
            "holds/s (claim phase)",
            "loser attempts",
            "loser p50",
            "loser p95",
            "winner p50",
            "winner p95",
            "drop p95",
            "busy (503)",
            "errors",
            "rounds not full",
        ],
        [
            [
                s.name,
                s.wins,
                f"{s.holds_per_s:.0f}",
                f"{s.claim_holds_per_s:.0f}",
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
    table(
        "SQL statements per request (whole request in-process through the test client)",
        ["request", "statements", "what they are"],
        [
            [name, len(found), "; ".join(" ".join(s.split())[:38] for s in found)]
            for name, found in per_request.items()
        ],
    )
    health_p95 = pct(health_times, 95)
    page_p95 = pct(page_times, 95)
    table(
        f"Seat-map page at {page_clients} concurrent clients ({len(page_times)} requests, "
        f"two blocks around /healthz)",
        ["request", "p50", "p95", "requests/s", "bytes"],
        [
            [
                "GET /schedules/<id> (signed in)",
                ms(median(page_times)),
                ms(page_p95),
                f"{len(page_times) / (page_wall + page_wall2):.0f}",
                "/".join(str(s) for s in sorted(page_sizes)),
            ],
            [
                "GET /healthz (SELECT 1)",
                ms(median(health_times)),
                ms(health_p95),
                f"{len(health_times) / health_wall:.0f}",
                "-",
            ],
            [
                "GET /schedules/<id> (anonymous)",
                "-",
                "-",
                "-",
                f"{len(anon_body)} ({anon_headers.get('Content-Encoding', 'no compression')})",
            ],
        ],
    )
    hold_statements = len(per_request["POST /schedules/<id>/holds (winner)"])
    goals = [
        Goal(
            "HTTP holds/s (hold+drop cycle)",
            f"{web.holds_per_s:.0f}",
            ">= 300",
            web.holds_per_s >= 300,
        ),
        Goal(
            "HTTP / raw SQL holds/s",
            f"{web.holds_per_s / baseline.holds_per_s:.3f}" if baseline.holds_per_s else "n/a",
            ">= 0.1",
            bool(baseline.holds_per_s) and web.holds_per_s / baseline.holds_per_s >= 0.1,
        ),
        Goal(
            "HTTP loser p95",
            ms(pct(web.loss_latency, 95)),
            "< 50 ms",
            pct(web.loss_latency, 95) < 0.050,
        ),
        Goal(
            "SQL statements per hold request (winner, whole request)",
            str(hold_statements),
            "<= 6",
            hold_statements <= 6,
        ),
        Goal(
            f"seat-map page p95 at {page_clients} clients",
            f"{ms(page_p95)} ({page_p95 / health_p95:.1f}x /healthz p95)",
            "(reported)",
            True,
        ),
        Goal("seat-map page size", f"{max(page_sizes)} bytes", "(reported)", True),
        Goal(
            "rounds full, all dropped, invariants hold, no errors",
            "yes"
            if not (problems or web.errors or baseline.errors or web.not_full)
            else f"{len(problems) + len(web.errors) + len(baseline.errors)} problem(s)",
            "yes",
            not (problems or web.errors or baseline.errors or web.not_full),
        ),
    ]
    goals_table("Goals", goals)
    for line in (problems + web.errors + baseline.errors)[:10]:
        print("  !", line)
    for name, found in per_request.items():
        table(
            f"statements of {name}",
            ["#", "statement"],
            [[i + 1, " ".join(s.split())[:140]] for i, s in enumerate(found)],
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
