"""The hold service, with a fixed clock: every rule of DESIGN.md "Rules" for holds."""

from __future__ import annotations

import json
import logging
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from booking.extensions import db
from booking.models import ActivityLog, Reservation, ReservationSeat, Schedule, Seat
from booking.models.enums import HoldStatus, Role, ScheduleStatus, SeatStatus
from booking.services import audit, holds, invariants, inventory, sweep
from booking.services.errors import NotFound
from booking.services.holds import HoldError
from tests.support import NOW, count_statements, make_trip, make_user

MIN = timedelta(minutes=1)


def counter(trip) -> int:
    """The trip's stored free-seat counter, fresh from the database."""
    return db.session.scalar(select(Schedule.available_seats).where(Schedule.id == trip.id))


def states(trip, now, viewer=None) -> dict[str, str]:
    """Seat number -> state as the seat map shows it at ``now``."""
    return {n: s.state for n, s in inventory.seat_map(trip.id, now, viewer).seats.items()}


def snapshot() -> tuple:
    """Everything a refused hold must leave untouched."""
    return (
        db.session.scalar(select(func.count()).select_from(Reservation)),
        db.session.scalar(select(func.count()).select_from(ReservationSeat)),
        tuple(db.session.scalars(select(Seat.status).order_by(Seat.id))),
        tuple(db.session.scalars(select(Schedule.available_seats).order_by(Schedule.id))),
        db.session.scalar(select(func.count()).select_from(ActivityLog)),
    )


def assert_invariants():
    """Every hold invariant holds."""
    assert invariants.run_all() == []


def hold(customer, trip, seats, now=NOW):
    return holds.hold_seats(
        customer_id=customer.id, schedule_id=trip.id, seat_numbers=seats, now=now
    )


# ---- making a hold ---------------------------------------------------------------------------


def test_hold_claims_the_seats_for_fifteen_minutes(trip, asha):
    """A hold is active until NOW + HOLD_MINUTES, its seats reserved, the counter down."""
    made = hold(asha, trip, ["1A", "1B"])
    assert made.status == HoldStatus.ACTIVE
    assert made.expires_at == NOW + timedelta(minutes=15)
    assert [s.seat_number for s in holds.held_seats(made.id)] == ["1A", "1B"]
    assert counter(trip) == 38
    seen = states(trip, NOW, viewer=asha.id)
    assert seen["1A"] == seen["1B"] == "yours" and seen["1C"] == "available"
    assert states(trip, NOW)["1A"] == "held"
    assert made.total_amount > 0
    logged = db.session.scalar(select(ActivityLog).where(ActivityLog.action_type == "hold.created"))
    assert logged.entity_id == str(made.id) and logged.details["seats"] == ["1A", "1B"]
    assert_invariants()


def test_seat_numbers_are_matched_whatever_their_case_and_repeats(trip, asha):
    """' 1a', '1A' and '1a' are one seat."""
    made = hold(asha, trip, [" 1a", "1A", "1a"])
    assert [s.seat_number for s in holds.held_seats(made.id)] == ["1A"]


@pytest.mark.parametrize(
    ("seats", "message"),
    [
        ([], "Choose at least one seat."),
        (["1A", "1B", "1C", "1D", "2A", "2B", "2C"], "at most 6 seats at a time; you chose 7"),
        (["1A", "99Z"], "There is no seat 99Z on this bus."),
        (["L1", "U2"], "There are no seats L1, U2 on this bus."),
        (["1A", "drop table"], "There is no seat DROP TABLE on this bus."),
    ],
)
def test_bad_selections_are_refused_and_change_nothing(trip, asha, seats, message):
    """0 or 7 seats, seats not on this bus (e.g. another bus's berths): refused, nothing held."""
    before = snapshot()
    with pytest.raises(HoldError) as refused:
        hold(asha, trip, seats)
    assert message in refused.value.message
    assert snapshot() == before


def test_six_seats_is_the_limit_and_allowed(trip, asha):
    """Exactly six seats may be held."""
    made = hold(asha, trip, ["1A", "1B", "1C", "1D", "2A", "2B"])
    assert len(holds.held_seats(made.id)) == 6


@pytest.mark.parametrize(
    ("status", "departs_in", "message"),
    [
        (ScheduleStatus.CANCELLED, timedelta(days=2), "has been cancelled"),
        (ScheduleStatus.DEPARTED, timedelta(days=2), "already left"),
        (ScheduleStatus.SCHEDULED, -timedelta(minutes=5), "already left"),
        (ScheduleStatus.SCHEDULED, timedelta(minutes=29), "closed 30 minutes before departure"),
    ],
)
def test_only_trips_on_sale_can_be_held(app_ctx, asha, status, departs_in, message):
    """Cancelled or departed trips, and trips past the sales cutoff, refuse holds."""
    trip = make_trip(departs_in=departs_in)
    trip.status = status
    db.session.commit()
    before = snapshot()
    with pytest.raises(HoldError, match=message):
        hold(asha, trip, ["1A"])
    assert snapshot() == before


def test_unknown_trip_is_not_found(app_ctx, asha):
    """A made-up trip id is a 404, not a crash."""
    import uuid

    with pytest.raises(NotFound):
        holds.hold_seats(
            customer_id=asha.id, schedule_id=uuid.uuid4(), seat_numbers=["1A"], now=NOW
        )


def test_all_or_nothing_a_taken_seat_is_named_and_nothing_is_held(trip, asha, ravi):
    """If any wanted seat is taken, none is held, and the error names the taken seats."""
    hold(asha, trip, ["2B", "3C"])
    before = snapshot()
    with pytest.raises(HoldError) as refused:
        hold(ravi, trip, ["2A", "2B", "3C"])
    assert "Seats 2B, 3C are no longer available. Nothing was held" in refused.value.message
    assert refused.value.details["taken"] == ["2B", "3C"]
    assert snapshot() == before
    assert states(trip, NOW)["2A"] == "available"


# ---- one hold per customer per trip ---------------------------------------------------------


def test_a_second_request_changes_the_seats_and_keeps_the_expiry(trip, asha):
    """Re-selecting changes the hold's seats; it does not reset the clock or stack holds."""
    first = hold(asha, trip, ["1A", "1B"])
    second = hold(asha, trip, ["1B", "4D", "5D"], now=NOW + 10 * MIN)
    assert second.id == first.id
    assert second.expires_at == NOW + 15 * MIN
    assert [s.seat_number for s in holds.held_seats(first.id)] == ["1B", "4D", "5D"]
    assert counter(trip) == 37
    assert states(trip, NOW + 10 * MIN)["1A"] == "available"
    assert db.session.scalar(select(func.count()).select_from(Reservation)) == 1
    changed = db.session.scalar(
        select(ActivityLog).where(ActivityLog.action_type == "hold.changed")
    )
    assert changed.details["added"] == ["4D", "5D"] and changed.details["dropped"] == ["1A"]
    assert_invariants()


def test_changing_to_a_taken_seat_keeps_the_old_selection(trip, asha, ravi):
    """A change that fails leaves the hold exactly as it was."""
    mine = hold(asha, trip, ["1A"])
    hold(ravi, trip, ["2A"])
    with pytest.raises(HoldError, match="Seat 2A is no longer available"):
        hold(asha, trip, ["1A", "2A"], now=NOW + MIN)
    assert [s.seat_number for s in holds.held_seats(mine.id)] == ["1A"]
    assert_invariants()


def test_holds_on_different_trips_are_separate(app_ctx, asha):
    """One active hold per customer per trip, not per customer."""
    one, two = make_trip(), make_trip()
    assert hold(asha, one, ["1A"]).id != hold(asha, two, ["1A"]).id


# ---- lazy expiry ------------------------------------------------------------------------------


def test_hold_past_expiry_frees_the_seat_before_the_sweep_runs(trip, asha, ravi):
    """At expires_at the seats read as free and the next hold takes them, retiring the lapsed
    hold in the same transaction; the sweep has not run."""
    lapsed = hold(asha, trip, ["1A", "1B"])
    after = NOW + 15 * MIN
    assert states(trip, after - timedelta(seconds=1))["1A"] == "held"
    assert states(trip, after)["1A"] == "available"
    assert inventory.seats_left([db.session.get(Schedule, trip.id)], after)[trip.id] == 40
    taken = hold(ravi, trip, ["1A"], now=after)
    db.session.expire_all()
    old = db.session.get(Reservation, lapsed.id)
    assert old.status == HoldStatus.EXPIRED and old.end_reason == "taken after expiry"
    assert holds.held_seats(lapsed.id) == []
    assert [s.seat_number for s in holds.held_seats(taken.id)] == ["1A"]
    assert counter(trip) == 39  # 1B came back with the retired hold
    assert_invariants()


def test_a_customer_whose_hold_lapsed_gets_a_fresh_hold(trip, asha):
    """Choosing seats again after one's own hold lapsed starts a new hold with a new clock."""
    old = hold(asha, trip, ["1A"])
    new = hold(asha, trip, ["1A", "1B"], now=NOW + 20 * MIN)
    assert new.id != old.id and new.expires_at == NOW + 35 * MIN
    db.session.expire_all()
    assert db.session.get(Reservation, old.id).status == HoldStatus.EXPIRED
    assert counter(trip) == 38
    assert_invariants()


# ---- revive -----------------------------------------------------------------------------------


def test_revive_gives_back_a_lapsed_hold_with_a_new_expiry(trip, asha):
    """Coming back to a lapsed (not yet swept) hold revives it when the seats are still free."""
    made = hold(asha, trip, ["3A", "3B"])
    revived = holds.revive_hold(made.id, customer_id=asha.id, now=NOW + 40 * MIN)
    assert revived.status == HoldStatus.ACTIVE and revived.expires_at == NOW + 55 * MIN
    assert [s.seat_number for s in holds.held_seats(made.id)] == ["3A", "3B"]
    assert counter(trip) == 38
    assert_invariants()


def test_revive_after_the_sweep_reclaims_the_same_seats(trip, asha):
    """A hold the sweep retired comes back with exactly the seats it had."""
    made = hold(asha, trip, ["3A", "3B"])
    hold(asha, trip, ["3A", "3B", "4A"], now=NOW + MIN)
    hold(asha, trip, ["3A", "3B"], now=NOW + 2 * MIN)  # 4A dropped before the end
    sweep.expire_holds(NOW + 16 * MIN)
    assert counter(trip) == 40
    revived = holds.revive_hold(made.id, customer_id=asha.id, now=NOW + 30 * MIN)
    assert revived.status == HoldStatus.ACTIVE
    assert [s.seat_number for s in holds.held_seats(made.id)] == ["3A", "3B"]
    assert counter(trip) == 38
    assert_invariants()


def test_revive_fails_clearly_when_a_seat_was_taken_and_changes_nothing(trip, asha, ravi):
    """If someone took one of the seats meanwhile, revive names it and changes nothing."""
    made = hold(asha, trip, ["3A", "3B"])
    hold(ravi, trip, ["3B"], now=NOW + 20 * MIN)
    before = snapshot()
    with pytest.raises(HoldError, match="Seat 3B is no longer available"):
        holds.revive_hold(made.id, customer_id=asha.id, now=NOW + 21 * MIN)
    assert snapshot() == before


@pytest.mark.parametrize("ending", ["dropped", "released"])
def test_a_dropped_or_released_hold_cannot_be_revived(trip, asha, ending, app_ctx):
    """Only lapsed holds come back."""
    made = hold(asha, trip, ["3A"])
    if ending == "dropped":
        holds.release_hold(made.id, customer_id=asha.id, now=NOW + MIN)
    else:
        admin = make_user(Role.ADMIN)
        holds.admin_release(made.id, admin_id=admin.id, reason="stuck", now=NOW + MIN)
    with pytest.raises(HoldError, match=ending):
        holds.revive_hold(made.id, customer_id=asha.id, now=NOW + 20 * MIN)


def test_another_customers_hold_is_not_found(trip, asha, ravi):
    """A hold id of someone else behaves as if it did not exist."""
    made = hold(asha, trip, ["3A"])
    with pytest.raises(NotFound):
        holds.revive_hold(made.id, customer_id=ravi.id, now=NOW)
    with pytest.raises(NotFound):
        holds.release_hold(made.id, customer_id=ravi.id, now=NOW)
    with pytest.raises(NotFound):
        holds.get_hold(made.id, ravi.id)
    assert holds.get_hold(made.id, asha.id).id == made.id


# ---- release and extend -------------------------------------------------------------------------


def test_customer_drops_a_hold_and_the_seats_are_free_at_once(trip, asha, ravi):
    """Dropping ends the hold (cancelled), frees its seats, logs it; doing it twice is harmless."""
    made = hold(asha, trip, ["1A", "1B"])
    holds.release_hold(made.id, customer_id=asha.id, now=NOW + MIN)
    holds.release_hold(made.id, customer_id=asha.id, now=NOW + 2 * MIN)
    db.session.expire_all()
    assert db.session.get(Reservation, made.id).status == HoldStatus.CANCELLED
    assert counter(trip) == 40
    hold(ravi, trip, ["1A"], now=NOW + 3 * MIN)
    logged = db.session.scalars(
        select(ActivityLog.action_type).where(ActivityLog.entity_id == str(made.id))
    ).all()
    assert logged.count("hold.cancelled") == 1
    assert_invariants()


def test_admin_release_needs_a_reason_and_logs_who_and_why(trip, asha, app_ctx):
    """An admin release without a reason is refused; with one it frees the seats and logs it."""
    admin = make_user(Role.ADMIN)
    made = hold(asha, trip, ["1A"])
    with pytest.raises(HoldError, match="Give a reason"):
        holds.admin_release(made.id, admin_id=admin.id, reason="  ", now=NOW)
    holds.admin_release(made.id, admin_id=admin.id, reason="Customer phoned", now=NOW + MIN)
    db.session.expire_all()
    assert db.session.get(Reservation, made.id).status == HoldStatus.RELEASED
    row = db.session.scalar(select(ActivityLog).where(ActivityLog.action_type == "hold.released"))
    assert row.user_id == admin.id and row.details["reason"] == "Customer phoned"
    assert counter(trip) == 40


def test_admin_extends_a_live_hold_but_not_an_ended_one(trip, asha, app_ctx):
    """Extending adds minutes to a live hold and logs it; a dropped hold cannot be extended."""
    admin = make_user(Role.ADMIN)
    made = hold(asha, trip, ["1A"])
    extended = holds.admin_extend(made.id, admin_id=admin.id, minutes=10, now=NOW + MIN)
    assert extended.expires_at == NOW + 25 * MIN
    with pytest.raises(HoldError, match="1 to 15 minutes"):
        holds.admin_extend(made.id, admin_id=admin.id, minutes=0, now=NOW)
    holds.release_hold(made.id, customer_id=asha.id, now=NOW + 2 * MIN)
    with pytest.raises(HoldError, match="Only a live hold"):
        holds.admin_extend(made.id, admin_id=admin.id, minutes=5, now=NOW + 3 * MIN)


def test_an_admin_extension_is_capped_by_the_setting(trip, asha, app_ctx):
    """ADMIN_EXTEND_MAX_MINUTES (15 by default) bounds one extension; beyond it nothing moves."""
    admin = make_user(Role.ADMIN)
    made = hold(asha, trip, ["1A"])
    with pytest.raises(HoldError, match="1 to 15 minutes"):
        holds.admin_extend(made.id, admin_id=admin.id, minutes=16, now=NOW + MIN)
    db.session.expire_all()
    assert db.session.get(Reservation, made.id).expires_at == NOW + 15 * MIN
    assert holds.admin_extend(made.id, admin_id=admin.id, minutes=15, now=NOW + MIN).expires_at == (
        NOW + 30 * MIN
    )


def test_desk_holds_have_no_customer_and_name_the_clerk(trip, app_ctx):
    """A walk-in hold is made by the clerk; several can exist on one trip."""
    clerk = make_user(Role.STAFF)
    one = holds.hold_seats(
        customer_id=None, sold_by_id=clerk.id, schedule_id=trip.id, seat_numbers=["1A"], now=NOW
    )
    two = holds.hold_seats(
        customer_id=None, sold_by_id=clerk.id, schedule_id=trip.id, seat_numbers=["1B"], now=NOW
    )
    assert one.id != two.id and one.channel == "desk" and one.user_id is None
    assert_invariants()


# ---- the seat map read model ------------------------------------------------------------------


def test_seat_map_lays_out_decks_with_aisles_and_states(app_ctx, asha, ravi):
    """Both decks of a sleeper come back in layout order with aisles, fares and states."""
    trip = make_trip(layout="sleeper_2x1", base_price="900.00")
    hold(asha, trip, ["L1"])
    seat_map = inventory.seat_map(trip.id, NOW, viewer_id=ravi.id)
    (lower, lower_rows), (upper, _upper_rows) = seat_map.decks
    assert (lower, upper) == ("Lower deck", "Upper deck")
    assert [c if isinstance(c, str) else c.number for c in lower_rows[0]] == [
        "L1",
        "aisle",
        "L2",
        "L3",
    ]
    assert seat_map.seats["L1"].state == "held" and seat_map.seats["U1"].state == "available"
    assert seat_map.seats["L1"].fare == seat_map.seats["U1"].fare + 100
    assert seat_map.available_count == 35
    assert seat_map.seats["L1"].holder_id == asha.id  # known server side, never rendered


def test_seat_map_uses_the_same_number_of_statements_for_any_bus_size(app_ctx, asha):
    """Reading the seat map costs a constant number of SQL statements (<= 4), 40 or 60 seats."""
    from booking.layouts import seat_count
    from booking.models import Bus

    small = make_trip()
    big = make_trip()
    wide = {
        "decks": [
            {
                "rows": [
                    [{"number": f"{r}{c}"} for c in "AB"]
                    + ["aisle"]
                    + [{"number": f"{r}{c}"} for c in "CD"]
                    for r in range(1, 16)
                ]
            }
        ]
    }
    bus = db.session.get(Bus, big.bus_id)
    bus.seat_layout_config, bus.total_seats = wide, seat_count(wide)
    db.session.commit()
    inventory.generate_seats(big.id, NOW, actor_id=None)
    hold(asha, small, ["1A"])
    counts, viewer = [], asha.id
    for trip_id in (small.id, big.id):
        db.session.remove()
        with count_statements() as statements:
            seat_map = inventory.seat_map(trip_id, NOW, viewer_id=viewer)
        counts.append((len(seat_map.seats), len(statements)))
    assert counts[0][0] == 40 and counts[1][0] == 60
    assert counts[0][1] == counts[1][1] <= 4


def test_generate_seats_is_idempotent_and_refuses_once_a_seat_was_held(trip, asha):
    """Regenerating replaces unclaimed seats; after any hold it refuses with a clear error."""
    assert inventory.generate_seats(trip.id, NOW, actor_id=None) == 40
    assert inventory.generate_seats(trip.id, NOW, actor_id=None) == 40
    assert db.session.scalar(select(func.count()).select_from(Seat)) == 40
    assert counter(trip) == 40
    hold(asha, trip, ["1A"])
    with pytest.raises(inventory.InventoryError, match="already been held or sold"):
        inventory.generate_seats(trip.id, NOW, actor_id=None)


def test_seat_states_in_the_database_follow_the_claims(trip, asha):
    """seats.status mirrors the live claims: reserved while held, available once dropped."""
    made = hold(asha, trip, ["1A"])
    assert db.session.scalar(select(Seat.status).where(Seat.seat_number == "1A")) == "reserved"
    holds.release_hold(made.id, customer_id=asha.id, now=NOW)
    assert db.session.scalar(select(Seat.status).where(Seat.seat_number == "1A")) == (
        SeatStatus.AVAILABLE
    )


# ---- log lines -------------------------------------------------------------------------------


def test_every_hold_change_writes_a_structured_log_line(trip, asha, ravi, caplog):
    """created, changed, released, expired (by the sweep and when taken after expiry), revived
    and extended: one logfmt line each, after commit, with hold, schedule, customer, seats and
    expiry, so a log search can follow one hold or one seat."""
    admin = make_user(Role.ADMIN)
    with caplog.at_level(logging.INFO, logger="booking.events"):
        first = hold(asha, trip, ["1A"])
        hold(asha, trip, ["1A", "1B"], now=NOW + MIN)  # changes the same hold
        holds.admin_extend(first.id, admin_id=admin.id, minutes=5, now=NOW + 2 * MIN)
        holds.admin_release(first.id, admin_id=admin.id, reason="no show", now=NOW + 3 * MIN)
        lapsing = hold(ravi, trip, ["2A"], now=NOW)
        sweep.expire_holds(NOW + 16 * MIN)  # the sweep
        holds.revive_hold(lapsing.id, customer_id=ravi.id, now=NOW + 17 * MIN)
        hold(asha, trip, ["2A"], now=NOW + 40 * MIN)  # takes 2A from Ravi's lapsed hold
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("event=hold.")]

    def line(event: str, hold_id) -> dict[str, str]:
        found = next(x for x in lines if x.startswith(f"event={event} ") and f"hold={hold_id}" in x)
        pairs = re.findall(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)', found)
        return {k: json.loads(v) if v.startswith('"') else v for k, v in pairs}

    created = line("hold.created", first.id)
    assert created["schedule"] == str(trip.id) and created["customer"] == str(asha.id)
    assert created["seats"] == "1A" and created["expires_at"] == (NOW + 15 * MIN).isoformat()
    assert line("hold.changed", first.id)["seats"] == "1A,1B"
    assert line("hold.extended", first.id)["expires_at"] == (NOW + 20 * MIN).isoformat()
    released = line("hold.released", first.id)
    assert released["seats"] == "1A,1B" and released["reason"] == "no show"
    assert released["by"] == str(admin.id)
    assert line("hold.expired", lapsing.id)["reason"] == "lapsed"
    revived = line("hold.revived", lapsing.id)
    assert revived["seats"] == "2A" and revived["expires_at"] == (NOW + 32 * MIN).isoformat()
    taken = [x for x in lines if x.startswith("event=hold.expired ") and str(lapsing.id) in x]
    assert len(taken) == 2 and 'reason="taken after expiry"' in taken[1]


def test_log_lines_are_logfmt_with_the_event_first_and_fields_in_order(app_ctx, caplog):
    """structlog's logfmt: event first, then the fields as given; lists joined by commas; a value
    with a space, quote or '=' quoted and escaped."""
    with caplog.at_level(logging.INFO, logger="booking.events"):
        audit.log_event(
            "demo.happened",
            zeta="1",
            seats=["3A", "3B"],
            reason='said "no"',
            formula="a=b",
            alpha=Decimal("2.50"),
        )
    [line] = [r.getMessage() for r in caplog.records if r.name == "booking.events"]
    assert line == (
        'event=demo.happened zeta=1 seats=3A,3B reason="said \\"no\\"" formula="a=b" alpha=2.50'
    )
