"""The admin catalogue's rules (services.admin_*), with a fixed ``now``: every refusal says why
and changes nothing; every change writes an audit row."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from booking.extensions import db
from booking.layouts import load_builtin
from booking.models import ActivityLog, BookingSeat, Bus, Route, Schedule, Seat, User
from booking.models.enums import BusType, PromoKind, Role, ScheduleStatus, SeatStatus
from booking.services import accounts, inventory
from booking.services import admin_catalog as catalog
from booking.services.admin_common import CatalogError
from booking.services.errors import Conflict, NotFound
from tests.money_support import hold, pay_wallet, table_snapshot
from tests.support import NOW, make_trip


@pytest.fixture
def asha_wallet() -> str:
    """Enough for a few seats."""
    return "5000"


def sell(customer, trip, seats):
    """Sell ``seats`` of ``trip`` to ``customer`` from the wallet."""
    return pay_wallet(customer.id, hold(customer.id, trip.id, seats), seats)


def actions(entity_id) -> list[str]:
    """Audit actions recorded for an entity, oldest first."""
    return list(
        db.session.scalars(
            select(ActivityLog.action_type)
            .where(ActivityLog.entity_id == str(entity_id))
            .order_by(ActivityLog.timestamp, ActivityLog.id)
        )
    )


def trip_data(trip, **changes) -> catalog.ScheduleData:
    """A trip's current values as the schedule form would give them, with ``changes``."""
    values = {
        "bus_id": trip.bus_id,
        "route_id": trip.route_id,
        "departure_at": trip.departure_at,
        "arrival_at": trip.arrival_at,
        "base_price": trip.base_price,
        "status": trip.status,
    }
    values.update(changes)
    return catalog.ScheduleData(**values)


def new_bus(admin, number="KA01AB1234", layout="seater_2x2_40", **kw) -> Bus:
    """A bus made through the service."""
    data = catalog.BusData(number, kw.pop("bus_type", BusType.STANDARD), load_builtin(layout), **kw)
    return catalog.create_bus(data, actor_id=admin.id, now=NOW)


# ---- routes --------------------------------------------------------------------------------


def test_route_created_listed_searched_and_audited(admin):
    route = catalog.create_route(
        catalog.RouteData("  Pune ", "Goa", "450", "600"), actor_id=admin.id, now=NOW
    )
    catalog.create_route(catalog.RouteData("Delhi", "Agra", 230, 240), actor_id=admin.id, now=NOW)
    assert route.origin_city == "Pune" and actions(route.id) == ["route.created"]
    page = catalog.list_routes({"q": "GO"})
    assert [r.name for r in page.items] == ["Pune to Goa"] and page.total == 1
    ordered = catalog.list_routes(sort="-distance")
    assert [r.origin_city for r in ordered.items] == ["Pune", "Delhi"]


@pytest.mark.parametrize(
    "data,message",
    [
        (catalog.RouteData("Pune", "pune", 10, 10), "different cities"),
        (catalog.RouteData("Pune", "Goa", 0, 10), "distance"),
        (catalog.RouteData("Pune", "Goa", 10, "x"), "journey time"),
        (catalog.RouteData("", "Goa", 10, 10), "origin and the destination"),
    ],
)
def test_bad_route_values_refused(admin, data, message):
    with pytest.raises(CatalogError, match=message):
        catalog.create_route(data, actor_id=admin.id, now=NOW)
    assert db.session.scalar(select(Route.id)) is None


def test_duplicate_route_refused(admin):
    catalog.create_route(catalog.RouteData("Pune", "Goa", 450, 600), actor_id=admin.id, now=NOW)
    with pytest.raises(Conflict, match="already exists"):
        catalog.create_route(catalog.RouteData("pune", "GOA", 1, 1), actor_id=admin.id, now=NOW)


def test_route_with_sold_upcoming_trips_cannot_be_deactivated(admin, asha):
    trip = make_trip()
    sell(asha, trip, ["3A"])
    before = table_snapshot()
    with pytest.raises(Conflict, match="1 upcoming trip"):
        catalog.set_route_active(trip.route_id, False, actor_id=admin.id, now=NOW)
    data = catalog.RouteData(trip.route.origin_city, "Chennai", 350, 360, is_active=False)
    with pytest.raises(Conflict, match="1 upcoming trip"):
        catalog.update_route(trip.route_id, data, actor_id=admin.id, now=NOW)
    assert table_snapshot() == before
    # Once the trip has run, the route may go.
    later = trip.departure_at + timedelta(days=1)
    route = catalog.set_route_active(trip.route_id, False, actor_id=admin.id, now=later)
    assert route.is_active is False and "route.deactivated" in actions(route.id)


def test_route_without_sales_deactivates(admin):
    trip = make_trip()
    route = catalog.set_route_active(trip.route_id, False, actor_id=admin.id, now=NOW)
    assert not route.is_active
    assert catalog.list_routes({"active": "inactive"}).total == 1


# ---- buses and layouts ---------------------------------------------------------------------


def test_bus_total_seats_is_the_layouts_count(admin):
    bus = new_bus(admin, "ka 01 ab 1", layout="sleeper_2x1", amenities=["AC", "AC", " Wifi "])
    assert bus.total_seats == 36 and bus.bus_number == "KA 01 AB 1"
    assert bus.amenities == ["AC", "Wifi"] and actions(bus.id) == ["bus.created"]


def test_duplicate_bus_number_refused(admin):
    new_bus(admin, "KA01")
    with pytest.raises(Conflict, match="KA01 is already in use"):
        new_bus(admin, "ka01")
    assert db.session.scalar(select(db.func.count()).select_from(Bus)) == 1


def test_layout_errors_reported(admin):
    layout = {"decks": [{"rows": [[{"number": "1A", "ladies_onyl": True}, {"number": "1A"}]]}]}
    with pytest.raises(catalog.LayoutRefused) as refused:
        catalog.create_bus(
            catalog.BusData("KA02", BusType.STANDARD, layout), actor_id=admin.id, now=NOW
        )
    assert len(refused.value.errors) >= 2
    text = " ".join(refused.value.errors)
    assert "ladies_onyl" in text and "1A" in text
    assert db.session.scalar(select(Bus.id)) is None


def test_layout_preview_has_every_seat_available():
    preview = inventory.layout_preview(load_builtin("semi_sleeper"), Decimal("100.00"))
    assert preview.available_count == 40 and len(preview.decks) == 2
    assert {seat.state for seat in preview.seats.values()} == {"available"}


def test_layout_of_a_bus_with_upcoming_trips_cannot_change(admin):
    trip = make_trip()
    data = catalog.BusData(trip.bus.bus_number, BusType.SLEEPER, load_builtin("sleeper_2x1"))
    with pytest.raises(Conflict, match="1 upcoming trip"):
        catalog.update_bus(trip.bus_id, data, actor_id=admin.id, now=NOW)
    with pytest.raises(Conflict, match="1 upcoming trip"):
        catalog.set_bus_active(trip.bus_id, False, actor_id=admin.id, now=NOW)


# ---- schedules -----------------------------------------------------------------------------


def test_schedule_created_with_its_seats(admin):
    trip = make_trip()
    data = trip_data(
        trip,
        departure_at=NOW + timedelta(days=5),
        arrival_at=NOW + timedelta(days=5, hours=6),
        base_price="450",
    )
    schedule = catalog.create_schedule(data, actor_id=admin.id, now=NOW)
    seats = db.session.scalar(
        select(db.func.count()).select_from(Seat).where(Seat.schedule_id == schedule.id)
    )
    assert seats == 40 and schedule.available_seats == 40
    assert actions(schedule.id) == ["schedule.created"]


def test_overlap_refused(admin):
    trip = make_trip()
    data = trip_data(
        trip,
        departure_at=trip.departure_at + timedelta(hours=5),
        arrival_at=trip.arrival_at + timedelta(hours=5),
    )
    before = table_snapshot()
    with pytest.raises(Conflict, match="overlaps"):
        catalog.create_schedule(data, actor_id=admin.id, now=NOW)
    assert table_snapshot() == before
    # Back to back is fine.
    after = trip_data(
        trip, departure_at=trip.arrival_at, arrival_at=trip.arrival_at + timedelta(hours=6)
    )
    assert catalog.create_schedule(after, actor_id=admin.id, now=NOW).id


def test_arrival_before_departure_refused(admin):
    trip = make_trip()
    data = trip_data(
        trip,
        departure_at=NOW + timedelta(days=9),
        arrival_at=NOW + timedelta(days=9) - timedelta(minutes=1),
    )
    with pytest.raises(CatalogError, match="arrival must be after"):
        catalog.create_schedule(data, actor_id=admin.id, now=NOW)


def test_departure_in_the_past_refused(admin):
    trip = make_trip()
    data = trip_data(
        trip, departure_at=NOW - timedelta(hours=1), arrival_at=NOW + timedelta(hours=5)
    )
    with pytest.raises(CatalogError, match="future"):
        catalog.create_schedule(data, actor_id=admin.id, now=NOW)


def test_bus_swap_losing_a_sold_seat_refused(admin, asha):
    trip = make_trip()
    sell(asha, trip, ["10D"])
    semi = new_bus(admin, "KA03", layout="semi_sleeper")  # no seat 10D
    before = table_snapshot()
    with pytest.raises(Conflict, match="no seat 10D"):
        catalog.update_schedule(
            trip.id, trip_data(trip, bus_id=semi.id), actor_id=admin.id, now=NOW
        )
    assert table_snapshot() == before


def test_bus_swap_keeping_sold_seats_rebuilds_the_rest(admin, asha):
    trip = make_trip()
    sell(asha, trip, ["2A", "2B"])
    semi = new_bus(admin, "KA04", layout="semi_sleeper")
    schedule = catalog.update_schedule(
        trip.id, trip_data(trip, bus_id=semi.id), actor_id=admin.id, now=NOW
    )
    numbers = set(db.session.scalars(select(Seat.seat_number).where(Seat.schedule_id == trip.id)))
    assert len(numbers) == 40 and {"U1", "2A"} <= numbers and "10D" not in numbers
    assert schedule.available_seats == 38
    booked = db.session.scalars(
        select(Seat.seat_number).where(
            Seat.schedule_id == trip.id, Seat.status == SeatStatus.BOOKED
        )
    )
    assert sorted(booked) == ["2A", "2B"]
    assert inventory.seat_map(trip.id, NOW).available_count == 38


def test_price_change_leaves_sold_fares(admin, asha):
    trip = make_trip()
    sell(asha, trip, ["3A"])
    fares = list(db.session.scalars(select(BookingSeat.fare)))
    catalog.update_schedule(trip.id, trip_data(trip, base_price="800"), actor_id=admin.id, now=NOW)
    db.session.expire_all()
    assert list(db.session.scalars(select(BookingSeat.fare))) == fares
    assert db.session.get(Schedule, trip.id).base_price == Decimal("800.00")
    assert inventory.seat_map(trip.id, NOW).seats["3B"].fare == Decimal("800.00")
    assert "schedule.updated" in actions(trip.id)


def test_trip_with_sales_cannot_be_cancelled_from_the_form(admin, asha):
    trip = make_trip()
    sell(asha, trip, ["3A"])
    with pytest.raises(Conflict, match="trip cancellation"):
        catalog.update_schedule(
            trip.id, trip_data(trip, status=ScheduleStatus.CANCELLED), actor_id=admin.id, now=NOW
        )


def test_schedule_list_counts_sold_and_left_in_few_statements(admin, asha):
    from tests.support import count_statements

    trip = make_trip()
    for _ in range(3):
        make_trip()
    sell(asha, trip, ["3A", "3B"])
    db.session.expire_all()
    with count_statements() as statements:
        page = catalog.list_schedules(sort="-sold", per_page=10, now=NOW)
    assert len(statements) <= 3
    assert page.total == 4 and page.items[0].schedule.id == trip.id
    assert (page.items[0].sold, page.items[0].left) == (2, 38)
    assert catalog.list_schedules({"q": trip.bus.bus_number}).total == 1


# ---- promo codes ---------------------------------------------------------------------------


def promo(code="SAVE10", kind=PromoKind.PERCENT, value=10, **kw) -> catalog.PromoData:
    """Promo form values valid for a month from NOW."""
    return catalog.PromoData(
        code=code,
        kind=kind,
        value=value,
        valid_from=kw.pop("valid_from", NOW),
        valid_until=kw.pop("valid_until", NOW + timedelta(days=30)),
        **kw,
    )


def test_promo_codes_created_and_duplicates_refused(admin):
    code = catalog.create_promo_code(promo(code="save10"), actor_id=admin.id, now=NOW)
    assert code.code == "SAVE10" and code.percent_off == 10
    with pytest.raises(Conflict, match="SAVE10 already exists"):
        catalog.create_promo_code(
            promo(kind=PromoKind.FLAT, value="50"), actor_id=admin.id, now=NOW
        )
    flat = catalog.create_promo_code(
        promo("FLAT50", PromoKind.FLAT, "50.00"), actor_id=admin.id, now=NOW
    )
    assert flat.amount_off == Decimal("50.00") and flat.percent_off is None
    assert catalog.list_promo_codes({"kind": "flat"}).total == 1


@pytest.mark.parametrize(
    "data,message",
    [
        (promo(value=150), "1 to 100"),
        (promo(kind=PromoKind.FLAT, value="0"), "more than 0"),
        (promo(valid_until=NOW), "end after it starts"),
        (promo(usage_limit=0), "at least 1"),
        (promo(code="A!"), "3 to 20"),
        (promo(max_discount="-1"), "largest discount"),
    ],
)
def test_bad_promo_values_refused(admin, data, message):
    with pytest.raises(CatalogError, match=message):
        catalog.create_promo_code(data, actor_id=admin.id, now=NOW)


def test_promo_switched_off(admin):
    code = catalog.create_promo_code(promo(), actor_id=admin.id, now=NOW)
    catalog.set_promo_active(code.id, False, actor_id=admin.id, now=NOW)
    assert sorted(actions(code.id)) == ["promo.created", "promo.deactivated"]


# ---- users ---------------------------------------------------------------------------------


def test_role_change_and_station(admin, ravi):
    user = catalog.update_user(
        ravi.id, role=Role.STAFF, home_station="Mysuru", actor_id=admin.id, now=NOW
    )
    assert user.role == Role.STAFF and user.home_station == "Mysuru"
    assert "user.updated" in actions(ravi.id)
    with pytest.raises(CatalogError, match="own admin role"):
        catalog.update_user(
            admin.id, role=Role.STAFF, home_station=None, actor_id=admin.id, now=NOW
        )
    assert catalog.list_users({"role": "staff"}).total == 1


def test_deactivated_user_session_stops_working_even_after_reactivation(admin, ravi):
    session_id = ravi.get_id()
    assert accounts.get_user(session_id) is not None
    catalog.set_user_active(ravi.id, False, actor_id=admin.id, now=NOW)
    assert accounts.get_user(session_id) is None
    catalog.set_user_active(ravi.id, True, actor_id=admin.id, now=NOW)
    assert accounts.get_user(session_id) is None
    assert accounts.get_user(db.session.get(User, ravi.id).get_id()) is not None
    with pytest.raises(CatalogError, match="your own"):
        catalog.set_user_active(admin.id, False, actor_id=admin.id, now=NOW)


# ---- boarding and dropping points ----------------------------------------------------------


def test_route_stops_kept_in_time_order_and_replaced(admin):
    stops = [
        catalog.StopData("boarding", "Swargate", 20),
        catalog.StopData("boarding", "Shivajinagar", 0),
        catalog.StopData("dropping", "Panaji", 590),
    ]
    route = catalog.create_route(
        catalog.RouteData("Pune", "Goa", 450, 600, stops=stops), actor_id=admin.id, now=NOW
    )
    db.session.expire_all()
    route = db.session.get(Route, route.id)
    assert [(s.kind.value, s.name, s.position) for s in route.stops] == [
        ("boarding", "Shivajinagar", 0),
        ("boarding", "Swargate", 1),
        ("dropping", "Panaji", 0),
    ]
    data = catalog.RouteData(
        "Pune", "Goa", 450, 600, stops=[catalog.StopData("dropping", "Mapusa", 560)]
    )
    catalog.update_route(route.id, data, actor_id=admin.id, now=NOW)
    db.session.expire_all()
    assert [s.name for s in db.session.get(Route, route.id).stops] == ["Mapusa"]
    unchanged = catalog.RouteData("Pune", "Goa", 450, 600)  # stops=None leaves them
    catalog.update_route(route.id, unchanged, actor_id=admin.id, now=NOW)
    db.session.expire_all()
    assert len(db.session.get(Route, route.id).stops) == 1


@pytest.mark.parametrize(
    "stop,message",
    [
        (catalog.StopData("boarding", "Late", 700), "journey time"),
        (catalog.StopData("boarding", "", 5), "name"),
        (catalog.StopData("sideways", "X", 5), "boarding or a dropping"),
    ],
)
def test_bad_stops_refused(admin, stop, message):
    with pytest.raises(CatalogError, match=message):
        catalog.create_route(
            catalog.RouteData("Pune", "Goa", 450, 600, stops=[stop]), actor_id=admin.id, now=NOW
        )
    assert db.session.scalar(select(Route.id)) is None


def test_a_stop_listed_twice_refused(admin):
    twice = [
        catalog.StopData("boarding", "Swargate", 0),
        catalog.StopData("boarding", "swargate", 9),
    ]
    with pytest.raises(CatalogError, match="twice"):
        catalog.create_route(
            catalog.RouteData("Pune", "Goa", 450, 600, stops=twice), actor_id=admin.id, now=NOW
        )


# ---- many at once --------------------------------------------------------------------------


def test_preview_many_lists_refusals_and_writes_nothing(admin, asha):
    sold, free = make_trip(), make_trip()
    sell(asha, sold, ["3A"])
    before = table_snapshot()
    changes = catalog.preview_active_many("routes", [sold.route_id, free.route_id], False, NOW)
    assert table_snapshot() == before
    by_id = {c.id: c for c in changes}
    assert [c.id for c in changes] == [sold.route_id, free.route_id]
    assert "1 upcoming trip" in by_id[sold.route_id].refusal
    assert by_id[free.route_id].refusal is None and by_id[free.route_id].changes
    assert by_id[free.route_id].label == free.route.name and by_id[free.route_id].was_active


def test_a_batch_with_one_refused_route_changes_nothing_and_names_it(admin, asha):
    sold, free = make_trip(), make_trip()
    sell(asha, sold, ["3A"])
    name = sold.route.name
    before = table_snapshot()
    with pytest.raises(Conflict, match="Nothing was changed") as refused:
        catalog.set_active_many(
            "routes", [free.route_id, sold.route_id], False, actor_id=admin.id, now=NOW
        )
    assert name in refused.value.message and "1 upcoming trip" in refused.value.message
    assert free.route.name not in refused.value.message
    assert table_snapshot() == before


def test_a_clean_batch_changes_all_and_writes_the_audit_rows(admin):
    trips = [make_trip(), make_trip(), make_trip()]
    ids = [t.route_id for t in trips]
    catalog.set_route_active(ids[2], False, actor_id=admin.id, now=NOW)  # already off: left
    changed = catalog.set_active_many("routes", ids, False, actor_id=admin.id, now=NOW)
    assert changed == 2
    assert all(db.session.get(Route, i).is_active is False for i in ids)
    assert actions(ids[0]) == ["route.deactivated"] and actions(ids[2]) == ["route.deactivated"]
    batch = db.session.scalars(
        select(ActivityLog).where(ActivityLog.action_type == "route.bulk_deactivated")
    ).all()
    assert len(batch) == 1 and sorted(batch[0].details["changed"]) == sorted(map(str, ids[:2]))
    row = db.session.scalar(select(ActivityLog).where(ActivityLog.entity_id == str(ids[0])))
    assert row.details["batch"] == batch[0].entity_id and row.user_id == admin.id


def test_buses_and_promos_many_at_once(admin):
    trip = make_trip()
    idle = new_bus(admin)
    with pytest.raises(Conflict, match="upcoming trip"):
        catalog.set_active_many("buses", [idle.id, trip.bus_id], False, actor_id=admin.id, now=NOW)
    assert db.session.get(Bus, idle.id).is_active
    assert catalog.set_active_many("buses", [idle.id], False, actor_id=admin.id, now=NOW) == 1
    codes = [
        catalog.create_promo_code(promo(code=c), actor_id=admin.id, now=NOW).id
        for c in ("ONE10", "TWO10")
    ]
    assert catalog.set_active_many("promo_codes", codes, False, actor_id=admin.id, now=NOW) == 2
    assert catalog.set_active_many("promo_codes", codes, True, actor_id=admin.id, now=NOW) == 2
    assert sorted(actions(codes[0])) == ["promo.activated", "promo.created", "promo.deactivated"]


def test_many_at_once_refuses_unknown_kinds_empty_and_missing(admin):
    with pytest.raises(NotFound):
        catalog.preview_active_many("users", [], True, NOW)
    with pytest.raises(CatalogError):
        catalog.set_active_many("routes", [], True, actor_id=admin.id, now=NOW)
    gone = uuid.uuid4()
    [change] = catalog.preview_active_many("routes", [gone], True, NOW)
    assert change.refusal and not change.changes
    with pytest.raises(Conflict, match="no longer exists"):
        catalog.set_active_many("routes", [gone], True, actor_id=admin.id, now=NOW)
