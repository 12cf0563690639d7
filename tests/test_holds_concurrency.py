"""Races on PostgreSQL with real threads, each with its own connection: the database decides."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select, update

from booking.extensions import db
from booking.models import ActivityLog, Reservation, ReservationSeat, Schedule, Seat, User
from booking.models.enums import HoldStatus, SeatStatus
from booking.services import holds, invariants, sweep
from booking.services.errors import DomainError
from tests.support import NOW, make_trip, race

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def race_app(make_app):
    """An app whose pool lets 60 threads hold a connection each at once. These races are about
    seats, so one customer may hold on every trip (the cap has its own race, in
    test_holds_hoarding.py)."""
    return make_app(
        SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 60, "max_overflow": 0, "pool_timeout": 60},
        MAX_LIVE_HOLDS_PER_CUSTOMER=1000,
    )


def customers(count: int) -> list[uuid.UUID]:
    """Many customers at once, straight into the table (registration is not under test)."""
    ids = [uuid.uuid4() for _ in range(count)]
    db.session.execute(
        insert(User),
        [
            {
                "id": i,
                "email": f"racer-{i.hex}@example.com",
                "password_hash": "x",
                "first_name": "Racer",
                "last_name": str(n),
                "phone": f"97{n:08d}",
                "created_at": NOW,
                "updated_at": NOW,
            }
            for n, i in enumerate(ids)
        ],
    )
    db.session.commit()
    return ids


def unexpected(results) -> list:
    """Outcomes that are neither a hold nor a domain error (a 500 in the making)."""
    return [r for r in results if isinstance(r, Exception) and not isinstance(r, DomainError)]


@pytest.mark.parametrize("round_", range(3))
def test_fifty_customers_race_for_the_same_four_seats_exactly_one_wins(race_app, round_):
    """50 threads, the same 4 seats: one hold, 49 domain errors, nothing partial left."""
    with race_app.app_context():
        trip_id = make_trip().id
        racers = customers(50)
    wanted = ["5A", "5B", "5C", "5D"]
    results = race(
        race_app,
        [
            (
                lambda c=c: (
                    holds.hold_seats(
                        customer_id=c, schedule_id=trip_id, seat_numbers=wanted, now=NOW
                    ).id
                )
            )
            for c in racers
        ],
    )
    assert unexpected(results) == []
    winners = [r for r in results if isinstance(r, uuid.UUID)]
    assert len(winners) == 1
    assert sum(isinstance(r, DomainError) for r in results) == 49
    with race_app.app_context():
        claims = db.session.execute(
            select(ReservationSeat.reservation_id, Seat.seat_number)
            .join(Seat, Seat.id == ReservationSeat.seat_id)
            .where(ReservationSeat.is_live)
        ).all()
        assert sorted(n for _, n in claims) == wanted
        assert {r for r, _ in claims} == {winners[0]}
        assert db.session.scalar(select(func.count()).select_from(Reservation)) == 1
        assert db.session.get(Schedule, trip_id).available_seats == 36
        assert invariants.run_all() == []


@pytest.mark.parametrize("round_", range(2))
def test_two_hundred_customers_hold_random_overlapping_seats_without_double_claims(
    race_app, round_
):
    """200 threads hold random sets of 1-6 of 40 seats: every hold is all-or-nothing, no seat
    is claimed twice, the counter is right and no deadlock or integrity error surfaces."""
    rng = random.Random(round_)
    with race_app.app_context():
        trip_id = make_trip().id
        racers = customers(200)
    numbers = [f"{row}{col}" for row in range(1, 11) for col in "ABCD"]
    wishes = [rng.sample(numbers, rng.randint(1, 6)) for _ in racers]
    results = race(
        race_app,
        [
            (
                lambda c=c, w=w: (
                    holds.hold_seats(customer_id=c, schedule_id=trip_id, seat_numbers=w, now=NOW).id
                )
            )
            for c, w in zip(racers, wishes, strict=True)
        ],
    )
    assert unexpected(results) == []
    with race_app.app_context():
        held = {}
        for hold_id, number in db.session.execute(
            select(ReservationSeat.reservation_id, Seat.seat_number)
            .join(Seat, Seat.id == ReservationSeat.seat_id)
            .where(ReservationSeat.is_live)
        ):
            held.setdefault(hold_id, set()).add(number)
        for result, wish in zip(results, wishes, strict=True):
            if isinstance(result, uuid.UUID):
                assert held[result] == set(wish)  # all of it, or...
        assert set(held) == {r for r in results if isinstance(r, uuid.UUID)}  # ...none of it
        claimed = sum(len(seats) for seats in held.values())
        assert db.session.get(Schedule, trip_id).available_seats == 40 - claimed
        assert invariants.run_all() == []


def test_two_customers_taking_the_same_pair_in_opposite_order_never_deadlock(race_app):
    """[1A, 1B] against [1B, 1A], twenty times over: one wins each time, never a deadlock."""
    with race_app.app_context():
        trip_ids = [make_trip().id for _ in range(20)]
        first, second = customers(2)
    calls = []
    for trip_id in trip_ids:
        calls.append(
            lambda t=trip_id: (
                holds.hold_seats(
                    customer_id=first, schedule_id=t, seat_numbers=["1A", "1B"], now=NOW
                ).id
            )
        )
        calls.append(
            lambda t=trip_id: (
                holds.hold_seats(
                    customer_id=second, schedule_id=t, seat_numbers=["1B", "1A"], now=NOW
                ).id
            )
        )
    results = race(race_app, calls)
    assert unexpected(results) == []
    for pair in zip(results[::2], results[1::2], strict=True):
        assert sum(isinstance(r, uuid.UUID) for r in pair) == 1


def test_two_sweeps_at_once_retire_each_of_a_thousand_lapsed_holds_once(race_app):
    """Two sweeps racing over 1,000 lapsed holds: each hold retired once, one audit row each."""
    with race_app.app_context():
        trip_ids = [make_trip().id for _ in range(25)]
        owners = customers(1000)
        seats = db.session.execute(
            select(Seat.id, Seat.schedule_id).where(Seat.schedule_id.in_(trip_ids))
        ).all()
        hold_rows, claim_rows = [], []
        for owner, (seat_id, schedule_id) in zip(owners, seats, strict=True):
            hold_id = uuid.uuid4()
            hold_rows.append(
                {
                    "id": hold_id,
                    "user_id": owner,
                    "schedule_id": schedule_id,
                    "reserved_at": NOW,
                    "expires_at": NOW + timedelta(minutes=15),
                    "status": HoldStatus.ACTIVE,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
            )
            claim_rows.append(
                {
                    "id": uuid.uuid4(),
                    "reservation_id": hold_id,
                    "seat_id": seat_id,
                    "is_live": True,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
            )
        db.session.execute(insert(Reservation), hold_rows)
        db.session.execute(insert(ReservationSeat), claim_rows)
        db.session.execute(update(Seat).values(status=SeatStatus.RESERVED))
        db.session.execute(update(Schedule).values(available_seats=0))
        db.session.commit()
        assert invariants.run_all() == []

    later = NOW + timedelta(hours=1)
    results = race(
        race_app,
        [
            lambda: [h.id for h in sweep.expire_holds(later, batch_size=100).retired],
            lambda: [h.id for h in sweep.expire_holds(later, batch_size=100).retired],
        ],
    )
    assert unexpected(results) == []
    first, second = results
    assert not set(first) & set(second)
    assert len(first) + len(second) == 1000
    with race_app.app_context():
        audited = Counter(
            db.session.scalars(
                select(ActivityLog.entity_id).where(ActivityLog.action_type == "hold.expired")
            )
        )
        assert len(audited) == 1000 and set(audited.values()) == {1}
        assert set(db.session.scalars(select(Schedule.available_seats))) == {40}
        assert invariants.run_all() == []


@pytest.mark.parametrize("round_", range(3))
def test_a_clerk_and_twenty_customers_race_for_the_same_seats_one_wins_per_seat(race_app, round_):
    """A walk-in's desk hold and 20 online customers want overlapping seats at the same instant:
    every hold is all-or-nothing, one winner per seat, and each loser is told which seats went."""
    from booking.models.enums import Channel, Role
    from booking.services import desk
    from tests.support import make_user

    with race_app.app_context():
        trip_id = make_trip().id
        clerk = make_user(Role.STAFF).id
        racers = customers(20)
    pairs = [["3A", "3B"], ["3B", "3C"], ["3C", "3D"], ["3A", "3D"]]
    wants = [pairs[n % 4] for n in range(len(racers))]
    calls = [
        lambda: desk.hold_for_walk_in(trip_id, clerk_id=clerk, typed="3A 3B", ticked=[], now=NOW).id
    ] + [
        (
            lambda c=c, wanted=wanted: (
                holds.hold_seats(
                    customer_id=c, schedule_id=trip_id, seat_numbers=wanted, now=NOW
                ).id
            )
        )
        for c, wanted in zip(racers, wants, strict=True)
    ]
    order = list(range(len(calls)))
    random.Random(round_).shuffle(order)
    results = race(race_app, [calls[i] for i in order])
    assert unexpected(results) == []
    winners = [r for r in results if isinstance(r, uuid.UUID)]
    losers = [r for r in results if isinstance(r, DomainError)]
    assert 1 <= len(winners) <= 2 and len(winners) + len(losers) == 21
    assert all(r.details.get("taken") or r.status in (409, 503) for r in losers)
    with race_app.app_context():
        claims = db.session.execute(
            select(ReservationSeat.reservation_id, Seat.seat_number)
            .join(Seat, Seat.id == ReservationSeat.seat_id)
            .where(ReservationSeat.is_live)
        ).all()
        numbers = [n for _, n in claims]
        assert len(numbers) == len(set(numbers))  # one winner per seat
        per_hold = Counter(r for r, _ in claims)
        assert set(per_hold) == set(winners) and all(v == 2 for v in per_hold.values())
        channels = {
            h.channel
            for h in db.session.scalars(select(Reservation).where(Reservation.id.in_(winners)))
        }
        assert channels <= {Channel.DESK, Channel.ONLINE}
        assert db.session.get(Schedule, trip_id).available_seats == 40 - len(numbers)
        assert invariants.run_all() == []
