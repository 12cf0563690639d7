"""Builders for test data: accounts, buses and trips with their seats. Each commits."""

from __future__ import annotations

import html
import itertools
import re
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import event

from booking.database import unit_of_work
from booking.extensions import db
from booking.layouts import load_builtin, seat_count
from booking.models import Bus, Route, Schedule, User, Wallet, WalletTransaction
from booking.models.enums import BusType, LedgerKind, Role
from booking.services import accounts, inventory

# A fixed "now" for service tests: mid-morning UTC, so trips a day or two ahead are on sale.
NOW = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
PASSWORD = "Passw0rdOK"

_counter = itertools.count(1)


def make_user(
    role: Role = Role.CUSTOMER,
    email: str | None = None,
    wallet: Decimal | str | int = 0,
    now: datetime = NOW,
    first_name: str = "Test",
) -> User:
    """An account (with a wallet) and, when asked, an opening wallet credit."""
    n = next(_counter)
    user = accounts.register(
        email=email or f"user{n}-{uuid.uuid4().hex[:6]}@example.com",
        password=PASSWORD,
        first_name=first_name,
        last_name=f"User{n}",
        phone=f"98{n:08d}",
        now=now,
        role=role,
    )
    amount = Decimal(wallet)
    if amount:
        with unit_of_work() as session:
            row = session.query(Wallet).filter_by(user_id=user.id).one()
            row.balance = amount
            session.add(
                WalletTransaction(
                    wallet_id=row.id,
                    kind=LedgerKind.CREDIT,
                    amount=amount,
                    balance_after=amount,
                    description="Opening credit (test)",
                    created_at=now,
                )
            )
    return user


def make_trip(
    *,
    now: datetime = NOW,
    departs_in: timedelta = timedelta(days=2),
    layout: str = "seater_2x2_40",
    bus_type: BusType = BusType.DELUXE,
    base_price: Decimal | str = "500.00",
    origin: str | None = None,
    destination: str = "Chennai",
) -> Schedule:
    """A route, a bus with a built-in layout and one scheduled trip with its seats generated."""
    n = next(_counter)
    config = load_builtin(layout)
    with unit_of_work() as session:
        route = Route(
            origin_city=origin or f"Origin{n}",
            destination_city=destination,
            distance_km=350.0,
            estimated_duration_minutes=360,
            created_at=now,
            updated_at=now,
        )
        bus = Bus(
            bus_number=f"TEST{n:05d}",
            bus_type=bus_type,
            total_seats=seat_count(config),
            seat_layout_config=config,
            amenities=["AC"],
            created_at=now,
            updated_at=now,
        )
        session.add_all([route, bus])
        session.flush()
        departure = now + departs_in
        schedule = Schedule(
            bus_id=bus.id,
            route_id=route.id,
            departure_at=departure,
            arrival_at=departure + timedelta(hours=6),
            base_price=Decimal(base_price),
            created_at=now,
            updated_at=now,
        )
        session.add(schedule)
        session.flush()
        inventory.add_seats(schedule, now)
    db.session.refresh(schedule)
    return schedule


@contextmanager
def count_statements() -> Iterator[list[str]]:
    """Collect the SQL statements sent to the database inside the block."""
    statements: list[str] = []

    def listener(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)


def empty_tables() -> None:
    """Delete every row of every table (children first)."""
    db.session.remove()
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())


def race(app, calls) -> list:
    """Run each call in its own thread and app context, all let go at the same instant; return
    each outcome (the exception, when one was raised). Hand the calls plain ids, never ORM rows.

    Threads beyond the pool size wait for a connection, so they join the race a moment later.
    """
    go = threading.Event()
    ready = threading.Semaphore(0)
    results: list = [None] * len(calls)

    def run(index, call):
        with app.app_context():
            ready.release()
            go.wait(timeout=30)
            try:
                results[index] = call()
            except Exception as error:  # the assertions look at every outcome
                results[index] = error
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for _ in threads:
        ready.acquire(timeout=30)
    go.set()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return results


# ---- request tests ------------------------------------------------------------------------------


def text(response) -> str:
    """The response body with HTML entities decoded, as a person reads it."""
    return html.unescape(response.get_data(as_text=True))


def csrf_token(page: str) -> str:
    """The CSRF token rendered into a page's form."""
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)


def sign_in_as(app, auth, role: Role = Role.CUSTOMER, **options) -> uuid.UUID:
    """A new account of ``role``, signed in through the login form; returns its id."""
    from booking.orm import utcnow

    with app.app_context():
        user = make_user(role, now=utcnow(), **options)
        user_id, email = user.id, user.email
    assert auth.login(email, PASSWORD).status_code == 302
    return user_id


# ---- Redis that is down or hung ----------------------------------------------------------------

# A port nobody listens on: every connection is refused at once.
REDIS_DOWN = "redis://127.0.0.1:1/0"


class HungRedis:
    """A TCP listener that accepts every connection and never says a word."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.1)
        self.url = f"redis://127.0.0.1:{self.server.getsockname()[1]}/0"
        self.accepted: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.server.accept()
            except OSError:
                continue
            self.accepted.append(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        for conn in self.accepted:
            conn.close()
        self.server.close()
