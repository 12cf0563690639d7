"""Admin views; every one is for admins only."""

from __future__ import annotations

import uuid

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from booking.formatting import local_time
from booking.models.enums import Role
from booking.orm import utcnow
from booking.services import holds, notifications
from booking.services.errors import Busy, DomainError, NotFound
from booking.web.access import role_required
from booking.web.admin import bp
from booking.web.admin.forms import ExtendHoldForm, ReleaseHoldForm
from booking.web.forms import first_error
from booking.web.htmx import render


def _holds_page(status: int = 200, errors: dict | None = None, trip: str | None = None):
    """The live-holds console (or its table, for htmx), narrowed to one trip when asked;
    ``errors`` maps a hold id to the message shown beside that hold's form."""
    now = utcnow()
    every = holds.active_holds(now)
    trips = {row.schedule_id: row for row in every}
    trip_id = next((tid for tid in trips if str(tid) == (trip or "").strip()), None)
    limit = current_app.config["ADMIN_EXTEND_MAX_MINUTES"]
    return render(
        "admin/holds.html",
        "admin/_holds.html",
        status,
        rows=[row for row in every if trip_id in (None, row.schedule_id)],
        trips=sorted(trips.values(), key=lambda row: (row.departure_at, row.route)),
        trip_id=trip_id,
        unknown_trip=bool(trip) and trip_id is None,
        now=now,
        lapsing_seconds=current_app.config["HOLD_LAPSING_SECONDS"],
        form=ReleaseHoldForm(formdata=None),
        extend_form=ExtendHoldForm(formdata=None).offer_up_to(limit),
        errors=errors or {},
    )


def _back_to_holds():
    """Back to the console, keeping the trip filter the form was posted from."""
    trip = (request.form.get("trip") or "").strip()
    return redirect(url_for("admin.holds", trip=trip) if trip else url_for("admin.holds"))


@bp.get("/holds", endpoint="holds")
@role_required(Role.ADMIN)
def live_holds():
    """Every active hold with its time left, release and extend; ``?trip=`` narrows to a trip;
    refreshes itself."""
    return _holds_page(trip=request.args.get("trip"))


@bp.post("/holds/<uuid:hold_id>/release")
@role_required(Role.ADMIN)
def release_hold(hold_id: uuid.UUID):
    """Release a hold with the reason the admin gives. Without one the console comes back
    (422) with the message beside that hold's field, and nothing changes."""
    form = ReleaseHoldForm()
    if not form.validate():
        errors = {str(hold_id): ("release", first_error(form))}
        return _holds_page(422, errors, trip=request.form.get("trip"))
    try:
        holds.admin_release(
            hold_id, admin_id=current_user.id, reason=form.reason.data, now=utcnow()
        )
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash("Hold released; its seats are free again.", "success")
    return _back_to_holds()


@bp.post("/holds/<uuid:hold_id>/extend")
@role_required(Role.ADMIN)
def extend_hold(hold_id: uuid.UUID):
    """Give a live hold more minutes (at most ADMIN_EXTEND_MAX_MINUTES); a refusal comes back
    (422) beside that hold's form."""
    form = ExtendHoldForm()
    if not form.validate() or not isinstance(form.minutes.data, int):
        errors = {str(hold_id): ("extend", "Choose how many minutes to add.")}
        return _holds_page(422, errors, trip=request.form.get("trip"))
    try:
        held = holds.admin_extend(
            hold_id, admin_id=current_user.id, minutes=form.minutes.data, now=utcnow()
        )
    except NotFound as error:
        flash(error.message, "error")
    except DomainError as error:
        errors = {str(hold_id): ("extend", error.message)}
        status = error.status if isinstance(error, Busy) else 422
        return _holds_page(status, errors, trip=request.form.get("trip"))
    else:
        flash(
            f"Hold extended; it now lasts until {local_time(held.expires_at, '%H:%M:%S')}.",
            "success",
        )
    return _back_to_holds()


@bp.get("/outbox")
@role_required(Role.ADMIN)
def outbox():
    """The emails the system has written (sent by SMTP when it is configured)."""
    return render_template("admin/outbox.html", emails=notifications.outbox())
