"""The admin's refunds queue: every refund with its state, filtered by state, with the totals
per state and a Retry for a gateway refund that is pending or failed."""

from __future__ import annotations

import uuid

from flask import flash, redirect, request, url_for
from flask_login import current_user

from booking.formatting import money
from booking.models.enums import RefundStatus, Role
from booking.orm import utcnow
from booking.services import refund_queue
from booking.services.errors import DomainError
from booking.web.access import role_required
from booking.web.admin import bp
from booking.web.admin.forms import RetryRefundForm
from booking.web.htmx import render

OUTCOME = {
    RefundStatus.PROCESSED: ("Refund of {amount} processed: the gateway returned it.", "success"),
    RefundStatus.PENDING: ("The gateway refused the refund of {amount} again: {error}", "error"),
    RefundStatus.FAILED: ("The gateway refused the refund of {amount} again: {error}", "error"),
}


def _state(raw: str | None) -> RefundStatus | None:
    """The state filter from the query string (anything unknown shows every refund)."""
    try:
        return RefundStatus(raw) if raw else None
    except ValueError:
        return None


def _page(raw: str | None) -> int:
    """The page number from the query string (1 for anything but a small positive number)."""
    return int(raw) if raw and raw.isdigit() and len(raw) < 7 else 1


@bp.get("/refunds", endpoint="refunds")
@role_required(Role.ADMIN)
def refunds_queue():
    """Every refund, newest first, with its state, method, amount, booking, attempts and last
    error; ``?state=`` filters; totals per state on top."""
    state = _state(request.args.get("state"))
    shown = refund_queue.queue(state, _page(request.args.get("page")))
    return render(
        "admin/refunds.html",
        "admin/_refunds.html",
        queue=shown,
        states=list(RefundStatus),
        form=RetryRefundForm(),
    )


@bp.post("/refunds/<uuid:refund_id>/retry")
@role_required(Role.ADMIN)
def retry_refund(refund_id: uuid.UUID):
    """Ask the gateway again for one refund, now; back to the queue with what it said."""
    form = RetryRefundForm()
    back = url_for("admin.refunds", state=form.state.data or None)
    if not form.validate():
        flash("This form could not be sent as it was. Press Retry again.", "error")
        return redirect(back)
    try:
        status = refund_queue.retry_gateway_refund(refund_id, utcnow(), actor_id=current_user.id)
    except DomainError as error:
        flash(error.message, "error")
        return redirect(back)
    row = refund_queue.refund_row(refund_id)
    message, category = OUTCOME[status]
    flash(message.format(amount=money(row.amount), error=row.last_error), category)
    return redirect(back)
