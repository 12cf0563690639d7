"""GATEWAY=razorpay against a fake Razorpay on loopback: Payment Links for the gateway part in
paise, made once however often asked; the signed return and the signed webhooks (forged,
stale and replayed ones refused or ignored); refunds whose state follows Razorpay's webhooks;
settling a payment whose webhook never came; the day's reconcile; Razorpay down or hung."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from booking import create_app
from booking.extensions import db
from booking.gateway import GatewayError, get_gateway
from booking.gateway.razorpay import RazorpayGateway, from_config, to_paise
from booking.models import Booking, Cancellation, Payment, Refund, Reservation
from booking.models.enums import HoldStatus, PaymentStatus, RefundMode, RefundStatus
from booking.services import (
    cancellations,
    refund_queue,
    settlement,
    webhooks,
)
from booking.services.details import PaymentError
from tests.money_support import (
    SEAT,
    assert_invariants,
    balance,
    booking_of,
    fresh,
    hold,
    payments_of,
    start_gateway,
)
from tests.razorpay_fake import KEY_ID, RazorpayFake, RunningFake, settings
from tests.support import NOW, make_trip, make_user

MIN = timedelta(minutes=1)
WALLET = Decimal("300.00")
REST = SEAT - WALLET  # 225.00: what Razorpay is asked for


@pytest.fixture
def fake():
    with RunningFake(NOW + MIN) as running:
        yield running


@pytest.fixture
def razorpay(app, fake, monkeypatch) -> RazorpayFake:
    """The session's app with GATEWAY=razorpay pointed at the fake."""
    for name, value in settings(fake).items():
        monkeypatch.setitem(app.config, name, value)
    return fake


def start(trip_id, wallet=WALLET, seats=("2A",)):
    """A customer holds seats and starts paying the rest through Razorpay; returns
    (customer id, hold id, payment)."""
    customer = make_user(wallet=wallet)
    hold_id = hold(customer.id, trip_id, list(seats))
    started = start_gateway(customer.id, hold_id, list(seats), now=NOW + MIN)
    return customer.id, hold_id, fresh(Payment, started.payment_id)


def deliver(body_headers, at=NOW + 2 * MIN):
    body, headers = body_headers
    return webhooks.receive_webhook(headers, body, at)


# ---- 1. the adapter and its settings ------------------------------------------------------------


def test_the_razorpay_adapter_is_chosen_by_gateway_and_points_at_the_base_url(app_ctx, razorpay):
    gateway = get_gateway()
    assert isinstance(gateway, RazorpayGateway)
    assert gateway.client.base_url == razorpay.url


def test_without_its_keys_the_adapter_refuses_to_start(app_ctx):
    with pytest.raises(GatewayError, match="RAZORPAY_KEY_SECRET"):
        from_config({"RAZORPAY_KEY_ID": KEY_ID, "RAZORPAY_WEBHOOK_SECRET": "w"})


@pytest.fixture
def production(monkeypatch):
    monkeypatch.setenv("FLASK_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "production-secret")
    monkeypatch.setenv("GATEWAY", "razorpay")
    for name in ("RAZORPAY_KEY_ID", "RAZORPAY_KEY_SECRET", "RAZORPAY_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)


def test_production_refuses_razorpay_without_its_keys(production, monkeypatch):
    monkeypatch.setenv("RAZORPAY_KEY_ID", KEY_ID)
    with pytest.raises(RuntimeError, match="RAZORPAY_KEY_SECRET, RAZORPAY_WEBHOOK_SECRET"):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})


def test_production_accepts_razorpay_with_its_keys(production, make_app, monkeypatch):
    for name in ("RAZORPAY_KEY_ID", "RAZORPAY_KEY_SECRET", "RAZORPAY_WEBHOOK_SECRET"):
        monkeypatch.setenv(name, "set")
    assert make_app().config["GATEWAY"] == "razorpay"


def test_paise_are_exact():
    assert to_paise(Decimal("225.00")) == 22500
    assert to_paise(Decimal("0.01")) == 1


# ---- 1. the payment link ------------------------------------------------------------------------


def test_paying_the_rest_opens_a_payment_link_for_the_gateway_part_in_paise(app_ctx, razorpay):
    _, _, payment = start(make_trip().id)
    [link] = razorpay.links.values()
    assert link["amount"] == to_paise(REST) == 22500
    assert link["reference_id"] == str(payment.id)
    assert link["callback_url"] == "http://localhost/payments/razorpay/return"
    assert link["callback_method"] == "get"
    assert link["accept_partial"] is False
    assert payment.amount == REST
    assert payment.gateway_reference == link["id"]
    assert payment.gateway_url == link["short_url"]


def test_a_5xx_then_an_answer_makes_one_link(app_ctx, razorpay):
    razorpay.fail_next("POST", "/v1/payment_links", 500)
    _, _, payment = start(make_trip().id)
    assert razorpay.calls("POST", "/v1/payment_links") == 2
    assert len(razorpay.links) == 1
    assert payment.gateway_reference in razorpay.links


def test_a_link_made_but_its_answer_lost_is_found_again_not_made_twice(app_ctx, razorpay):
    """Razorpay made the link, then the answer failed: asking again with the same reference_id
    is refused as a duplicate, and the adapter takes the link that exists."""
    razorpay.fail_next("POST", "/v1/payment_links", 502, after=True)
    _, _, payment = start(make_trip().id)
    assert len(razorpay.links) == 1
    [link] = razorpay.links.values()
    assert payment.gateway_reference == link["id"]
    assert link["reference_id"] == str(payment.id)


@pytest.mark.parametrize("fault", ["5xx", "hung"])
def test_razorpay_down_or_hung_says_try_again_keeps_the_hold_and_takes_nothing(
    app_ctx, razorpay, fault
):
    customer = make_user(wallet=WALLET)
    hold_id = hold(customer.id, make_trip().id, ["2A"])
    for _ in range(2):
        if fault == "5xx":
            razorpay.fail_next("POST", "/v1/payment_links", 503)
        else:
            razorpay.hang_next("POST", "/v1/payment_links")
    with pytest.raises(PaymentError, match=r"nothing was charged\. Try again"):
        start_gateway(customer.id, hold_id, ["2A"], now=NOW + MIN)
    assert balance(customer.id) == WALLET
    assert payments_of(hold_id) == []
    assert fresh(Reservation, hold_id).status == HoldStatus.ACTIVE
    assert not razorpay.links
    # and once Razorpay answers, the same hold is paid for as usual
    started = start_gateway(customer.id, hold_id, ["2A"], now=NOW + MIN)
    assert fresh(Payment, started.payment_id).gateway_reference in razorpay.links


# ---- 2. webhooks --------------------------------------------------------------------------------


def test_payment_link_paid_books_the_hold_once_and_a_replay_is_a_duplicate(app_ctx, razorpay):
    customer_id, hold_id, payment = start(make_trip().id)
    razorpay.pay(payment.gateway_reference)
    event = razorpay.link_paid(payment.gateway_reference, event_id="evt_paid_1")
    assert deliver(event).outcome == "confirmed"
    assert booking_of(hold_id) is not None
    assert deliver(event).outcome == "duplicate"
    assert db.session.scalar(select(db.func.count(Booking.id))) == 1
    assert balance(customer_id) == Decimal("0.00")
    assert_invariants()


def test_a_forged_webhook_is_refused_and_changes_nothing(app_ctx, razorpay):
    _, hold_id, payment = start(make_trip().id)
    razorpay.pay(payment.gateway_reference)
    body, headers = razorpay.link_paid(payment.gateway_reference, secret="not-the-secret")
    with pytest.raises(webhooks.WebhookRejected, match="signature does not match"):
        webhooks.receive_webhook(headers, body, NOW + 2 * MIN)
    tampered = body.replace(b'"amount_paid": 22500', b'"amount_paid": 100')
    _good_body, good_headers = razorpay.link_paid(payment.gateway_reference)
    with pytest.raises(webhooks.WebhookRejected, match="signature does not match"):
        webhooks.receive_webhook(good_headers, tampered, NOW + 2 * MIN)
    assert booking_of(hold_id) is None


def test_a_stale_webhook_is_refused(app_ctx, razorpay):
    _, hold_id, payment = start(make_trip().id)
    razorpay.pay(payment.gateway_reference)
    old = int((NOW - timedelta(days=2)).timestamp())
    body, headers = razorpay.link_paid(payment.gateway_reference, created_at=old)
    with pytest.raises(webhooks.WebhookRejected, match="too old"):
        webhooks.receive_webhook(headers, body, NOW + 2 * MIN)
    assert booking_of(hold_id) is None


def test_a_webhook_without_its_event_id_is_refused(app_ctx, razorpay):
    _, _, payment = start(make_trip().id)
    razorpay.pay(payment.gateway_reference)
    body, headers = razorpay.link_paid(payment.gateway_reference)
    del headers["X-Razorpay-Event-Id"]
    with pytest.raises(webhooks.WebhookRejected, match="X-Razorpay-Event-Id"):
        webhooks.receive_webhook(headers, body, NOW + 2 * MIN)


def test_payment_captured_is_acknowledged_and_the_link_event_books(app_ctx, razorpay):
    """payment.captured carries no link id: acknowledged (200), the booking waits for
    payment_link.paid, which may come before or after it."""
    _, hold_id, payment = start(make_trip().id)
    razorpay.pay(payment.gateway_reference)
    captured = razorpay.payments[
        razorpay.links[payment.gateway_reference]["payments"][0]["payment_id"]
    ]
    assert deliver(razorpay.webhook("payment.captured", {"payment": captured})).outcome == "ignored"
    assert booking_of(hold_id) is None
    assert deliver(razorpay.link_paid(payment.gateway_reference)).outcome == "confirmed"
    assert deliver(razorpay.webhook("payment.captured", {"payment": captured})).outcome == "ignored"


def test_an_expired_link_gives_the_wallet_part_back(app_ctx, razorpay):
    customer_id, _hold_id, payment = start(make_trip().id)
    link = razorpay.links[payment.gateway_reference]
    link["status"] = "expired"
    assert deliver(razorpay.webhook("payment_link.expired", {"payment_link": link})).outcome == (
        "failed"
    )
    assert fresh(Payment, payment.id).status == PaymentStatus.FAILED
    assert balance(customer_id) == WALLET


def test_the_webhook_endpoint_answers_razorpay_in_json(client, app, razorpay, monkeypatch):
    from booking.web.payments import routes

    monkeypatch.setattr(routes, "utcnow", lambda: NOW + 2 * MIN)
    with app.app_context():
        _, _hold_id, payment = start(make_trip().id)
        razorpay.pay(payment.gateway_reference)
        body, headers = razorpay.link_paid(payment.gateway_reference)
    answer = client.post("/payments/webhook", data=body, headers=headers)
    assert answer.status_code == 200
    assert answer.get_json()["outcome"] == "confirmed"
    forged = client.post(
        "/payments/webhook", data=body, headers={**headers, "X-Razorpay-Signature": "0" * 64}
    )
    assert forged.status_code == 400


# ---- 2. the customer's return -------------------------------------------------------------------


def test_a_signed_return_only_shows_the_confirming_page(client, app, razorpay, monkeypatch):
    """A verified return books nothing by itself: it sends the customer to the waiting page
    and asks for a settle later (here: the task is stopped from running)."""
    from booking import tasks

    asked = []
    monkeypatch.setattr(tasks, "settle_later", lambda payment_id: asked.append(payment_id))
    with app.app_context():
        _, hold_id, payment = start(make_trip().id)
        params = razorpay.pay(payment.gateway_reference)
        path = razorpay.callback_path(params)
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/holds/{hold_id}/paying"
    assert asked == [payment.id]
    with app.app_context():
        assert booking_of(hold_id) is None


@pytest.mark.parametrize("forgery", ["signature", "status", "reference"])
def test_a_forged_return_is_refused_with_a_message(client, app, razorpay, forgery):
    with app.app_context():
        _, hold_id, payment = start(make_trip().id)
        params = razorpay.pay(payment.gateway_reference)
    if forgery == "signature":
        params["razorpay_signature"] = "f" * 64
    elif forgery == "status":
        params["razorpay_payment_link_status"] = "paid_twice"
    else:
        params["razorpay_payment_link_reference_id"] = str(uuid.uuid4())
    response = client.get(razorpay.callback_path(params))
    assert response.status_code == 400
    assert "could not confirm this return" in response.get_data(as_text=True)
    with app.app_context():
        assert booking_of(hold_id) is None


def test_a_return_without_its_fields_is_refused(client, razorpay):
    response = client.get("/payments/razorpay/return?razorpay_payment_id=pay_x")
    assert response.status_code == 400


# ---- 4. settling without the webhook ------------------------------------------------------------


def test_a_paid_link_whose_webhook_never_came_is_settled_by_asking(app_ctx, razorpay):
    _, hold_id, payment = start(make_trip().id)
    assert (
        settlement.settle_payment(payment.id, NOW + 2 * MIN).outcome == "still open at the gateway"
    )
    razorpay.pay(payment.gateway_reference)
    assert settlement.settle_payment(payment.id, NOW + 3 * MIN).outcome == "confirmed"
    assert booking_of(hold_id) is not None
    # the webhook arriving after all changes nothing
    assert deliver(razorpay.link_paid(payment.gateway_reference)).outcome == "already_completed"
    assert settlement.settle_payment(payment.id, NOW + 4 * MIN).outcome == "already completed"
    assert_invariants()


def test_the_settle_task_runs_after_the_return(client, app, razorpay):
    """Without a broker the task runs at once (eagerly): the return ends on the booking."""
    with app.app_context():
        _, hold_id, payment = start(make_trip().id)
        params = razorpay.pay(payment.gateway_reference)
    response = client.get(razorpay.callback_path(params))
    assert response.status_code == 302
    with app.app_context():
        assert booking_of(hold_id) is not None


def test_flask_payments_settle_settles_one_or_every_pending_payment(app, runner, razorpay):
    with app.app_context():
        _, first_hold, first = start(make_trip().id)
        _, second_hold, second = start(make_trip().id)
        razorpay.pay(first.gateway_reference)
        razorpay.pay(second.gateway_reference)
    one = runner.invoke(args=["payments", "settle", "--payment", str(first.id)])
    assert one.exit_code == 0, one.output
    assert f"{first.id}: confirmed" in one.output
    every = runner.invoke(args=["payments", "settle", "--older-than", "0"])
    assert every.exit_code == 0, every.output
    assert f"{second.id}: confirmed" in every.output
    with app.app_context():
        assert booking_of(first_hold) and booking_of(second_hold)


def test_settling_while_razorpay_is_down_says_so(app, runner, razorpay):
    with app.app_context():
        _, _, payment = start(make_trip().id)
    razorpay.fail_next("GET", "/v1/payment_links", 500)
    result = runner.invoke(args=["payments", "settle", "--payment", str(payment.id)])
    assert result.exit_code == 1
    assert "Razorpay could not fetch the payment link" in result.output


# ---- 3. refunds ---------------------------------------------------------------------------------


def booked(razorpay, trip_id, seats=("2A", "2B")):
    """A customer with 300.00 books seats paying the rest through Razorpay; returns
    (customer id, booking, payment)."""
    customer_id, hold_id, payment = start(trip_id, seats=seats)
    razorpay.pay(payment.gateway_reference)
    assert deliver(razorpay.link_paid(payment.gateway_reference)).outcome == "confirmed"
    return customer_id, booking_of(hold_id), payment


def gateway_refund(booking_id) -> Refund:
    return db.session.scalar(
        select(Refund)
        .where(Refund.booking_id == booking_id, Refund.method == "gateway")
        .execution_options(populate_existing=True)
    )


def cancel_one_seat(customer_id, booking, at=NOW + 3 * MIN) -> Cancellation:
    return cancellations.cancel_booking(
        booking.id,
        actor_id=customer_id,
        now=at,
        seat_numbers=["2B"],
        refund_mode=RefundMode.ORIGINAL,
    )


def test_a_cancelled_seat_is_refunded_at_razorpay_and_processed_on_its_webhook(app_ctx, razorpay):
    customer_id, booking, _payment = booked(razorpay, make_trip().id)
    done = cancel_one_seat(customer_id, booking)
    refund = gateway_refund(booking.id)
    # the task ran eagerly after commit: Razorpay has the refund, still pending there
    [at_razorpay] = razorpay.refunds.values()
    assert at_razorpay["receipt"] == str(refund.id)
    assert at_razorpay["amount"] == to_paise(refund.amount)
    assert refund.status == RefundStatus.PENDING
    assert refund.gateway_refund_reference == at_razorpay["id"]
    assert fresh(Cancellation, done.id).refund_status == RefundStatus.PENDING
    outcome = deliver(razorpay.refund_event(at_razorpay["id"], "processed"), NOW + 4 * MIN)
    assert outcome.outcome == "refund_processed"
    assert gateway_refund(booking.id).status == RefundStatus.PROCESSED
    assert fresh(Cancellation, done.id).refund_status == RefundStatus.PROCESSED
    assert_invariants()


def test_asking_again_for_a_refund_razorpay_has_makes_no_second_one(app_ctx, razorpay):
    customer_id, booking, _ = booked(razorpay, make_trip().id)
    cancel_one_seat(customer_id, booking)
    refund = gateway_refund(booking.id)
    refund_queue.retry_gateway_refund(refund.id, NOW + 10 * MIN)
    assert len(razorpay.refunds) == 1
    assert gateway_refund(booking.id).status == RefundStatus.PENDING


def test_a_refund_whose_answer_was_lost_is_not_made_twice(app_ctx, razorpay, monkeypatch):
    from booking import tasks

    monkeypatch.setattr(tasks.process_refund, "delay", lambda refund_id: None)
    customer_id, booking, _ = booked(razorpay, make_trip().id)
    cancel_one_seat(customer_id, booking)
    refund = gateway_refund(booking.id)
    razorpay.fail_next("POST", "/v1/payments/", 504, after=True)
    assert refund_queue.process_refund(refund.id, NOW + 4 * MIN) == RefundStatus.PENDING
    assert gateway_refund(booking.id).last_error
    assert refund_queue.process_refund(refund.id, NOW + 30 * MIN) == RefundStatus.PENDING
    assert len(razorpay.refunds) == 1
    assert gateway_refund(booking.id).gateway_refund_reference in razorpay.refunds


def test_a_refund_webhook_that_beats_a_lost_answer_leaves_the_refund_processed(
    app, app_ctx, razorpay, monkeypatch
):
    """Razorpay refunds, its refund.processed webhook lands (found by our receipt), then the
    worker's answer is lost: the failed attempt does not undo the processed refund."""
    from booking import tasks

    monkeypatch.setattr(tasks.process_refund, "delay", lambda refund_id: None)
    monkeypatch.setitem(app.config, "REFUND_MAX_ATTEMPTS", 1)
    customer_id, booking, _ = booked(razorpay, make_trip().id)
    cancel_one_seat(customer_id, booking)
    refund = gateway_refund(booking.id)
    original = RazorpayGateway.refund

    def refund_then_lose_the_answer(self, *args, **kwargs):
        answer = original(self, *args, **kwargs)
        assert deliver(razorpay.refund_event(answer.reference, "processed"), NOW + 4 * MIN)
        raise GatewayError("Razorpay did not answer in time to refund the payment.")

    monkeypatch.setattr(RazorpayGateway, "refund", refund_then_lose_the_answer)
    assert refund_queue.process_refund(refund.id, NOW + 4 * MIN) == RefundStatus.PROCESSED
    assert gateway_refund(booking.id).status == RefundStatus.PROCESSED


def test_refund_failed_webhook_makes_it_a_failed_attempt_tried_again(app_ctx, razorpay):
    customer_id, booking, _ = booked(razorpay, make_trip().id)
    cancel_one_seat(customer_id, booking)
    [first] = razorpay.refunds
    outcome = deliver(razorpay.refund_event(first, "failed"), NOW + 4 * MIN)
    assert outcome.outcome == "refund_pending"
    refund = gateway_refund(booking.id)
    assert refund.status == RefundStatus.PENDING
    assert refund.gateway_refund_reference is None
    assert refund.next_attempt_at > NOW + 4 * MIN
    # the next attempt makes a new refund at Razorpay (the failed one is dead)
    refund_queue.process_due_refunds(refund.next_attempt_at)
    assert len(razorpay.refunds) == 2
    assert gateway_refund(booking.id).gateway_refund_reference not in (None, first)


def test_a_refund_webhook_replayed_or_out_of_order_changes_nothing_more(app_ctx, razorpay):
    customer_id, booking, _ = booked(razorpay, make_trip().id)
    cancel_one_seat(customer_id, booking)
    [rid] = razorpay.refunds
    processed = razorpay.refund_event(rid, "processed", event_id="evt_rf_1")
    assert deliver(processed, NOW + 4 * MIN).outcome == "refund_processed"
    assert deliver(processed, NOW + 5 * MIN).outcome == "duplicate"
    late_failure = razorpay.refund_event(rid, "failed", event_id="evt_rf_0")
    assert deliver(late_failure, NOW + 6 * MIN).outcome == "refund_processed"
    assert gateway_refund(booking.id).status == RefundStatus.PROCESSED


def test_a_late_payment_whose_seats_are_gone_is_refunded_at_razorpay(app_ctx, razorpay):
    trip = make_trip()
    _, hold_id, payment = start(trip.id)
    # the hold lapses and someone else takes the seat
    later = fresh(Reservation, hold_id).expires_at + MIN
    other = make_user()
    hold(other.id, trip.id, ["2A"], now=later)
    razorpay.now = int(later.timestamp())
    razorpay.pay(payment.gateway_reference)
    outcome = deliver(razorpay.link_paid(payment.gateway_reference), later)
    assert outcome.outcome == "refunded"
    [at_razorpay] = razorpay.refunds.values()
    assert at_razorpay["amount"] == to_paise(REST)


# ---- 5. reconcile -------------------------------------------------------------------------------


def test_reconcile_lists_nothing_when_the_day_agrees(app, runner, razorpay):
    with app.app_context():
        customer_id, booking, _ = booked(razorpay, make_trip().id)
        cancel_one_seat(customer_id, booking)
        [rid] = razorpay.refunds
        deliver(razorpay.refund_event(rid, "processed"), NOW + 4 * MIN)
    day = (NOW + 5 * MIN).astimezone(_zone(app)).date().isoformat()
    result = runner.invoke(args=["payments", "reconcile", "--date", day])
    assert result.exit_code == 0, result.output
    assert f"No differences on {day}." in result.output


def test_reconcile_lists_each_planted_difference_and_nothing_else(app, runner, razorpay):
    with app.app_context():
        _customer_id, booking, _ = booked(razorpay, make_trip().id)
        _, _unbooked_hold, unbooked = start(make_trip().id)
        razorpay.pay(unbooked.gateway_reference)  # captured, but its webhook never came
        # a refund made at Razorpay's dashboard, never recorded here
        paid_id = razorpay.links[booking_payment(booking).gateway_reference]["payments"][0][
            "payment_id"
        ]
        razorpay.refunds["rfnd_dashboard"] = {
            "id": "rfnd_dashboard",
            "entity": "refund",
            "amount": 5000,
            "payment_id": paid_id,
            "receipt": None,
            "status": "processed",
            "created_at": razorpay.now,
        }
    day = (NOW + 5 * MIN).astimezone(_zone(app)).date().isoformat()
    result = runner.invoke(args=["payments", "reconcile", "--date", day])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if ": " in line]
    assert len(lines) == 2, result.output
    assert any(
        line.startswith("missing booking: pay_") and str(unbooked.id) in line for line in lines
    )
    assert "refund not recorded: rfnd_dashboard: Rs 50.00 refunded at gateway" in lines


def test_reconcile_with_razorpay_down_says_so(app, runner, razorpay):
    razorpay.fail_next("GET", "/v1/payments", 500)
    result = runner.invoke(args=["payments", "reconcile", "--date", "2030-01-01"])
    assert result.exit_code == 1
    assert "could not be asked" in result.output


def test_reconcile_refuses_a_date_that_is_not_one(runner, razorpay):
    result = runner.invoke(args=["payments", "reconcile", "--date", "yesterday"])
    assert result.exit_code == 2


def booking_payment(booking) -> Payment:
    return db.session.scalar(
        select(Payment).where(Payment.booking_id == booking.id, Payment.method != "wallet")
    )


def _zone(app):
    from zoneinfo import ZoneInfo

    return ZoneInfo(app.config["DISPLAY_TIMEZONE"])
