"""Check-in at the bus door: a scan (the QR scanner types the token and Enter) admits the
passengers; the answer is shown large, and the field is empty and focused for the next scan.

/desk/check-in scans for any trip; /desk/trips/<id>/check-in for that trip (a ticket for another
trip is then NOT THIS TRIP).
"""

from __future__ import annotations

import uuid

from flask import request
from flask_login import current_user

from booking.models.enums import Role
from booking.orm import utcnow
from booking.services import tickets
from booking.web.access import role_required
from booking.web.desk import bp
from booking.web.desk.forms import CheckInForm
from booking.web.forms import first_error
from booking.web.htmx import render

PAGE, FRAGMENT = "desk/checkin.html", "desk/_checkin_result.html"


@bp.route("/check-in", methods=["GET", "POST"])
@bp.route("/trips/<uuid:schedule_id>/check-in", methods=["GET", "POST"])
@role_required(Role.STAFF, Role.ADMIN)
def check_in(schedule_id: uuid.UUID | None = None):
    """GET: the empty scan field. POST: check the scanned ticket in (or only verify it)."""
    form = CheckInForm()
    if request.method == "GET" or not form.validate():
        invalid = request.method == "POST"
        trip = tickets.door_trip(schedule_id) if schedule_id else None
        return render(
            PAGE,
            FRAGMENT,
            400 if invalid else 200,
            form=form,
            result=None,
            trip=trip,
            error=first_error(form) if invalid else None,
        )
    verify_only = form.verify_only.data
    if verify_only:
        result = tickets.verify(form.token.data, utcnow(), schedule_id)
    else:
        result = tickets.check_in(
            form.token.data, staff_id=current_user.id, now=utcnow(), schedule_id=schedule_id
        )
    # The next scan starts from an empty field; the toggle stays as it was.
    next_scan = CheckInForm(formdata=None, verify_only=verify_only)
    return render(
        PAGE, FRAGMENT, form=next_scan, result=result, trip=result.trip, verify_only=verify_only
    )
