"""Demo data that is the same everywhere: `flask seed` builds it, `flask seed verify` checks it.

Every seeded row has a deterministic id (uuid5 of its natural key), so seeding twice changes
nothing and two machines seeded on the same day hold the same rows. Trips are laid out for the
14 days starting today in the operator's time zone; the checksum describes them by day offset,
so it does not depend on the day the seed ran.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from importlib import resources
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func, select

from booking.database import unit_of_work
from booking.extensions import db
from booking.layouts import load_builtin, seat_count
from booking.models import (
    Bus,
    PromoCode,
    Route,
    Schedule,
    Seat,
    User,
    Wallet,
    WalletTransaction,
)
from booking.models.enums import BusType, LedgerKind, PromoKind, Role
from booking.services import accounts, inventory

NAMESPACE = uuid.UUID("0b5c3b7e-6f7d-4d0e-9f51-3c1f2a9e8d10")
DAYS = 14

# (origin, destination, km, minutes, local departure times)
ROUTES = [
    ("Bengaluru", "Chennai", 346, 360, ["06:30", "22:00"]),
    ("Bengaluru", "Hyderabad", 570, 600, ["21:15"]),
    ("Bengaluru", "Mysuru", 145, 180, ["07:00", "15:30"]),
    ("Bengaluru", "Panaji", 560, 660, ["20:30"]),
    ("Bengaluru", "Kochi", 550, 630, ["21:00"]),
    ("Bengaluru", "Coimbatore", 365, 420, ["22:30"]),
    ("Bengaluru", "Mangaluru", 350, 420, ["22:45"]),
    ("Chennai", "Madurai", 460, 510, ["21:45"]),
    ("Chennai", "Hyderabad", 630, 690, ["19:30"]),
    ("Mumbai", "Pune", 150, 210, ["08:00", "18:00"]),
    ("Mumbai", "Panaji", 590, 720, ["19:00"]),
    ("Hyderabad", "Vijayawada", 275, 330, ["23:00"]),
]

# bus type -> (built-in layout, fare per km, amenities)
FLEET = {
    BusType.STANDARD: ("seater_2x2_40", Decimal("1.40"), ["Charging point"]),
    BusType.DELUXE: ("seater_2x2_40", Decimal("1.80"), ["AC", "Charging point", "Water bottle"]),
    BusType.SEMI_SLEEPER: ("semi_sleeper", Decimal("2.10"), ["AC", "Blanket", "Charging point"]),
    BusType.SLEEPER: ("sleeper_2x1", Decimal("2.40"), ["AC", "Blanket", "Reading light", "WiFi"]),
}
TYPE_CYCLE = [BusType.SLEEPER, BusType.SEMI_SLEEPER, BusType.DELUXE, BusType.STANDARD]
STATE_CODES = {
    "Bengaluru": "KA",
    "Chennai": "TN",
    "Mumbai": "MH",
    "Hyderabad": "TS",
    "Mysuru": "KA",
    "Panaji": "GA",
    "Kochi": "KL",
    "Coimbatore": "TN",
    "Mangaluru": "KA",
    "Madurai": "TN",
    "Pune": "MH",
    "Vijayawada": "AP",
}


@dataclass(frozen=True)
class DemoUser:
    email: str
    password: str
    first_name: str
    last_name: str
    phone: str
    role: Role
    wallet_credit: Decimal
    home_station: str | None = None


USERS = [
    DemoUser(
        "admin@example.com", "Admin1234", "Anita", "Rao", "9800000001", Role.ADMIN, Decimal(0)
    ),
    DemoUser(
        "staff@example.com",
        "Staff1234",
        "Suresh",
        "Kumar",
        "9800000002",
        Role.STAFF,
        Decimal(0),
        home_station="Bengaluru",
    ),
    DemoUser(
        "asha@example.com",
        "Customer1234",
        "Asha",
        "Nair",
        "9800000003",
        Role.CUSTOMER,
        Decimal("2500.00"),
    ),
    DemoUser(
        "ravi@example.com",
        "Customer1234",
        "Ravi",
        "Iyer",
        "9800000004",
        Role.CUSTOMER,
        Decimal("400.00"),
    ),
]

# code, kind, value, min amount, max discount, days valid from/until today, limit, per customer
PROMOS = [
    ("WELCOME10", PromoKind.PERCENT, "10", "300.00", "150.00", -1, 90, None, 1),
    ("FLAT100", PromoKind.FLAT, "100.00", "800.00", None, -1, 60, 500, 2),
    ("WEEKEND15", PromoKind.PERCENT, "15", "500.00", "250.00", -1, 30, 100, None),
    ("MONSOON25", PromoKind.PERCENT, "25", "0.00", "300.00", -60, -30, None, None),
]


def _id(*parts: object) -> uuid.UUID:
    """The deterministic id of a seeded row."""
    return uuid.uuid5(NAMESPACE, ":".join(str(p) for p in parts))


def _zone() -> ZoneInfo:
    """The operator's time zone."""
    return ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])


def _fleet_plan() -> list[tuple[str, str, int, int, str, str, BusType]]:
    """Every daily departure with the bus that runs it: (origin, dest, km, min, time, bus, type)."""
    plan = []
    for index, (origin, destination, km, minutes, times) in enumerate(ROUTES):
        for slot, departs in enumerate(times):
            for back, (a, b) in enumerate([(origin, destination), (destination, origin)]):
                bus_type = TYPE_CYCLE[(index + slot + back) % len(TYPE_CYCLE)]
                number = f"{STATE_CODES[a]}01{bus_type.value[:2].upper()}{1000 + len(plan):04d}"
                plan.append((a, b, km, minutes, departs, number, bus_type))
    return plan


def _fare(km: int, bus_type: BusType) -> Decimal:
    """Base fare: a rate per km by bus type, rounded to the nearest 10."""
    raw = Decimal(km) * FLEET[bus_type][1]
    return (raw / 10).quantize(Decimal("1"), rounding=ROUND_HALF_UP) * 10


def seed(today: date, now: datetime, progress: Callable[[str], None] = lambda _m: None) -> dict:
    """Create whatever demo rows are missing; returns how many of each were added."""
    added = {"users": 0, "routes": 0, "buses": 0, "promo_codes": 0, "schedules": 0, "seats": 0}
    for demo in USERS:
        if db.session.scalar(select(User.id).where(User.email == demo.email)) is None:
            _seed_user(demo, now)
            added["users"] += 1
    progress(f"users: {len(USERS)} ({added['users']} new)")
    with unit_of_work() as session:
        added["routes"] = _seed_routes(session, now)
        added["buses"] = _seed_buses(session, now)
        added["promo_codes"] = _seed_promos(session, today, now)
    progress(f"routes: {len(ROUTES) * 2}, buses: {len(_fleet_plan())}, promo codes: {len(PROMOS)}")
    for offset in range(DAYS):
        day = today + timedelta(days=offset)
        with unit_of_work() as session:
            schedules, seats = _seed_trips(session, day, now)
        added["schedules"] += schedules
        added["seats"] += seats
        progress(f"trips for {day.isoformat()} ({offset + 1}/{DAYS})")
    return added


def _seed_routes(session, now: datetime) -> int:
    """Both directions of every demo route; returns how many were added."""
    added = 0
    for origin, destination, km, minutes, _times in ROUTES:
        for a, b in [(origin, destination), (destination, origin)]:
            route_id = _id("route", a, b)
            if session.get(Route, route_id) is None:
                session.add(
                    Route(
                        id=route_id,
                        origin_city=a,
                        destination_city=b,
                        distance_km=float(km),
                        estimated_duration_minutes=minutes,
                        created_at=now,
                        updated_at=now,
                    )
                )
                added += 1
    return added


def _seed_buses(session, now: datetime) -> int:
    """The demo fleet, each bus with its type's built-in layout; returns how many were added."""
    added = 0
    for _a, _b, _km, _min, _t, number, bus_type in _fleet_plan():
        bus_id = _id("bus", number)
        if session.get(Bus, bus_id) is None:
            layout = load_builtin(FLEET[bus_type][0])
            session.add(
                Bus(
                    id=bus_id,
                    bus_number=number,
                    bus_type=bus_type,
                    total_seats=seat_count(layout),
                    seat_layout_config=layout,
                    amenities=list(FLEET[bus_type][2]),
                    created_at=now,
                    updated_at=now,
                )
            )
            added += 1
    return added


def _seed_promos(session, today: date, now: datetime) -> int:
    """The demo promo codes; returns how many were added."""
    added = 0
    for code, kind, value, minimum, cap, start, end, limit, per_customer in PROMOS:
        promo_id = _id("promo", code)
        if session.get(PromoCode, promo_id) is None:
            session.add(
                PromoCode(
                    id=promo_id,
                    code=code,
                    kind=kind,
                    percent_off=int(value) if kind == PromoKind.PERCENT else None,
                    amount_off=Decimal(value) if kind == PromoKind.FLAT else None,
                    description=_promo_description(kind, value, minimum, cap),
                    min_amount=Decimal(minimum),
                    max_discount=Decimal(cap) if cap else None,
                    valid_from=_local_midnight(today + timedelta(days=start)),
                    valid_until=_local_midnight(today + timedelta(days=end)),
                    usage_limit=limit,
                    per_customer_limit=per_customer,
                    created_at=now,
                    updated_at=now,
                )
            )
            added += 1
    return added


def _seed_trips(session, day: date, now: datetime) -> tuple[int, int]:
    """The day's trips of the fleet plan with their seats; returns (trips, seats) added."""
    schedules = seats = 0
    for origin, destination, km, minutes, departs, number, bus_type in _fleet_plan():
        schedule_id = _id("schedule", number, day.isoformat(), departs)
        if session.get(Schedule, schedule_id) is not None:
            continue
        departure = datetime.combine(day, time.fromisoformat(departs), tzinfo=_zone())
        schedule = Schedule(
            id=schedule_id,
            bus_id=_id("bus", number),
            route_id=_id("route", origin, destination),
            departure_at=departure,
            arrival_at=departure + timedelta(minutes=minutes),
            base_price=_fare(km, bus_type),
            created_at=now,
            updated_at=now,
        )
        session.add(schedule)
        session.flush()
        seats += inventory.add_seats(schedule, now)
        schedules += 1
    return schedules, seats


def _promo_description(kind: PromoKind, value: str, minimum: str, cap: str | None) -> str:
    """'10% off bookings of Rs 300.00 or more (at most Rs 150.00)'."""
    symbol = current_app.config["CURRENCY_SYMBOL"]
    off = f"{value}% off" if kind == PromoKind.PERCENT else f"{symbol} {value} off"
    text = f"{off} bookings of {symbol} {minimum} or more"
    return text + (f" (at most {symbol} {cap})" if cap else "")


def _local_midnight(day: date) -> datetime:
    """Midnight at the start of ``day`` in the operator's time zone."""
    return datetime.combine(day, time.min, tzinfo=_zone())


def _seed_user(demo: DemoUser, now: datetime) -> None:
    """Register a demo account and give it its opening wallet credit."""
    user = accounts.register(
        email=demo.email,
        password=demo.password,
        first_name=demo.first_name,
        last_name=demo.last_name,
        phone=demo.phone,
        now=now,
        role=demo.role,
    )
    if demo.home_station:
        with unit_of_work() as session:
            session.get(User, user.id).home_station = demo.home_station
    if demo.wallet_credit:
        with unit_of_work() as session:
            wallet = session.scalar(select(Wallet).where(Wallet.user_id == user.id))
            wallet.balance = demo.wallet_credit
            session.add(
                WalletTransaction(
                    wallet_id=wallet.id,
                    kind=LedgerKind.CREDIT,
                    amount=demo.wallet_credit,
                    balance_after=demo.wallet_credit,
                    description="Welcome credit (demo data)",
                    created_at=now,
                )
            )


# ---- parity -------------------------------------------------------------------------------


def snapshot(today: date) -> dict:
    """Counts and a checksum of the seeded content, with trip dates as offsets from ``today``."""
    start = _local_midnight(today)
    end = _local_midnight(today + timedelta(days=DAYS))
    emails = [u.email for u in USERS]
    window = (Schedule.departure_at >= start) & (Schedule.departure_at < end)
    routes, buses, promos = _catalog_rows()
    users, credits = _people_rows(emails)
    schedules, seats = _trip_rows(window)

    def relative(moment: datetime) -> str:
        delta = moment - start
        return f"{delta.days}d{delta.seconds}s"

    digest = hashlib.sha256()
    for name, rows in [
        ("routes", routes),
        ("buses", buses),
        ("users", users),
        ("credits", credits),
        ("promos", [(*p[:6], relative(p[6]), relative(p[7]), *p[8:]) for p in promos]),
        ("schedules", [(*s[:3], relative(s[3]), relative(s[4]), s[5]) for s in schedules]),
        ("seats", [(s[0], relative(s[1]), *s[2:]) for s in seats]),
    ]:
        digest.update(name.encode())
        for row in rows:
            digest.update(json.dumps(list(row), sort_keys=True, default=str).encode())
    return {
        "counts": {
            "routes": len(routes),
            "buses": len(buses),
            "users": len(users),
            "wallet_credits": len(credits),
            "promo_codes": len(promos),
            "schedules": len(schedules),
            "seats": len(seats),
        },
        "checksum": digest.hexdigest(),
    }


def _catalog_rows() -> tuple[list, list, list]:
    """Routes, buses and promo codes as the parity check compares them."""
    routes = db.session.execute(
        select(
            Route.origin_city,
            Route.destination_city,
            Route.distance_km,
            Route.estimated_duration_minutes,
            Route.is_active,
        ).order_by(Route.origin_city, Route.destination_city)
    ).all()
    buses = db.session.execute(
        select(
            Bus.bus_number,
            Bus.bus_type,
            Bus.total_seats,
            Bus.seat_layout_config,
            Bus.amenities,
            Bus.is_active,
        ).order_by(Bus.bus_number)
    ).all()
    promos = db.session.execute(
        select(
            PromoCode.code,
            PromoCode.kind,
            PromoCode.percent_off,
            PromoCode.amount_off,
            PromoCode.min_amount,
            PromoCode.max_discount,
            PromoCode.valid_from,
            PromoCode.valid_until,
            PromoCode.usage_limit,
            PromoCode.per_customer_limit,
        ).order_by(PromoCode.code)
    ).all()
    return routes, buses, promos


def _people_rows(emails: list[str]) -> tuple[list, list]:
    """The demo users and their demo wallet credits."""
    users = db.session.execute(
        select(
            User.email,
            User.first_name,
            User.last_name,
            User.phone,
            User.role,
            User.is_active,
            User.home_station,
        )
        .where(User.email.in_(emails))
        .order_by(User.email)
    ).all()
    credits = db.session.execute(
        select(User.email, WalletTransaction.amount, WalletTransaction.description)
        .join(Wallet, Wallet.user_id == User.id)
        .join(WalletTransaction, WalletTransaction.wallet_id == Wallet.id)
        .where(User.email.in_(emails), WalletTransaction.description.like("%(demo data)"))
        .order_by(User.email)
    ).all()
    return users, credits


def _trip_rows(window) -> tuple[list, list]:
    """The trips in the seeded window and their seats."""
    schedules = db.session.execute(
        select(
            Bus.bus_number,
            Route.origin_city,
            Route.destination_city,
            Schedule.departure_at,
            Schedule.arrival_at,
            Schedule.base_price,
        )
        .join(Bus, Bus.id == Schedule.bus_id)
        .join(Route, Route.id == Schedule.route_id)
        .where(window)
        .order_by(Schedule.departure_at, Bus.bus_number)
    ).all()
    seats = db.session.execute(
        select(
            Bus.bus_number,
            Schedule.departure_at,
            Seat.seat_number,
            Seat.deck,
            Seat.row_index,
            Seat.column_index,
            Seat.seat_type,
            Seat.price_modifier,
            Seat.ladies_only,
        )
        .join(Schedule, Schedule.id == Seat.schedule_id)
        .join(Bus, Bus.id == Schedule.bus_id)
        .where(window)
        .order_by(Schedule.departure_at, Bus.bus_number, Seat.seat_number)
    ).all()

    return schedules, seats


def table_counts() -> dict[str, int]:
    """Rows in every table, for the operator's eye."""
    return {
        table.name: db.session.scalar(select(func.count()).select_from(table))
        for table in db.metadata.sorted_tables
    }


def expected() -> dict:
    """The snapshot a fresh seed must produce, kept in the repo (booking/seed_expected.json)."""
    return json.loads(resources.files("booking").joinpath("seed_expected.json").read_text())


def differences(actual: dict, wanted: dict) -> list[str]:
    """Human-readable differences between two snapshots (empty when they agree)."""
    problems = []
    for name, count in wanted["counts"].items():
        got = actual["counts"].get(name)
        if got != count:
            problems.append(f"{name}: expected {count}, found {got}")
    if actual["checksum"] != wanted["checksum"]:
        problems.append(
            f"checksum: expected {wanted['checksum'][:16]}…, found {actual['checksum'][:16]}…"
        )
    return problems
