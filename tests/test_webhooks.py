"""Gateway webhooks, through POST /payments/webhook and through receive_webhook: only a fresh,
well-signed event about a known payment changes anything, and it changes it once."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest

from booking.extensions import db
from booking.models import Booking, Payment, PaymentEvent
from booking.models.enums import HoldStatus, LedgerKind, PaymentStatus
from booking.services import payments, webhooks
from booking.services.errors import DomainError
from booking.web.payments import routes as webhook_routes
from tests.money_support import (
    EVENT_RECORDS,
    SEAT,
    assert_invariants,
    balance,
    booking_of,
    count,
    deliver,
    fresh,
    hold,
    hold_row,
    ledger,
    pay_wallet,
    payments_of,
    signed_webhook,
    start_gateway,
    table_snapshot,
)
from tests.support import NOW, make_trip, make_user, race

MIN = timedelta(minutes=1)
AT = NOW + 2 * MIN  # when the webhooks in this file arrive
WALLET = Decimal("300.00")
GATEWAY_PART = SEAT - WALLET


@dataclass(frozen=True)
class Paying:
    """A customer half-way through paying a hold: wallet part debited, gateway pending."""

    customer_id: uuid.UUID
    hold_id: uuid.UUID
    payment_id: uuid.UUID
    reference: str


def begin_paying(trip_id, now=NOW + MIN) -> Paying:
    """A customer with 300.00 holds seat 2A (525.00) and starts paying the rest by UPI."""
    customer = make_user(wallet=WALLET)
    hold_id = hold(customer.id, trip_id, ["2A"])
    started = start_gateway(customer.id, hold_id, ["2A"], now=now)
    payment = fresh(Payment, started.payment_id)
    return Paying(customer.id, hold_id, payment.id, payment.gateway_reference)


@pytest.fixture
def paying(app_ctx) -> Paying:
    return begin_paying(make_trip().id)


@pytest.fixture
def fixed_clock(monkeypatch):
    """The webhook endpoint reads the clock; pin it to AT."""
    monkeypatch.setattr(webhook_routes, "utcnow", lambda: AT)


@pytest.fixture(params=["http", "service"])
def send(request, client):
    """Deliver a raw body with headers at AT, through the endpoint or the service; returns
    (HTTP status, outcome or None)."""
    if request.param == "http":
        request.getfixturevalue("fixed_clock")

        def through_http(body: bytes, headers: dict):
            db.session.rollback()  # the request writes on its own connection
            response = client.post(
                "/payments/webhook", data=body, headers=headers, content_type="application/json"
            )
            assert response.is_json
            body_json = response.get_json()
            return response.status_code, body_json.get("outcome") or body_json["error"]["message"]

        return through_http

    def through_service(body: bytes, headers: dict):
        try:
            return 200, webhooks.receive_webhook(headers, body, AT).outcome
        except DomainError as error:
            return error.status, error.message

    return through_service


def success(paying: Paying, **kw):
    """A signed success event for the whole gateway part."""
    return signed_webhook("payment.succeeded", paying.reference, GATEWAY_PART, now=AT, **kw)


def assert_refused(send, body, headers, status: int) -> str:
    """The webhook is refused with ``status`` and nothing at all changes."""
    before = table_snapshot()
    got, message = send(body, headers)
    assert got == status, message
    assert table_snapshot() == before
    return message


# ---- refusals ----------------------------------------------------------------------------------


def test_the_webhook_endpoint_answers_json(paying, client, fixed_clock):
    """The endpoint is there and says what happened to the event."""
    body, headers = success(paying)
    db.session.rollback()
    response = client.post("/payments/webhook", data=body, headers=headers)
    assert response.status_code == 200
    assert response.get_json() == {"outcome": "confirmed", "payment": str(paying.payment_id)}


def test_a_webhook_with_a_bad_signature_changes_nothing(paying, send):
    body, headers = success(paying, secret="not-our-secret")
    assert "signature" in assert_refused(send, body, headers, 400)


def test_a_webhook_altered_after_signing_changes_nothing(paying, send):
    """The signature covers the body: a raised amount no longer verifies."""
    body, headers = success(paying)
    altered = body.replace(b'"225.00"', b'"1.00"')
    assert altered != body
    assert_refused(send, altered, headers, 400)


def test_a_webhook_without_signature_headers_changes_nothing(paying, send):
    body, _ = success(paying)
    assert_refused(send, body, {}, 400)


def test_a_webhook_signed_more_than_five_minutes_ago_changes_nothing(paying, send):
    """A replayed old delivery (5 min 1 s old) is stale even with a good signature."""
    body, headers = success(paying, signed_at=AT - timedelta(minutes=5, seconds=1))
    assert "too old" in assert_refused(send, body, headers, 400)


def test_a_webhook_dated_in_the_future_changes_nothing(paying, send):
    body, headers = success(paying, signed_at=AT + timedelta(minutes=6))
    assert_refused(send, body, headers, 400)


def test_a_webhook_signed_five_minutes_ago_is_still_accepted(paying, send):
    """The tolerance is inclusive: exactly 300 seconds is fresh."""
    body, headers = success(paying, signed_at=AT - timedelta(minutes=5))
    assert send(body, headers) == (200, "confirmed")


def test_a_webhook_about_an_unknown_payment_is_404_and_changes_nothing(paying, send):
    body, headers = signed_webhook("payment.succeeded", "sbx_nobody", GATEWAY_PART, now=AT)
    assert_refused(send, body, headers, 404)


@pytest.mark.parametrize(
    "body",
    [
        b'{"id": "evt_1", "type": "payment.succeeded"',
        b"not json at all",
        b"[]",
        b'{"id":"evt_1","type":"payment.refunded_twice","data":{"reference":"x","amount":"1.00"}}',
        b'{"id":"evt_1","type":"payment.succeeded","data":{"reference":"x","amount":225.0}}',
        b'{"id":"evt_1","type":["payment.succeeded"],"data":{"reference":"x","amount":"1.00"}}',
        b'{"id":"evt_1","type":{"a":1},"data":{"reference":"x","amount":"1.00"}}',
        b'{"id":["evt_1"],"type":"payment.succeeded","data":{"reference":"x","amount":"1.00"}}',
        b'{"id":"evt_1","type":"payment.succeeded","data":{"reference":{},"amount":"1.00"}}',
        b'{"id":"evt_1","type":"payment.succeeded","data":{"reference":"x","amount":["1"]}}',
        b'{"id":"evt_1","type":"payment.succeeded","data":[]}',
        b'{"id":"evt\\u00001","type":"payment.succeeded","data":{"reference":"x","amount":"1.00"}}',
        b'{"id":"evt_1","type":"payment.succeeded","data":{"reference":"x\\u0000","amount":"1.00"}}',
    ],
    ids=[
        "truncated",
        "not-json",
        "not-an-object",
        "unknown-type",
        "float-amount",
        "type-a-list",
        "type-an-object",
        "id-a-list",
        "reference-an-object",
        "amount-a-list",
        "data-a-list",
        "nul-in-id",
        "nul-in-reference",
    ],
)
def test_a_well_signed_but_malformed_webhook_is_400_and_changes_nothing(paying, send, app, body):
    from booking.gateway.sandbox import sign

    headers = sign(body, int(AT.timestamp()), app.config["GATEWAY_WEBHOOK_SECRET"])
    assert_refused(send, body, headers, 400)


# ---- once, however often -----------------------------------------------------------------------


def test_replayed_success_webhook_books_once_and_debits_once(paying, send):
    """The same event ten times: one booking, one debit, nine duplicates."""
    body, headers = success(paying)
    outcomes = [send(body, headers) for _ in range(10)]
    assert outcomes[0] == (200, "confirmed")
    assert outcomes[1:] == [(200, "duplicate")] * 9
    assert count(Booking) == 1
    assert len(ledger(paying.customer_id, LedgerKind.DEBIT)) == 1
    assert count(PaymentEvent) == 1
    assert_invariants()


def test_a_second_success_event_for_a_completed_payment_changes_nothing(paying, send):
    """A different event id for the same success (the gateway resending) is noted only."""
    send(*success(paying))
    before = table_snapshot(exclude=EVENT_RECORDS)
    assert send(*success(paying)) == (200, "already_completed")
    assert table_snapshot(exclude=EVENT_RECORDS) == before


@pytest.mark.parametrize("late_event", ["payment.failed", "payment.abandoned"])
def test_a_failure_arriving_after_the_success_changes_nothing(paying, send, late_event):
    """Booking, payments, ledger, seats and hold stay as the success left them."""
    assert send(*success(paying)) == (200, "confirmed")
    before = table_snapshot(exclude=EVENT_RECORDS)
    body, headers = signed_webhook(late_event, paying.reference, GATEWAY_PART, now=AT)
    assert send(body, headers) == (200, "ignored")
    assert table_snapshot(exclude=EVENT_RECORDS) == before
    assert_invariants()


def test_a_success_arriving_after_a_decline_is_refunded_not_booked(paying):
    """The customer was told the payment failed; money that turns up anyway goes back."""
    deliver("payment.failed", paying.payment_id, AT)
    outcome = deliver("payment.succeeded", paying.payment_id, AT + MIN)
    assert outcome.outcome == "refunded"
    payment = fresh(Payment, paying.payment_id)
    assert payment.status == PaymentStatus.REFUNDED
    assert payment.refunded_amount == payment.amount
    assert count(Booking) == 0
    assert balance(paying.customer_id) == WALLET  # the wallet part came back with the decline
    assert hold_row(paying.hold_id).status == HoldStatus.ACTIVE
    assert_invariants()


def test_a_success_for_the_wrong_amount_is_refunded_not_booked(paying):
    """The gateway captured something other than what we asked: hand it back, book nothing."""
    outcome = deliver("payment.succeeded", paying.payment_id, AT, amount=Decimal("1.00"))
    assert outcome.outcome == "refunded"
    gateway_part = fresh(Payment, paying.payment_id)
    assert gateway_part.status == PaymentStatus.REFUNDED
    assert gateway_part.paired_payment.status == PaymentStatus.FAILED
    assert balance(paying.customer_id) == WALLET
    assert count(Booking) == 0
    assert_invariants()


def test_a_success_for_a_superseded_payment_is_refunded_and_the_new_one_still_books(paying):
    """An older attempt that the customer replaced cannot book the hold twice."""
    newer = start_gateway(paying.customer_id, paying.hold_id, ["2A"], now=AT)
    assert deliver("payment.succeeded", paying.payment_id, AT).outcome == "refunded"
    assert deliver("payment.succeeded", newer.payment_id, AT + MIN).outcome == "confirmed"
    assert count(Booking) == 1
    old = fresh(Payment, paying.payment_id)
    assert old.status == PaymentStatus.REFUNDED and old.booking_id is None
    assert_invariants()


def test_paying_from_the_wallet_while_a_gateway_payment_is_pending_gives_its_wallet_part_back(
    paying,
):
    """The customer gives up on the gateway page and pays from a topped-up wallet: the wallet
    part of the abandoned attempt comes back in the same transaction, the hold is booked once,
    and the gateway's late success is refunded."""
    topup = payments.start_topup(
        customer_id=paying.customer_id,
        amount=Decimal("300.00"),
        method=payments.PaymentMethod.UPI,
        now=AT,
        return_url="/wallet",
    )
    deliver("payment.succeeded", topup.payment_id, AT)
    assert balance(paying.customer_id) == Decimal("300.00")  # 300 of 600 still out at the gateway

    booking_id = pay_wallet(paying.customer_id, paying.hold_id, ["2A"], now=AT + MIN)
    assert balance(paying.customer_id) == Decimal("600.00") - SEAT
    old = fresh(Payment, paying.payment_id)
    assert old.status == PaymentStatus.FAILED
    [first_debit, _] = ledger(paying.customer_id, LedgerKind.DEBIT)
    [refund] = ledger(paying.customer_id, LedgerKind.REFUND)
    assert refund.parent_id == first_debit.id and refund.amount == WALLET

    assert deliver("payment.succeeded", paying.payment_id, AT + 2 * MIN).outcome == "refunded"
    assert [b.id for b in db.session.query(Booking)] == [booking_id]
    assert balance(paying.customer_id) == Decimal("600.00") - SEAT
    assert_invariants()


def test_the_wallet_payment_refused_leaves_the_pending_gateway_payment_alone(paying):
    """When the wallet cannot cover it, nothing changes: the gateway attempt stays pending."""
    before = table_snapshot()
    with pytest.raises(payments.PaymentError):
        pay_wallet(paying.customer_id, paying.hold_id, ["2A"], now=AT)
    assert table_snapshot() == before


# ---- races (PostgreSQL) ------------------------------------------------------------------------


@pytest.fixture
def race_app(make_app):
    """An app whose pool lets every racing thread hold a connection at once."""
    return make_app(
        SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 30, "max_overflow": 0, "pool_timeout": 60}
    )


def _outcome(result):
    """A webhook result as a comparable value (the exception's type when one was raised)."""
    return result.outcome if isinstance(result, webhooks.WebhookOutcome) else repr(result)


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.parametrize("round_", range(3))
def test_twenty_deliveries_of_one_success_at_once_book_once_and_debit_once(race_app, round_):
    """20 threads deliver the same signed success at the same instant: one booking, one debit,
    19 duplicates, nothing raised."""
    with race_app.app_context():
        paying = begin_paying(make_trip().id)
        body, headers = success(paying)
    results = race(
        race_app, [lambda: webhooks.receive_webhook(headers, body, AT) for _ in range(20)]
    )
    assert Counter(map(_outcome, results)) == {"confirmed": 1, "duplicate": 19}
    with race_app.app_context():
        assert count(Booking) == 1
        assert len(ledger(paying.customer_id, LedgerKind.DEBIT)) == 1
        assert count(PaymentEvent) == 1
        assert booking_of(paying.hold_id) is not None
        assert_invariants()


@pytest.mark.postgres
@pytest.mark.slow
def test_twenty_different_success_events_at_once_book_once(race_app):
    """The gateway resending with fresh event ids: one booking, the rest already completed."""
    with race_app.app_context():
        paying = begin_paying(make_trip().id)
        deliveries = [success(paying) for _ in range(20)]
    results = race(
        race_app,
        [lambda b=b, h=h: webhooks.receive_webhook(h, b, AT) for b, h in deliveries],
    )
    assert Counter(map(_outcome, results)) == {"confirmed": 1, "already_completed": 19}
    with race_app.app_context():
        assert count(Booking) == 1
        assert len(ledger(paying.customer_id, LedgerKind.DEBIT)) == 1
        assert_invariants()


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.parametrize("round_", range(3))
def test_a_wallet_payment_racing_the_gateway_success_leaves_one_booking(race_app, round_):
    """Pay from the wallet and the gateway's success at the same instant: one booking, one
    kept payment, the loser's money back."""
    with race_app.app_context():
        trip_id = make_trip().id
        customer = make_user(wallet="1000.00")
        hold_id = hold(customer.id, trip_id, ["2A"])
        started = start_gateway(customer.id, hold_id, ["2A"], now=NOW + MIN, use_wallet=False)
        reference = fresh(Payment, started.payment_id).gateway_reference
        body, headers = signed_webhook("payment.succeeded", reference, SEAT, now=AT)
        customer_id = customer.id
    results = race(
        race_app,
        [
            lambda: webhooks.receive_webhook(headers, body, AT).outcome,
            lambda: pay_wallet(customer_id, hold_id, ["2A"], now=AT),
        ],
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    with race_app.app_context():
        assert count(Booking) == 1
        booking = booking_of(hold_id)
        kept = [p for p in payments_of(hold_id) if p.status == PaymentStatus.COMPLETED]
        assert [p.booking_id for p in kept] == [booking.id]
        assert sum(p.amount for p in kept) == SEAT
        wallet_paid = kept[0].method == payments.PaymentMethod.WALLET
        assert balance(customer_id) == Decimal("1000.00") - (SEAT if wallet_paid else 0)
        assert_invariants()


def test_every_webhook_outcome_is_recorded_with_its_event(paying):
    """The applied event is kept with its outcome (so replays are recognised)."""
    deliver("payment.succeeded", paying.payment_id, AT, event_id="evt_kept")
    event = db.session.query(PaymentEvent).one()
    assert (event.event_id, event.outcome, event.payment_id) == (
        "evt_kept",
        "confirmed",
        paying.payment_id,
    )
    assert json.loads(json.dumps(event.payload))["data"]["amount"] == "225.00"
