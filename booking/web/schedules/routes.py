"""Seat map (anyone) and the seat form's POST (signed-in customers)."""

from __future__ import annotations

import uuid

from flask import current_app, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from booking.models.enums import Role
from booking.orm import utcnow
from booking.services import holds, inventory, pricing
from booking.services.errors import DomainError
from booking.services.pricing import PricingError
from booking.web.forms import first_error
from booking.web.htmx import is_htmx, render
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
    ticked = set(ticked) | set(mine)
    return render(
        "schedules/seat_map.html",
        "schedules/_seat_map.html",
        status=status,
        form=form or SeatChoiceForm(),
        seat_map=seat_map,
        ticked=ticked,
        mine=sorted(mine),
        hold=seat_map.my_hold,
        error=error,
        **_tally(schedule_id, [n for n in seat_map.seats if n in ticked]),
    )


def _tally(schedule_id: uuid.UUID, chosen: list[str]) -> dict:
    """The seat form's running tally of ``chosen``: priced by the one pricing function, or the
    reason it cannot be (an unknown seat, too many seats)."""
    most = current_app.config["MAX_SEATS_PER_HOLD"]
    tally = {"chosen": chosen, "quote": None, "tally_error": None, "max_seats": most}
    if len(chosen) > most:
        tally["tally_error"] = f"You can hold at most {most} seats at a time."
    elif chosen:
        try:
            quote = pricing.quote_seat_numbers(schedule_id, chosen, now=utcnow())
        except PricingError as error:
            tally["tally_error"] = error.message
        else:
            tally.update(quote=quote, chosen=[seat.seat_number for seat in quote.seats])
    return tally


@bp.get("/schedules/<uuid:schedule_id>")
def seat_map(schedule_id: uuid.UUID):
    """The decks of the bus with every seat's state; ?seats=1A&seats=1B comes back ticked."""
    return _page(schedule_id, [s.upper() for s in request.args.getlist("seats")])


@bp.get("/schedules/<uuid:schedule_id>/price")
def price(schedule_id: uuid.UUID):
    """The running tally of the ticked seats for the seat form (htmx asks on every change);
    without htmx, the seat map with those seats ticked, which shows the same tally.

    :raise NotFound: for an unknown trip.
    """
    chosen = list(dict.fromkeys(s.strip().upper() for s in request.args.getlist("seats")))
    if not is_htmx():
        return redirect(url_for("schedules.seat_map", schedule_id=schedule_id, seats=chosen))
    tally = _tally(schedule_id, [s for s in chosen if s])
    response = make_response(
        render_template("schedules/_seat_tally.html", **tally), 400 if tally["tally_error"] else 200
    )
    response.vary.add("HX-Request")
    return response


@bp.post("/schedules/<uuid:schedule_id>/holds")
def hold(schedule_id: uuid.UUID):
    """Hold the ticked seats (or change the seats of the customer's hold on this trip)."""
    form = SeatChoiceForm()
    chosen = form.seats.data or []
    if not current_user.is_authenticated:
        flash("Sign in or create an account to hold your seats; they are still ticked.", "info")
        back = url_for("schedules.seat_map", schedule_id=schedule_id, seats=chosen)
        return _go(url_for("auth.login", next=back))
    if current_user.role != Role.CUSTOMER:  # counter staff sell from the desk, seats kept
        return _go(url_for("desk.sell", schedule_id=schedule_id, typed=" ".join(chosen)))
    if not form.validate():
        if is_htmx():
            return _refused(schedule_id, first_error(form), 400)
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
        if is_htmx():
            return _refused(schedule_id, error.message, error.status, taken)
        return _page(
            schedule_id,
            [s for s in chosen if s.upper() not in taken],
            error.message,
            error.status,
            form,
        )
    return _go(url_for("checkout.checkout", hold_id=made.id))


def _go(target: str):
    """Send the browser to ``target``: a redirect, or for htmx (whose request follows a
    redirect in place) HX-Redirect, so the whole page goes there."""
    if is_htmx():
        return "", 204, {"HX-Redirect": target}
    return redirect(target)


def _refused(schedule_id: uuid.UUID, message: str, status: int, taken: set[str] = frozenset()):
    """A refused hold for htmx: the message (into the seat note) and, out of band, the cells of
    the seats that were taken, as the customer sees them now; not the whole seat map. The
    tally is asked again (``seats-changed``), and the customer's other ticks stay."""
    seats = []
    if taken:
        _version, views = inventory.seat_views(schedule_id, utcnow(), numbers=sorted(taken))
        seats = [view.for_viewer(current_user.id) for view in views]
    response = make_response(
        render_template("schedules/_hold_refused.html", message=message, seats=seats), status
    )
    response.headers["HX-Trigger"] = "seats-changed"
    response.vary.add("HX-Request")
    return response
