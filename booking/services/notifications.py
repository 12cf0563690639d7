"""Email: every message is rendered from its templates (booking.documents.emails) and written to
the outbox in the transaction that causes it, then sent by a Celery task after commit (over SMTP,
text with an HTML alternative, when SMTP_HOST is set; otherwise it stays in the outbox, which
admins can read)."""

from __future__ import annotations

import smtplib
import uuid
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

from flask import current_app
from sqlalchemy import insert, select, update

from booking.database import unit_of_work
from booking.documents import emails, ticket_pdf
from booking.extensions import db
from booking.models import Booking, OutboxEmail, Reservation, Route, Schedule, User
from booking.models.enums import Channel, EmailStatus
from booking.services import events


def queue(
    *,
    kind: str,
    to: str | None,
    now: datetime,
    context: dict[str, Any],
    booking_id: uuid.UUID | None = None,
    attach_ticket: bool = False,
) -> OutboxEmail | None:
    """Render the ``kind`` email with ``context`` (templates/email/<kind>.txt and .html) and add
    it to the outbox inside the current transaction; it is sent after commit."""
    if not to:
        return None  # a walk-in who gave no email: nothing to send
    rendered = emails.render_email(kind, **context)
    email = OutboxEmail(
        id=uuid.uuid4(),
        to_address=to,
        subject=rendered.subject[:200],
        body=rendered.text,
        html_body=rendered.html,
        kind=kind,
        booking_id=booking_id,
        attach_ticket=attach_ticket,
        created_at=now,
        updated_at=now,
    )
    db.session.add(email)
    events.announce(events.email_queued, email.id)
    return email


def queue_many(kind: str, messages: list[tuple[str, dict[str, Any]]], now: datetime) -> int:
    """Render a ``kind`` email for each (address, context) and add them all to the outbox in
    one statement of the current transaction (a sweep's batch); they are handed to a worker
    together after commit (``emails_queued``)."""
    rows = []
    for to, context in messages:
        rendered = emails.render_email(kind, **context)
        rows.append(
            {
                "id": uuid.uuid4(),
                "to_address": to,
                "subject": rendered.subject[:200],
                "body": rendered.text,
                "html_body": rendered.html,
                "kind": kind,
                "attach_ticket": False,
                "status": EmailStatus.PENDING,
                "created_at": now,
                "updated_at": now,
            }
        )
    if rows:
        # Core, not the ORM's bulk insert: nothing here needs objects back, and at a sweep's
        # 2,000 rows a batch the ORM's per-row bookkeeping costs more than the statement.
        db.session.execute(insert(OutboxEmail.__table__), rows)
        events.announce(events.emails_queued, tuple(row["id"] for row in rows))
    return len(rows)


def queue_hold_expired(holds: list, now: datetime) -> int:
    """In the current transaction, queue the ``hold_expired`` email for each lapsed hold (an
    ``EndedHold``) to its customer's account email; desk holds have no customer to tell. Set
    based: one read and one insert however many holds. They are sent after commit."""
    if not holds:
        return 0
    by_id = {hold.id: hold for hold in holds}
    rows = db.session.execute(
        select(
            Reservation.id,
            User.email,
            User.first_name,
            Route.origin_city,
            Route.destination_city,
            Schedule.departure_at,
        )
        .join(User, User.id == Reservation.user_id)
        .join(Schedule, Schedule.id == Reservation.schedule_id)
        .join(Route, Route.id == Schedule.route_id)
        .where(Reservation.id.in_(list(by_id)), Reservation.channel != Channel.DESK)
    ).all()
    messages = [
        (
            email,
            {
                "first_name": first_name,
                "route": f"{origin} to {destination}",
                "departure_at": departure_at,
                "seats": list(by_id[hold_id].seat_numbers),
                "held_until": by_id[hold_id].expires_at,
            },
        )
        for hold_id, email, first_name, origin, destination, departure_at in rows
        if by_id[hold_id].seat_numbers
    ]
    return queue_many("hold_expired", messages, now)


def send(email_id: uuid.UUID, now: datetime) -> EmailStatus:
    """Send one outbox message by SMTP if configured; record the outcome. Safe to repeat."""
    host = current_app.config.get("SMTP_HOST")
    if not host:
        return EmailStatus.PENDING  # no mail server: the outbox is where it is read
    email = db.session.get(OutboxEmail, email_id)
    if email is None or email.status == EmailStatus.SENT:
        return EmailStatus.SENT
    message = EmailMessage()
    message["From"] = current_app.config["MAIL_FROM"]
    message["To"] = email.to_address
    message["Subject"] = email.subject
    message.set_content(email.body)
    if email.html_body:
        message.add_alternative(email.html_body, subtype="html")
    if email.attach_ticket and email.booking_id:
        booking = db.session.get(Booking, email.booking_id)
        message.add_attachment(
            ticket_pdf.render_pdf(booking),
            maintype="application",
            subtype="pdf",
            filename=f"ticket-{booking.reference}.pdf",
        )
    try:
        with smtplib.SMTP(host, current_app.config["SMTP_PORT"], timeout=10) as smtp:
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        _mark(email_id, EmailStatus.FAILED, now, str(error)[:500])
        return EmailStatus.FAILED
    _mark(email_id, EmailStatus.SENT, now, None)
    return EmailStatus.SENT


def send_stale(now: datetime, older_than_seconds: int, limit: int = 200) -> int:
    """Send outbox messages still pending ``older_than_seconds`` after they were queued: their
    hand-over to a worker failed (Redis down or hung) or the worker died. Only with SMTP_HOST
    (without it the outbox is where mail is read). Returns how many were sent."""
    if not current_app.config.get("SMTP_HOST"):
        return 0
    cutoff = now - timedelta(seconds=older_than_seconds)
    stale = list(
        db.session.scalars(
            select(OutboxEmail.id)
            .where(OutboxEmail.status == EmailStatus.PENDING, OutboxEmail.created_at <= cutoff)
            .order_by(OutboxEmail.created_at)
            .limit(limit)
        )
    )
    db.session.rollback()  # end the read: each send records its own outcome
    return sum(send(email_id, now) == EmailStatus.SENT for email_id in stale)


def _mark(email_id: uuid.UUID, status: EmailStatus, now: datetime, error: str | None) -> None:
    """Record a send attempt."""
    with unit_of_work() as session:
        session.execute(
            update(OutboxEmail)
            .where(OutboxEmail.id == email_id)
            .values(
                status=status,
                sent_at=now if status == EmailStatus.SENT else None,
                error=error,
                updated_at=now,
            )
        )


def outbox(limit: int = 100) -> list[OutboxEmail]:
    """The newest outbox messages, for the admin."""
    return list(
        db.session.scalars(select(OutboxEmail).order_by(OutboxEmail.created_at.desc()).limit(limit))
    )
