"""Inputs that used to end in a 500: control characters in checkout details, and a query the
database cancelled at statement_timeout."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from booking.database import unit_of_work, with_retries
from booking.errors import Busy
from booking.extensions import db
from booking.models import Reservation, Seat, User
from booking.models.enums import HoldStatus, Role
from booking.services.details import CheckoutDetails, Passenger, check_details
from tests.support import PASSWORD, make_user
from tests.support import text as page_text


def details(**changes) -> CheckoutDetails:
    fields = {
        "passengers": (Passenger("1A", "Priya Raman", 30, "female"),),
        "contact_name": "Priya Raman",
        "contact_phone": "9876543210",
        "contact_email": "priya@example.com",
        "promo_code": None,
    }
    fields.update(changes)
    return CheckoutDetails(**fields)


SEATS = [Seat(seat_number="1A", ladies_only=False)]


def test_good_details_pass():
    assert check_details(SEATS, details()) == {}


@pytest.mark.parametrize("bad", ["Priya\x00Raman", "Priya\x1bRaman", "Priya\nRaman", "Pri\x7fya"])
@pytest.mark.parametrize("field", ["contact_name", "contact_phone", "contact_email", "promo_code"])
def test_control_characters_in_contact_fields_are_refused(field, bad):
    """Nothing with a NUL (or another control character) is ever stored on the hold."""
    errors = check_details(SEATS, details(**{field: bad}))
    assert field in errors


@pytest.mark.parametrize("bad", ["Priya\x00Raman", "Priya\tRaman", "\x00"])
def test_control_characters_in_a_passenger_name_are_refused(bad):
    errors = check_details(SEATS, details(passengers=(Passenger("1A", bad, 30, "female"),)))
    assert "control characters" in errors["1A"]


def test_a_passenger_without_a_seat_number_is_refused_not_a_crash():
    errors = check_details(SEATS, details(passengers=(Passenger(None, "Priya", 30, "female"),)))
    assert "without a seat" in errors["passengers"] and "1A" in errors


class _Orig(Exception):
    def __init__(self, sqlstate: str):
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


@pytest.mark.parametrize("sqlstate", ["55P03", "57014"])
def test_lock_and_statement_timeouts_become_busy(sqlstate):
    def attempt():
        raise OperationalError("SELECT 1", {}, _Orig(sqlstate))

    with pytest.raises(Busy) as raised:
        with_retries(attempt)
    assert raised.value.status == 503


def test_other_operational_errors_still_raise():
    def attempt():
        raise OperationalError("SELECT 1", {}, _Orig("08006"))

    with pytest.raises(OperationalError):
        with_retries(attempt)


@pytest.mark.postgres
def test_a_query_cancelled_by_statement_timeout_is_busy(app_ctx):
    """PostgreSQL cancels a statement past statement_timeout (57014): Busy, 503."""

    def attempt():
        with unit_of_work() as session:
            session.execute(text("SET LOCAL statement_timeout = 50"))
            session.execute(text("SELECT pg_sleep(1)"))

    with pytest.raises(Busy):
        with_retries(attempt)


# ---- NUL and other control characters in any request -------------------------------------------

NUL_MESSAGE = "characters that are not allowed"


def _signed_in(app, auth, role: Role) -> None:
    with app.app_context():
        email = make_user(role).email
    assert auth.login(email, PASSWORD).status_code == 302


@pytest.mark.parametrize(
    ("role", "path"),
    [
        (None, "/?origin=Mys%00uru&destination=Chennai"),
        (None, "/?date=2026-01-01%00"),
        (None, "/login?next=/%00"),
        (Role.STAFF, "/desk/lookup?q=98%0045"),
        (Role.ADMIN, "/admin/activity?entity_type=hold%00"),
        (Role.ADMIN, "/admin/activity?action=%01created"),
        (Role.CUSTOMER, "/account/bookings/ABC%00DEF"),
    ],
)
def test_a_control_character_in_a_query_is_refused_with_400(client, app, auth, role, path):
    """Refused with a message before any view runs (PostgreSQL would raise DataError)."""
    if role is not None:
        _signed_in(app, auth, role)
    response = client.get(path)
    assert response.status_code == 400
    assert NUL_MESSAGE in page_text(response)


def test_a_nul_in_the_register_form_is_refused_and_no_account_made(client, app):
    data = {
        "first_name": "Pri\x00ya",
        "last_name": "Raman",
        "email": "priya-nul@example.com",
        "phone": "9876543210",
        "password": PASSWORD,
        "confirm": PASSWORD,
    }
    response = client.post("/register", data=data)
    assert response.status_code == 400 and NUL_MESSAGE in page_text(response)
    with app.app_context():
        assert db.session.scalar(select(User).where(User.email == "priya-nul@example.com")) is None


@pytest.mark.parametrize("field", ["contact_name", "contact_email", "promo_code", "passenger"])
def test_a_nul_at_checkout_is_refused_and_nothing_stored(client, app, auth, trip_id, field):
    """Paying or pricing with a NUL anywhere: 400, and the hold keeps no details."""
    with app.app_context():
        user = make_user(wallet="5000")
        email = user.email
    assert auth.login(email, PASSWORD).status_code == 302
    response = client.post(f"/schedules/{trip_id}/holds", data={"seats": ["1A"]})
    hold_path = response.headers["Location"]
    data = {
        "contact_name": "Priya Raman",
        "contact_phone": "9876543210",
        "contact_email": "priya@example.com",
        "promo_code": "",
        "action": "pay",
        "idempotency_key": "k1",
        "use_wallet": "y",
        "passengers-0-seat_number": "1A",
        "passengers-0-name": "Priya Raman",
        "passengers-0-age": "30",
        "passengers-0-gender": "female",
    }
    key = "passengers-0-name" if field == "passenger" else field
    data[key] = "Priya\x00Raman@example.com"
    for path in (hold_path, f"{hold_path}/price"):
        response = client.post(path, data=data)
        assert response.status_code == 400 and NUL_MESSAGE in page_text(response)
    with app.app_context():
        hold = db.session.scalar(select(Reservation).where(Reservation.user_id == user.id))
        assert hold.status == HoldStatus.ACTIVE and not hold.checkout


# ---- what the fuzz of every route found (tests/test_fuzz.py) -----------------------------------

AMOUNT_MESSAGE = "with at most 2 decimals"
DATE_MESSAGE = "Enter a date from 01 Jan 2000 to 31 Dec 2999"


@pytest.fixture
def world(app):
    """A booking, holds, a shift, a promo code and signed-in clients of each role."""
    from tests.fuzz_support import build_world
    from tests.test_fuzz import signed_in_clients

    with app.app_context():
        built = build_world()
        db.session.remove()
    return built, signed_in_clients(app, built)


def test_a_cash_amount_too_large_to_quantize_is_refused_by_the_shift_service():
    from booking.services.shifts import ShiftError, cash_amount

    for typed in ("9" * 40, "1E+100", "-1E+100"):
        with pytest.raises(ShiftError):
            cash_amount(typed, "the float")


@pytest.mark.parametrize("typed", ["9" * 40, "1e309", "NaN", "-Infinity", "0.001"])
@pytest.mark.parametrize(
    ("role", "path", "field", "data"),
    [
        ("staff", "/desk/shift/open", "opening_float", {"station": "Mysuru"}),
        ("staff", "/desk/shift/close", "counted_cash", {"note": "ok"}),
        ("admin", "/admin/promo-codes/new", "value", {"code": "HUGE1", "kind": "percent"}),
        ("admin", "/admin/promo-codes/new", "min_amount", {"code": "HUGE2", "value": "10"}),
        ("admin", "/admin/promo-codes/new", "max_discount", {"code": "HUGE3", "value": "10"}),
        ("admin", "/admin/schedules/recurring", "base_price", {"departure_times": "06:00"}),
        ("admin", "/admin/schedules/bulk-actions", "value", {"action": "price"}),
    ],
)
def test_a_huge_or_non_finite_amount_is_refused_with_a_message(
    world, role, path, field, data, typed
):
    """Decimal's quantize overflowed (InvalidOperation) and NaN broke every comparison: 500."""
    built, clients = world
    extra = {"shift_id": built.ids["shift_id"], "ids": [built.ids["other_schedule_id"]]}
    response = clients[role].post(path, data={**extra, **data, field: typed})
    assert response.status_code == 400
    assert AMOUNT_MESSAGE in page_text(response)


@pytest.mark.parametrize("field", ["usage_limit", "per_customer_limit"])
def test_a_promo_limit_past_an_integer_column_is_refused(world, field):
    _, clients = world
    data = {"code": "BIGLIMIT", "kind": "percent", "value": "10", field: "9" * 40}
    data |= {"valid_from": "2026-01-01T00:00", "valid_until": "2027-01-01T00:00"}
    response = clients["admin"].post("/admin/promo-codes/new", data=data)
    assert response.status_code == 400 and "Enter a number up to 2,147,483,647" in page_text(
        response
    )


def test_a_journey_time_past_an_integer_column_is_refused(world):
    _, clients = world
    data = {"origin_city": "A", "destination_city": "B", "distance_km": "10"}
    response = clients["admin"].post(
        "/admin/routes/new", data={**data, "estimated_duration_minutes": "9" * 40}
    )
    assert response.status_code == 400 and "Enter a number up to" in page_text(response)


@pytest.mark.parametrize("typed", ["0001-01-01T00:00", "9999-12-31T23:59"])
def test_a_trip_time_off_the_calendar_is_refused_not_an_overflow(world, typed):
    """0001-01-01 in Asia/Kolkata is before datetime.min in UTC (OverflowError in to_utc)."""
    built, clients = world
    data = {
        "route_id": built.ids["route_id"],
        "bus_id": built.ids["spare_bus_id"],
        "departure_at": typed,
        "arrival_at": typed,
        "base_price": "450",
        "status": "scheduled",
    }
    response = clients["admin"].post("/admin/schedules/new", data=data)
    assert response.status_code == 400 and DATE_MESSAGE in page_text(response)


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_far_dates_in_the_trip_list_filters_are_ignored(world, day):
    """`to` + 1 day overflowed, and 0001-01-01 local is before UTC's first instant."""
    _, clients = world
    response = clients["admin"].get(f"/admin/schedules?from={day}&to={day}")
    assert response.status_code == 200


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_a_far_day_on_the_departures_board_shows_today(world, day):
    """The previous and next day links overflowed at the ends of the calendar."""
    _, clients = world
    response = clients["staff"].get(f"/desk?day={day}")
    assert response.status_code == 200 and day not in page_text(response)


def test_a_bus_form_without_the_amenities_field_keeps_the_amenities(world, app):
    """A POST without the field took the bus's list as the typed text ('list' has no split)."""
    from booking.models import Bus

    built, clients = world
    data = {"bus_number": "TESTKEEP1", "bus_type": "deluxe", "builtin_layout": "seater_2x2_40"}
    response = clients["admin"].post(f"/admin/buses/{built.ids['spare_bus_id']}", data=data)
    assert response.status_code < 500
    with app.app_context():
        assert db.session.get(Bus, uuid.UUID(built.ids["spare_bus_id"])).amenities == ["AC"]


@pytest.mark.parametrize(
    "query",
    ["from=0001-01-01", "to=9999-12-31", "page=" + "9" * 40, "page=" + "9" * 10001],
)
def test_far_dates_and_huge_pages_in_the_audit_log_get_a_message(world, query):
    """The day bounds overflowed a timestamp, and a huge page an INTEGER (or int() itself)."""
    _, clients = world
    for path in ("/admin/activity", "/admin/activity.csv"):
        response = clients["admin"].get(f"{path}?{query}")
        assert response.status_code in (200, 400), (path, response.status_code)
    page = page_text(clients["admin"].get(f"/admin/activity?{query}"))
    assert "from 2000 to 2999" in page or "Pages are numbered from 1." in page


def test_a_huge_page_of_the_dashboard_bookings_list_shows_the_first(world):
    _, clients = world
    response = clients["admin"].get("/admin/bookings?period=7d&page=" + "9" * 40)
    assert response.status_code == 200
