"""Seat map (anyone) and the seat form's POST (signed-in customers)."""

from __future__ import annotations

import uuid

from flask import current_app, flash, redirect, request, url_for
from flask_login import current_user

from booking.models.enums import Role
from booking.orm import utcnow
from booking.services import holds, inventory
from booking.services.errors import DomainError
from booking.web.forms import first_error
from booking.web.htmx import render
from booking.web.schedules import bp
from booking.web.schedules.forms import SeatChoiceForm


def _page(
    schedule_id: uuid.UUID,
    ticked: list[str],
    error: str | None = None,
    status=200,
    form: SeatChoiceForm | None = None,
):
    """The seat map page as the current visitor sees it."""
    now = utcnow()
    viewer = current_user.id if current_user.is_authenticated else None
    seat_map = inventory.seat_map(schedule_id, now, viewer_id=viewer)
    mine = [n for n, seat in seat_map.seats.items() if seat.state == inventory.YOURS]
    return render(
        "schedules/seat_map.html",
        "schedules/_seat_map.html",
        status=status,
        form=form or SeatChoiceForm(),
        seat_map=seat_map,
        ticked=set(ticked) | set(mine),
        mine=sorted(mine),
        hold=seat_map.my_hold,
        error=error,
        max_seats=current_app.config["MAX_SEATS_PER_HOLD"],
    )


@bp.get("/schedules/<uuid:schedule_id>")
def seat_map(schedule_id: uuid.UUID):
    """The decks of the bus with every seat's state; ?seats=1A&seats=1B comes back ticked."""
    return _page(schedule_id, [s.upper() for s in request.args.getlist("seats")])


@bp.post("/schedules/<uuid:schedule_id>/holds")
def hold(schedule_id: uuid.UUID):
    """Hold the ticked seats (or change the seats of the customer's hold on this trip)."""
    form = SeatChoiceForm()
    chosen = form.seats.data or []
    if not current_user.is_authenticated:
        flash("Sign in or create an account to hold your seats; they are still ticked.", "info")
        back = url_for("schedules.seat_map", schedule_id=schedule_id, seats=chosen)
        return redirect(url_for("auth.login", next=back))
    if current_user.role != Role.CUSTOMER:  # counter staff sell from the desk, seats kept
        return redirect(url_for("desk.sell", schedule_id=schedule_id, typed=" ".join(chosen)))
    if not form.validate():
        return _page(schedule_id, chosen, first_error(form), 400, form)
    try:
        made = holds.hold_seats(
            customer_id=current_user.id,
            schedule_id=schedule_id,
            seat_numbers=chosen,
            now=utcnow(),
        )
    except DomainError as error:
        taken = set(error.details.get("taken", []))
        return _page(
            schedule_id,
            [s for s in chosen if s.upper() not in taken],
            error.message,
            error.status,
            form,
        )
    return redirect(url_for("checkout.checkout", hold_id=made.id))
