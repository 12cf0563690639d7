"""The booking desk for counter staff: departures, selling to a walk-in, the receipt, look-up,
the staff booking view with reprint, resend and cancel. Keyboard-first: every action has a key
shown on screen (static/js/desk.js)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from flask import Response, flash, redirect, request, url_for
from flask_login import current_user

from booking.documents import receipt_pdf, ticket_pdf
from booking.formatting import money
from booking.models.enums import (
    BookingPaymentStatus,
    BookingStatus,
    HoldStatus,
    PaymentMethod,
    RefundMode,
    Role,
)
from booking.orm import utcnow
from booking.services import (
    bookings,
    cancellations,
    catalog,
    desk,
    desk_sales,
    holds,
    inventory,
)
from booking.services.errors import DomainError
from booking.web.access import role_required
from booking.web.desk import bp
from booking.web.desk.forms import (
    ActionForm,
    DeparturesForm,
    DeskCancelForm,
    DeskSaleForm,
    LookupForm,
    SeatPickForm,
)
from booking.web.forms import first_error
from booking.web.htmx import render

STAFF = (Role.STAFF, Role.ADMIN)


# ---- departures ----------------------------------------------------------------------------------


@bp.get("")
@role_required(*STAFF)
def index():
    """Departures for a day (today by default), the clerk's station first, with a type-ahead."""
    now = utcnow()
    form = DeparturesForm(request.args)
    form.validate()
    today = catalog.local_today(now)
    day = form.day.data if form.day.data and not form.day.errors else today
    rows = desk.departures(
        day, now, station=getattr(current_user, "home_station", None), query=form.q.data
    )
    return render(
        "desk/index.html",
        "desk/_departures.html",
        form=form,
        day=day,
        today=today,
        previous_day=day - timedelta(days=1),
        next_day=day + timedelta(days=1),
        rows=rows,
        lookup=LookupForm(),
    )


# ---- selling ----------------------------------------------------------------------------------


def _sell_page(schedule_id: uuid.UUID, form: SeatPickForm, error=None, status=200):
    """The trip's compact seat map with the seat-number field."""
    seat_map = inventory.seat_map(schedule_id, utcnow(), viewer_id=current_user.id)
    return render(
        "desk/sell.html",
        "desk/_sell.html",
        status=status,
        seat_map=seat_map,
        form=form,
        error=error,
        ticked=set(form.seats.data or []),
        mine=[],
        hold=None,
        max_seats=desk.max_seats(),
    )


@bp.get("/trips/<uuid:schedule_id>/sell")
@role_required(*STAFF)
def sell(schedule_id: uuid.UUID):
    """Choose seats for a walk-in: typed ("L2 L3") or ticked on the live seat map."""
    form = SeatPickForm()
    form.typed.data = request.args.get("typed", "")[:120]
    return _sell_page(schedule_id, form)


@bp.post("/trips/<uuid:schedule_id>/sell")
@role_required(*STAFF)
def hold_seats(schedule_id: uuid.UUID):
    """Hold the seats for the walk-in (a desk hold), then take their details and payment."""
    form = SeatPickForm()
    if not form.validate():
        return _sell_page(schedule_id, form, first_error(form), 400)
    try:
        made = desk.hold_for_walk_in(
            schedule_id,
            clerk_id=current_user.id,
            typed=form.typed.data,
            ticked=form.seats.data or [],
            now=utcnow(),
        )
    except DomainError as error:
        return _sell_page(schedule_id, form, error.message, error.status)
    return redirect(url_for("desk.sale", hold_id=made.id))


def _sale_page(hold_id: uuid.UUID, form: DeskSaleForm | None = None, error=None, status=200):
    """The walk-in's details and the payment for a desk hold."""
    shown = desk.checkout(hold_id, utcnow(), promo_code=form.promo_code.data if form else None)
    if form is None:
        form = DeskSaleForm()
        for seat in shown.seats:
            form.passengers.append_entry({"seat_number": seat.seat_number})
    if shown.promo_error:
        form.promo_code.errors = [*form.promo_code.errors, shown.promo_error]
    seats = {seat.seat_number: seat for seat in shown.seats}
    return render(
        "desk/sale.html",
        "desk/_sale.html",
        status=status,
        shown=shown,
        form=form,
        seats=seats,
        error=error,
        drop_form=ActionForm(),
    )


@bp.get("/holds/<uuid:hold_id>")
@role_required(*STAFF)
def sale(hold_id: uuid.UUID):
    """The payment page of a desk hold (a paid one goes to its booking)."""
    shown = desk.checkout(hold_id, utcnow())
    if shown.hold.status == HoldStatus.CONFIRMED:
        found = bookings.booking_of_hold(shown.hold)
        return redirect(url_for("desk.booking", reference=found.reference))
    return _sale_page(hold_id)


@bp.post("/holds/<uuid:hold_id>")
@role_required(*STAFF)
def take_payment(hold_id: uuid.UUID):
    """Apply a promo code (re-render) or sell: cash, card or UPI at the terminal, or free."""
    form = DeskSaleForm()
    form.fill_passenger_one()
    if not form.selling:
        return _sale_page(hold_id, form)
    if not form.validate():
        return _sale_page(hold_id, form, "Please correct the details below.", 400)
    method = form.method.data
    complimentary = method == "complimentary"
    try:
        sold = desk_sales.sell_at_desk(
            hold_id=hold_id,
            clerk_id=current_user.id,
            details=form.details(),
            now=utcnow(),
            method=PaymentMethod.CASH if complimentary else PaymentMethod(method),
            tendered=form.tendered.data,
            terminal_reference=form.terminal_reference.data or None,
            complimentary=complimentary,
            reason=form.reason.data,
        )
    except DomainError as error:
        for field, message in error.details.get("errors", {}).items():
            _attach(form, field, message)
        return _sale_page(hold_id, form, error.message, error.status)
    note = f"Sold: booking {sold.reference}, {money(sold.total_amount)}."
    if method == PaymentMethod.CASH and form.tendered.data is not None:
        change = desk_sales.change_due(sold.total_amount, form.tendered.data)
        note += f" Change due: {money(change)}."
    flash(note, "success")
    return redirect(url_for("desk.booking", reference=sold.reference, sold=1))


def _attach(form: DeskSaleForm, field: str, message: str) -> None:
    """Show a service's error on its field (seat numbers name a passenger row)."""
    for entry in form.passengers:
        if entry.form.seat_number.data == field:
            entry.form.name.errors = [*entry.form.name.errors, message]
            return
    target = getattr(form, field, None)
    if target is not None and hasattr(target, "errors"):
        target.errors = [*target.errors, message]


@bp.post("/holds/<uuid:hold_id>/drop")
@role_required(*STAFF)
def drop(hold_id: uuid.UUID):
    """Give the seats of a walk-in's hold back."""
    if ActionForm().validate():
        dropped = holds.release_desk_hold(hold_id, clerk_id=current_user.id, now=utcnow())
        flash("The seats were given back.", "info")
        return redirect(url_for("desk.sell", schedule_id=dropped.schedule_id))
    return redirect(url_for("desk.sale", hold_id=hold_id))


# ---- look-up and the booking --------------------------------------------------------------------


@bp.get("/lookup")
@role_required(*STAFF)
def lookup():
    """Find bookings by reference, phone, or passenger or contact name."""
    form = LookupForm(request.args)
    form.validate()
    found, error = [], None
    if form.q.data:
        try:
            found = desk.lookup(form.q.data, utcnow())
        except DomainError as refusal:
            error = refusal.message
    return render(
        "desk/lookup.html", "desk/_lookup_results.html", lookup=form, found=found, error=error
    )


@bp.get("/bookings/<reference>")
@role_required(*STAFF)
def booking(reference: str):
    """The staff view of a booking: seats, passengers, payments, ticket, and the actions."""
    found = bookings.booking_for(reference, current_user)
    return render(
        "desk/booking.html",
        "desk/_booking.html",
        booking=found,
        payments=found.settled_payments,
        action_form=ActionForm(),
        sold=request.args.get("sold") == "1",
        can_cancel=found.status == BookingStatus.CONFIRMED,
        BookingPaymentStatus=BookingPaymentStatus,
    )


@bp.get("/bookings/<reference>/receipt.pdf")
@role_required(*STAFF)
def receipt(reference: str):
    """The 80 mm receipt for a thermal printer."""
    found = bookings.booking_for(reference, current_user)
    return _pdf(receipt_pdf.render_pdf(found), f"receipt-{found.reference}.pdf")


@bp.get("/bookings/<reference>/ticket.pdf")
@role_required(*STAFF)
def ticket(reference: str):
    """The A4 ticket."""
    found = bookings.booking_for(reference, current_user)
    return _pdf(ticket_pdf.render_pdf(found), f"ticket-{found.reference}.pdf")


def _pdf(data: bytes, filename: str) -> Response:
    return Response(
        data,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )


@bp.post("/bookings/<reference>/resend")
@role_required(*STAFF)
def resend(reference: str):
    """Mail the ticket again."""
    found = bookings.booking_for(reference, current_user)
    if ActionForm().validate():
        try:
            to = desk.resend_ticket(found.id, staff_id=current_user.id, now=utcnow())
        except DomainError as error:
            flash(error.message, "error")
        else:
            flash(f"The ticket was sent again to {to}.", "success")
    return redirect(url_for("desk.booking", reference=found.reference))


def _cancel_page(found, form: DeskCancelForm, error=None, status=200):
    """The cancellation of chosen seats with the refund the policy gives."""
    chosen = form.seats.data or None
    preview = cancellations.refund_preview(
        found, chosen, actor_role=current_user.role, now=utcnow()
    )
    return render(
        "desk/cancel.html",
        "desk/_cancel.html",
        status=status,
        booking=found,
        form=form,
        preview=preview,
        error=error,
        booked=found.booked_numbers,
    )


@bp.get("/bookings/<reference>/cancel")
@role_required(*STAFF)
def cancel(reference: str):
    """Choose the seats to cancel; the refund is shown before anything is done."""
    found = bookings.booking_for(reference, current_user)
    form = DeskCancelForm(request.args, meta={"csrf": False}) if request.args else DeskCancelForm()
    if not form.seats.data:
        form.seats.data = found.booked_numbers
    if found.user_id is None:
        form.refund_mode.data = RefundMode.ORIGINAL.value
    return _cancel_page(found, form)


@bp.post("/bookings/<reference>/cancel")
@role_required(*STAFF)
def do_cancel(reference: str):
    """Cancel the chosen seats and pay the refund (cash from the shift for a cash sale)."""
    found = bookings.booking_for(reference, current_user)
    form = DeskCancelForm()
    if not form.validate() or not form.seats.data:
        return _cancel_page(found, form, first_error(form) if form.errors else None, 400)
    try:
        done = cancellations.cancel_booking(
            found.id,
            actor_id=current_user.id,
            now=utcnow(),
            seat_numbers=form.seats.data,
            reason=form.reason.data,
            refund_mode=RefundMode(form.refund_mode.data),
        )
    except DomainError as error:
        return _cancel_page(found, form, error.message, error.status)
    flash(f"Cancelled; refund {money(done.refund_amount)}.", "success")
    return redirect(url_for("desk.booking", reference=found.reference))
