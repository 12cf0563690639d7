"""Tickets: signed QR codes that verify, stop verifying when replaced, check in once, and print."""

from __future__ import annotations

import string
import threading
import uuid
from datetime import timedelta
from decimal import Decimal
from io import BytesIO

import pypdfium2
import pytest
import zxingcpp
from icalendar import Calendar
from PIL import Image
from sqlalchemy import select

from booking.database import unit_of_work
from booking.documents import calendar as trip_calendar
from booking.documents import ticket_pdf, wording
from booking.documents.ticket_pdf import MissingTicket
from booking.extensions import db
from booking.models import (
    ActivityLog,
    Booking,
    BookingSeat,
    Cancellation,
    Payment,
    PromoCode,
    Reservation,
    ReservationSeat,
    Schedule,
    Seat,
    Ticket,
    User,
)
from booking.models.booking import REFERENCE_ALPHABET
from booking.models.enums import (
    BookingSeatStatus,
    BookingStatus,
    Channel,
    Gender,
    HoldStatus,
    PaymentMethod,
    PaymentStatus,
    PromoKind,
    RefundMode,
    Role,
    TicketValidity,
)
from booking.services import tickets
from booking.services.tickets import ScanStatus, TicketError
from tests.support import NOW, make_trip, make_user

PASSENGERS = [("Asha Rao", 34, Gender.FEMALE), ("Ravi Rao", 36, Gender.MALE)]
# An hour before the trips of these tests leave (make_trip: two days after NOW), when their
# tickets are checked in at the bus door.
DOOR = NOW + timedelta(days=2) - timedelta(hours=1)


def book(
    customer: User,
    schedule: Schedule,
    seat_numbers: list[str],
    *,
    reference: str = "ABCD3467",
    passengers=PASSENGERS,
    promo: PromoCode | None = None,
) -> Booking:
    """A paid booking built by hand (as the payments service would) with its ticket issued."""
    seats = db.session.scalars(
        select(Seat).where(Seat.schedule_id == schedule.id, Seat.seat_number.in_(seat_numbers))
    ).all()
    fares = [schedule.base_price + seat.price_modifier for seat in seats]
    base = sum(fares, Decimal("0.00"))
    discount = Decimal("50.00") if promo else Decimal("0.00")
    tax = ((base - discount) * Decimal("0.05")).quantize(Decimal("0.01"))
    total = base - discount + tax
    with unit_of_work() as session:
        hold = Reservation(
            user_id=customer.id,
            schedule_id=schedule.id,
            reserved_at=NOW,
            expires_at=NOW + timedelta(minutes=15),
            status=HoldStatus.CONFIRMED,
            total_amount=total,
        )
        session.add(hold)
        session.flush()
        booking = Booking(
            reference=reference,
            reservation_id=hold.id,
            user_id=customer.id,
            channel=Channel.ONLINE,
            schedule_id=schedule.id,
            contact_name=customer.full_name,
            contact_phone=customer.phone,
            contact_email=customer.email,
            base_amount=base,
            discount_amount=discount,
            tax_amount=tax,
            total_amount=total,
            promo_code_id=promo.id if promo else None,
            confirmed_at=NOW,
        )
        session.add(booking)
        session.flush()
        for seat, fare, (name, age, gender) in zip(seats, fares, passengers, strict=False):
            session.add(ReservationSeat(reservation_id=hold.id, seat_id=seat.id))
            session.add(
                BookingSeat(
                    booking_id=booking.id,
                    seat_id=seat.id,
                    seat_number=seat.seat_number,
                    fare=fare,
                    charged=fare,
                    passenger_name=name,
                    passenger_age=age,
                    passenger_gender=gender,
                )
            )
        session.add(
            Payment(
                reservation_id=hold.id,
                booking_id=booking.id,
                user_id=customer.id,
                amount=total,
                method=PaymentMethod.UPI,
                status=PaymentStatus.COMPLETED,
                completed_at=NOW,
            )
        )
        session.flush()
        session.refresh(booking)
        tickets.issue_ticket(booking, NOW)
    return booking


def cancel_seat(
    booking: Booking, seat_number: str, *, whole: bool = False, refund: bool = False
) -> Ticket:
    """Cancel one seat (or the whole booking) by hand and reissue the ticket, as cancelling will."""
    later = NOW + timedelta(hours=1)
    with unit_of_work() as session:
        cancellation = Cancellation(
            booking_id=booking.id,
            refund_percent=100,
            refund_amount=Decimal("0.00"),
            refund_mode=RefundMode.WALLET,
        )
        session.add(cancellation)
        session.flush()
        for seat in booking.seats:
            if whole or seat.seat_number == seat_number:
                seat.status = BookingSeatStatus.CANCELLED
                seat.cancellation_id = cancellation.id
                if refund:
                    cancellation.refund_amount += seat.charged
                    booking.refunded_amount += seat.charged
        if whole:
            booking.status = BookingStatus.CANCELLED
        ticket = tickets.reissue_ticket(booking.ticket, later)
    return ticket


def decode_qr(image: Image.Image) -> list[str]:
    """The texts of the QR codes found in an image."""
    return [result.text for result in zxingcpp.read_barcodes(image)]


@pytest.fixture
def booking(app_ctx) -> Booking:
    """A confirmed two-seat booking with its ticket."""
    return book(make_user(), make_trip(), ["2A", "2B"])


@pytest.fixture
def staff(app_ctx) -> User:
    """A member of counter staff who scans tickets."""
    return make_user(Role.STAFF)


def test_issued_ticket_numbers_it_by_the_booking_and_records_it(booking):
    """TK-<reference>-<4 characters from the look-alike-free alphabet>; an audit row is written."""
    ticket = booking.ticket
    prefix, reference, suffix = ticket.ticket_number.split("-")
    assert (prefix, reference) == ("TK", "ABCD3467")
    assert len(suffix) == 4 and set(suffix) <= set(REFERENCE_ALPHABET)
    assert ticket.version == 1 and ticket.validity == TicketValidity.VALID
    assert ticket.issued_at == NOW
    actions = db.session.scalars(
        select(ActivityLog.action_type).where(ActivityLog.entity_id == str(ticket.id))
    ).all()
    assert actions == ["ticket.issued"]


def test_a_booking_gets_one_ticket(booking):
    """Issuing a second ticket for the same booking is refused."""
    with pytest.raises(TicketError, match="already has a ticket"):
        tickets.issue_ticket(booking, NOW)
    db.session.rollback()


def test_the_qr_png_decodes_back_to_the_token(booking):
    """The PNG is a real QR code of the signed token."""
    png = ticket_pdf.qr_png(booking.ticket.qr_payload)
    assert png.startswith(b"\x89PNG")
    assert decode_qr(Image.open(BytesIO(png))) == [booking.ticket.qr_payload]


def test_the_issued_token_verifies_as_valid(booking):
    """A fresh ticket's QR is valid and names the seats and passengers."""
    result = tickets.verify(booking.ticket.qr_payload, DOOR)
    assert result.status == ScanStatus.VALID
    assert result.ticket.id == booking.ticket.id
    assert "2A Asha Rao" in result.message and "2B Ravi Rao" in result.message


def test_changing_any_character_makes_the_token_forged(booking):
    """Each altered character breaks the signature (or the encoding): never valid. Only the
    dot between payload and signature, overwritten, leaves text that is no token at all."""
    token = booking.ticket.qr_payload
    for i in range(len(token)):
        changed = token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]
        result = tickets.verify(changed, DOOR)
        expected = ScanStatus.NOT_A_TICKET if token[i] == "." else ScanStatus.FORGED
        assert result.status == expected, (i, changed)
        assert result.ticket is None


def test_a_code_differing_only_in_unused_base64_bits_is_forged_too(booking):
    """The signature's last character carries two spare bits that base64 ignores: flipping one
    gives a different code that decodes to the same signature. Only the code we issued counts."""
    token = booking.ticket.qr_payload
    alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
    twin = token[:-1] + alphabet[alphabet.index(token[-1]) ^ 1]
    assert twin != token
    assert tickets.verify(twin, DOOR).status == ScanStatus.FORGED


@pytest.mark.parametrize(
    "token",
    ["", "   ", "hello", "x" * 5000, "https://example.com/tickets?id=42", "example.com", "{}"],
)
def test_garbage_is_not_a_ticket_not_an_error(booking, token):
    """Whatever a scanner reads, verify answers instead of raising: text that is not a token at
    all (random words, a URL, an empty scan) is NOT A TICKET, not forged."""
    result = tickets.verify(token, DOOR)
    assert result.status == ScanStatus.NOT_A_TICKET and result.ticket is None
    assert result.message.startswith("This is not a ticket's QR code")


@pytest.mark.parametrize("token", ["e30.e30", "eyJ0IjoiMTIzIn0.bad-signature"])
def test_a_token_shaped_code_with_a_bad_signature_is_forged(booking, token):
    """A payload and a signature that does not match it: FORGED (the signature fails)."""
    result = tickets.verify(token, DOOR)
    assert result.status == ScanStatus.FORGED and "signature" in result.message


def test_a_token_signed_with_another_key_is_forged(booking, make_app):
    """The same claims signed with a different SECRET_KEY do not verify."""
    ticket = booking.ticket
    other = make_app(SECRET_KEY="someone-else")
    with other.app_context():
        foreign = tickets._sign(ticket, booking.reference)
    assert foreign != ticket.qr_payload
    assert tickets.verify(foreign, DOOR).status == ScanStatus.FORGED


def test_a_well_signed_token_for_an_unknown_ticket_is_forged(booking):
    """A signature alone is not enough: the ticket has to exist."""
    stranger = Ticket(id=uuid.uuid4(), version=1)
    token = tickets._sign(stranger, booking.reference)
    result = tickets.verify(token, DOOR)
    assert result.status == ScanStatus.FORGED and "no ticket of ours" in result.message


def test_reissue_makes_the_old_token_replaced_and_the_new_one_valid(booking):
    """A seat cancelled: the ticket gets version 2; the printed version-1 QR stops working and
    says REPLACED (genuine but old, never forged) with the current ticket's seats."""
    old = booking.ticket.qr_payload
    ticket = cancel_seat(booking, "2B")
    assert ticket.version == 2 and ticket.qr_payload != old
    assert ticket.ticket_number == booking.ticket.ticket_number
    stale = tickets.verify(old, DOOR)
    assert stale.status == ScanStatus.REPLACED
    assert stale.message.startswith("This QR code was replaced when the booking changed")
    assert "now has seats 2A Asha Rao." in stale.message
    assert stale.seats == (("2A", "Asha Rao"),)
    assert tickets.check_in(old, staff_id=uuid.uuid4(), now=DOOR).status == ScanStatus.REPLACED
    fresh = tickets.verify(ticket.qr_payload, DOOR)
    assert fresh.status == ScanStatus.VALID
    assert "2A Asha Rao" in fresh.message and "Ravi" not in fresh.message


def test_a_cancelled_bookings_ticket_verifies_as_cancelled(booking):
    """Cancelling the whole booking reissues the ticket as cancelled."""
    ticket = cancel_seat(booking, "", whole=True)
    assert ticket.validity == TicketValidity.CANCELLED
    result = tickets.verify(ticket.qr_payload, DOOR)
    assert result.status == ScanStatus.CANCELLED and "ABCD3467" in result.message


def test_check_in_admits_once_then_says_used(booking, staff):
    """The first scan admits and writes an audit row; the second says when it was used."""
    token = booking.ticket.qr_payload
    first = tickets.check_in(token, staff_id=staff.id, now=DOOR)
    assert first.status == ScanStatus.VALID and first.message.startswith("Checked in")
    db.session.expire_all()
    ticket = db.session.get(Ticket, booking.ticket.id)
    assert ticket.validity == TicketValidity.USED and ticket.used_at == DOOR
    log = db.session.scalars(
        select(ActivityLog).where(ActivityLog.action_type == "ticket.checked_in")
    ).one()
    assert log.user_id == staff.id and log.entity_id == str(ticket.id)
    assert log.details["seats"] == ["2A", "2B"]

    second = tickets.check_in(token, staff_id=staff.id, now=DOOR + timedelta(minutes=5))
    assert second.status == ScanStatus.USED
    assert "Already checked in at 10:30 (5 min ago)" in second.message
    assert tickets.verify(token, DOOR).status == ScanStatus.USED


def test_check_in_refuses_forged_and_cancelled_tickets_without_changing_them(booking, staff):
    """Only a valid ticket changes state; a cancelled one stays cancelled."""
    assert tickets.check_in("forged", staff_id=staff.id, now=DOOR).status == ScanStatus.NOT_A_TICKET
    ticket = cancel_seat(booking, "", whole=True)
    result = tickets.check_in(ticket.qr_payload, staff_id=staff.id, now=DOOR)
    assert result.status == ScanStatus.CANCELLED
    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).validity == TicketValidity.CANCELLED
    assert not db.session.scalars(
        select(ActivityLog).where(ActivityLog.action_type == "ticket.checked_in")
    ).all()


@pytest.mark.postgres
def test_two_scanners_at_once_admit_the_ticket_once(app, booking, staff):
    """Two check-ins racing on PostgreSQL: exactly one admits, the other sees it used."""
    # Plain values: the threads must not touch this thread's session through lazy loads.
    token, staff_id = booking.ticket.qr_payload, staff.id
    start = threading.Barrier(2)
    outcomes = []

    def scan():
        with app.app_context():
            start.wait()
            outcomes.append(tickets.check_in(token, staff_id=staff_id, now=DOOR).status)
            db.session.remove()

    threads = [threading.Thread(target=scan) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == [ScanStatus.USED, ScanStatus.VALID]


def test_cancellation_policy_is_built_from_the_settings(make_app):
    """The policy text follows the cancellation settings."""
    app = make_app(
        CANCEL_FULL_REFUND_HOURS=48,
        CANCEL_CUSTOMER_CUTOFF_HOURS=6,
        CANCEL_PARTIAL_REFUND_PERCENT=25,
    )
    with app.app_context():
        text = wording.cancellation_policy()
    assert text.startswith(
        "Cancel more than 48 hours before departure: 100% refund. Between 6 and 48 hours: 25%. "
        "Within 6 hours: no cancellation online."
    )


def pdf_page_image(pdf: bytes, scale: float = 2) -> Image.Image:
    """Page 1 of a PDF as an image."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        return document[0].render(scale=scale).to_pil()
    finally:
        document.close()


def pdf_text(pdf: bytes) -> str:
    """The text of page 1 of a PDF, runs of whitespace made one space."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        return " ".join(document[0].get_textpage().get_text_range().split())
    finally:
        document.close()


def test_the_pdf_ticket_carries_a_scannable_qr_and_the_trip(app_ctx):
    """One A4 page whose QR decodes to the current token, with the journey and fare on it."""
    promo = PromoCode(
        code="FEST50",
        kind=PromoKind.FLAT,
        amount_off=Decimal("50.00"),
        valid_from=NOW - timedelta(days=1),
        valid_until=NOW + timedelta(days=30),
    )
    db.session.add(promo)
    db.session.commit()
    schedule = make_trip(origin="Bengaluru", destination="Chennai", base_price="650.00")
    booking = book(
        make_user(first_name="Meera"),
        schedule,
        ["1A", "2A", "3A"],
        passengers=[*PASSENGERS, ("Zoë Łukasiewicz", 7, Gender.FEMALE)],
        promo=promo,
    )
    ticket = cancel_seat(booking, "3A", refund=True)
    pdf = ticket_pdf.render_pdf(booking)

    assert pdf.startswith(b"%PDF")
    document = pypdfium2.PdfDocument(pdf)
    assert len(document) == 1
    width, height = document[0].get_size()
    document.close()
    assert (round(width), round(height)) == (595, 842)  # A4 in points

    assert decode_qr(pdf_page_image(pdf)) == [ticket.qr_payload]
    assert tickets.verify(ticket.qr_payload, DOOR).status == ScanStatus.VALID

    text = pdf_text(pdf)
    for expected in [
        "ABCD3467",
        ticket.ticket_number,
        "Bengaluru → Chennai",
        "Thu 03 Dec 2026, 11:30 IST",  # 06:00 UTC two days on, in Asia/Kolkata
        "Thu 03 Dec 2026, 17:30 IST",
        schedule.bus.bus_number,
        "Deluxe",
        "Asha Rao",
        "CONFIRMED (1 of 3 seats cancelled)",
        # The bundled Unicode font keeps every letter.
        "3A Zoë Łukasiewicz 7 Female Rs 650.00 Cancelled",
        "1A Asha Rao 34 Female Rs 700.00 Booked",  # 650 + 50 for a premium seat
        "Seat 1A (Rs 650.00 + Rs 50.00 premium seat) Rs 700.00",
        "Seat 2A Rs 650.00",
        "Base fares (3 seats \N{MULTIPLICATION SIGN} Rs 650.00) Rs 1,950.00",
        "Seat extras Rs 50.00",
        "Discount FEST50 \N{MINUS SIGN}Rs 50.00",
        "GST 5% Rs 97.50",
        "Total paid Rs 2,047.50",
        "Refunded \N{MINUS SIGN}Rs 650.00",
        "Cancel more than 24 hours before departure: 100% refund.",
        "Paid by UPI",
    ]:
        assert expected in text, expected


def test_the_pdf_prints_the_arrow_and_names_in_indian_scripts(app_ctx):
    """The bundled Noto Sans (with its Devanagari and Tamil fallbacks) prints the route's arrow
    and passenger names in Hindi and Tamil, where the core PDF fonts printed '->' and '?'."""
    schedule = make_trip(origin="Bengaluru", destination="Chennai")
    booking = book(
        make_user(),
        schedule,
        ["1A", "2A"],
        passengers=[("अनन्या शर्मा", 29, Gender.FEMALE), ("கார்த்திக் ராஜா", 41, Gender.MALE)],
    )
    text = pdf_text(ticket_pdf.render_pdf(booking))
    assert "Bengaluru → Chennai" in text
    assert "अनन्या शर्मा" in text and "கார்த்திக் ராஜா" in text
    assert "?" not in text.split("Passengers")[1].split("Fare")[0]


def test_a_booking_without_a_ticket_has_no_pdf(booking):
    """render_pdf refuses a booking whose ticket was never issued."""
    db.session.delete(booking.ticket)
    db.session.flush()
    db.session.expire(booking, ["ticket"])
    with pytest.raises(MissingTicket, match="no ticket yet"):
        ticket_pdf.render_pdf(booking)
    db.session.rollback()


def test_the_calendar_event_names_the_trip_the_seats_and_the_operator(booking):
    """trip.ics: one event from departure to arrival (UTC) at the origin, its text escaped."""
    schedule = booking.schedule
    calendar = Calendar.from_ical(trip_calendar.trip_event(booking, NOW))
    assert str(calendar["prodid"]) == "-//Demo Travels//Bus booking//EN"
    assert str(calendar["version"]) == "2.0"
    [event] = calendar.walk("VEVENT")
    assert str(event["uid"]) == f"{booking.id}@{booking.reference.lower()}.booking"
    assert event.decoded("dtstamp") == NOW
    assert event.decoded("dtstart") == schedule.departure_at
    assert event.decoded("dtend") == schedule.arrival_at
    origin, destination = schedule.route.origin_city, schedule.route.destination_city
    assert str(event["summary"]) == f"Bus {origin} to {destination}"
    assert str(event["location"]) == origin
    assert str(event["description"]) == (
        f"Booking {booking.reference}, seats 2A, 2B, bus {schedule.bus.bus_number} "
        f"({schedule.bus.type_label}). Show the QR code of your ticket when boarding."
    )
    # Commas in text are escaped on the wire, as RFC 5545 asks.
    assert b"seats 2A\\, 2B" in trip_calendar.trip_event(booking, NOW)
