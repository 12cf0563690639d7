"""Request tests of finding a trip and choosing seats: the search page with its sort and filters,
the seat map (states, accessible names, ticked seats, constant SQL) and holding seats."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, time, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import func, select

from booking.extensions import db
from booking.layouts import seat_count
from booking.models import Bus, Reservation, Route
from booking.models.enums import BusType, Role
from booking.orm import utcnow
from booking.services import catalog, holds, inventory
from tests.support import PASSWORD, count_statements, csrf_token, make_trip, make_user, sign_in_as

SEAT_CELL = re.compile(
    r'<label id="seat-[^"]+" class="([^"]*)"\s+data-seat="(\w+)" data-state="(\w+)"'
)


def local_day(app: Flask, days_ahead: int) -> date:
    """The operator's calendar day ``days_ahead`` from today."""
    with app.app_context():
        return catalog.local_today(utcnow()) + timedelta(days=days_ahead)


def trip_at(
    app: Flask, day: date, hour: int, *, route: str = "Mysuru-Chennai", hours: int = 6, **options
) -> tuple[uuid.UUID, str]:
    """A trip on ``route`` ("Origin-Destination", made once) leaving at ``hour`` o'clock
    (operator's time) on ``day`` and taking ``hours``: its id and bus number."""
    origin, destination = route.split("-")
    zone = ZoneInfo(app.config["DISPLAY_TIMEZONE"])
    departure = datetime.combine(day, time(hour, 0), tzinfo=zone)
    with app.app_context():
        now = utcnow()
        trip = make_trip(now=now, departs_in=departure - now, **options)
        shared = db.session.scalar(
            select(Route).where(Route.origin_city == origin, Route.destination_city == destination)
        )
        if shared is None:
            trip.route.origin_city, trip.route.destination_city = origin, destination
        else:
            trip.route_id = shared.id
        trip.arrival_at = trip.departure_at + timedelta(hours=hours)
        db.session.commit()
        return trip.id, trip.bus.bus_number


def order_of(page: str, bus_numbers: list[str]) -> list[str]:
    """The bus numbers in the order the page lists them."""
    shown = [number for number in bus_numbers if number in page]
    return sorted(shown, key=page.index)


def seat_cells(page: str) -> dict[str, tuple[str, str]]:
    """Seat number -> (state, classes) for every seat cell of a seat map page."""
    return {number: (state, classes) for classes, number, state in SEAT_CELL.findall(page)}


def ticked(page: str) -> set[str]:
    """The seat numbers whose checkbox comes back checked."""
    return set(re.findall(r'name="seats" value="(\w+)"[^>]*\bchecked\b', page))


def hold_count(app: Flask) -> int:
    """How many holds exist."""
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Reservation))


# ---- search --------------------------------------------------------------------------------------


@pytest.fixture
def route_day(app) -> tuple[date, dict[str, str]]:
    """Three Mysuru -> Chennai trips on one day and one to Madurai: bus numbers by label.

    morning: 07:00, deluxe, Rs 700, 6 h;  afternoon: 14:00, sleeper, Rs 500, 9 h;
    night: 22:00, standard, Rs 600, 4 h;  elsewhere: 10:00 to Madurai.
    """
    day = local_day(app, 3)
    buses = {}
    for label, hour, bus_type, price, hours in (
        ("morning", 7, BusType.DELUXE, "700.00", 6),
        ("afternoon", 14, BusType.SLEEPER, "500.00", 9),
        ("night", 22, BusType.STANDARD, "600.00", 4),
    ):
        _, buses[label] = trip_at(app, day, hour, hours=hours, bus_type=bus_type, base_price=price)
    _, buses["elsewhere"] = trip_at(app, day, 10, route="Mysuru-Madurai")
    return day, buses


def test_search_page_and_its_results_fragment(client, route_day):
    """Without htmx the whole page; with HX-Request only the results; both vary on HX-Request."""
    day, _buses = route_day
    query = f"/?origin=Mysuru&destination=Chennai&date={day.isoformat()}"
    page = client.get(query)
    fragment = client.get(query, headers={"HX-Request": "true"})
    assert page.status_code == fragment.status_code == 200
    assert "<html" in page.text and 'role="search"' in page.text
    assert "<html" not in fragment.text and 'role="search"' not in fragment.text
    assert "Mysuru → Chennai" in fragment.text and "3 trips" in fragment.text
    assert "HX-Request" in page.headers["Vary"] and "HX-Request" in fragment.headers["Vary"]
    restore = client.get(
        query, headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )
    assert "<html" in restore.text


def test_search_hints_read_as_examples_beside_real_labels(client):
    """The city hints say "e.g." (a bare "Bengaluru" looked filled in) and each field keeps its
    label; the hint is styled lighter and slanted."""
    page = client.get("/").text
    for name, label, hint in (("origin", "From", "Bengaluru"), ("destination", "To", "Chennai")):
        field = re.search(rf'<input[^>]*name="{name}"[^>]*>', page).group(0)
        assert f'placeholder="e.g. {hint}"' in field
        field_id = re.search(r'id="([^"]+)"', field).group(1)
        assert re.search(rf'<label for="{field_id}"[^>]*>\s*{label}\b', page)
    css = (Path(__file__).parents[1] / "static" / "css" / "app.css").read_text(encoding="utf-8")
    rule = re.search(r"input::placeholder \{([^}]*)\}", css).group(1)
    assert "font-style: italic" in rule


def test_search_filters_by_origin_and_destination(client, route_day):
    """Only trips between the two cities are listed."""
    day, buses = route_day
    chennai = client.get(f"/?origin=Mysuru&destination=Chennai&date={day}").text
    madurai = client.get(f"/?origin=Mysuru&destination=Madurai&date={day}").text
    anywhere = client.get(f"/?origin=Mysuru&date={day}").text
    assert buses["elsewhere"] not in chennai and buses["morning"] in chennai
    assert order_of(madurai, list(buses.values())) == [buses["elsewhere"]]
    assert len(order_of(anywhere, list(buses.values()))) == 4


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("departure", ["morning", "afternoon", "night"]),
        ("price", ["afternoon", "night", "morning"]),
        ("duration", ["night", "morning", "afternoon"]),
    ],
)
def test_search_sorts_by_departure_price_or_duration(client, route_day, sort, expected):
    """Each sort order really orders the results."""
    day, buses = route_day
    page = client.get(f"/?origin=Mysuru&destination=Chennai&date={day}&sort={sort}").text
    assert order_of(page, [buses[label] for label in buses]) == [buses[k] for k in expected]


def test_search_filters_by_bus_type(client, route_day):
    """Ticked bus types keep only those buses; several may be ticked."""
    day, buses = route_day
    base = f"/?origin=Mysuru&destination=Chennai&date={day}"
    sleeper = client.get(f"{base}&bus_type=sleeper").text
    two = client.get(f"{base}&bus_type=sleeper&bus_type=standard").text
    assert order_of(sleeper, list(buses.values())) == [buses["afternoon"]]
    assert order_of(two, list(buses.values())) == [buses["afternoon"], buses["night"]]
    assert re.search(r'<input checked[^>]*value="sleeper"', sleeper)  # the filter stays ticked


@pytest.mark.parametrize(
    ("window", "expected"),
    [("morning", ["morning"]), ("afternoon", ["afternoon"]), ("evening", []), ("night", ["night"])],
)
def test_search_filters_by_departure_window(client, route_day, window, expected):
    """A departure window keeps the trips leaving in it (operator's time)."""
    day, buses = route_day
    page = client.get(f"/?origin=Mysuru&destination=Chennai&date={day}&window={window}").text
    assert order_of(page, list(buses.values())) == [buses[k] for k in expected]
    if not expected:
        assert "No trips match on this day." in page


def test_a_past_date_is_refused_and_todays_trips_shown(client, app):
    """Yesterday gets the field message and the results are today's."""
    yesterday = local_day(app, -1)
    response = client.get(f"/?date={yesterday.isoformat()}")
    assert response.status_code == 200
    assert "Choose today or a later date." in response.text
    today = local_day(app, 0)
    assert today.strftime("%A %d %B %Y") in response.text


@pytest.mark.parametrize("far", ["9999-12-31", "9999-12-20", "2200-01-01"])
def test_a_date_too_far_ahead_is_refused_and_todays_trips_shown(client, app, far):
    """A date past the search window gets the field message, not an overflow."""
    response = client.get(f"/?origin=Mysuru&destination=Chennai&date={far}")
    assert response.status_code == 200
    assert "Choose a date within the next year." in response.text
    assert local_day(app, 0).strftime("%A %d %B %Y") in response.text


def test_a_date_that_is_not_a_date_is_refused_with_a_message(client):
    """Garbage in the date field is reported, not a crash."""
    response = client.get("/?date=not-a-date")
    assert response.status_code == 200
    assert "Not a valid date value." in response.text


def test_a_bad_sort_value_does_not_throw_away_the_chosen_date(client, route_day):
    """An unknown sort falls back to departure order and the chosen day still counts."""
    day, buses = route_day
    page = client.get(f"/?origin=Mysuru&destination=Chennai&date={day}&sort=cheapest").text
    assert day.strftime("%A %d %B %Y") in page
    wanted = [buses[k] for k in ("morning", "afternoon", "night")]
    assert order_of(page, list(buses.values())) == wanted


def test_an_unknown_bus_type_is_ignored_rather_than_hiding_every_trip(client, route_day):
    """A bus type that does not exist filters nothing out."""
    day, buses = route_day
    page = client.get(f"/?origin=Mysuru&destination=Chennai&date={day}&bus_type=rocket").text
    assert len(order_of(page, list(buses.values()))) == 3


def test_an_unknown_departure_window_is_named_by_its_field(client, route_day):
    """A window that is not offered: the form says so beside the window choices."""
    day, _buses = route_day
    page = client.get(f"/?origin=Mysuru&destination=Chennai&date={day}&window=midnight").text
    assert '<p class="error">Not a valid choice.</p>' in page


def test_a_day_without_trips_suggests_the_next_days_with_trips(client, app, route_day):
    """Nothing on the day before: the days that do have trips are offered as links."""
    day, _buses = route_day
    before = day - timedelta(days=1)
    page = client.get(f"/?origin=Mysuru&destination=Chennai&date={before}").text
    assert "No trips match on this day." in page and "Trips on this route run on:" in page
    assert f"date={day.isoformat()}" in page and "(3 trips)" in page
    fragment = client.get(
        f"/?origin=Mysuru&destination=Chennai&date={before}", headers={"HX-Request": "true"}
    ).text
    assert "Trips on this route run on:" in fragment and "<html" not in fragment


def test_a_route_without_trips_for_two_weeks_says_so(client, app):
    """No suggestions at all: the page says to try other cities."""
    page = client.get("/?origin=Nowhere&destination=Elsewhere").text
    assert "No trips on this route in the next two weeks." in page


# ---- the seat map --------------------------------------------------------------------------------


def test_seat_map_page_and_fragment(client, trip_id):
    """The full page without htmx; the seat form alone with HX-Request; Vary on both."""
    page = client.get(f"/schedules/{trip_id}")
    fragment = client.get(f"/schedules/{trip_id}", headers={"HX-Request": "true"})
    assert page.status_code == fragment.status_code == 200
    assert "<html" in page.text and "<html" not in fragment.text
    assert 'id="seat-form"' in fragment.text
    assert "HX-Request" in page.headers["Vary"] and "HX-Request" in fragment.headers["Vary"]


def test_seat_map_shows_every_seat_with_its_state_and_accessible_name(client, app, trip_id):
    """40 cells; each checkbox is named for a screen reader with position, type, state, fare."""
    with app.app_context():
        other = make_user()
        holds.hold_seats(
            customer_id=other.id, schedule_id=trip_id, seat_numbers=["2A"], now=utcnow()
        )
    page = client.get(f"/schedules/{trip_id}").text
    cells = seat_cells(page)
    assert len(cells) == 40
    assert cells["2A"][0] == "held" and cells["1A"][0] == "available"
    assert 'aria-label="Seat 1A, window, premium, available, Rs 550.00"' in page
    assert 'aria-label="Seat 1B, premium, available, Rs 550.00"' in page
    assert 'aria-label="Seat 2A, window, held by another customer, Rs 500.00"' in page
    assert re.search(r'value="2A"[^>]*\bdisabled\b', page)  # someone else's: not selectable


def test_seat_map_marks_ladies_only_seats(client, trip_id):
    """Ladies-only seats carry the class, the visible mark and the words in their name."""
    page = client.get(f"/schedules/{trip_id}").text
    cells = seat_cells(page)
    ladies = {number for number, (_state, classes) in cells.items() if "seat-ladies" in classes}
    assert ladies == {"3A", "3B", "4A"}
    assert 'aria-label="Seat 3A, window, ladies only, available, Rs 500.00"' in page
    assert page.count('class="seat-ladies-mark"') == 3


def test_sleeper_berths_are_named_berths(client, app):
    """On a sleeper the cells say Berth, deck by deck."""
    with app.app_context():
        trip = make_trip(now=utcnow(), layout="sleeper_2x1", base_price="900.00").id
    page = client.get(f"/schedules/{trip}").text
    assert 'aria-label="Berth L1, window, ladies only, available, Rs 1,000.00"' in page
    assert "Lower deck" in page and "Upper deck" in page


def test_seats_in_the_query_string_come_back_ticked(client, trip_id):
    """?seats=1A&seats=1b ticks those two (whatever the case) and counts them."""
    page = client.get(f"/schedules/{trip_id}?seats=1A&seats=1b").text
    assert ticked(page) == {"1A", "1B"}
    assert '<span id="seat-count">2</span>' in page


# ---- the running total, from the server ---------------------------------------------------------


def test_the_seat_map_prices_the_ticked_seats_on_the_server(client, trip_id):
    """Drawn with ?seats=, the tally already says the seats and their total (no script)."""
    page = client.get(f"/schedules/{trip_id}?seats=5B&seats=1A").text
    tally = re.search(r'<p class="seat-tally".*?</p>', page, re.S).group(0)
    assert '<span id="seat-count">2</span>' in tally
    assert '<span id="seat-chosen" class="seat-chosen">1A, 5B</span>' in tally
    assert 'Rs 1,050.00<span class="seat-total-note"> before GST</span>' in tally  # 550 + 500


def test_the_tally_asks_the_server_on_every_change(client, trip_id):
    """The tally is an htmx GET of .../price on any change of the seat form."""
    page = client.get(f"/schedules/{trip_id}").text
    tally = re.search(r'<p class="seat-tally"[^>]*>', page).group(0)
    assert re.search(rf'(data-)?hx-get="/schedules/{trip_id}/price"', tally)
    assert "change from:#seat-form" in tally


def test_the_price_fragment_totals_the_seats_with_the_one_pricing_function(client, trip_id):
    """GET .../price for htmx: count, seats in layout order, the fare total before GST."""
    response = client.get(
        f"/schedules/{trip_id}/price?seats=5b&seats=1A", headers={"HX-Request": "true"}
    )
    assert response.status_code == 200 and "<html" not in response.text
    assert '<span id="seat-count">2</span>' in response.text
    assert "1A, 5B" in response.text and "Rs 1,050.00" in response.text
    assert "HX-Request" in response.headers["Vary"]
    empty = client.get(f"/schedules/{trip_id}/price", headers={"HX-Request": "true"})
    assert empty.status_code == 200 and '<span id="seat-count">0</span>' in empty.text
    assert '<span id="seat-total" class="seat-total"></span>' in empty.text


@pytest.mark.parametrize(
    ("seats", "message"),
    [
        (["1A", "99Z"], "There is no seat 99Z on this bus."),
        (["1A", "1B", "1C", "1D", "2A", "2B", "2C"], "You can hold at most 6 seats at a time."),
    ],
    ids=["unknown-seat", "seven-seats"],
)
def test_the_price_fragment_says_why_it_cannot_price(client, trip_id, seats, message):
    """An unknown seat or too many: 400 with the reason, no total."""
    response = client.get(
        f"/schedules/{trip_id}/price", query_string={"seats": seats}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 400 and message in response.text
    assert '<span id="seat-total" class="seat-total"></span>' in response.text


def test_the_price_url_without_htmx_is_the_seat_map_with_the_seats_ticked(client, trip_id):
    """Opened as a page: the seat map with those seats ticked, which shows the same total."""
    response = client.get(f"/schedules/{trip_id}/price?seats=1A&seats=5B")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/schedules/{trip_id}?seats=1A&seats=5B"


def test_the_seat_maps_script_adds_up_no_fares():
    """Seed 001: no pricing in JavaScript. The seats carry no fare for a script to add up."""
    script = (Path(__file__).parents[1] / "static" / "js" / "app.js").read_text(encoding="utf-8")
    assert "fare" not in script and "toLocaleString" not in script


def test_an_unknown_trip_is_a_404_page(client):
    """A trip id that does not exist gets the site's 404 page."""
    response = client.get(f"/schedules/{uuid.uuid4()}")
    assert response.status_code == 404
    assert "We could not find that trip." in response.text and "<html" in response.text


def test_a_malformed_trip_id_is_a_404(client):
    """Not a UUID: no route matches."""
    assert client.get("/schedules/not-a-uuid").status_code == 404


def _sixty_seat_trip(app: Flask) -> uuid.UUID:
    """A trip whose bus has 60 seats (15 rows of 2+2)."""
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
    with app.app_context():
        now = utcnow()
        trip = make_trip(now=now)
        bus = db.session.get(Bus, trip.bus_id)
        bus.seat_layout_config, bus.total_seats = wide, seat_count(wide)
        db.session.commit()
        inventory.generate_seats(trip.id, now, actor_id=None)
        return trip.id


def _statements_for(client, app: Flask, path: str) -> tuple[int, int]:
    """(seat cells shown, SQL queries issued) for one GET of a seat map page.

    The transaction's BEGIN is left out: on SQLite the engine sends it as a statement of its own
    (booking.database), while PostgreSQL's driver begins implicitly, so counting it would make
    the same page cost one more on SQLite.
    """
    with app.app_context(), count_statements() as statements:
        response = client.get(path)
    assert response.status_code == 200
    queries = [s for s in statements if s.strip().upper() != "BEGIN"]
    return len(seat_cells(response.text)), len(queries)


@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "holding"])
def test_seat_map_page_costs_the_same_few_statements_for_any_bus_size(client, auth, app, signed_in):
    """40 or 60 seats, anonymous or signed in with a live hold: the same count, at most 4."""
    with app.app_context():
        small = make_trip(now=utcnow()).id
    big = _sixty_seat_trip(app)
    if signed_in:
        customer = sign_in_as(app, auth)
        with app.app_context():
            for trip in (small, big):
                holds.hold_seats(
                    customer_id=customer, schedule_id=trip, seat_numbers=["2A"], now=utcnow()
                )
    counts = [_statements_for(client, app, f"/schedules/{trip}") for trip in (small, big)]
    assert [seats for seats, _ in counts] == [40, 60]
    assert counts[0][1] == counts[1][1] <= 4


# ---- holding seats -------------------------------------------------------------------------------


def test_anonymous_hold_goes_to_sign_in_and_comes_back_with_the_seats_ticked(
    client, auth, app, trip_id
):
    """Signing in through the form leads back to the seat map with the same seats ticked."""
    response = client.post(f"/schedules/{trip_id}/holds", data={"seats": ["1A", "1B"]})
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    back = parse_qs(location.query)["next"][0]
    assert urlsplit(back).path == f"/schedules/{trip_id}"
    assert parse_qs(urlsplit(back).query)["seats"] == ["1A", "1B"]
    assert hold_count(app) == 0

    login_page = client.get(response.headers["Location"]).text
    assert "Sign in or create an account to hold your seats" in login_page
    with app.app_context():
        email = make_user().email
    signed_in = client.post(
        response.headers["Location"], data={"email": email, "password": PASSWORD}
    )
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == back
    page = client.get(back).text
    assert ticked(page) == {"1A", "1B"} and "Welcome back" in page


def test_a_customer_holds_seats_and_goes_to_checkout(client, auth, app, trip_id):
    """A good selection creates one hold and redirects to /holds/<id>."""
    customer = sign_in_as(app, auth)
    response = client.post(f"/schedules/{trip_id}/holds", data={"seats": ["1a", "2B"]})
    assert response.status_code == 302
    with app.app_context():
        hold = db.session.scalar(select(Reservation).where(Reservation.user_id == customer))
        assert sorted(s.seat_number for s in holds.held_seats(hold.id)) == ["1A", "2B"]
    assert response.headers["Location"] == f"/holds/{hold.id}"
    page = client.get(f"/schedules/{trip_id}").text
    assert "You are holding 1A, 2B" in page and f'href="/holds/{hold.id}"' in page
    assert seat_cells(page)["1A"][0] == "yours" and ticked(page) == {"1A", "2B"}


def test_changing_the_seats_keeps_the_one_hold(client, auth, app, trip_id):
    """Posting again replaces the seats of the same hold."""
    sign_in_as(app, auth)
    first = client.post(f"/schedules/{trip_id}/holds", data={"seats": ["1A"]})
    second = client.post(f"/schedules/{trip_id}/holds", data={"seats": ["5C", "5D"]})
    assert first.headers["Location"] == second.headers["Location"]
    assert hold_count(app) == 1
    assert ticked(client.get(f"/schedules/{trip_id}").text) == {"5C", "5D"}


@pytest.mark.parametrize(
    ("seats", "message"),
    [
        ([], "Choose at least one seat."),
        (["1A", "1B", "1C", "1D", "2A", "2B", "2C"], "You can hold at most 6 seats at a time"),
        (["1A", "99Z"], "There is no seat 99Z on this bus."),
        (["1A", "<script>"], "is no seat"),
        (["1A", "' OR 1=1 --"], "is no seat"),
    ],
    ids=["none", "seven", "unknown", "markup", "injection"],
)
def test_a_bad_selection_shows_the_seat_map_again_and_holds_nothing(
    client, auth, app, trip_id, seats, message
):
    """The seat map comes back with the message (400: bad input); nothing is held."""
    sign_in_as(app, auth)
    response = client.post(f"/schedules/{trip_id}/holds", data={"seats": seats})
    assert response.status_code == 400
    assert message in response.text and "<html" in response.text
    assert "<script>" not in response.text.split('id="seat-map-section"')[1]
    assert len(seat_cells(response.text)) == 40
    assert hold_count(app) == 0


def test_a_seat_someone_else_holds_is_refused_and_the_others_stay_ticked(
    client, auth, app, trip_id
):
    """409 with the seat named; the free seats the customer chose stay ticked."""
    with app.app_context():
        other = make_user()
        holds.hold_seats(
            customer_id=other.id, schedule_id=trip_id, seat_numbers=["2A"], now=utcnow()
        )
    customer = sign_in_as(app, auth)
    response = client.post(f"/schedules/{trip_id}/holds", data={"seats": ["2A", "2B"]})
    assert response.status_code == 409
    assert "Seat 2A is no longer available. Nothing was held" in response.text
    assert ticked(response.text) == {"2B"}
    with app.app_context():
        assert holds.live_hold_for(customer, trip_id, utcnow()) is None


def test_a_bad_selection_answers_htmx_with_the_seat_form_fragment(client, auth, app, trip_id):
    """An htmx POST gets the fragment with the message."""
    sign_in_as(app, auth)
    response = client.post(
        f"/schedules/{trip_id}/holds", data={"seats": []}, headers={"HX-Request": "true"}
    )
    assert 400 <= response.status_code < 500
    assert "Choose at least one seat." in response.text and "<html" not in response.text


def test_holding_on_an_unknown_trip_is_a_404(client, auth, app):
    """No trip: the 404 page, nothing held."""
    sign_in_as(app, auth)
    response = client.post(f"/schedules/{uuid.uuid4()}/holds", data={"seats": ["1A"]})
    assert response.status_code == 404 and "We could not find that trip." in response.text


def test_a_trip_past_its_sales_cutoff_cannot_be_held(client, auth, app):
    """Within the cutoff the seat map explains that sales have closed."""
    with app.app_context():
        trip = make_trip(now=utcnow(), departs_in=timedelta(minutes=20)).id
    sign_in_as(app, auth)
    response = client.post(f"/schedules/{trip}/holds", data={"seats": ["1A"]})
    assert response.status_code == 409
    assert "Sales for this trip closed 30 minutes before departure." in response.text


@pytest.mark.parametrize("role", [Role.STAFF, Role.ADMIN])
def test_staff_are_sent_to_the_desk_sale_with_their_seats(client, auth, app, trip_id, role):
    """Staff and admins sell at the desk: the seat map links there, and Hold goes to the desk
    sale of the trip with the ticked seats typed in (nothing held yet)."""
    sign_in_as(app, auth, role)
    assert f'href="/desk/trips/{trip_id}/sell"' in client.get(f"/schedules/{trip_id}").text
    response = client.post(f"/schedules/{trip_id}/holds", data={"seats": ["1A", "1B"]})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/desk/trips/{trip_id}/sell?typed=1A+1B"
    page = client.get(response.headers["Location"]).text
    assert 'value="1A 1B"' in page
    assert hold_count(app) == 0


def test_with_csrf_on_no_seats_shows_the_seat_form_again_with_a_fresh_token(make_app, app, trip_id):
    """CSRF on: posting no seats re-renders the seat form (400, the message) with the token the
    customer's next try needs; that try holds the seat."""
    client = make_app(WTF_CSRF_ENABLED=True).test_client()
    with app.app_context():
        email = make_user().email
    login = csrf_token(client.get("/login").text)
    client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": login})
    token = csrf_token(client.get(f"/schedules/{trip_id}").text)
    empty = client.post(f"/schedules/{trip_id}/holds", data={"csrf_token": token})
    assert empty.status_code == 400 and "Choose at least one seat." in empty.text
    again = csrf_token(empty.text.split('id="seat-form"')[1])
    held = client.post(f"/schedules/{trip_id}/holds", data={"seats": ["3A"], "csrf_token": again})
    assert held.status_code == 302 and held.headers["Location"].startswith("/holds/")


def test_the_sign_out_button_posts_its_forms_token(make_app, app):
    """CSRF on: Sign out without the token is refused; with the navigation's token it works."""
    client = make_app(WTF_CSRF_ENABLED=True).test_client()
    with app.app_context():
        email = make_user().email
    login = csrf_token(client.get("/login").text)
    client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": login})
    nav = client.get("/").text.split('action="/logout"')[1].split("</form>")[0]
    assert client.post("/logout").status_code == 400
    out = client.post("/logout", data={"csrf_token": csrf_token(nav)})
    assert out.status_code == 302 and "Sign in" in client.get("/").text
