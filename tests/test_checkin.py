"""Check-in at the bus door: every answer a scan can get, with a fixed `now`."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from booking.extensions import db
from booking.models import ActivityLog, Ticket, User
from booking.models.enums import Role, TicketValidity
from booking.services import tickets
from booking.services.errors import NotFound
from booking.services.tickets import ScanStatus
from tests.support import NOW, make_trip, make_user, race
from tests.test_tickets import book, cancel_seat

# make_trip: the trip leaves two days after NOW and takes 6 hours.
DEPARTURE = NOW + timedelta(days=2)
ARRIVAL = DEPARTURE + timedelta(hours=6)
DOOR = DEPARTURE - timedelta(minutes=30)


@pytest.fixture
def booking(app_ctx):
    """A confirmed two-seat booking (2A Asha Rao, 2B Ravi Rao) with its ticket."""
    return book(make_user(), make_trip(), ["2A", "2B"])


@pytest.fixture
def clerk(app_ctx) -> User:
    """Counter staff at the door."""
    return make_user(Role.STAFF, first_name="Kiran")


def test_valid_checks_in_now_with_seats_and_names(booking, clerk):
    """VALID: admitted at once, with each seat and passenger, and the reference."""
    result = tickets.check_in(booking.ticket.qr_payload, staff_id=clerk.id, now=DOOR)
    assert result.status == ScanStatus.VALID and result.status.label == "VALID"
    assert result.status.tone == "ok"
    assert result.seats == (("2A", "Asha Rao"), ("2B", "Ravi Rao"))
    assert result.reference == "ABCD3467"
    assert result.message.startswith("Checked in: booking ABCD3467, 2A Asha Rao, 2B Ravi Rao.")
    db.session.expire_all()
    ticket = db.session.get(Ticket, booking.ticket.id)
    assert (ticket.validity, ticket.used_at) == (TicketValidity.USED, DOOR)


def test_already_used_says_when_and_by_whom(booking, clerk):
    """A second scan: ALREADY USED, at what time, how long ago, and by which staff member (the
    ticket.checked_in audit row)."""
    token = booking.ticket.qr_payload
    tickets.check_in(token, staff_id=clerk.id, now=DOOR)
    other = make_user(Role.STAFF)
    again = tickets.check_in(token, staff_id=other.id, now=DOOR + timedelta(minutes=7))
    assert again.status == ScanStatus.USED and again.status.label == "ALREADY USED"
    assert again.status.tone == "warn"
    # 05:30 UTC is 11:00 in Asia/Kolkata.
    assert again.message == (
        f"Already checked in at 11:00 (7 min ago) by {clerk.full_name}: booking ABCD3467."
    )
    assert again.seats == (("2A", "Asha Rao"), ("2B", "Ravi Rao"))
    rows = db.session.scalars(
        select(ActivityLog).where(ActivityLog.action_type == "ticket.checked_in")
    ).all()
    assert [row.user_id for row in rows] == [clerk.id]


def test_cancelled(booking, clerk):
    """The whole booking cancelled: CANCELLED (red), nothing admitted."""
    ticket = cancel_seat(booking, "", whole=True)
    result = tickets.check_in(ticket.qr_payload, staff_id=clerk.id, now=DOOR)
    assert result.status == ScanStatus.CANCELLED and result.status.tone == "bad"
    assert result.message == "Booking ABCD3467 was cancelled."


def test_replaced_after_a_seat_cancellation_shows_the_current_seats(booking, clerk):
    """The printed code of version 1 after 2B was cancelled: REPLACED, never FORGED, with the
    current ticket's seats; it admits nobody, the current code does."""
    old = booking.ticket.qr_payload
    current = cancel_seat(booking, "2B")
    result = tickets.check_in(old, staff_id=clerk.id, now=DOOR)
    assert result.status == ScanStatus.REPLACED and result.status.tone == "warn"
    assert "replaced when the booking changed" in result.message
    assert "now has seats 2A Asha Rao" in result.message
    assert result.seats == (("2A", "Asha Rao"),) and result.reference == "ABCD3467"
    assert db.session.get(Ticket, current.id).validity == TicketValidity.VALID
    admitted = tickets.check_in(current.qr_payload, staff_id=clerk.id, now=DOOR)
    assert admitted.status == ScanStatus.VALID


def test_not_this_trip_says_which_trip_it_is_for(booking, clerk):
    """Scanning for another trip: NOT THIS TRIP, naming the ticket's own trip; not admitted.
    For its own trip the same code checks in."""
    elsewhere = make_trip(origin="Hubballi")
    token = booking.ticket.qr_payload
    result = tickets.check_in(token, staff_id=clerk.id, now=DOOR, schedule_id=elsewhere.id)
    assert result.status == ScanStatus.NOT_THIS_TRIP and result.status.label == "NOT THIS TRIP"
    route = booking.schedule.route.name
    assert result.message == (
        f"This ticket is for another trip: {route}, departs 03 Dec 2026, 11:30."
    )
    assert result.trip.id == elsewhere.id
    assert db.session.get(Ticket, booking.ticket.id).validity == TicketValidity.VALID
    own = tickets.check_in(token, staff_id=clerk.id, now=DOOR, schedule_id=booking.schedule_id)
    assert own.status == ScanStatus.VALID


def test_an_unknown_trip_is_not_found(booking, clerk):
    """A scan for a trip that does not exist is refused with a message, not a crash."""
    with pytest.raises(NotFound, match="could not find that trip"):
        tickets.verify(booking.ticket.qr_payload, DOOR, schedule_id=uuid.uuid4())


def test_not_today_before_the_window_says_when_it_opens(booking, clerk):
    """Check-in opens CHECKIN_OPENS_HOURS (12) before departure: a minute earlier is NOT TODAY
    with the opening time; at the opening it checks in."""
    opens = DEPARTURE - timedelta(hours=12)
    token = booking.ticket.qr_payload
    early = tickets.check_in(token, staff_id=clerk.id, now=opens - timedelta(minutes=1))
    assert early.status == ScanStatus.NOT_TODAY and early.status.label == "NOT TODAY"
    # 18:00 UTC on 2 Dec is 23:30 in Asia/Kolkata.
    assert "check-in for" in early.message and "opens at Wed 02 Dec, 23:30 (12 h" in early.message
    assert tickets.check_in(token, staff_id=clerk.id, now=opens).status == ScanStatus.VALID


def test_not_today_after_arrival(booking, clerk):
    """Once the trip has arrived its tickets no longer board."""
    result = tickets.check_in(booking.ticket.qr_payload, staff_id=clerk.id, now=ARRIVAL)
    assert result.status == ScanStatus.NOT_TODAY
    assert result.message.startswith("This trip arrived at Thu 03 Dec, 17:30")
    assert db.session.get(Ticket, booking.ticket.id).validity == TicketValidity.VALID


def test_the_window_is_a_setting(make_app):
    """CHECKIN_OPENS_HOURS=2: six hours ahead is too early."""
    app = make_app(CHECKIN_OPENS_HOURS=2)
    with app.app_context():
        booking = book(make_user(), make_trip(), ["2A"], passengers=[("Asha Rao", 34, "female")])
        early = tickets.verify(booking.ticket.qr_payload, DEPARTURE - timedelta(hours=6))
        assert early.status == ScanStatus.NOT_TODAY and "(2 h before" in early.message


def test_forged_only_for_a_bad_signature(booking, clerk):
    """The token with its signature altered: FORGED, no ticket named."""
    token = booking.ticket.qr_payload
    payload, signature = token.rsplit(".", 1)
    tampered = f"{payload}.{signature[:10]}{'A' if signature[10] != 'A' else 'B'}{signature[11:]}"
    result = tickets.check_in(tampered, staff_id=clerk.id, now=DOOR)
    assert result.status == ScanStatus.FORGED and result.ticket is None
    assert result.status.tone == "bad" and "signature" in result.message
    assert db.session.get(Ticket, booking.ticket.id).validity == TicketValidity.VALID


@pytest.mark.parametrize(
    "scanned", ["hello there", "https://example.com/ticket/42", "4006381333931", "  ", "🚌"]
)
def test_not_a_ticket_for_text_that_is_no_token(booking, clerk, scanned):
    """Random text, a URL, a product barcode: NOT A TICKET, told apart from a forged token."""
    result = tickets.check_in(scanned, staff_id=clerk.id, now=DOOR)
    assert result.status == ScanStatus.NOT_A_TICKET and result.status.label == "NOT A TICKET"
    assert result.status.tone == "bad" and result.ticket is None


@pytest.mark.postgres
def test_two_scanners_at_once_admit_once(app, booking, clerk):
    """Two desks scan the same code at the same instant on PostgreSQL: one VALID, one ALREADY
    USED, one audit row."""
    token, staff_id = booking.ticket.qr_payload, clerk.id
    db.session.commit()
    outcomes = race(app, [lambda: tickets.check_in(token, staff_id=staff_id, now=DOOR).status] * 2)
    assert sorted(outcomes) == [ScanStatus.USED, ScanStatus.VALID]
    db.session.expire_all()
    rows = db.session.scalars(
        select(ActivityLog).where(ActivityLog.action_type == "ticket.checked_in")
    ).all()
    assert len(rows) == 1
