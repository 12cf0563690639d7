"""My bookings, a booking with its ticket and cancellation, the wallet and top-ups."""

from __future__ import annotations

import re
import unicodedata
import uuid

from flask import Response, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from booking.documents import calendar as trip_calendar
from booking.documents import ticket_pdf as ticket_document
from booking.formatting import local_time
from booking.models import Cancellation
from booking.models.enums import (
    BookingStatus,
    PaymentMethod,
    PaymentStatus,
    RefundMode,
    RefundStatus,
    Role,
)
from booking.orm import utcnow
from booking.services import bookings, cancellations, payments, refunds
from booking.services.errors import DomainError
from booking.web.account import bp
from booking.web.account.forms import CancelForm, TopUpForm
from booking.web.htmx import is_htmx, redirect_to_gateway, render


@bp.get("/bookings", endpoint="bookings")
@login_required
def bookings_list():
    """Upcoming and past trips."""
    mine = bookings.for_customer(current_user.id, utcnow())
    return render("account/bookings.html", "account/_bookings.html", mine=mine)


def _cancel_form(booking, formdata=None) -> CancelForm:
    """The cancellation form with the booking's booked seats as choices.

    The form always renders its CSRF token (the confirming POST needs it); the refund preview
    is a GET whose query string holds the seats, so it is checked without the token
    (CancelForm.validate_choice).
    """
    form = CancelForm(formdata or None)
    form.seats.choices = {n: n for n in booking.booked_numbers}
    if booking.user_id is None:
        form.refund_mode.choices = {"original": "Cash at the desk / original method"}
        form.refund_mode.data = "original"
    return form


@bp.get("/bookings/<reference>")
@login_required
def booking(reference: str):
    """A booking: trip, seats and passengers, amounts, ticket, and cancelling."""
    found = bookings.booking_for(reference, current_user)
    form = _cancel_form(found)
    preview = None
    if found.status == BookingStatus.CONFIRMED:
        preview = cancellations.refund_preview(
            found, None, actor_role=current_user.role, now=utcnow()
        )
    return render_template(
        "account/booking.html",
        booking=found,
        form=form,
        preview=preview,
        payments=found.settled_payments,
        new=request.args.get("new") == "1",
    )


@bp.get("/bookings/<reference>/ticket.pdf")
@login_required
def ticket_pdf(reference: str):
    """The ticket as an A4 PDF with its QR code, downloaded (not opened in a new tab) under a
    name that says which trip it is."""
    found = bookings.booking_for(reference, current_user)
    return Response(
        ticket_document.render_pdf(found),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{_ticket_file_name(found)}"'},
    )


def _ticket_file_name(booking) -> str:
    """'ticket-ABCD3467-bengaluru-chennai-2026-12-03.pdf' (ASCII letters and digits only)."""
    route = booking.schedule.route
    day = local_time(booking.schedule.departure_at, "%Y-%m-%d")
    words = f"{route.origin_city} {route.destination_city}"
    plain = unicodedata.normalize("NFKD", words).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")
    return "-".join(part for part in ("ticket", booking.reference, slug, day) if part) + ".pdf"


@bp.get("/bookings/<reference>/trip.ics")
@login_required
def trip_ics(reference: str):
    """The trip as a calendar event."""
    found = bookings.booking_for(reference, current_user)
    return Response(
        trip_calendar.trip_event(found, utcnow()),
        mimetype="text/calendar",
        headers={"Content-Disposition": f'attachment; filename="trip-{found.reference}.ics"'},
    )


@bp.route("/bookings/<reference>/cancel", methods=["GET", "POST"])
@login_required
def cancel(reference: str):
    """Preview the refund for the chosen seats (GET), then cancel them (POST).

    A bare GET shows the page; a bad choice is a 400, a refusal by the policy on POST a 409
    (the service's CancelRefused, whose preview the page shows).
    """
    found = bookings.booking_for(reference, current_user)
    now = utcnow()
    preview = None
    status = 200
    if request.method == "GET":
        form = _cancel_form(found, request.args)
        if request.args:
            if form.validate_choice():
                preview = cancellations.refund_preview(
                    found, form.seats.data, actor_role=current_user.role, now=now
                )
            else:
                status = 400
    else:
        form = _cancel_form(found, request.form)
        if not form.validate():
            status = 400
        else:
            try:
                done = cancellations.cancel_booking(
                    found.id,
                    actor_id=current_user.id,
                    now=now,
                    seat_numbers=form.seats.data,
                    reason=form.reason.data,
                    refund_mode=RefundMode(form.refund_mode.data),
                )
            except cancellations.CancelRefused as refused:
                preview, status = refused.details["preview"], refused.status
            except DomainError as error:
                flash(error.message, "error")
                return redirect(url_for("account.booking", reference=found.reference))
            else:
                flash(_cancelled_message(done), "success")
                return redirect(url_for("account.booking", reference=found.reference))
    return render(
        "account/cancel.html",
        "account/_refund.html",
        status=status,
        booking=found,
        form=form,
        preview=preview,
    )


def _cancelled_message(done: Cancellation) -> str:
    """What the customer is told after cancelling."""
    from booking.formatting import money

    seats = ", ".join(sorted(seat.seat_number for seat in done.seats))
    if not done.refund_amount:
        return f"Cancelled {seats}. No refund is due under the policy."
    where = (
        "to your wallet"
        if done.refund_mode == RefundMode.WALLET
        else "to your original payment method"
    )
    if done.refund_status != RefundStatus.PROCESSED:  # the gateway has not returned it yet
        return f"Cancelled {seats}. {money(done.refund_amount)} is on its way back {where}."
    return f"Cancelled {seats}. {money(done.refund_amount)} refunded {where}."


@bp.get("/wallet", endpoint="wallet")
@login_required
def wallet_page():
    """Balance, the ledger (each refund beside the debit it reverses), and topping up."""
    form = TopUpForm()
    return _wallet(form)


def _wallet(form: TopUpForm, status: int = 200):
    """The wallet page."""
    statement = refunds.wallet_statement(current_user.id, utcnow())
    return render_template(
        "account/wallet.html",
        form=form,
        balance=statement.balance,
        ledger=statement.ledger,
    ), status


@bp.post("/wallet/topup")
@login_required
def topup():
    """Start a top-up through the gateway."""
    if current_user.role != Role.CUSTOMER:
        flash("Only customers have a wallet to top up.", "warning")
        return redirect(url_for("public.home"))
    form = TopUpForm()
    if not form.validate():
        return _wallet(form, 400)
    try:
        started = payments.start_topup(
            customer_id=current_user.id,
            amount=form.amount.data,
            method=PaymentMethod(form.method.data),
            now=utcnow(),
            return_url=url_for("account.wallet"),
        )
    except DomainError as error:
        form.amount.errors = [*form.amount.errors, error.message]
        return _wallet(form, error.status)
    return redirect_to_gateway(started.url)


@bp.get("/wallet/topups/<uuid:payment_id>")
@login_required
def topup_status(payment_id: uuid.UUID):
    """Wait for a top-up to be confirmed, then go back to the wallet; stop waiting once its
    gateway session is over with no word."""
    payment = payments.topup_progress(payment_id, current_user.id)
    if payment.status != PaymentStatus.PENDING:
        target = url_for("account.wallet")
        if payment.status == PaymentStatus.COMPLETED:
            flash("Your wallet has been topped up.", "success")
        else:
            flash("The top-up did not go through; nothing was charged.", "error")
        if is_htmx():
            return "", 204, {"HX-Redirect": target}
        return redirect(target)
    stalled = payments.topup_stalled(payment, utcnow())
    page = render(
        "account/topup_status.html",
        "account/_topup_status.html",
        payment=payment,
        stalled=stalled,
    )
    return (page, 286) if stalled and is_htmx() else page  # 286: htmx stops polling
