"""The email outbox: every message the system sends is written here first."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from booking.db_types import enum_type
from booking.extensions import db
from booking.models.enums import EmailStatus
from booking.orm import IdMixin, TimestampMixin


class OutboxEmail(IdMixin, TimestampMixin, db.Model):
    """A message to one recipient; a booking_id attaches that booking's ticket PDF when sent."""

    __tablename__ = "outbox_emails"

    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    # The HTML alternative of body; null for messages queued before emails had one.
    html_body: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(40))
    booking_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("bookings.id"), index=True)
    attach_ticket: Mapped[bool] = mapped_column(default=False)
    status: Mapped[EmailStatus] = mapped_column(
        enum_type(EmailStatus, "email_status"), default=EmailStatus.PENDING
    )
    sent_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(String(500))
