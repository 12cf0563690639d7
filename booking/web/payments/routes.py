"""POST /payments/webhook (signed by the gateway), GET /payments/razorpay/return (the customer
back from a Razorpay Payment Link), /gateway/sandbox/<id> (the sandbox's own checkout page) and
/tickets/verify (staff scanning QR codes)."""

from __future__ import annotations

import uuid

from flask import jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from booking.extensions import csrf
from booking.models.enums import PaymentPurpose, PaymentStatus, Role
from booking.orm import utcnow
from booking.services import payments, settlement, tickets, webhooks
from booking.web.access import role_required
from booking.web.forms import first_error
from booking.web.payments import bp, sandbox_bp
from booking.web.payments.forms import SandboxDecisionForm, TicketVerifyForm


@bp.post("/payments/webhook")
@csrf.exempt
def webhook():
    """Apply a gateway event; the signature, not a session, says who sent it."""
    outcome = webhooks.receive_webhook(request.headers, request.get_data(), utcnow())
    return jsonify(outcome=outcome.outcome, payment=str(outcome.payment_id or "") or None)


@bp.get("/payments/razorpay/return", endpoint="razorpay_callback")
def razorpay_return():
    """The customer back from Razorpay: the return is checked with Razorpay's signature, then
    only ever leads to the "confirming" page (the webhook makes the booking; should it never
    come, a task asks Razorpay after a delay). The signature, not a session, says it is real."""
    payment = settlement.verified_return(request.args)
    from booking.tasks import settle_later

    settle_later(payment.id)
    if payment.purpose == PaymentPurpose.TOPUP:
        return redirect(url_for("account.topup_status", payment_id=payment.id))
    return redirect(url_for("checkout.paying", hold_id=payment.reservation_id))


# The endpoint name "gateway.sandbox" is what booking.gateway.sandbox builds checkout URLs with.
@sandbox_bp.route("/gateway/sandbox/<uuid:payment_id>", methods=["GET", "POST"], endpoint="sandbox")
@login_required
def sandbox_checkout(payment_id: uuid.UUID):
    """The sandbox gateway's page: Pay, Decline or Abandon. It then sends the signed webhook
    (through a task, as a real gateway would call back; in-process when Redis is unavailable)
    and returns the customer to the shop."""
    payment = payments.gateway_payment(payment_id, current_user.id)
    form = SandboxDecisionForm()
    if request.method == "GET" or payment.status != PaymentStatus.PENDING:
        return render_template("gateway/sandbox.html", payment=payment, form=form)
    if not form.validate():
        return render_template(
            "gateway/sandbox.html", payment=payment, form=form, error=first_error(form)
        ), 400
    from booking.tasks import call_back_from_sandbox

    call_back_from_sandbox(form.event(), payment.gateway_reference, payment.amount)
    if payment.purpose == PaymentPurpose.TOPUP:
        return redirect(url_for("account.topup_status", payment_id=payment.id))
    return redirect(url_for("checkout.paying", hold_id=payment.reservation_id))


@bp.route("/tickets/verify", methods=["GET", "POST"])
@role_required(Role.STAFF, Role.ADMIN)
def verify_ticket():
    """Paste or scan a ticket's QR text to check it; check the passenger in when valid.

    A GET with ?token= (a scanner opening a link) only verifies: a link never admits anyone.
    """
    if request.method == "GET":
        form = TicketVerifyForm(formdata=request.args)
        token = form.token.data
        result = tickets.verify(token, utcnow()) if token else None
        return render_template("tickets/verify.html", form=form, result=result)
    form = TicketVerifyForm()
    if not form.validate():
        return render_template("tickets/verify.html", form=form, result=None), 400
    if form.checking_in:
        result = tickets.check_in(form.token.data, staff_id=current_user.id, now=utcnow())
    else:
        result = tickets.verify(form.token.data, utcnow())
    return render_template("tickets/verify.html", form=form, result=result)
