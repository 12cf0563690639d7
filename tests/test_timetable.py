"""The timetable in bulk with a fixed clock: recurring trips planned and created, trips
completed after arrival, prices changed over many trips; and trip operations."""

from __future__ import annotations

import uuid
from datetime import date, time, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from booking.extensions import db
from booking.models import ActivityLog, Booking, BookingSeat, Schedule, Seat
from booking.models.enums import BookingStatus, ScheduleStatus
from booking.services import timetable, trips
from booking.services.errors import NotFound
from booking.services.timetable import TimetableConflict, TimetableError
from tests.money_support import assert_invariants, fresh, hold, pay_wallet
from tests.support import NOW, make_trip, make_user

# NOW is Tuesday 1 Dec 2026, 06:00 UTC (11:30 in Asia/Kolkata, the display zone).
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


@pytest.fixture
def asha_wallet() -> str:
    """Asha can pay for a few seats from her wallet."""
    return "5000.00"


def seats_of(schedule_id) -> int:
    return db.session.scalar(select(func.count()).where(Seat.schedule_id == schedule_id))


def ask(trip, **kw):
    """A plan on the route and bus of ``trip`` (a 6-hour route)."""
    args = {
        "route_id": trip.route_id,
        "bus_id": trip.bus_id,
        "first_day": date(2026, 12, 7),  # a Monday
        "last_day": date(2026, 12, 20),  # a Sunday: two weeks
        "weekdays": [MON, WED, FRI],
        "departure_times": [time(6, 0), time(22, 30)],
        "base_price": Decimal("450.00"),
        "now": NOW,
    }
    args.update(kw)
    return timetable.plan(**args)


# ---- plan and create -----------------------------------------------------------------------


def test_plan_lists_every_weekday_and_time_with_arrival_from_the_route(trip):
    planned = ask(trip)
    assert len(planned.trips) == 12  # 2 weeks x 3 days x 2 times
    local = [t.departure_at.astimezone(timetable.ZoneInfo("Asia/Kolkata")) for t in planned.trips]
    assert {d.weekday() for d in local} == {MON, WED, FRI}
    assert {(d.hour, d.minute) for d in local} == {(6, 0), (22, 30)}
    assert local[0].isoformat() == "2026-12-07T06:00:00+05:30"
    assert all(t.arrival_at - t.departure_at == timedelta(minutes=360) for t in planned.trips)
    assert all(t.state == timetable.NEW for t in planned.trips)
    assert db.session.scalar(select(func.count()).select_from(Schedule)) == 1  # nothing made


def test_create_makes_the_trips_with_seats_and_audit_and_twice_makes_nothing(trip, admin):
    planned = ask(trip)
    done = timetable.create(planned.request, NOW, admin.id)
    assert len(done.schedule_ids) == 12 and done.seats == 12 * 40
    made = fresh(Schedule, done.schedule_ids[0])
    assert made.base_price == Decimal("450.00") and made.available_seats == 40
    assert seats_of(made.id) == 40
    assert_invariants()
    batch = db.session.scalars(
        select(ActivityLog).where(ActivityLog.action_type == "timetable.created")
    ).one()
    assert batch.details["created"] == [str(i) for i in done.schedule_ids]
    per_trip = db.session.scalar(
        select(func.count()).where(ActivityLog.action_type == "schedule.created")
    )
    assert per_trip == 12

    again = timetable.create(planned.request, NOW, admin.id)
    assert again.schedule_ids == [] and again.existing == 12
    assert db.session.scalar(select(func.count()).select_from(Schedule)) == 13
    assert all(t.state == timetable.EXISTS for t in ask(trip).trips)


def test_conflicts_with_other_trips_of_the_bus_are_skipped_or_refuse_all(trip, admin):
    # ``trip`` departs 3 Dec 06:00 UTC (11:30 local) for 6 hours: Thursday's 06:00 local
    # departure (00:30 UTC) is clear, a 14:00 local one (08:30 UTC) overlaps it.
    request = ask(
        trip,
        first_day=date(2026, 12, 3),
        last_day=date(2026, 12, 4),
        weekdays=[THU, FRI],
        departure_times=[time(14, 0)],
    ).request
    planned = timetable.plan(**{**request.__dict__, "now": NOW})
    assert [t.state for t in planned.trips] == [timetable.CONFLICT, timetable.NEW]
    assert planned.trips[0].clash_id == trip.id and "03 Dec 11:30" in planned.trips[0].note

    with pytest.raises(TimetableConflict, match="1 of the trips cannot be created"):
        timetable.create(request, NOW, admin.id, on_conflict="refuse")
    assert db.session.scalar(select(func.count()).select_from(Schedule)) == 1

    done = timetable.create(request, NOW, admin.id, on_conflict="skip")
    assert len(done.schedule_ids) == 1 and done.skipped == 1


def test_trips_of_one_request_that_overlap_each_other_are_conflicts(trip):
    planned = ask(trip, departure_times=[time(6, 0), time(8, 0)])
    states = [t.state for t in planned.trips[:2]]
    assert states == [timetable.NEW, timetable.CONFLICT]


def test_trips_in_the_past_or_within_the_cutoff_are_refused(trip, admin):
    # Today 1 Dec: 11:00 local is past (now 11:30), 11:50 is inside the 30-minute cutoff.
    request = ask(
        trip,
        first_day=date(2026, 12, 1),
        last_day=date(2026, 12, 1),
        weekdays=[TUE],
        departure_times=[time(11, 0), time(11, 50), time(18, 0)],
    ).request
    planned = timetable.plan(**{**request.__dict__, "now": NOW})
    assert [t.state for t in planned.trips] == [timetable.PAST, timetable.CUTOFF, timetable.NEW]
    with pytest.raises(TimetableConflict):
        timetable.create(request, NOW, admin.id, on_conflict="refuse")
    assert len(timetable.create(request, NOW, admin.id).schedule_ids) == 1


def test_bad_requests_are_refused_with_a_reason(trip):
    with pytest.raises(TimetableError, match="last day"):
        ask(trip, last_day=date(2026, 12, 1))
    with pytest.raises(TimetableError, match="day of the week"):
        ask(trip, weekdays=[])
    with pytest.raises(TimetableError, match="departure time"):
        ask(trip, departure_times=[])
    with pytest.raises(TimetableError, match="more than zero"):
        ask(trip, base_price=Decimal("0"))
    with pytest.raises(TimetableError, match="at most 400"):
        ask(trip, last_day=date(2027, 12, 31), weekdays=range(7))
    with pytest.raises(NotFound):
        ask(trip, bus_id=uuid.uuid4())
    with pytest.raises(TimetableError, match="skip or refuse"):
        timetable.create(ask(trip).request, NOW, None, on_conflict="maybe")


# ---- completing trips ------------------------------------------------------------------------


def test_complete_trips_moves_arrived_trips_and_their_bookings_once(trip, asha):
    booking_id = pay_wallet(asha.id, hold(asha.id, trip.id, ["2A"]), ["2A"])
    later = make_trip(departs_in=timedelta(days=5))
    arrived = trip.arrival_at + timedelta(minutes=1)
    assert timetable.complete_trips(trip.arrival_at - timedelta(minutes=1)) == 0
    assert timetable.complete_trips(arrived) == 1
    assert fresh(Schedule, trip.id).status == ScheduleStatus.COMPLETED
    assert fresh(Booking, booking_id).status == BookingStatus.COMPLETED
    assert fresh(Schedule, later.id).status == ScheduleStatus.SCHEDULED
    assert timetable.complete_trips(arrived) == 0
    assert_invariants()


def test_cancelled_trips_are_not_completed(trip, admin):
    from booking.services import cancellations

    cancellations.cancel_trip(trip.id, admin_id=admin.id, reason="Flood", now=NOW)
    assert timetable.complete_trips(trip.arrival_at + timedelta(hours=1)) == 0
    assert fresh(Schedule, trip.id).status == ScheduleStatus.CANCELLED


def test_flask_trips_complete(app_ctx, runner):
    from booking.orm import utcnow

    past = make_trip(now=utcnow() - timedelta(days=3))
    first = runner.invoke(args=["trips", "complete"])
    assert first.exit_code == 0 and "1 trip(s) completed." in first.output
    assert fresh(Schedule, past.id).status == ScheduleStatus.COMPLETED
    again = runner.invoke(args=["trips", "complete"])
    assert "0 trip(s) completed." in again.output


def test_the_beat_completes_trips_every_ten_minutes(app):
    from booking import tasks

    beat = app.extensions["celery"].conf.beat_schedule["complete-arrived-trips"]
    assert beat["task"] == "booking.tasks.complete_trips" and beat["schedule"] == 600.0
    with app.app_context():
        past = make_trip(now=NOW - timedelta(days=3))
        assert tasks.complete_trips.delay().get() >= 1
        db.session.commit()  # end this session's read: the task ran in a context of its own
        assert fresh(Schedule, past.id).status == ScheduleStatus.COMPLETED


# ---- prices over many trips ---------------------------------------------------------------------


def test_price_change_preview_then_apply_leaves_sold_fares(trip, asha, admin):
    other = make_trip(base_price="333.33")
    booking_id = pay_wallet(asha.id, hold(asha.id, trip.id, ["2A"]), ["2A"])
    sold = db.session.scalars(select(BookingSeat.fare)).all()
    preview = timetable.preview_price_change([trip.id, other.id], percent=Decimal("10"), now=NOW)
    assert {(c.old, c.new) for c in preview} == {
        (Decimal("500.00"), Decimal("550.00")),
        (Decimal("333.33"), Decimal("366.66")),
    }
    assert fresh(Schedule, trip.id).base_price == Decimal("500.00")  # a preview changes nothing

    applied = timetable.apply_price_change(
        [trip.id, other.id], amount=Decimal("-33.33"), now=NOW, admin_id=admin.id
    )
    assert {c.new for c in applied} == {Decimal("466.67"), Decimal("300.00")}
    assert fresh(Schedule, other.id).base_price == Decimal("300.00")
    assert db.session.scalars(select(BookingSeat.fare)).all() == sold
    assert fresh(Booking, booking_id).total_amount == Decimal("525.00")
    changed = db.session.scalar(
        select(func.count()).where(ActivityLog.action_type == "schedule.price_changed")
    )
    assert changed == 2
    assert_invariants()


def test_price_change_is_all_or_nothing(trip, admin):
    gone = make_trip(departs_in=timedelta(hours=-1))
    with pytest.raises(TimetableError, match="1 of the chosen are not"):
        timetable.apply_price_change(
            [trip.id, gone.id], percent=Decimal("5"), now=NOW, admin_id=admin.id
        )
    with pytest.raises(TimetableError, match="not be above zero"):
        timetable.apply_price_change([trip.id], amount=Decimal("-500"), now=NOW, admin_id=admin.id)
    with pytest.raises(TimetableError, match="not both"):
        timetable.preview_price_change([trip.id], percent=1, amount=1, now=NOW)
    with pytest.raises(TimetableError, match="percentage or an amount"):
        timetable.preview_price_change([trip.id], now=NOW)
    assert fresh(Schedule, trip.id).base_price == Decimal("500.00")


# ---- trip operations ---------------------------------------------------------------------------


def a_bus(layout: str, **kw):
    """A new bus with a built-in layout (of a throwaway trip far in the future)."""
    return make_trip(layout=layout, departs_in=timedelta(days=300), **kw).bus


def test_swap_bus_keeps_sold_and_held_seats_and_invariants(trip, asha, admin):
    pay_wallet(asha.id, hold(asha.id, trip.id, ["2A"]), ["2A"])
    hold(make_user().id, trip.id, ["3C"])
    smaller = a_bus("semi_sleeper")  # 1A-7D below, U1-U12 above: 8A-10D vanish
    before = {
        s.seat_number: s.id
        for s in db.session.scalars(select(Seat).where(Seat.schedule_id == trip.id))
    }
    moved = trips.swap_bus(trip.id, smaller.id, admin_id=admin.id, now=NOW)
    assert moved.bus_id == smaller.id
    after = {
        s.seat_number: s
        for s in db.session.scalars(select(Seat).where(Seat.schedule_id == trip.id))
    }
    assert len(after) == 40 and "U1" in after and "10D" not in after
    assert after["2A"].id == before["2A"] and after["2A"].status.value == "booked"
    assert after["3C"].status.value == "reserved"
    assert fresh(Schedule, trip.id).available_seats == 38
    assert_invariants()
    overview = trips.overview(trip.id, NOW)
    assert (overview.sold, overview.held, overview.free) == (1, 1, 38)


def test_swap_bus_refused_when_a_sold_seat_would_vanish(trip, asha, admin):
    pay_wallet(asha.id, hold(asha.id, trip.id, ["10A"]), ["10A"])
    smaller = a_bus("semi_sleeper")
    with pytest.raises(trips.TripConflict, match="no seat 10A, which is sold or held"):
        trips.swap_bus(trip.id, smaller.id, admin_id=admin.id, now=NOW)
    assert fresh(Schedule, trip.id).bus_id == trip.bus_id
    assert seats_of(trip.id) == 40
    assert_invariants()


def test_swap_bus_refused_when_the_new_bus_is_busy_or_the_trip_left(trip, admin):
    busy = make_trip(departs_in=timedelta(days=2, hours=2))  # overlaps ``trip``
    with pytest.raises(trips.TripConflict, match="runs another trip"):
        trips.swap_bus(trip.id, busy.bus_id, admin_id=admin.id, now=NOW)
    with pytest.raises(trips.TripError, match="already runs"):
        trips.swap_bus(trip.id, trip.bus_id, admin_id=admin.id, now=NOW)
    with pytest.raises(trips.TripError, match="already left"):
        trips.swap_bus(trip.id, a_bus("sleeper_2x1").id, admin_id=admin.id, now=trip.departure_at)


def test_mark_departed_stops_sales_and_releases_holds(trip, asha, admin):
    from booking.services.holds import HoldError

    at = trip.departure_at - timedelta(minutes=5)
    held = hold(asha.id, trip.id, ["4B"], now=trip.departure_at - timedelta(minutes=40))
    with pytest.raises(trips.TripError, match="from 2 hours before"):
        trips.mark_departed([trip.id], admin_id=admin.id, now=NOW)
    assert trips.mark_departed([trip.id], admin_id=admin.id, now=at) == 1
    assert fresh(Schedule, trip.id).status == ScheduleStatus.DEPARTED
    assert fresh(timetable_hold(), held).status.value == "released"
    with pytest.raises(HoldError, match="already left"):
        hold(make_user().id, trip.id, ["5B"], now=at - timedelta(hours=1))
    with pytest.raises(trips.TripError, match="Only scheduled trips"):
        trips.mark_departed([trip.id], admin_id=admin.id, now=at)
    assert_invariants()


def timetable_hold():
    from booking.models import Reservation

    return Reservation
