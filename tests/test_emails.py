"""Email bodies rendered from templates/email: the same words as ever in the text part, an HTML
alternative beside it, and both stored in the outbox and sent together over SMTP."""

from __future__ import annotations

import email
import email.policy
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from jinja2 import UndefinedError

from booking.documents.emails import render_email
from booking.extensions import db
from booking.models import OutboxEmail
from booking.models.enums import EmailStatus, RefundMode
from booking.services import notifications
from tests.support import NOW

DEPARTS = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)  # 11:30 in Asia/Kolkata


def trip(route="Bengaluru to Chennai"):
    """A stand-in schedule with what the templates read."""
    return SimpleNamespace(
        route=SimpleNamespace(name=route),
        departure_at=DEPARTS,
        bus=SimpleNamespace(bus_number="KA01AB1234", type_label="Deluxe"),
    )


def a_booking(**changes):
    """A stand-in booking."""
    values = {
        "reference": "ABCD3467",
        "contact_name": "Asha Rao",
        "total_amount": Decimal("102500.00"),
        "schedule": trip(),
    }
    values.update(changes)
    return SimpleNamespace(**values)


def seats(*numbers):
    """Stand-in seats."""
    return [SimpleNamespace(seat_number=n) for n in numbers]


def test_the_confirmation_says_what_it_always_said(app_ctx):
    """Subject and text as the service used to write them; the HTML says the same things."""
    booking = a_booking()
    rendered = render_email(
        "booking_confirmed", booking=booking, schedule=booking.schedule, seats=seats("1A", "2B")
    )
    assert rendered.subject == "Your ticket ABCD3467: Bengaluru to Chennai"
    assert rendered.text == (
        "Hello Asha Rao,\n\n"
        "Your booking ABCD3467 is confirmed.\n"
        "Bengaluru to Chennai, departing 03 Dec 2026, 11:30\n"
        "Bus KA01AB1234 (Deluxe), seats 1A, 2B\n"
        "Total paid: Rs 1,02,500.00\n\n"
        "Your ticket is attached; show its QR code when you board.\n"
    )
    html = rendered.html
    assert html.startswith("<!DOCTYPE html>") and '<html lang="en">' in html
    assert "<title>Your ticket ABCD3467: Bengaluru to Chennai</title>" in html
    for fact in ["ABCD3467", "Asha Rao", "03 Dec 2026, 11:30", "1A, 2B", "Rs 1,02,500.00"]:
        assert fact in html, fact


def test_a_whole_cancellation_with_a_refund_to_the_wallet(app_ctx):
    """The whole booking cancelled, the refund going to the wallet."""
    preview = SimpleNamespace(
        seat_numbers=("1A", "2B"), amount=Decimal("1000.00"), percent=100, rule="More than 24h."
    )
    rendered = render_email(
        "booking_cancelled",
        booking=a_booking(),
        preview=preview,
        mode=RefundMode.WALLET,
        whole=True,
    )
    assert rendered.subject == "Booking ABCD3467: cancelled"
    assert rendered.text == (
        "Hello Asha Rao,\n\nYour booking is cancelled.\n"
        "Booking ABCD3467: Bengaluru to Chennai, 03 Dec 2026, 11:30.\n"
        "We are refunding Rs 1,000.00 (100%) to your wallet.\nMore than 24h.\n"
    )
    assert "to your wallet" in rendered.html


def test_some_seats_cancelled_without_a_refund(app_ctx):
    """Some seats cancelled, nothing due: the subject names the seats."""
    preview = SimpleNamespace(
        seat_numbers=("2B",), amount=Decimal("0.00"), percent=0, rule="Within 2 hours."
    )
    rendered = render_email(
        "booking_cancelled",
        booking=a_booking(contact_name="Ravi <Rao>"),
        preview=preview,
        mode=RefundMode.ORIGINAL,
        whole=False,
    )
    assert rendered.subject == "Booking ABCD3467: seats 2B cancelled"
    assert rendered.text == (
        "Hello Ravi <Rao>,\n\n"
        "Seats 2B are cancelled; your other seats stay booked and your updated ticket is "
        "attached.\n"
        "Booking ABCD3467: Bengaluru to Chennai, 03 Dec 2026, 11:30.\n"
        "No refund is due under our cancellation policy.\nWithin 2 hours.\n"
    )
    # The text part is plain text; the HTML part escapes what a customer typed.
    assert "Ravi &lt;Rao&gt;" in rendered.html and "<Rao>" not in rendered.html


def test_the_late_payment_refund(app_ctx):
    """The refund of a payment that came after the seats were gone."""
    rendered = render_email("late_payment_refunded", total=Decimal("1050.00"), why="seat taken")
    assert rendered.subject == "Your payment was refunded"
    assert rendered.text == (
        "Your payment of Rs 1,050.00 arrived after your seats were released, and they could not "
        "be held again (seat taken). We have refunded it in full: the wallet part to your wallet "
        "at once, the rest to your original payment method."
    )
    assert "Rs 1,050.00" in rendered.html


def test_a_missing_context_key_is_an_error_not_a_blank(app_ctx):
    """A template that names a key the caller forgot refuses to render."""
    with pytest.raises(UndefinedError):
        render_email("late_payment_refunded", total=Decimal("1.00"))


def queued(app_ctx, **changes) -> OutboxEmail:
    """A late-payment email queued and committed."""
    arguments = {
        "kind": "late_payment_refunded",
        "to": "asha@example.com",
        "now": NOW,
        "context": {"total": Decimal("1050.00"), "why": "seat taken"},
    }
    arguments.update(changes)
    email_row = notifications.queue(**arguments)
    db.session.commit()
    return email_row


def test_the_outbox_keeps_the_text_and_the_html(app_ctx):
    """queue renders the kind and stores subject, text body and HTML body."""
    row = queued(app_ctx)
    stored = db.session.get(OutboxEmail, row.id)
    assert stored.subject == "Your payment was refunded"
    assert stored.body.startswith("Your payment of Rs 1,050.00 arrived")
    assert stored.html_body.startswith("<!DOCTYPE html>")
    assert notifications.queue(kind="late_payment_refunded", to=None, now=NOW, context={}) is None


class RecordingSMTP:
    """Stands in for smtplib.SMTP and keeps what was sent."""

    sent: list = []

    def __init__(self, *args, **kwargs):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def send_message(self, message):
        RecordingSMTP.sent.append(message.as_bytes())


def test_smtp_sends_the_text_with_an_html_alternative(app_ctx, monkeypatch):
    """multipart/alternative: text first (what plain clients show), then the HTML."""
    monkeypatch.setattr(notifications.smtplib, "SMTP", RecordingSMTP)
    monkeypatch.setitem(app_ctx.config, "SMTP_HOST", "smtp.test")
    RecordingSMTP.sent = []
    row = queued(app_ctx)
    assert notifications.send(row.id, NOW) == EmailStatus.SENT
    [raw] = RecordingSMTP.sent
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message.get_content_type() == "multipart/alternative"
    assert message["Subject"] == "Your payment was refunded"
    text, html = message.iter_parts()
    assert text.get_content_type() == "text/plain" and "Rs 1,050.00" in text.get_content()
    assert html.get_content_type() == "text/html" and "<!DOCTYPE html>" in html.get_content()


def test_an_email_without_html_is_sent_as_plain_text(app_ctx, monkeypatch):
    """Messages queued before the HTML column existed still go out, as text alone."""
    monkeypatch.setattr(notifications.smtplib, "SMTP", RecordingSMTP)
    monkeypatch.setitem(app_ctx.config, "SMTP_HOST", "smtp.test")
    RecordingSMTP.sent = []
    old = OutboxEmail(
        id=uuid.uuid4(),
        to_address="asha@example.com",
        subject="Hello",
        body="Plain words.\n",
        kind="legacy",
        created_at=NOW,
        updated_at=NOW,
    )
    db.session.add(old)
    db.session.commit()
    assert notifications.send(old.id, NOW) == EmailStatus.SENT
    message = email.message_from_bytes(RecordingSMTP.sent[0], policy=email.policy.default)
    assert message.get_content_type() == "text/plain"
    assert message.get_content() == "Plain words.\n"
