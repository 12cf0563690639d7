"""Checkout views: show the hold, take the passengers, pay, and wait for the gateway."""

from __future__ import annotations

import secrets
import uuid

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from booking.orm import utcnow
from booking.services import checkout, holds, payments
from booking.services.errors import DomainError
from booking.services.holds import HoldError
from booking.services.payments import HoldLapsed, ProgressState
from booking.web.checkout import bp
from booking.web.checkout.forms import CheckoutForm, HoldActionForm
from booking.web.htmx import is_htmx, redirect_to_gateway, render


def _blank_form(shown: checkout.CheckoutPage) -> CheckoutForm:
    """A fresh form: one passenger row per seat, contact details from the account."""
    data = checkout.contact_defaults(current_user.id)
    data["passengers"] = [{"seat_number": seat.seat_number} for seat in shown.seats]
    data["use_wallet"] = shown.use_wallet
    data["idempotency_key"] = secrets.token_hex(16)
    return CheckoutForm(data=data)


def _show(shown: checkout.CheckoutPage, form: CheckoutForm, status: int = 200, error=None):
    """The checkout page (or, for htmx, its price fragment)."""
    seats = {seat.seat_number: seat for seat in shown.seats}
    return render(
        "checkout/checkout.html",
        "checkout/_price.html",
        status=status,
        page=shown,
        form=form,
        hold_action=HoldActionForm(),
        seats=seats,
        error=error,
        server_now=utcnow(),
    )


def _attach_errors(form: CheckoutForm, errors: dict) -> None:
    """Put a service's per-seat and per-field messages next to the right inputs; any message
    with no input to sit by (a held seat missing from a tampered form) goes above the form."""
    placed = set()
    for entry in form.passengers:
        key = entry.form.seat_number.data
        if key in errors:
            entry.form.name.errors = [*entry.form.name.errors, errors[key]]
            placed.add(key)
    for name in ("contact_name", "contact_phone", "contact_email", "promo_code", "method"):
        if name in errors:
            field = form[name]
            field.errors = [*field.errors, errors[name]]
            placed.add(name)
    form.form_errors.extend(message for key, message in errors.items() if key not in placed)


@bp.get("/holds/<uuid:hold_id>", endpoint="checkout")
@login_required
def checkout_page(hold_id: uuid.UUID):
    """The checkout of one of the customer's holds (404 for anyone else's)."""
    shown = checkout.page(hold_id, current_user.id, utcnow())
    if shown.booking is not None:
        return redirect(url_for("account.booking", reference=shown.booking.reference))
    if not shown.seats:
        flash("This hold has no seats any more. Choose your seats again.", "warning")
        return redirect(url_for("schedules.seat_map", schedule_id=shown.schedule.id))
    form = _blank_form(shown)
    last = shown.last_payment
    error = None
    if last and last.state is ProgressState.FAILED and last.reason in ("declined", "abandoned"):
        error = f"Your payment was {last.reason}; your seats are still held. Try again."
    return _show(shown, form, error=error)


@bp.post("/holds/<uuid:hold_id>")
@login_required
def pay(hold_id: uuid.UUID):
    """Apply a promo code (re-render) or pay (wallet at once, else off to the gateway)."""
    now = utcnow()
    form = CheckoutForm()
    paying = form.paying
    if not paying or not form.validate():
        # Applying a promo code, or details to correct: show the page again, priced.
        return _show_again(hold_id, form, now, paying)
    try:
        paid = payments.pay(
            hold_id=hold_id,
            customer_id=current_user.id,
            details=form.details(),
            use_wallet=form.use_wallet.data,
            method=form.method.data,
            now=now,
            return_url=url_for("checkout.paying", hold_id=hold_id),
            idempotency_key=form.idempotency_key.data or None,
        )
    except HoldLapsed as error:
        shown = checkout.page(hold_id, current_user.id, now)
        return _show(shown, form, status=409, error=error.message)
    except DomainError as error:
        _attach_errors(form, error.details.get("errors", {}))
        shown = checkout.page(hold_id, current_user.id, now, use_wallet=form.use_wallet.data)
        return _show(shown, form, status=error.status, error=error.message)
    if paid.booking is not None:
        flash("Booking confirmed. Have a good trip!", "success")
        return redirect(url_for("account.booking", reference=paid.booking.reference))
    return redirect_to_gateway(paid.gateway.url)


def _show_again(hold_id: uuid.UUID, form: CheckoutForm, now, paying: bool):
    """The checkout again with the promo code applied (its refusal shown on the field), and the
    form's errors when paying was asked with details to correct."""
    wanted_promo = (form.promo_code.data or "").strip() or None
    shown = checkout.page(
        hold_id, current_user.id, now, promo_code=wanted_promo, use_wallet=form.use_wallet.data
    )
    if shown.booking is not None:
        return redirect(url_for("account.booking", reference=shown.booking.reference))
    if shown.promo_error:
        form.promo_code.errors = [*form.promo_code.errors, shown.promo_error]
    if form.idempotency_key.errors:  # not a key we gave out: a fresh one, so Pay works again
        form.idempotency_key.errors = []
        form.idempotency_key.data = secrets.token_hex(16)
        form.form_errors.append("This form could not be sent as it was. Press Pay again.")
    if paying:
        return _show(shown, form, status=400, error="Please correct the details below.")
    return _show(shown, form, status=400 if shown.promo_error else 200)


@bp.post("/holds/<uuid:hold_id>/price")
@login_required
def price(hold_id: uuid.UUID):
    """The price breakdown for the form as it stands (promo applied in place, wallet toggled)."""
    form = CheckoutForm()
    shown = checkout.page(
        hold_id,
        current_user.id,
        utcnow(),
        promo_code=(form.promo_code.data or "").strip() or None,
        use_wallet=form.use_wallet.data,
    )
    if shown.promo_error:
        form.promo_code.errors = [shown.promo_error]
    return render_template("checkout/_price.html", page=shown, form=form)


@bp.post("/holds/<uuid:hold_id>/drop")
@login_required
def drop(hold_id: uuid.UUID):
    """Give the seats back."""
    if not HoldActionForm().validate():
        abort(400)
    hold = holds.release_hold(hold_id, customer_id=current_user.id, now=utcnow())
    flash("Your seats were released.", "info")
    return redirect(url_for("schedules.seat_map", schedule_id=hold.schedule_id))


@bp.post("/holds/<uuid:hold_id>/revive")
@login_required
def revive(hold_id: uuid.UUID):
    """Take a lapsed hold back if its seats are still free; else back to the seat map."""
    if not HoldActionForm().validate():
        abort(400)
    try:
        holds.revive_hold(hold_id, customer_id=current_user.id, now=utcnow())
    except HoldError as error:  # the trip's seat map, to choose again
        flash(error.message, "error")
        return redirect(url_for("schedules.seat_map", schedule_id=error.details["schedule_id"]))
    flash("Your seats are held again.", "success")
    return redirect(url_for("checkout.checkout", hold_id=hold_id))


@bp.get("/holds/<uuid:hold_id>/paying")
@login_required
def paying(hold_id: uuid.UUID):
    """Wait for the gateway's word: refreshes itself until the booking exists, or stops once
    there is nothing more to wait for (refunded, or stalled past the hold's end)."""
    progress = payments.payment_progress(hold_id, current_user.id, utcnow())
    state = progress.state
    if state is ProgressState.BOOKED:
        target = url_for("account.booking", reference=progress.booking.reference)
        if is_htmx():
            return "", 204, {"HX-Redirect": target}
        flash("Payment received. Your booking is confirmed.", "success")
        return redirect(target)
    if state in (
        ProgressState.FAILED,
        ProgressState.NONE,
    ):  # declined, abandoned, or nothing to wait for
        if is_htmx():
            return "", 204, {"HX-Redirect": url_for("checkout.checkout", hold_id=hold_id)}
        return redirect(url_for("checkout.checkout", hold_id=hold_id))
    page = render(
        "checkout/paying.html",
        "checkout/_paying_status.html",
        state=state,
        progress=progress,
        hold_id=hold_id,
    )
    if state in (ProgressState.REFUNDED, ProgressState.STALLED) and is_htmx():
        return page, 286  # htmx's "stop polling": nothing more will happen to this payment
    return page
