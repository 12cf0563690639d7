"""The audit log: one row per state change, written in the same transaction as the change."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from booking.extensions import db
from booking.orm import IdMixin, utcnow


class ActivityLog(IdMixin, db.Model):
    """Who did what to which entity, when, from where. user_id is null for the system."""

    __tablename__ = "activity_logs"
    __table_args__ = (Index("ix_activity_logs_entity", "entity_type", "entity_id"),)

    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), index=True)
    action_type: Mapped[str] = mapped_column(String(60), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    ip_address: Mapped[str | None] = mapped_column(String(45))
    timestamp: Mapped[datetime] = mapped_column(default=utcnow, index=True)
