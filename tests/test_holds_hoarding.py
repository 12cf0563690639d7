"""Seat hoarding: seats dropped and held again soon keep their expiry, and one customer has at
most MAX_LIVE_HOLDS_PER_CUSTOMER live holds across trips (a race on PostgreSQL included)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from booking.extensions import db
from booking.models import Reservation, Seat
from booking.models.enums import HoldStatus, Role, SeatStatus
from booking.orm import utcnow
from booking.services import holds, invariants
from booking.services.errors import DomainError
from tests.money_support import desk_hold, hold
from tests.support import NOW, make_trip, make_user, race, sign_in_as, text

MINUTE = timedelta(minutes=1)


def _drop(hold_id, customer_id, at):
    holds.release_hold(hold_id, customer_id=customer_id, now=at)


def _expiry(hold_id):
    return db.session.get(Reservation, hold_id).expires_at


def _status(trip_id, number) -> SeatStatus:
    return db.session.scalar(
        select(Seat.status).where(Seat.schedule_id == trip_id, Seat.seat_number == number)
    )


# ---- dropping and holding again --------------------------------------------------------------


def test_seats_dropped_and_held_again_keep_the_earlier_expiry(trip, asha):
    first = hold(asha.id, trip.id, ["5A", "5B"])
    _drop(first, asha.id, NOW + 10 * MINUTE)
    again = hold(asha.id, trip.id, ["5A"], NOW + 11 * MINUTE)
    assert _expiry(again) == NOW + 15 * MINUTE  # not NOW + 26 minutes


def test_adding_a_new_seat_to_dropped_ones_does_not_restart_the_clock(trip, asha):
    first = hold(asha.id, trip.id, ["5A", "5B"])
    _drop(first, asha.id, NOW + 10 * MINUTE)
    again = hold(asha.id, trip.id, ["5B", "6A"], NOW + 12 * MINUTE)
    assert _expiry(again) == NOW + 15 * MINUTE


def test_other_seats_and_drops_long_ago_get_a_fresh_hold(trip, asha):
    first = hold(asha.id, trip.id, ["5A"])
    _drop(first, asha.id, NOW + 10 * MINUTE)
    other = hold(asha.id, trip.id, ["7A"], NOW + 11 * MINUTE)
    assert _expiry(other) == NOW + 26 * MINUTE
    _drop(other, asha.id, NOW + 12 * MINUTE)
    later = NOW + 10 * MINUTE + 31 * MINUTE  # HOLD_REHOLD_MEMORY_MINUTES (30) after the drop
    assert _expiry(hold(asha.id, trip.id, ["5A"], later)) == later + 15 * MINUTE


def test_seats_dropped_when_their_time_was_up_cannot_be_held_again_at_once(trip, asha):
    first = hold(asha.id, trip.id, ["5A", "5B"])
    _drop(first, asha.id, NOW + 14 * MINUTE)
    with pytest.raises(DomainError, match=r"seats 5A, 5B .* again in 28 minutes"):
        hold(asha.id, trip.id, ["5A", "5B"], NOW + 16 * MINUTE)
    assert _status(trip.id, "5A") == SeatStatus.AVAILABLE
    assert invariants.run_all() == []


def test_another_customer_may_take_seats_someone_dropped(trip, asha, ravi):
    first = hold(asha.id, trip.id, ["5A"])
    _drop(first, asha.id, NOW + 14 * MINUTE)
    assert _expiry(hold(ravi.id, trip.id, ["5A"], NOW + 16 * MINUTE)) == NOW + 31 * MINUTE


# ---- at most three live holds ----------------------------------------------------------------


def test_a_customer_holds_seats_on_at_most_three_trips_at_once(app_ctx, asha):
    trips = [make_trip().id for _ in range(4)]
    for trip_id in trips[:3]:
        hold(asha.id, trip_id, ["5A"])
    with pytest.raises(DomainError, match="already hold seats on 3 trips"):
        hold(asha.id, trips[3], ["5A"], NOW + MINUTE)
    assert _status(trips[3], "5A") == SeatStatus.AVAILABLE
    # changing the seats of a hold already made is no new hold
    hold(asha.id, trips[0], ["5A", "5B"], NOW + MINUTE)
    # a lapsed hold holds nothing, so it leaves room
    assert hold(asha.id, trips[3], ["5A"], NOW + 16 * MINUTE)


def test_dropping_a_hold_makes_room_for_another(app_ctx, asha):
    trips = [make_trip().id for _ in range(4)]
    made = [hold(asha.id, trip_id, ["5A"]) for trip_id in trips[:3]]
    _drop(made[0], asha.id, NOW + MINUTE)
    assert hold(asha.id, trips[3], ["5A"], NOW + 2 * MINUTE)


def test_reviving_a_lapsed_hold_counts_against_the_limit(app_ctx, asha):
    trips = [make_trip().id for _ in range(4)]
    lapsed = hold(asha.id, trips[0], ["5A"])
    later = NOW + 16 * MINUTE
    for trip_id in trips[1:]:
        hold(asha.id, trip_id, ["5A"], later)
    with pytest.raises(DomainError, match="already hold seats on 3 trips"):
        holds.revive_hold(lapsed, customer_id=asha.id, now=later + MINUTE)
    assert db.session.get(Reservation, lapsed).expires_at == NOW + 15 * MINUTE


def test_the_desk_is_not_limited(app_ctx):
    clerk = make_user(Role.STAFF)
    trips = [make_trip().id for _ in range(5)]
    assert all(desk_hold(clerk.id, trip_id, ["5A"]) for trip_id in trips)


def test_the_seat_map_says_why_a_fourth_hold_is_refused(app, client, auth):
    customer_id = sign_in_as(app, auth)
    with app.app_context():
        trips = [make_trip(now=utcnow()).id for _ in range(4)]
        for trip_id in trips[:3]:
            hold(customer_id, trip_id, ["5A"], utcnow())
    response = client.post(f"/schedules/{trips[3]}/holds", data={"seats": ["5A"]})
    assert 400 <= response.status_code < 500
    assert "already hold seats on 3 trips" in text(response)


# ---- the race -----------------------------------------------------------------------------


@pytest.fixture
def race_app(make_app):
    """An app with a connection for every racing thread."""
    return make_app(SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 10, "max_overflow": 0})


@pytest.mark.postgres
@pytest.mark.parametrize("round_", range(3))
def test_one_customer_holding_on_five_trips_at_once_gets_at_most_three(race_app, round_):
    with race_app.app_context():
        customer_id = make_user().id
        trips = [make_trip().id for _ in range(5)]
    results = race(race_app, [lambda t=t: hold(customer_id, t, ["5A", "5B"]) for t in trips])
    won = [r for r in results if isinstance(r, uuid.UUID)]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(won) == 3 and len(refused) == 2, results
    assert all("already hold seats on 3 trips" in r.message for r in refused)
    with race_app.app_context():
        live = db.session.scalar(
            select(func.count())
            .select_from(Reservation)
            .where(Reservation.user_id == customer_id, Reservation.status == HoldStatus.ACTIVE)
        )
        assert live == 3
        assert invariants.run_all() == []
