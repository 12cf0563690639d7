"""The sweep retires lapsed holds in set-based batches; its dry run and the CLI."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from booking.extensions import db
from booking.models import ActivityLog, OutboxEmail, Reservation, ReservationSeat, Schedule
from booking.models.enums import HoldStatus, Role
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


# ---- one locked row never stops the sweep (PostgreSQL: real row locks) -------------------------


@pytest.mark.postgres
def test_the_sweep_skips_holds_locked_elsewhere_and_retires_the_rest(runner, app):
    """`flask holds expire` with one hold's row, another's seat and a third's trip row locked by
    a second connection: it retires the free hold, reports the three skipped and exits 0, after
    at most one lock timeout; once the locks go, the next run retires the rest."""
    from booking.orm import utcnow

    with app.app_context():
        now = utcnow()
        trip, other_trip = make_trip(now=now), make_trip(now=now)
        made = {}
        for name, schedule, seat in (
            ("free", trip, "1A"),
            ("row", trip, "2A"),
            ("seat", trip, "3A"),
            ("trip", other_trip, "1A"),
        ):
            made[name] = holds.hold_seats(
                customer_id=make_user(now=now).id,
                schedule_id=schedule.id,
                seat_numbers=[seat],
                now=now - 20 * MIN,
            ).id
        seat_id = db.session.scalar(
            select(ReservationSeat.seat_id).where(ReservationSeat.reservation_id == made["seat"])
        )
        other_trip_id = other_trip.id
        db.session.remove()
        locker = db.engine.connect()
        try:
            locker.execute(
                text("SELECT id FROM reservations WHERE id = :id FOR UPDATE"), {"id": made["row"]}
            )
            locker.execute(text("SELECT id FROM seats WHERE id = :id FOR UPDATE"), {"id": seat_id})
            locker.execute(
                text("SELECT id FROM schedules WHERE id = :id FOR UPDATE"), {"id": other_trip_id}
            )
            started = time.monotonic()
            swept = runner.invoke(args=["holds", "expire"])
            elapsed = time.monotonic() - started
        finally:
            locker.rollback()
            locker.close()
    assert swept.exit_code == 0, swept.output
    assert "retired 1 lapsed hold(s)" in swept.output
    assert "skipped 3 lapsed hold(s) locked by another transaction" in swept.output
    # One wait for the locked trip row (LOCK_TIMEOUT_MS), then one hold at a time with NOWAIT.
    assert elapsed < app.config["LOCK_TIMEOUT_MS"] / 1000 + 3
    with app.app_context():
        status = {name: db.session.get(Reservation, i).status for name, i in made.items()}
        assert status == {
            "free": HoldStatus.EXPIRED,
            "row": HoldStatus.ACTIVE,
            "seat": HoldStatus.ACTIVE,
            "trip": HoldStatus.ACTIVE,
        }
        assert invariants.run_all() == []
    again = runner.invoke(args=["holds", "expire"])
    assert again.exit_code == 0 and "retired 3 lapsed hold(s)" in again.output
    assert "skipped" not in again.output
    with app.app_context():
        assert all(
            db.session.get(Reservation, i).status == HoldStatus.EXPIRED for i in made.values()
        )
        assert invariants.run_all() == []


# ---- the customer hears when a hold lapses unpaid ----------------------------------------------


def test_a_lapsed_online_hold_emails_its_customer_after_the_sweep_commits(app_ctx):
    """One hold_expired email per lapsed online hold, to the account's email, naming the trip
    and seats, handed to the worker only after commit; live and desk holds get none."""
    from booking.services import events

    trip = make_trip()
    customer = make_user(email="lapsed@example.com", first_name="Meera")
    live_customer = make_user(email="live@example.com")
    clerk = make_user(Role.STAFF)
    holds.hold_seats(
        customer_id=customer.id, schedule_id=trip.id, seat_numbers=["1A", "1B"], now=NOW
    )
    holds.hold_seats(
        customer_id=None, sold_by_id=clerk.id, schedule_id=trip.id, seat_numbers=["5A"], now=NOW
    )
    holds.hold_seats(
        customer_id=live_customer.id, schedule_id=trip.id, seat_numbers=["2A"], now=NOW + 10 * MIN
    )
    handed: list = []

    def on_queued(email_ids, **_):
        for email_id in email_ids:
            committed = db.session.get(OutboxEmail, email_id)  # visible: the sweep committed
            handed.append(committed.to_address if committed else None)

    events.emails_queued.connect(on_queued)
    try:
        result = sweep.run(NOW + 16 * MIN)
    finally:
        events.emails_queued.disconnect(on_queued)
    assert len(result.retired) == 2  # the online hold and the desk hold
    emails = db.session.scalars(select(OutboxEmail).where(OutboxEmail.kind == "hold_expired")).all()
    assert [e.to_address for e in emails] == ["lapsed@example.com"] == handed
    [email] = emails
    assert "were released" in email.subject and trip.route.name in email.subject
    assert "Hello Meera" in email.body and "1A, 1B" in email.body and "1A, 1B" in email.html_body
    assert sweep.run(NOW + 16 * MIN).retired == []
    assert db.session.scalar(select(func.count()).select_from(OutboxEmail)) == 1  # not twice


def test_a_hold_taken_after_it_lapsed_emails_its_customer_too(app_ctx):
    """The sweep has not run; another customer takes the lapsed seats: the first customer still
    hears that their hold lapsed."""
    trip = make_trip()
    first = make_user(email="first@example.com")
    holds.hold_seats(customer_id=first.id, schedule_id=trip.id, seat_numbers=["1A"], now=NOW)
    holds.hold_seats(
        customer_id=make_user().id, schedule_id=trip.id, seat_numbers=["1A"], now=NOW + 16 * MIN
    )
    emails = db.session.scalars(select(OutboxEmail).where(OutboxEmail.kind == "hold_expired")).all()
    assert [e.to_address for e in emails] == ["first@example.com"]


def test_a_sweep_hands_its_batch_of_lapsed_hold_emails_to_a_worker_as_one_task(
    app_ctx, monkeypatch
):
    """One broker call per batch, not one per email: 10,000 lapsed holds must not cost 10,000
    round trips to Redis (or 10,000 timeouts while it hangs)."""
    from booking import tasks

    trip = make_trip()
    for number in ("1A", "2A", "3A"):
        holds.hold_seats(
            customer_id=make_user().id, schedule_id=trip.id, seat_numbers=[number], now=NOW
        )
    handed: list = []
    monkeypatch.setattr(tasks.send_emails, "delay", handed.append)
    monkeypatch.setattr(tasks.send_email, "delay", handed.append)
    assert len(sweep.run(NOW + 16 * MIN).retired) == 3
    [batch] = handed
    queued = db.session.scalars(select(OutboxEmail.id).where(OutboxEmail.kind == "hold_expired"))
    assert sorted(batch) == sorted(str(email_id) for email_id in queued)
