"""The clerk's shift at the counter: open it, watch the drawer, close it with the cash report."""

from __future__ import annotations

import uuid

from flask import flash, redirect, render_template, url_for
from flask_login import current_user

from booking.models.enums import Role
from booking.orm import utcnow
from booking.services import shifts
from booking.services.errors import DomainError
from booking.web.access import role_required
from booking.web.desk import bp
from booking.web.desk.shift_forms import CloseShiftForm, OpenShiftForm
from booking.web.forms import first_error
from booking.web.htmx import render


def _shift_page(open_form=None, close_form=None, status: int = 200):
    """The shift page: the open form, or the open shift's drawer and the close form."""
    report = shifts.current_report(current_user.id)
    if close_form is None and report is not None:
        close_form = CloseShiftForm(shift_id=str(report.shift.id))
    return render(
        "desk/shift.html",
        "desk/_shift_drawer.html",
        status,
        report=report,
        open_form=open_form or OpenShiftForm(),
        close_form=close_form,
    )


@bp.get("/shift")
@role_required(Role.STAFF, Role.ADMIN)
def shift():
    """Open a shift, or see the current one's movements and running expected cash."""
    return _shift_page()


@bp.post("/shift/open")
@role_required(Role.STAFF, Role.ADMIN)
def open_shift():
    """Open a shift with the float in the drawer."""
    form = OpenShiftForm()
    if not form.validate():
        flash(first_error(form), "error")
        return _shift_page(open_form=form, status=400)
    try:
        shifts.open_shift(
            current_user.id, form.opening_float.data, utcnow(), station=form.station.data
        )
    except DomainError as error:
        flash(error.message, "error")
        return _shift_page(open_form=form, status=error.status)
    flash("Shift opened.", "success")
    return redirect(url_for("desk.shift"))


@bp.post("/shift/close")
@role_required(Role.STAFF, Role.ADMIN)
def close_shift():
    """Close the shift with the cash counted; on to its report."""
    form = CloseShiftForm()
    if not form.validate():
        flash(first_error(form), "error")
        return _shift_page(close_form=form, status=400)
    try:
        shift_id = uuid.UUID(form.shift_id.data)
    except ValueError:
        flash("Reload the page and try again.", "error")
        return redirect(url_for("desk.shift"))
    try:
        shifts.close_shift(
            shift_id, current_user.id, form.counted_cash.data, utcnow(), note=form.note.data
        )
    except DomainError as error:
        flash(error.message, "error")
        return _shift_page(close_form=form, status=error.status)
    flash("Shift closed.", "success")
    return redirect(url_for("desk.shift_report", shift_id=shift_id))


@bp.get("/shifts/<uuid:shift_id>")
@role_required(Role.STAFF, Role.ADMIN)
def shift_report(shift_id: uuid.UUID):
    """A shift's cash report, printable."""
    return render_template(
        "desk/shift_report.html", report=shifts.shift_report(shift_id, current_user)
    )
