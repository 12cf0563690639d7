"""The boarding manifest read: groups by deck in seat order, check-in state and totals."""

from __future__ import annotations

from datetime import timedelta

from booking.documents import manifest_pdf
from booking.documents.wording import checkin_state, no_shows_text
from booking.models.enums import Channel, Role
from booking.services import manifests, tickets
from tests.support import NOW, make_trip, make_user
from tests.test_tickets import book, cancel_seat

DEPARTURE = NOW + timedelta(days=2)


def test_a_two_deck_bus_groups_by_deck_in_seat_order_and_counts_no_shows(app_ctx):
    """Sleeper: lower deck then upper deck; cancelled seats are left out; after departure the
    seats not scanned are no-shows."""
    trip = make_trip(layout="sleeper_2x1")
    numbers = [seat.seat_number for seat in sorted(trip_seats(trip), key=seat_order)]
    lower = [n for n in numbers if n.startswith("L")][:2]
    upper = [n for n in numbers if n.startswith("U")][:1]
    first = book(make_user(), trip, [*lower], reference="MNPQ3467")
    second = book(
        make_user(), trip, [*upper], reference="RTUV3467", passengers=[("Meera Iyer", 61, "female")]
    )
    cancel_seat(first, lower[1])
    clerk = make_user(Role.STAFF)
    at = DEPARTURE - timedelta(hours=1)
    assert tickets.check_in(first.ticket.qr_payload, staff_id=clerk.id, now=at).status == "valid"

    before = manifests.trip_manifest(trip.id, at)
    assert [group.label for group in before.groups] == ["Lower deck", "Upper deck"]
    assert before.grouped_by == "deck"
    assert [row.seat_number for row in before.rows] == [lower[0], upper[0]]
    row = before.rows[0]
    assert (row.passenger_name, row.reference, row.channel) == (
        "Asha Rao",
        "MNPQ3467",
        Channel.ONLINE,
    )
    assert row.checked_in_at == at and checkin_state(row, before.departed) == "checked in at 10:30"
    assert checkin_state(before.rows[1], before.departed) == "not yet"
    assert (before.totals.booked, before.totals.checked_in, before.totals.no_shows) == (2, 1, None)
    assert no_shows_text(before.totals) == "not yet boarded (1 to come)"
    assert second.reference == before.rows[1].reference

    after = manifests.trip_manifest(trip.id, DEPARTURE + timedelta(minutes=5))
    assert after.departed and after.totals.no_shows == 1
    assert checkin_state(after.rows[1], after.departed) == "no-show"
    assert no_shows_text(after.totals) == "1"
    assert manifest_pdf.render_pdf(after).startswith(b"%PDF")


def trip_seats(trip):
    from sqlalchemy import select

    from booking.extensions import db
    from booking.models import Seat

    return db.session.scalars(select(Seat).where(Seat.schedule_id == trip.id)).all()


def seat_order(seat):
    return (seat.deck, seat.row_index, seat.column_index)
