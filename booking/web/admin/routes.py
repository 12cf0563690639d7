"""Admin views; every one is for admins only."""

from __future__ import annotations

import uuid

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from booking.models.enums import Role
from booking.orm import utcnow
from booking.services import holds, metrics, notifications
from booking.services.errors import DomainError
from booking.web.access import role_required
from booking.web.admin import bp
from booking.web.admin.forms import ReleaseHoldForm
from booking.web.forms import first_error
from booking.web.htmx import render


@bp.get("")
@role_required(Role.ADMIN)
def dashboard():
    """Today's numbers at a glance."""
    return render_template("admin/dashboard.html", stats=metrics.dashboard(utcnow()))


@bp.get("/holds", endpoint="holds")
@role_required(Role.ADMIN)
def live_holds():
    """Every active hold with its time left and a release button; refreshes itself."""
    return render(
        "admin/holds.html",
        "admin/_holds.html",
        rows=holds.active_holds(utcnow()),
        now=utcnow(),
        form=ReleaseHoldForm(),
    )


@bp.post("/holds/<uuid:hold_id>/release")
@role_required(Role.ADMIN)
def release_hold(hold_id: uuid.UUID):
    """Release a hold, with the reason the admin gives (back to the list, with the message)."""
    form = ReleaseHoldForm()
    if not form.validate():
        flash(first_error(form), "error")
        return redirect(url_for("admin.holds"))
    try:
        holds.admin_release(
            hold_id, admin_id=current_user.id, reason=form.reason.data, now=utcnow()
        )
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash("Hold released; its seats are free again.", "success")
    return redirect(url_for("admin.holds"))


@bp.get("/activity")
@role_required(Role.ADMIN)
def activity():
    """The audit log, newest first, filtered by entity type or action."""
    entity_type = request.args.get("entity_type") or None
    action = request.args.get("action") or None
    types, actions = metrics.activity_kinds()
    return render(
        "admin/activity.html",
        "admin/_activity.html",
        rows=metrics.activity(entity_type=entity_type, action=action),
        types=types,
        actions=actions,
        entity_type=entity_type,
        action=action,
    )


@bp.get("/outbox")
@role_required(Role.ADMIN)
def outbox():
    """The emails the system has written (sent by SMTP when it is configured)."""
    return render_template("admin/outbox.html", emails=notifications.outbox())
