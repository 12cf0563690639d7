"""Timetable pages for admins: recurring trips, one trip's operations, bulk actions over
chosen upcoming trips (and a plain chooser for them). GET never changes anything."""

from __future__ import annotations

import uuid

from flask import flash, redirect, request, url_for
from flask_login import current_user

from booking.models.enums import Role
from booking.orm import utcnow
from booking.services import cancellations, timetable, trips
from booking.services.errors import DomainError
from booking.web.access import role_required
from booking.web.admin import bp
from booking.web.admin.timetable_forms import (
    BulkForm,
    CancelTripForm,
    DepartedForm,
    RecurringForm,
    SwapBusForm,
)
from booking.web.forms import first_error
from booking.web.htmx import is_htmx, render

PER_PAGE = 50


def _bus_label(bus) -> str:
    return f"{bus.bus_number} ({bus.type_label}, {bus.total_seats} seats)"


# ---- recurring trips ---------------------------------------------------------------------------


def _recurring_form() -> RecurringForm:
    form = RecurringForm()
    routes, buses = timetable.choices()
    form.route_id.choices = {"": "Choose a route"} | {str(r.id): r.name for r in routes}
    form.bus_id.choices = {"": "Choose a bus"} | {str(b.id): _bus_label(b) for b in buses}
    return form


def _recurring(form: RecurringForm, status: int = 200, **context):
    return render(
        "admin/timetable/recurring.html",
        "admin/timetable/_recurring.html",
        status=status,
        form=form,
        **context,
    )


@bp.get("/schedules/recurring")
@role_required(Role.ADMIN)
def recurring():
    """The recurring timetable form."""
    return _recurring(_recurring_form(), plan=None)


@bp.post("/schedules/recurring")
@role_required(Role.ADMIN)
def recurring_post():
    """Preview the trips a recurring timetable makes, or create them (action=create)."""
    form = _recurring_form()
    if not form.validate():
        return _recurring(form, status=400, plan=None, error=first_error(form))
    now = utcnow()
    try:
        plan = timetable.plan(
            uuid.UUID(form.route_id.data),
            uuid.UUID(form.bus_id.data),
            form.first_day.data,
            form.last_day.data,
            form.weekdays.data,
            form.times,
            form.base_price.data,
            now,
        )
        if form.action.data != "create":
            return _recurring(form, plan=plan)
        done = timetable.create(
            plan.request, now, current_user.id, on_conflict=form.on_conflict.data or "skip"
        )
    except DomainError as error:
        return _recurring(form, status=error.status, plan=None, error=error.message)
    message = f"{len(done.schedule_ids)} trip(s) created"
    if done.existing:
        message += f"; {done.existing} already existed"
    if done.skipped:
        message += f"; {done.skipped} skipped"
    flash(message + ".", "success")
    target = url_for("admin.upcoming_trips")
    if is_htmx():  # the form swaps a fragment: have htmx load the list as a whole page
        return "", 204, {"HX-Redirect": target}
    return redirect(target)


# ---- one trip ----------------------------------------------------------------------------------


def _trip_page(schedule_id: uuid.UUID, status: int = 200, **forms):
    trip = trips.overview(schedule_id, utcnow())
    swap = forms.get("swap") or SwapBusForm(formdata=None)
    swap.bus_id.choices = {"": "Choose a bus"} | {str(b.id): _bus_label(b) for b in trip.buses}
    return render(
        "admin/timetable/trip.html",
        "admin/timetable/_trip.html",
        status=status,
        trip=trip,
        cancel=forms.get("cancel") or CancelTripForm(formdata=None),
        swap=swap,
        departed=forms.get("departed") or DepartedForm(formdata=None),
        error=forms.get("error"),
    )


@bp.get("/trips/<uuid:schedule_id>")
@role_required(Role.ADMIN)
def trip(schedule_id: uuid.UUID):
    """A trip's status, seats sold/held/free, and its operations."""
    return _trip_page(schedule_id)


@bp.post("/trips/<uuid:schedule_id>/cancel")
@role_required(Role.ADMIN)
def trip_cancel(schedule_id: uuid.UUID):
    """Cancel the trip: every booking refunded in full, passengers emailed, seats released."""
    form = CancelTripForm()
    if not form.validate():
        return _trip_page(schedule_id, 400, cancel=form, error=first_error(form))
    try:
        done = cancellations.cancel_trip(
            schedule_id, admin_id=current_user.id, reason=form.reason.data, now=utcnow()
        )
    except DomainError as error:
        return _trip_page(schedule_id, error.status, cancel=form, error=error.message)
    flash(
        f"Trip cancelled: {done.bookings_cancelled} booking(s) refunded in full, "
        f"{done.holds_released} hold(s) released.",
        "success",
    )
    return redirect(url_for("admin.trip", schedule_id=schedule_id))


@bp.post("/trips/<uuid:schedule_id>/bus")
@role_required(Role.ADMIN)
def trip_swap_bus(schedule_id: uuid.UUID):
    """Run the trip with another bus (refused when a sold or held seat would vanish)."""
    form = SwapBusForm()
    form.bus_id.choices = None  # checked by the service: any active bus
    form.bus_id.validate_choice = False
    if not form.validate():
        return _trip_page(schedule_id, 400, swap=form, error=first_error(form))
    try:
        bus_id = uuid.UUID(form.bus_id.data)
        moved = trips.swap_bus(schedule_id, bus_id, admin_id=current_user.id, now=utcnow())
    except ValueError:
        return _trip_page(schedule_id, 400, swap=form, error="Choose a bus.")
    except DomainError as error:
        return _trip_page(schedule_id, error.status, swap=form, error=error.message)
    flash(f"The trip now runs with bus {moved.bus.bus_number}.", "success")
    return redirect(url_for("admin.trip", schedule_id=schedule_id))


@bp.post("/trips/<uuid:schedule_id>/departed")
@role_required(Role.ADMIN)
def trip_departed(schedule_id: uuid.UUID):
    """The bus has left: no more sales on this trip."""
    form = DepartedForm()
    if not form.validate():
        return _trip_page(schedule_id, 400, error=first_error(form))
    try:
        trips.mark_departed([schedule_id], admin_id=current_user.id, now=utcnow())
    except DomainError as error:
        return _trip_page(schedule_id, error.status, error=error.message)
    flash("Marked departed; the trip is no longer on sale.", "success")
    return redirect(url_for("admin.trip", schedule_id=schedule_id))


# ---- choosing upcoming trips, and acting on them ------------------------------------------------


@bp.get("/timetable/upcoming", endpoint="upcoming_trips")
@role_required(Role.ADMIN)
def upcoming_trips():
    """Upcoming trips with checkboxes, a page at a time, posting to the bulk actions."""
    page = request.args.get("page", 1, type=int)
    rows, pages = timetable.upcoming(utcnow(), page=page, per_page=PER_PAGE)
    return render(
        "admin/timetable/upcoming.html",
        "admin/timetable/_upcoming.html",
        rows=rows,
        page=min(max(1, page), pages),
        pages=pages,
        form=BulkForm(formdata=None),
    )


def _bulk(form: BulkForm, status: int = 200, **context):
    return render(
        "admin/timetable/bulk.html",
        "admin/timetable/_bulk.html",
        status=status,
        form=form,
        **context,
    )


@bp.post("/schedules/bulk-actions")
@role_required(Role.ADMIN)
def bulk_actions():
    """Preview (step=preview) or apply (step=apply) an action over the chosen trips."""
    form = BulkForm()
    if not form.validate():
        return _bulk(form, status=400, error=first_error(form), changes=None, chosen=None)
    now = utcnow()
    ids = form.ids.data
    by_amount = form.change.data == "amount"
    percent = None if by_amount else form.value.data
    amount = form.value.data if by_amount else None
    try:
        if form.action.data == "price":
            if form.step.data != "apply":
                changes = timetable.preview_price_change(ids, percent, amount, now=now)
                return _bulk(form, changes=changes, chosen=None)
            changes = timetable.apply_price_change(
                ids, percent, amount, now=now, admin_id=current_user.id
            )
            flash(f"Base price changed on {len(changes)} trip(s).", "success")
        else:
            if form.step.data != "apply":
                chosen = trips.departing(ids, now)
                return _bulk(form, changes=None, chosen=chosen)
            count = trips.mark_departed(ids, admin_id=current_user.id, now=now)
            flash(f"{count} trip(s) marked departed.", "success")
    except DomainError as error:
        return _bulk(form, status=error.status, error=error.message, changes=None, chosen=None)
    return redirect(url_for("admin.upcoming_trips"))
