"""The desk's check-in pages (full page and htmx fragment) and the boarding manifest as a page,
a PDF and a CSV."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from pathlib import Path

import pypdfium2
import pytest
from sqlalchemy import select, update

from booking.extensions import db
from booking.models import BookingSeat, Ticket
from booking.models.enums import Channel, Role, TicketValidity
from booking.orm import utcnow
from booking.services import holds, payments
from booking.services.details import CheckoutDetails, Passenger
from tests.support import make_trip, make_user, sign_in_as, text

HTMX = {"HX-Request": "true"}
ROOT = Path(__file__).resolve().parents[1]


def details(seats: list[str], names: list[str]) -> CheckoutDetails:
    return CheckoutDetails(
        passengers=tuple(
            Passenger(n, name, 30 + i, "female")
            for i, (n, name) in enumerate(zip(seats, names, strict=True))
        ),
        contact_name=names[0],
        contact_phone="9876543210",
        contact_email="priya@example.com",
    )


def sell(trip_id, seats: list[str], names: list[str]) -> tuple[str, str]:
    """A customer's wallet booking of ``seats``; its (reference, ticket token)."""
    now = utcnow()
    customer = make_user(wallet="5000", now=now)
    hold = holds.hold_seats(
        customer_id=customer.id, schedule_id=trip_id, seat_numbers=seats, now=now
    )
    booking = payments.pay_with_wallet(
        hold_id=hold.id, customer_id=customer.id, details=details(seats, names), now=now
    )
    token = db.session.scalar(select(Ticket.qr_payload).where(Ticket.booking_id == booking.id))
    return booking.reference, token


@pytest.fixture
def door(app):
    """A trip leaving in 3 hours (check-in is open) with one booking; (trip id, reference,
    token)."""
    with app.app_context():
        trip = make_trip(now=utcnow(), departs_in=timedelta(hours=3), origin="Mysuru")
        reference, token = sell(trip.id, ["2A", "2B"], ["Priya Raman", "Arun Raman"])
        return trip.id, reference, token


def verdict(response) -> str:
    """The big words of the answer."""
    return text(response).split('<p class="scan-status">')[1].split("<")[0]


def test_the_check_in_pages_are_for_staff(client, app, auth, door):
    """Anonymous people are sent to sign in; customers get 403; staff and admins the page."""
    trip_id = door[0]
    for path in ("/desk/check-in", f"/desk/trips/{trip_id}/check-in"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    sign_in_as(app, auth, Role.CUSTOMER)
    assert client.get("/desk/check-in").status_code == 403
    assert client.post("/desk/check-in", data={"token": door[2]}).status_code == 403
    with app.app_context():
        assert db.session.scalar(select(Ticket.validity).where(Ticket.qr_payload == door[2])) == (
            TicketValidity.VALID
        )
    for role in (Role.STAFF, Role.ADMIN):
        auth.logout()
        sign_in_as(app, auth, role)
        page = client.get("/desk/check-in")
        assert page.status_code == 200
        assert 'name="token"' in page.text and "autofocus" in page.text


def test_a_scan_checks_in_and_the_page_comes_back_with_an_empty_field(client, app, auth, door):
    """No JavaScript: Enter posts the form; the page shows VALID large with seats, names and
    reference, and an empty autofocused field; scanning again says ALREADY USED and by whom."""
    _trip_id, reference, token = door
    sign_in_as(app, auth, Role.STAFF, first_name="Kiran")
    first = client.post("/desk/check-in", data={"token": token})
    assert first.status_code == 200 and verdict(first) == "VALID"
    body = text(first)
    assert "scan-ok" in body and "2A" in body and "Priya Raman" in body and "Arun Raman" in body
    assert reference in body
    assert f'value="{token}"' not in body  # the field is empty for the next scan
    assert 'name="token"' in body and "autofocus" in body
    second = client.post("/desk/check-in", data={"token": token})
    assert verdict(second) == "ALREADY USED" and "scan-warn" in second.text
    assert "by Kiran" in text(second)


def test_htmx_gets_only_the_answer(client, app, auth, door):
    """With htmx only the result fragment comes back (no page, no form)."""
    sign_in_as(app, auth, Role.STAFF)
    response = client.post("/desk/check-in", data={"token": door[2]}, headers=HTMX)
    assert response.status_code == 200 and verdict(response) == "VALID"
    assert "<html" not in response.text and 'name="token"' not in response.text
    assert response.headers["Vary"] == "HX-Request" or "HX-Request" in response.headers["Vary"]
    garbage = client.post("/desk/check-in", data={"token": "hello"}, headers=HTMX)
    assert verdict(garbage) == "NOT A TICKET" and "scan-bad" in garbage.text


def test_verify_only_looks_without_admitting(client, app, auth, door):
    """The Verify only toggle: VALID, the ticket stays unused, the toggle stays on."""
    sign_in_as(app, auth, Role.STAFF)
    response = client.post("/desk/check-in", data={"token": door[2], "verify_only": "y"})
    assert verdict(response) == "VALID" and "nobody was checked in" in response.text
    [toggle] = re.findall(r'<input[^>]*name="verify_only"[^>]*>', response.text)
    assert "checked" in toggle
    with app.app_context():
        assert db.session.scalar(select(Ticket.validity).where(Ticket.qr_payload == door[2])) == (
            TicketValidity.VALID
        )


def test_the_trip_page_refuses_a_ticket_for_another_trip(client, app, auth, door):
    """/desk/trips/<other>/check-in: NOT THIS TRIP, naming the ticket's trip; the own trip's
    page admits it."""
    trip_id, _reference, token = door
    with app.app_context():
        other = make_trip(now=utcnow(), departs_in=timedelta(hours=4), origin="Hubballi").id
    sign_in_as(app, auth, Role.STAFF)
    page = client.get(f"/desk/trips/{other}/check-in")
    assert page.status_code == 200 and "Hubballi" in text(page)
    wrong = client.post(f"/desk/trips/{other}/check-in", data={"token": token})
    assert verdict(wrong) == "NOT THIS TRIP" and "Mysuru to Chennai" in text(wrong)
    right = client.post(f"/desk/trips/{trip_id}/check-in", data={"token": token})
    assert verdict(right) == "VALID"


def test_an_empty_scan_and_an_unknown_trip_get_messages(client, app, auth):
    """An empty field: 400 with the form's message; an unknown trip: 404 page, no traceback."""
    sign_in_as(app, auth, Role.STAFF)
    empty = client.post("/desk/check-in", data={"token": "  "})
    assert empty.status_code == 400 and "Scan or paste the QR code text" in empty.text
    missing = client.get("/desk/trips/00000000-0000-0000-0000-000000000000/check-in")
    assert missing.status_code == 404 and "Traceback" not in missing.text


def test_the_verify_page_drops_its_check_in_button_once_used(client, app, auth, door):
    """/tickets/verify after the desk scanned the ticket: ALREADY USED, no Check in button."""
    sign_in_as(app, auth, Role.STAFF)
    client.post("/desk/check-in", data={"token": door[2]})
    page = client.post("/tickets/verify", data={"token": door[2], "action": "verify"})
    assert "ALREADY USED" in page.text and 'value="check_in"' not in page.text


# ---- the manifest --------------------------------------------------------------------------------


@pytest.fixture
def manifest_trip(app, door):
    """The door trip with a second, desk-sold booking whose passenger name and phone start like
    spreadsheet formulas; the first booking checked in. (trip id, references)."""
    trip_id, first_reference, token = door
    with app.app_context():
        second_reference, _ = sell(trip_id, ["1C"], ["Meera Iyer"])
        clerk = make_user(Role.STAFF, now=utcnow())
        db.session.execute(
            update(BookingSeat)
            .where(BookingSeat.seat_number == "1C")
            .values(passenger_name='=HYPERLINK("http://evil.example","x")')
        )
        from booking.models import Booking

        db.session.execute(
            update(Booking)
            .where(Booking.reference == second_reference)
            .values(channel=Channel.DESK, sold_by_id=clerk.id, contact_phone="+919812345678")
        )
        db.session.commit()
        from booking.services import tickets

        assert tickets.check_in(token, staff_id=clerk.id, now=utcnow()).status == "valid"
    return trip_id, first_reference, second_reference


def test_the_manifest_page_lists_every_seat_with_totals(client, app, auth, manifest_trip):
    """Seat order within the deck, each seat's passenger, booking, channel and check-in state;
    totals: 3 booked, 2 checked in, no-shows not yet (the bus has not left)."""
    trip_id, first, second = manifest_trip
    sign_in_as(app, auth, Role.CUSTOMER)
    assert client.get(f"/desk/trips/{trip_id}/manifest").status_code == 403
    auth.logout()
    sign_in_as(app, auth, Role.STAFF)
    page = client.get(f"/desk/trips/{trip_id}/manifest")
    assert page.status_code == 200
    body = text(page)
    assert body.index(">1C<") < body.index(">2A<") < body.index(">2B<")
    assert "Priya Raman" in body and first in body and second in body
    assert ">desk<" in body and ">online<" in body
    assert body.count("checked in at ") == 2 and "not yet" in body
    assert '<dd data-total="booked">3</dd>' in body
    assert '<dd data-total="checked_in">2</dd>' in body
    assert "not yet boarded (1 to come)" in body
    assert 'href="/static/css/app.css?v=' in page.text
    assert "@media print" in (ROOT / "static" / "css" / "app.css").read_text()


def test_the_manifest_csv_neutralises_formulas(client, app, auth, manifest_trip):
    """One row per seat; cells that a spreadsheet would run (= + - @) start with a quote."""
    trip_id, first, _second = manifest_trip
    sign_in_as(app, auth, Role.STAFF)
    response = client.get(f"/desk/trips/{trip_id}/manifest.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][:3] == ["group", "seat", "passenger"]
    by_seat = {row[1]: row for row in rows[1:]}
    assert sorted(by_seat) == ["1C", "2A", "2B"]
    assert by_seat["1C"][2] == '\'=HYPERLINK("http://evil.example","x")'
    assert by_seat["1C"][5] == "'+919812345678"
    assert by_seat["1C"][7] == "desk" and by_seat["1C"][8] == "not yet"
    assert by_seat["2A"][6] == first and by_seat["2A"][8].startswith("checked in at ")
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))


def test_the_manifest_pdf_is_a4_with_the_passengers(client, app, auth, manifest_trip):
    """An A4 PDF naming the trip, every passenger and the totals, in the tickets' Noto Sans."""
    trip_id, first, second = manifest_trip
    sign_in_as(app, auth, Role.STAFF)
    response = client.get(f"/desk/trips/{trip_id}/manifest.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    document = pypdfium2.PdfDocument(response.data)
    try:
        width, height = document[0].get_size()
        words = " ".join(document[0].get_textpage().get_text_range().split())
    finally:
        document.close()
    assert (round(width), round(height)) == (595, 842)
    for expected in (
        "BOARDING MANIFEST",
        "Mysuru → Chennai",
        "Priya Raman",
        "Arun Raman",
        first,
        second,
        "not yet boarded",
        "checked in at",
    ):
        assert expected in words, expected
    assert b"NotoSans" in response.data and b"/Helvetica" not in response.data


def test_the_widest_reference_stays_on_one_line_of_the_manifest_pdf(
    client, app, auth, manifest_trip
):
    """A reference of ten W's (the widest letter of the alphabet) is still found whole."""
    from booking.models import Booking

    trip_id, first, _second = manifest_trip
    with app.app_context():
        db.session.query(Booking).filter_by(reference=first).update({"reference": "W" * 10})
        db.session.commit()
    sign_in_as(app, auth, Role.STAFF)
    response = client.get(f"/desk/trips/{trip_id}/manifest.pdf")
    document = pypdfium2.PdfDocument(response.data)
    try:
        words = " ".join(document[0].get_textpage().get_text_range().split())
    finally:
        document.close()
    assert "W" * 10 in words
