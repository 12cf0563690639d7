"""The booking desk: departures, selling to a walk-in through the same claim path, the look-up,
the staff booking view, receipt and ticket, resend and cancel (services with a fixed ``now``,
and the pages through the test client)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pypdfium2
import pytest
import zxingcpp

from booking.extensions import db
from booking.models import Booking, Reservation, Schedule
from booking.models.enums import Channel, HoldStatus, Role
from booking.orm import utcnow
from booking.services import catalog, desk, desk_sales, holds, shifts, tickets
from booking.services.desk import DeskError
from booking.services.holds import HoldError
from tests.money_support import details, hold, open_shift
from tests.support import NOW, make_trip, make_user, sign_in_as, text

HOUR = timedelta(hours=1)


# ---- services --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "ticked", "expected"),
    [
        ("L2 L3", [], ["L2", "L3"]),
        ("3a,3b", [], ["3A", "3B"]),
        (" 3A ;  3B,,4C ", ["4C", "5D"], ["3A", "3B", "4C", "5D"]),
        ("", ["1A"], ["1A"]),
    ],
)
def test_seat_numbers_are_read_as_a_clerk_types_them(typed, ticked, expected):
    assert desk.seat_numbers(typed, ticked) == expected


def test_no_seat_typed_is_refused_with_a_hint():
    with pytest.raises(DeskError, match="Type the seat numbers"):
        desk.seat_numbers("  , ", [])


def test_departures_of_a_day_put_the_clerks_station_first_and_filter_by_what_is_typed(app_ctx):
    later = make_trip(departs_in=5 * HOUR, origin="Mysuru", destination="Bengaluru")
    sooner = make_trip(departs_in=3 * HOUR, origin="Chennai", destination="Madurai")
    day = later.departure_at.date()
    rows = desk.departures(day, NOW, station="mysuru")
    ids = [row.schedule.id for row in rows]
    assert ids.index(later.id) < ids.index(sooner.id)
    assert next(r for r in rows if r.schedule.id == later.id).from_station
    assert [r.schedule.id for r in desk.departures(day, NOW, query="madu")] == [sooner.id]
    bus = sooner.bus.bus_number.lower()
    assert [r.schedule.id for r in desk.departures(day, NOW, query=f"chennai {bus}")] == [sooner.id]
    assert next(r for r in rows if r.schedule.id == sooner.id).seats_left == 40


def test_a_walk_in_hold_is_a_desk_hold_sold_by_the_clerk_without_an_account(trip):
    clerk = make_user(Role.STAFF)
    made = desk.hold_for_walk_in(trip.id, clerk_id=clerk.id, typed="2a 2b", ticked=[], now=NOW)
    assert made.channel == Channel.DESK and made.user_id is None and made.sold_by_id == clerk.id
    assert sorted(s.seat_number for s in holds.held_seats(made.id)) == ["2A", "2B"]


def test_a_clerk_loses_a_seat_a_customer_holds_and_is_told_which(trip, asha):
    hold(asha.id, trip.id, ["2B"])
    clerk = make_user(Role.STAFF)
    with pytest.raises(HoldError, match="Seat 2B is no longer available") as refused:
        desk.hold_for_walk_in(trip.id, clerk_id=clerk.id, typed="2A 2B", ticked=[], now=NOW)
    assert refused.value.details["taken"] == ["2B"]
    assert db.session.query(Reservation).filter_by(channel=Channel.DESK).count() == 0


def test_unknown_seat_numbers_are_named_and_nothing_is_held(trip):
    clerk = make_user(Role.STAFF)
    with pytest.raises(HoldError, match="There are no seats 99A, 9Z on this bus"):
        desk.hold_for_walk_in(trip.id, clerk_id=clerk.id, typed="2A 9Z 99A", ticked=[], now=NOW)
    assert db.session.query(Reservation).count() == 0


def test_checkout_prices_the_desk_hold_and_reports_a_bad_promo_code(trip):
    clerk = make_user(Role.STAFF)
    made = desk.hold_for_walk_in(trip.id, clerk_id=clerk.id, typed="2A", ticked=[], now=NOW)
    shown = desk.checkout(made.id, NOW, promo_code="NOPE")
    assert shown.quote.total == Decimal("525.00")
    assert shown.promo_error == "We don't know the code 'NOPE'."
    assert shown.live and shown.seconds_left == 15 * 60


def test_an_online_hold_is_not_a_desk_hold(trip, asha):
    online = hold(asha.id, trip.id, ["2A"])
    with pytest.raises(Exception, match="desk hold"):
        desk.checkout(online, NOW)


def _sold(trip, clerk, seats=("2A",), **kw) -> Booking:
    """A complimentary desk sale by an admin (no shift needed), for the look-up tests."""
    made = desk.hold_for_walk_in(
        trip.id, clerk_id=clerk.id, typed=" ".join(seats), ticked=[], now=NOW
    )
    return desk_sales.sell_at_desk(
        hold_id=made.id,
        clerk_id=clerk.id,
        details=details(list(seats), **kw),
        now=NOW,
        complimentary=True,
        reason="driver's family",
    )


def test_lookup_finds_by_reference_phone_contact_and_passenger_name(trip):
    clerk = make_user(Role.ADMIN)
    sold = _sold(trip, clerk, contact_name="Meera Iyer", contact_phone="98450 12345", name="Kavya")
    other = _sold(trip, clerk, seats=("3A",), contact_name="Arjun", contact_phone="9000000001")
    for query in (sold.reference, sold.reference[2:7].lower(), "12345", "meera", "KAVY"):
        assert [b.id for b in desk.lookup(query, NOW)] == [sold.id], query
    assert {b.id for b in desk.lookup(" 9845 ", NOW + HOUR)} == {sold.id}
    assert {b.id for b in desk.lookup("arjun", NOW)} == {other.id}
    with pytest.raises(DeskError, match="at least 2"):
        desk.lookup("a", NOW)
    assert desk.lookup("100%_", NOW) == []  # wildcards are literal


def test_lookup_puts_trips_from_today_on_before_past_ones(app_ctx):
    clerk = make_user(Role.ADMIN)
    soon = make_trip(departs_in=2 * HOUR)
    later = make_trip(departs_in=30 * HOUR)
    b_later = _sold(later, clerk, contact_name="Same Name")
    b_soon = _sold(soon, clerk, contact_name="Same Name")
    assert [b.id for b in desk.lookup("same name", NOW)] == [b_soon.id, b_later.id]
    # Three days on, both are past: the most recent first.
    assert [b.id for b in desk.lookup("same name", NOW + 72 * HOUR)] == [b_later.id, b_soon.id]


def test_resend_needs_an_email_and_queues_the_ticket(trip):
    clerk = make_user(Role.ADMIN)
    with_email = _sold(trip, clerk, contact_email="walkin@example.com")
    without = _sold(trip, clerk, seats=("3A",), contact_email=None)
    assert desk.resend_ticket(with_email.id, staff_id=clerk.id, now=NOW) == "walkin@example.com"
    with pytest.raises(DeskError, match="no email"):
        desk.resend_ticket(without.id, staff_id=clerk.id, now=NOW)


def test_a_clerk_gives_back_a_desk_hold(trip):
    clerk = make_user(Role.STAFF)
    made = desk.hold_for_walk_in(trip.id, clerk_id=clerk.id, typed="2A", ticked=[], now=NOW)
    holds.release_desk_hold(made.id, clerk_id=clerk.id, now=NOW)
    assert db.session.get(Reservation, made.id).status == HoldStatus.CANCELLED
    assert holds.held_seats(made.id) == []


# ---- the receipt ------------------------------------------------------------------------------


def test_the_receipt_is_80mm_wide_with_the_reference_and_a_qr_that_verifies(trip):
    from booking.documents import receipt_pdf

    clerk = make_user(Role.ADMIN)
    sold = _sold(trip, clerk, seats=("2A", "2B"), name="Lakshmi Narayanan")
    data = receipt_pdf.render_pdf(sold)
    document = pypdfium2.PdfDocument(data)
    page = document[0]
    width_mm = page.get_width() / 72 * 25.4
    assert round(width_mm) == 80
    words = page.get_textpage().get_text_range()
    assert sold.reference in words and "Lakshmi Narayanan" in words and "2B" in words
    assert b"NotoSans" in data and b"/Helvetica" not in data  # the tickets' font
    image = page.render(scale=3).to_pil()
    [code] = zxingcpp.read_barcodes(image)
    at_the_door = sold.schedule.departure_at - HOUR
    assert tickets.verify(code.text, at_the_door).status == tickets.ScanStatus.VALID


# ---- pages ---------------------------------------------------------------------------------------


@pytest.fixture
def clerk(app, auth) -> uuid.UUID:
    return sign_in_as(app, auth, Role.STAFF)


def test_desk_pages_refuse_customers_and_send_anonymous_people_to_sign_in(
    client, auth, app, trip_id
):
    for url in ("/desk", f"/desk/trips/{trip_id}/sell", "/desk/lookup?q=ab"):
        assert client.get(url).status_code == 302
    sign_in_as(app, auth, Role.CUSTOMER)
    for url in ("/desk", f"/desk/trips/{trip_id}/sell", "/desk/lookup?q=ab"):
        assert client.get(url).status_code == 403
    assert client.post(f"/desk/trips/{trip_id}/sell", data={"typed": "1A"}).status_code == 403


def test_departures_page_with_day_keys_and_the_htmx_fragment(client, clerk, app, trip_id):
    with app.app_context():
        on = catalog.local_today(db.session.get(Schedule, trip_id).departure_at).isoformat()
    page = client.get(f"/desk?day={on}")
    assert page.status_code == 200
    body = text(page)
    assert "Previous day" in body and "Next day" in body and 'data-key="1"' in body
    assert f"/desk/trips/{trip_id}/sell" in body and "<kbd>" in body
    fragment = client.get(f"/desk?day={on}&q=chennai", headers={"HX-Request": "true"})
    assert "<html" not in fragment.text and f"/desk/trips/{trip_id}/sell" in fragment.text
    none = client.get(f"/desk?day={on}&q=nowhere-at-all", headers={"HX-Request": "true"})
    assert "No departures left" in text(none)


def test_typing_seats_holds_them_and_opens_the_sale(client, clerk, app, trip_id):
    page = client.get(f"/desk/trips/{trip_id}/sell")
    assert (
        page.status_code == 200 and 'name="typed"' in page.text and "data-ws-connect" in page.text
    )
    held = client.post(f"/desk/trips/{trip_id}/sell", data={"typed": "2a, 2b"})
    assert held.status_code == 302
    hold_id = held.headers["Location"].rsplit("/", 1)[1]
    sale = client.get(held.headers["Location"])
    body = text(sale)
    assert sale.status_code == 200 and "2A, 2B" in body and "Rs 1,050.00" in body
    assert 'name="contact_name"' in body and "Change due" in body
    with app.app_context():
        made = db.session.get(Reservation, uuid.UUID(hold_id))
        assert made.channel == Channel.DESK and made.sold_by_id == clerk


def test_taken_or_unknown_seats_are_named_on_the_sell_page(client, clerk, trip_id):
    client.post(f"/desk/trips/{trip_id}/sell", data={"typed": "2A"})
    again = client.post(f"/desk/trips/{trip_id}/sell", data={"typed": "2A 2C"})
    assert again.status_code == 409 and "Seat 2A is no longer available" in text(again)
    unknown = client.post(
        f"/desk/trips/{trip_id}/sell", data={"typed": "77Q"}, headers={"HX-Request": "true"}
    )
    assert unknown.status_code == 400 and "There is no seat 77Q" in text(unknown)
    assert "<html" not in unknown.text
    empty = client.post(f"/desk/trips/{trip_id}/sell", data={"typed": " "})
    assert empty.status_code == 400 and "Type the seat numbers" in text(empty)


def _sale_form(**changes) -> dict:
    """The walk-in sale form for seats 2A and 2B, paid in cash."""
    data = {
        "contact_name": "Walk In",
        "contact_phone": "98450 11111",
        "same_contact": "y",
        "passengers-0-seat_number": "2A",
        "passengers-0-age": "30",
        "passengers-0-gender": "male",
        "passengers-1-seat_number": "2B",
        "passengers-1-name": "Sita Devi",
        "passengers-1-age": "28",
        "passengers-1-gender": "female",
        "method": "cash",
        "tendered": "1100",
        "action": "sell",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def _held(client, trip_id) -> str:
    held = client.post(f"/desk/trips/{trip_id}/sell", data={"typed": "2A 2B"})
    assert held.status_code == 302
    return held.headers["Location"]


def test_a_cash_sale_needs_an_open_shift_and_nothing_changes_without_one(
    client, clerk, app, trip_id
):
    sale_url = _held(client, trip_id)
    refused = client.post(sale_url, data=_sale_form())
    assert refused.status_code == 400 and "Open a shift before taking cash." in text(refused)
    with app.app_context():
        assert db.session.query(Booking).count() == 0


def test_bad_details_or_short_cash_re_render_with_the_errors_and_change_nothing(
    client, clerk, app, trip_id
):
    with app.app_context():
        open_shift(clerk, now=utcnow())
    sale_url = _held(client, trip_id)
    bad_phone = client.post(sale_url, data=_sale_form(contact_phone="123"))
    assert bad_phone.status_code == 400 and "10 to 15 digits" in text(bad_phone)
    short = client.post(sale_url, data=_sale_form(tendered="500"))
    assert short.status_code == 400 and "Rs 500.00" in text(short)
    ladies = client.post(sale_url, data=_sale_form(**{"passengers-1-gender": ""}))
    assert ladies.status_code == 400
    with app.app_context():
        assert db.session.query(Booking).count() == 0


def test_a_cash_sale_books_with_passenger_one_as_the_contact_and_shows_the_change(
    client, clerk, app, trip_id
):
    with app.app_context():
        open_shift(clerk, now=utcnow())
    sale_url = _held(client, trip_id)
    sold = client.post(sale_url, data=_sale_form(), follow_redirects=True)
    body = text(sold)
    assert sold.status_code == 200 and "Change due: Rs 50.00." in body
    assert "Receipt (80 mm)" in body
    with app.app_context():
        booking = db.session.query(Booking).one()
        assert booking.channel == Channel.DESK and booking.sold_by_id == clerk
        assert booking.user_id is None and booking.total_amount == Decimal("1050.00")
        names = {s.seat_number: s.passenger_name for s in booking.seats}
        assert names == {"2A": "Walk In", "2B": "Sita Devi"}
        report = shifts.current_report(clerk)
        assert report.cash_sales.total == Decimal("1050.00")


def test_a_terminal_sale_needs_its_reference(client, clerk, app, trip_id):
    sale_url = _held(client, trip_id)
    missing = client.post(sale_url, data=_sale_form(method="upi", tendered=None))
    assert missing.status_code == 400
    with app.app_context():
        assert db.session.query(Booking).count() == 0
    done = client.post(
        sale_url, data=_sale_form(method="upi", tendered=None, terminal_reference="UPI-778899")
    )
    assert done.status_code == 302
    with app.app_context():
        assert db.session.query(Booking).one().total_amount == Decimal("1050.00")


def test_a_cash_refund_from_the_desk_leaves_the_drawer(client, clerk, app, trip_id):
    with app.app_context():
        open_shift(clerk, now=utcnow())
    sale_url = _held(client, trip_id)
    client.post(sale_url, data=_sale_form())
    with app.app_context():
        reference = db.session.query(Booking).one().reference
    done = client.post(
        f"/desk/bookings/{reference}/cancel",
        data={"seats": ["2B"], "refund_mode": "original", "reason": "changed plans"},
        follow_redirects=True,
    )
    assert done.status_code == 200 and "Cancelled; refund Rs 525.00." in text(done)
    with app.app_context():
        report = shifts.current_report(clerk)
        assert report.cash_refunds.total == Decimal("525.00")
        assert report.expected_cash == Decimal("500.00") + Decimal("1050.00") - Decimal("525.00")


def test_lookup_page_and_fragment_and_the_staff_booking_view(client, auth, app):
    with app.app_context():
        trip = make_trip(now=utcnow())
        admin = make_user(Role.ADMIN, now=utcnow())
        sold = _sold_now(trip, admin)
        reference = sold.reference
    sign_in_as(app, auth, Role.STAFF)
    page = client.get("/desk/lookup?q=98765")
    assert page.status_code == 200 and reference in page.text
    fragment = client.get(f"/desk/lookup?q={reference.lower()}", headers={"HX-Request": "true"})
    assert reference in fragment.text and "<html" not in fragment.text
    short = client.get("/desk/lookup?q=x")
    assert "at least 2" in text(short)
    view = client.get(f"/desk/bookings/{reference}")
    body = text(view)
    assert view.status_code == 200 and "Receipt (80 mm)" in body and "Cancel seats" in body
    assert 'data-key="r"' in body
    receipt = client.get(f"/desk/bookings/{reference}/receipt.pdf")
    assert receipt.status_code == 200 and receipt.mimetype == "application/pdf"
    assert client.get(f"/desk/bookings/{reference}/ticket.pdf").mimetype == "application/pdf"
    resent = client.post(f"/desk/bookings/{reference}/resend", follow_redirects=True)
    assert "The ticket was sent again to priya@example.com." in text(resent)


def test_staff_cancel_a_seat_of_a_walk_in_booking_from_the_desk(client, auth, app):
    with app.app_context():
        trip = make_trip(now=utcnow())
        admin = make_user(Role.ADMIN, now=utcnow())
        reference = _sold_now(trip, admin, seats=("2A", "2B")).reference
    sign_in_as(app, auth, Role.STAFF)
    preview = client.get(f"/desk/bookings/{reference}/cancel?seats=2B")
    assert preview.status_code == 200 and "Refund" in text(preview)
    done = client.post(
        f"/desk/bookings/{reference}/cancel",
        data={"seats": ["2B"], "refund_mode": "original", "reason": "changed plans"},
        follow_redirects=True,
    )
    assert done.status_code == 200 and "Cancelled; refund Rs 0.00." in text(done)
    with app.app_context():
        booking = db.session.query(Booking).filter_by(reference=reference).one()
        assert [s.seat_number for s in booking.seats if s.status == "booked"] == ["2A"]


def _sold_now(trip, clerk, seats=("2A",)) -> Booking:
    """A complimentary desk sale at the real clock's now (for request tests)."""
    now = utcnow()
    made = desk.hold_for_walk_in(
        trip.id, clerk_id=clerk.id, typed=" ".join(seats), ticked=[], now=now
    )
    return desk_sales.sell_at_desk(
        hold_id=made.id,
        clerk_id=clerk.id,
        details=details(list(seats)),
        now=now,
        complimentary=True,
        reason="staff travel",
    )
