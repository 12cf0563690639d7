"""Numbers for the admin dashboard."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select

from booking.extensions import db
from booking.models import Booking, Reservation, Schedule
from booking.models.enums import BookingStatus, HoldStatus, ScheduleStatus
from booking.services import shifts
from booking.services.catalog import local_day_bounds, local_today


def dashboard(now: datetime) -> dict:
    """Today's trips, live holds, today's bookings and takings (operator's day), and the
    counter shifts left open since before today."""
    start, end = local_day_bounds(local_today(now))
    trips_today = db.session.scalar(
        select(func.count())
        .select_from(Schedule)
        .where(
            Schedule.departure_at >= start,
            Schedule.departure_at < end,
            Schedule.status != ScheduleStatus.CANCELLED,
        )
    )
    live_holds = db.session.scalar(
        select(func.count())
        .select_from(Reservation)
        .where(Reservation.status == HoldStatus.ACTIVE, Reservation.expires_at > now)
    )
    bookings_today, takings_today = db.session.execute(
        select(
            func.count(), func.coalesce(func.sum(Booking.total_amount - Booking.refunded_amount), 0)
        ).where(
            Booking.confirmed_at >= start,
            Booking.confirmed_at < end,
            Booking.status != BookingStatus.CANCELLED,
        )
    ).one()
    return {
        "trips_today": trips_today,
        "live_holds": live_holds,
        "bookings_today": bookings_today,
        "takings_today": Decimal(takings_today),
        "shifts_open_overnight": [
            row for row in shifts.shifts_for_admin(now, open_only=True) if row.open_overnight
        ],
    }


def activity(
    *,
    entity_type: str | None = None,
    action: str | None = None,
    limit: int = 100,
    before: datetime | None = None,
) -> list:
    """The newest audit rows, optionally of one entity type or action (newest first)."""
    from booking.models import ActivityLog, User

    query = (
        select(ActivityLog, User.email)
        .outerjoin(User, User.id == ActivityLog.user_id)
        .order_by(ActivityLog.timestamp.desc(), ActivityLog.id)
        .limit(limit)
    )
    if entity_type:
        query = query.where(ActivityLog.entity_type == entity_type)
    if action:
        query = query.where(ActivityLog.action_type.like(f"{action}%"))
    if before is not None:
        query = query.where(ActivityLog.timestamp < before)
    return list(db.session.execute(query))


def activity_kinds() -> tuple[list[str], list[str]]:
    """The entity types and action types present, for the filters."""
    from booking.models import ActivityLog

    types = sorted(db.session.scalars(select(ActivityLog.entity_type).distinct()))
    actions = sorted(db.session.scalars(select(ActivityLog.action_type).distinct()))
    return types, actions
