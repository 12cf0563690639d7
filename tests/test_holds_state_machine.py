"""Property-based: random holds, changes, drops, releases, revives, sweeps and clock jumps by
several customers; after every step the invariants hold and lapsed holds hold nothing."""

from __future__ import annotations

import os
from contextlib import suppress
from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import delete, select, update

from booking.extensions import db
from booking.models import ActivityLog, Reservation, ReservationSeat, Schedule, Seat
from booking.models.enums import HoldStatus, Role, SeatStatus
from booking.services import holds, invariants, inventory, sweep
from booking.services.errors import DomainError
from tests.support import NOW, make_trip, make_user

SEATS = [f"{row}{col}" for row in range(1, 4) for col in "ABCD"]  # a crowded corner of the bus
EXAMPLES = int(os.environ.get("HYPOTHESIS_EXAMPLES", "20"))


class HoldsMachine(RuleBasedStateMachine):
    """Three customers and an admin working one trip while the clock moves."""

    trip_id = customers = admin = None  # set once by the test (building them is the slow part)

    def __init__(self):
        super().__init__()
        reset_holds(self.trip_id)
        self.now = NOW
        self.last_hold: dict = {}

    @rule(who=st.integers(0, 2), seats=st.lists(st.sampled_from(SEATS), min_size=1, max_size=7))
    def hold_or_change(self, who, seats):
        try:
            made = holds.hold_seats(
                customer_id=self.customers[who],
                schedule_id=self.trip_id,
                seat_numbers=seats,
                now=self.now,
            )
        except DomainError:
            return
        self.last_hold[who] = made.id
        assert {s.seat_number for s in holds.held_seats(made.id)} == set(seats)

    @rule(who=st.integers(0, 2))
    def drop(self, who):
        if who in self.last_hold:
            holds.release_hold(self.last_hold[who], customer_id=self.customers[who], now=self.now)

    @rule(who=st.integers(0, 2))
    def revive(self, who):
        if who in self.last_hold:
            with suppress(DomainError):
                holds.revive_hold(
                    self.last_hold[who], customer_id=self.customers[who], now=self.now
                )

    @rule(who=st.integers(0, 2))
    def admin_releases(self, who):
        if who in self.last_hold:
            with suppress(DomainError):
                holds.admin_release(
                    self.last_hold[who], admin_id=self.admin, reason="test", now=self.now
                )

    @rule()
    def sweep(self):
        sweep.expire_holds(self.now, batch_size=2)

    @rule(minutes=st.sampled_from([1, 4, 10, 15, 16, 45]))
    def clock_moves(self, minutes):
        self.now += timedelta(minutes=minutes)

    @invariant()
    def invariants_hold(self):
        db.session.expire_all()
        assert invariants.run_all() == []

    @invariant()
    def lapsed_holds_hold_nothing(self):
        seat_map = inventory.seat_map(self.trip_id, self.now)
        lapsed = db.session.scalars(
            select(Reservation.id).where(
                Reservation.status == HoldStatus.ACTIVE, Reservation.expires_at <= self.now
            )
        ).all()
        for hold_id in lapsed:
            for seat in holds.held_seats(hold_id):
                assert seat_map.seats[seat.seat_number].state == "available"
        schedule = db.session.get(Schedule, self.trip_id)
        assert inventory.seats_left([schedule], self.now)[self.trip_id] == (
            seat_map.available_count
        )


def reset_holds(trip_id) -> None:
    """Forget every hold: the trip's seats all free again, as when it was created."""
    db.session.remove()
    db.session.execute(delete(ReservationSeat))
    db.session.execute(delete(ActivityLog).where(ActivityLog.entity_type == "reservation"))
    db.session.execute(delete(Reservation))
    db.session.execute(update(Seat).values(status=SeatStatus.AVAILABLE))
    db.session.execute(update(Schedule).values(available_seats=40))
    db.session.commit()


def test_holds_state_machine(app_ctx):
    """Run the machine (HYPOTHESIS_EXAMPLES raises the number of examples by hand)."""
    HoldsMachine.trip_id = make_trip().id
    HoldsMachine.customers = [make_user().id for _ in range(3)]
    HoldsMachine.admin = make_user(Role.ADMIN).id
    run_state_machine_as_test(
        HoldsMachine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
