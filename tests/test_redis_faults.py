"""Redis down or hung: requests finish (bounded by REDIS_SOCKET_TIMEOUT), nothing is stranded.

Redis down is a port nobody listens on; Redis hung is a listener of this test's own that accepts
connections and never answers. The time bounds are generous (the bound is the 0.25 s socket
timeout, a few times over; without it these requests took 15-60 s).
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from booking.extensions import db
from booking.models import Booking, OutboxEmail, Payment, Reservation
from booking.models.enums import EmailStatus, HoldStatus, PaymentStatus
from booking.orm import utcnow
from booking.services import notifications
from tests.conftest import AuthActions
from tests.support import PASSWORD, REDIS_DOWN, make_trip, make_user

DOWN = REDIS_DOWN
BOUND = 3.0  # seconds; a request normally takes a fraction of one


@pytest.fixture(params=["down", "hung"])
def broken_redis(request) -> str:
    """The REDIS_URL of a Redis that is down, or one that is hung."""
    if request.param == "down":
        return DOWN
    return request.getfixturevalue("hung_redis").url


def shop(make_app, redis_url: str, wallet: str = "0"):
    """An app on ``redis_url``, its client, a signed-in customer (id) and a trip (id)."""
    application = make_app(REDIS_URL=redis_url)
    client = application.test_client()
    with application.app_context():
        now = utcnow()
        trip = make_trip(now=now)
        customer = make_user(now=now, wallet=wallet)
        ids = customer.id, customer.email, trip.id
    assert AuthActions(client).login(ids[1], PASSWORD).status_code == 302
    return application, client, ids[0], ids[2]


def checkout_form(seat: str, method: str | None = None) -> dict[str, str]:
    """The checkout form for one seat, paying with the wallet (and ``method`` for the rest)."""
    data = {
        "contact_name": "Priya Raman",
        "contact_phone": "+91 98765 43210",
        "contact_email": "priya@example.com",
        "promo_code": "",
        "action": "pay",
        "idempotency_key": uuid.uuid4().hex,
        "passengers-0-seat_number": seat,
        "passengers-0-name": "Priya Raman",
        "passengers-0-age": "30",
        "passengers-0-gender": "female",
        "use_wallet": "y",
    }
    if method:
        data["method"] = method
    return data


def timed(call):
    """Run ``call``; return its result and the seconds it took."""
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def hold(client, trip_id: uuid.UUID, seat: str = "2A") -> uuid.UUID:
    """Hold a seat through the seat form; return the hold id."""
    response = client.post(f"/schedules/{trip_id}/holds", data={"seats": [seat]})
    assert response.status_code == 302, response.text
    return uuid.UUID(response.headers["Location"].rsplit("/", 1)[1])


def booking_of(application, hold_id: uuid.UUID) -> Booking | None:
    """The booking a hold became, if any (detached)."""
    with application.app_context():
        booking = db.session.scalar(select(Booking).where(Booking.reservation_id == hold_id))
        if booking is not None:
            db.session.expunge(booking)
        return booking


# ---- Redis down or hung: every request completes, quickly --------------------------------------


def test_a_hold_post_completes_quickly_when_redis_is_broken(make_app, broken_redis):
    """The seat-map broadcast after the hold commits gives up after one short timeout."""
    application, client, _, trip_id = shop(make_app, broken_redis)
    hold_id, seconds = timed(lambda: hold(client, trip_id))
    assert seconds < BOUND
    with application.app_context():
        assert db.session.get(Reservation, hold_id).status == HoldStatus.ACTIVE


def test_failed_sign_ins_answer_quickly_when_the_throttle_cannot_reach_redis(
    make_app, broken_redis
):
    """The sign-in throttle counts in Redis when it can; broken, it falls back to memory after one
    bounded wait, so a wrong password still gets the form and its message, fast."""
    application = make_app(REDIS_URL=broken_redis, RATELIMIT_STORAGE_URI=broken_redis)
    client = application.test_client()
    with application.app_context():
        email = make_user(now=utcnow()).email
    for _ in range(3):
        response, seconds = timed(lambda: AuthActions(client).login(email, "Wrong0ne!"))
        assert response.status_code == 400  # the form again, with its message
        assert seconds < BOUND
    assert AuthActions(client).login(email, PASSWORD).status_code == 302


def test_a_wallet_payment_completes_and_its_email_waits_in_the_outbox(make_app, broken_redis):
    """Booked at once; the confirmation email is not handed to a worker and stays pending."""
    application, client, _, trip_id = shop(make_app, broken_redis, wallet="2000")
    hold_id = hold(client, trip_id)
    paid, seconds = timed(lambda: client.post(f"/holds/{hold_id}", data=checkout_form("2A")))
    assert seconds < BOUND
    assert paid.status_code == 302, paid.text
    booking = booking_of(application, hold_id)
    assert booking is not None and paid.headers["Location"] == f"/bookings/{booking.reference}"
    with application.app_context():
        email = db.session.scalar(select(OutboxEmail).where(OutboxEmail.booking_id == booking.id))
        assert email.status == EmailStatus.PENDING


def test_a_gateway_payment_is_settled_in_process_when_the_task_cannot_be_queued(
    make_app, broken_redis
):
    """The sandbox's Pay answers a redirect (not 500) and its webhook is delivered right away
    in-process: the booking exists and the waiting page sends the customer to it."""
    application, client, _, trip_id = shop(make_app, broken_redis, wallet="100")
    hold_id = hold(client, trip_id)
    started, opening = timed(
        lambda: client.post(f"/holds/{hold_id}", data=checkout_form("2A", method="upi"))
    )
    assert started.status_code == 302 and opening < BOUND
    payment_id = re.fullmatch(r"/gateway/sandbox/(.+)", started.headers["Location"]).group(1)
    paid, paying = timed(
        lambda: client.post(f"/gateway/sandbox/{payment_id}", data={"decision": "pay"})
    )
    assert paying < BOUND
    assert paid.status_code == 302 and paid.headers["Location"] == f"/holds/{hold_id}/paying"
    booking = booking_of(application, hold_id)
    assert booking is not None and booking.total_amount == Decimal("525.00")
    waiting = client.get(paid.headers["Location"])
    assert waiting.headers["Location"] == f"/bookings/{booking.reference}"
    with application.app_context():
        statuses = db.session.scalars(
            select(Payment.status).where(Payment.reservation_id == hold_id)
        ).all()
        assert set(statuses) == {PaymentStatus.COMPLETED}  # the wallet part kept, not stranded


def test_a_declined_sandbox_payment_without_redis_returns_to_checkout(make_app):
    """Decline is delivered in-process too: the payment fails and the hold stays live."""
    application, client, _, trip_id = shop(make_app, DOWN)
    hold_id = hold(client, trip_id)
    started = client.post(f"/holds/{hold_id}", data=checkout_form("2A", method="upi"))
    payment_id = uuid.UUID(started.headers["Location"].rsplit("/", 1)[1])
    client.post(f"/gateway/sandbox/{payment_id}", data={"decision": "decline"})
    with application.app_context():
        assert db.session.get(Payment, payment_id).status == PaymentStatus.FAILED
    assert client.get(f"/holds/{hold_id}/paying").headers["Location"] == f"/holds/{hold_id}"


def test_celery_and_the_publisher_bound_every_redis_wait(make_app):
    """REDIS_SOCKET_TIMEOUT reaches the broker, the result backend and the publisher, with no
    publish retries."""
    from booking import realtime

    application = make_app(REDIS_URL=DOWN, REDIS_SOCKET_TIMEOUT=0.4)
    conf = application.extensions["celery"].conf
    assert conf.broker_transport_options["socket_timeout"] == 0.4
    assert conf.broker_transport_options["socket_connect_timeout"] == 0.4
    assert conf.broker_connection_timeout == 0.4
    assert conf.redis_socket_timeout == conf.redis_socket_connect_timeout == 0.4
    assert conf.task_publish_retry_policy["max_retries"] == 0
    with application.app_context():
        options = realtime.publisher_for().redis.connection_pool.connection_kwargs
    assert options["socket_timeout"] == options["socket_connect_timeout"] == 0.4
    assert options["retry"].get_retries() == 0


# ---- the waiting page gives up once the hold has run out --------------------------------------


def test_the_waiting_page_stops_once_the_hold_ran_out_with_no_word_from_the_gateway(make_app):
    """Still pending after the hold's end: say so, stop polling (286 for htmx), no refresh."""
    application, client, _, trip_id = shop(make_app, DOWN)
    hold_id = hold(client, trip_id)
    client.post(f"/holds/{hold_id}", data=checkout_form("2A", method="upi"))
    waiting = client.get(f"/holds/{hold_id}/paying")
    assert "Waiting for the payment gateway" in waiting.text and "hx-trigger" in waiting.text
    with application.app_context():
        db.session.execute(
            update(Reservation)
            .where(Reservation.id == hold_id)
            .values(
                reserved_at=utcnow() - timedelta(minutes=30),
                expires_at=utcnow() - timedelta(minutes=1),
            )
        )
        db.session.commit()
    page = client.get(f"/holds/{hold_id}/paying")
    fragment = client.get(f"/holds/{hold_id}/paying", headers={"HX-Request": "true"})
    assert page.status_code == 200 and fragment.status_code == 286
    assert "has not confirmed your payment" in page.text
    assert "hx-trigger" not in page.text and 'http-equiv="refresh"' not in page.text
    assert "has not confirmed your payment" in fragment.text


def test_a_top_up_with_no_word_after_its_gateway_session_stops_waiting(make_app):
    """A top-up still pending once GATEWAY_SESSION_MINUTES have passed: the status page says
    so and stops polling (286 for htmx); a top-up within its session still waits."""
    application, client, _, _ = shop(make_app, DOWN)
    started = client.post("/wallet/topup", data={"amount": "1000", "method": "upi"})
    payment_id = uuid.UUID(started.headers["Location"].rsplit("/", 1)[1])
    waiting = client.get(f"/wallet/topups/{payment_id}")
    assert "hx-trigger" in waiting.text and "has not confirmed" not in waiting.text
    with application.app_context():
        minutes = application.config["GATEWAY_SESSION_MINUTES"] + 1
        db.session.execute(
            update(Payment)
            .where(Payment.id == payment_id)
            .values(created_at=utcnow() - timedelta(minutes=minutes))
        )
        db.session.commit()
    page = client.get(f"/wallet/topups/{payment_id}")
    fragment = client.get(f"/wallet/topups/{payment_id}", headers={"HX-Request": "true"})
    assert page.status_code == 200 and fragment.status_code == 286
    assert "has not confirmed your top-up of Rs 1,000.00" in page.text
    assert "hx-trigger" not in page.text and 'http-equiv="refresh"' not in page.text


# ---- what was not handed to a worker is sent from the outbox later ----------------------------


class FakeSMTP:
    """Stands in for smtplib.SMTP and keeps what it was given."""

    sent: list = []

    def __init__(self, host, port, timeout=None) -> None:
        self.host = host

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def send_message(self, message) -> None:
        FakeSMTP.sent.append(message["To"])


def outbox_email(to: str, created_at) -> uuid.UUID:
    """A pending outbox message queued at ``created_at``."""
    email = OutboxEmail(
        to_address=to,
        subject="Hello",
        body="Hello",
        kind="booking_confirmed",
        created_at=created_at,
        updated_at=created_at,
    )
    db.session.add(email)
    db.session.commit()
    return email.id


def test_emails_never_handed_to_a_worker_are_sent_by_the_retry_task(make_app, monkeypatch):
    """retry_emails sends pending messages older than EMAIL_RETRY_AFTER_SECONDS, leaves newer
    ones to their worker, and does nothing without SMTP (the outbox is the mailbox then)."""
    monkeypatch.setattr("smtplib.SMTP", FakeSMTP)
    monkeypatch.setattr(FakeSMTP, "sent", [])
    now = utcnow()
    with_smtp = make_app(SMTP_HOST="mail.invalid", EMAIL_RETRY_AFTER_SECONDS=120)
    with with_smtp.app_context():
        stale = outbox_email("stale@example.com", now - timedelta(minutes=5))
        fresh = outbox_email("fresh@example.com", now - timedelta(seconds=30))
        assert notifications.send_stale(now, 120) == 1
        assert FakeSMTP.sent == ["stale@example.com"]
        db.session.expire_all()
        assert db.session.get(OutboxEmail, stale).status == EmailStatus.SENT
        assert db.session.get(OutboxEmail, fresh).status == EmailStatus.PENDING
        assert notifications.send_stale(now, 120) == 0  # nothing twice
        from booking.tasks import retry_emails

        assert retry_emails.run() == 0  # the task reads the same setting: fresh is left alone
    without_smtp = make_app(SMTP_HOST=None)
    with without_smtp.app_context():
        outbox_email("later@example.com", now - timedelta(minutes=5))
        assert notifications.send_stale(now, 120) == 0
    assert "later@example.com" not in FakeSMTP.sent


def test_the_beat_runs_the_email_retry():
    """The beat schedule has the retry task."""
    import celeryconfig

    entry = celeryconfig.beat_schedule["retry-pending-emails"]
    assert entry["task"] == "booking.tasks.retry_emails"


# ---- the sweep with Redis down or hung ---------------------------------------------------------


def test_the_sweep_goes_on_when_redis_is_broken_and_its_emails_wait_in_the_outbox(
    make_app, broken_redis
):
    """Lapsed holds are retired and their seats announced within the bound; the lapsed-hold
    emails, which could not be handed to a worker, stay pending for the retry task."""
    from booking.services import holds, sweep

    application = make_app(REDIS_URL=broken_redis)
    with application.app_context():
        now = utcnow()
        trip = make_trip(now=now - timedelta(hours=1))
        customers = [make_user(now=now - timedelta(hours=1)) for _ in range(3)]
        held = [
            holds.hold_seats(
                customer_id=customer.id,
                schedule_id=trip.id,
                seat_numbers=[seat],
                now=now - timedelta(minutes=30),
            ).id
            for customer, seat in zip(customers, ["1A", "2A", "3A"], strict=True)
        ]
        result, seconds = timed(lambda: sweep.run(now))
        assert seconds < BOUND
        assert len(result.retired) == 3
        statuses = db.session.scalars(select(Reservation.status).where(Reservation.id.in_(held)))
        assert set(statuses) == {HoldStatus.EXPIRED}
        emails = db.session.scalars(
            select(OutboxEmail.status).where(OutboxEmail.kind == "hold_expired")
        ).all()
        assert emails == [EmailStatus.PENDING] * 3
