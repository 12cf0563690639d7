"""The sweep retires lapsed holds in set-based batches; its dry run and the CLI."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from booking.extensions import db
from booking.models import ActivityLog, Reservation, Schedule
from booking.models.enums import HoldStatus
from booking.services import holds, invariants, sweep
from tests.support import NOW, count_statements, make_trip, make_user

MIN = timedelta(minutes=1)


def test_sweep_retires_only_lapsed_holds_and_gives_their_seats_back(app_ctx):
    """Lapsed holds end as expired with audit rows; live ones are untouched; counters right."""
    trip = make_trip()
    early, late = make_user(), make_user()
    lapsed = holds.hold_seats(
        customer_id=early.id, schedule_id=trip.id, seat_numbers=["1A", "1B"], now=NOW
    )
    live = holds.hold_seats(
        customer_id=late.id, schedule_id=trip.id, seat_numbers=["2A"], now=NOW + 10 * MIN
    )
    result = sweep.expire_holds(NOW + 16 * MIN)
    assert [h.id for h in result.retired] == [lapsed.id]
    assert len(result.retired[0].seat_ids) == 2
    db.session.expire_all()
    assert db.session.get(Reservation, lapsed.id).status == HoldStatus.EXPIRED
    assert db.session.get(Reservation, live.id).status == HoldStatus.ACTIVE
    assert db.session.get(Schedule, trip.id).available_seats == 39
    audit = db.session.scalars(
        select(ActivityLog).where(ActivityLog.action_type == "hold.expired")
    ).all()
    assert [row.entity_id for row in audit] == [str(lapsed.id)]
    assert audit[0].user_id is None  # the system did it
    assert invariants.run_all() == []
    assert sweep.expire_holds(NOW + 16 * MIN).retired == []  # nothing twice


def test_dry_run_lists_what_would_be_retired_and_changes_nothing(app_ctx):
    """--dry-run reports the lapsed holds and leaves every row as it was."""
    trip = make_trip()
    customer = make_user()
    made = holds.hold_seats(
        customer_id=customer.id, schedule_id=trip.id, seat_numbers=["1A"], now=NOW
    )
    logs_before = db.session.scalar(select(func.count()).select_from(ActivityLog))
    result = sweep.expire_holds(NOW + 20 * MIN, dry_run=True)
    assert result.dry_run and [h.id for h in result.retired] == [made.id]
    db.session.expire_all()
    assert db.session.get(Reservation, made.id).status == HoldStatus.ACTIVE
    assert db.session.get(Schedule, trip.id).available_seats == 39
    assert db.session.scalar(select(func.count()).select_from(ActivityLog)) == logs_before


def test_sweep_is_set_based_statements_do_not_grow_with_the_number_of_holds(app_ctx):
    """Sweeping 4 or 16 lapsed holds (over the same two trips) takes the same statements."""
    trips = [make_trip(), make_trip()]
    trip_ids = [trip.id for trip in trips]
    customers = [make_user().id for _ in range(20)]

    def lapse(batch, start):
        for index, customer_id in enumerate(batch):
            row = (start + index) // 2 + 1
            holds.hold_seats(
                customer_id=customer_id,
                schedule_id=trip_ids[index % 2],
                seat_numbers=[f"{row}A", f"{row}B"],
                now=NOW,
            )
        db.session.remove()

    counts = []
    for batch, start in ((customers[:4], 0), (customers[4:], 4)):
        lapse(batch, start)
        with count_statements() as statements:
            result = sweep.expire_holds(NOW + 16 * MIN, batch_size=100)
        counts.append((len(result.retired), len(statements)))
    assert [retired for retired, _ in counts] == [4, 16]
    assert counts[0][1] == counts[1][1] <= 20  # including the live-update reads after commit
    for trip_id in trip_ids:
        assert db.session.get(Schedule, trip_id).available_seats == 40
    assert invariants.run_all() == []


def test_sweep_in_small_batches_retires_everything(app_ctx):
    """Batches smaller than the backlog keep going until no lapsed hold is left."""
    trip = make_trip()
    for row in range(1, 8):
        customer = make_user()
        holds.hold_seats(
            customer_id=customer.id, schedule_id=trip.id, seat_numbers=[f"{row}C"], now=NOW
        )
    result = sweep.expire_holds(NOW + 16 * MIN, batch_size=3)
    assert len(result.retired) == 7
    assert db.session.get(Schedule, trip.id).available_seats == 40


def test_cli_expire_dry_run_then_expire(runner, app):
    """`flask holds expire --dry-run` lists and keeps; `flask holds expire` retires."""
    from booking.orm import utcnow

    with app.app_context():
        trip = make_trip(now=utcnow())
        customer = make_user()
        made = holds.hold_seats(
            customer_id=customer.id,
            schedule_id=trip.id,
            seat_numbers=["1A"],
            now=utcnow() - 20 * MIN,
        )
        made_id = made.id
    dry = runner.invoke(args=["holds", "expire", "--dry-run"])
    assert dry.exit_code == 0 and "would retire 1 lapsed hold(s)" in dry.output
    assert str(made_id) in dry.output
    with app.app_context():
        assert db.session.get(Reservation, made_id).status == HoldStatus.ACTIVE
    real = runner.invoke(args=["holds", "expire"])
    assert real.exit_code == 0 and "retired 1 lapsed hold(s)" in real.output
    with app.app_context():
        assert db.session.get(Reservation, made_id).status == HoldStatus.EXPIRED


def test_cli_list_shows_time_left_per_hold(runner, app):
    """`flask holds list [--schedule ID]` shows each active hold with its seats and time left."""
    from booking.orm import utcnow

    with app.app_context():
        trip, other = make_trip(now=utcnow()), make_trip(now=utcnow())
        customer = make_user(email="lister@example.com")
        holds.hold_seats(
            customer_id=customer.id, schedule_id=trip.id, seat_numbers=["1A", "1B"], now=utcnow()
        )
        trip_id, other_id = trip.id, other.id
    listed = runner.invoke(args=["holds", "list"])
    assert listed.exit_code == 0
    assert "1A,1B" in listed.output and "lister@example.com" in listed.output
    assert "1 active hold(s)" in listed.output
    assert " 14m" in listed.output or " 15m" in listed.output
    assert (
        "1 active hold(s)"
        in runner.invoke(args=["holds", "list", "--schedule", str(trip_id)]).output
    )
    assert (
        "0 active hold(s)"
        in runner.invoke(args=["holds", "list", "--schedule", str(other_id)]).output
    )


def test_celery_task_runs_the_sweep_in_process_without_redis(app_ctx):
    """Without Redis the beat task runs eagerly in-process and returns how many it retired."""
    from booking.orm import utcnow
    from booking.tasks import expire_holds

    trip = make_trip(now=utcnow())
    customer = make_user()
    holds.hold_seats(
        customer_id=customer.id, schedule_id=trip.id, seat_numbers=["1A"], now=utcnow() - 20 * MIN
    )
    assert expire_holds.delay().get() == 1
