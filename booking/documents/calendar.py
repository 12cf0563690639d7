"""The trip as an iCalendar (RFC 5545) event, written by the icalendar library."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app
from icalendar import Calendar, Event

from booking.models import Booking


def trip_event(booking: Booking, now: datetime) -> bytes:
    """The booking's trip as a one-event calendar, to add it to a calendar app (times in UTC)."""
    schedule = booking.schedule
    route = schedule.route
    event = Event()
    event.add("uid", f"{booking.id}@{booking.reference.lower()}.booking")
    event.add("dtstamp", now.astimezone(UTC))
    event.add("dtstart", schedule.departure_at.astimezone(UTC))
    event.add("dtend", schedule.arrival_at.astimezone(UTC))
    event.add("summary", f"Bus {route.origin_city} to {route.destination_city}")
    event.add("location", route.origin_city)
    event.add(
        "description",
        f"Booking {booking.reference}, seats {', '.join(booking.booked_numbers)}, "
        f"bus {schedule.bus.bus_number} ({schedule.bus.type_label}). "
        "Show the QR code of your ticket when boarding.",
    )
    calendar = Calendar()
    calendar.add("prodid", f"-//{current_app.config['OPERATOR_NAME']}//Bus booking//EN")
    calendar.add("version", "2.0")
    calendar.add_component(event)
    return calendar.to_ical()
