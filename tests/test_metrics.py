"""/metrics: Prometheus's text format, counting requests, holds, payments, open sockets and the
sweep from what the services already announce; shown only to admins, an address or a token."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY

from booking.extensions import db
from booking.models.enums import Role
from booking.orm import utcnow
from booking.services import holds, sweep
from tests.money_support import deliver, hold, pay_wallet, start_gateway
from tests.support import NOW, make_trip, make_user, sign_in_as
from tests.test_realtime import live_app, serve, trip_with_customer, wait_for  # noqa: F401
from tests.test_ws_process import sockets  # noqa: F401


def sample(name: str, **labels) -> float:
    """A metric's current value in this process (0 before it was ever counted)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


# ---- who may read it ------------------------------------------------------------------------


def test_metrics_are_refused_to_visitors_and_customers(client, app, auth):
    assert client.get("/metrics").status_code == 403
    sign_in_as(app, auth)
    refused = client.get("/metrics")
    assert refused.status_code == 403
    assert "METRICS_TOKEN" in refused.get_data(as_text=True)
    assert "booking_" not in refused.get_data(as_text=True)


def test_an_admin_reads_the_metrics_in_prometheus_format(client, app, auth):
    sign_in_as(app, auth, Role.ADMIN)
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    body = response.get_data(as_text=True)
    for family in (
        "booking_http_requests_total",
        "booking_http_request_duration_seconds_bucket",
        "booking_holds_total",
        "booking_payments_total",
        "booking_open_sockets",
        "booking_sweep_duration_seconds",
    ):
        assert f"# TYPE {family.removesuffix('_bucket').removesuffix('_total')}" in body


def test_a_scraper_with_the_token_reads_them_and_a_wrong_token_does_not(make_app):
    scraper = make_app(METRICS_TOKEN="s3cret").test_client()
    assert scraper.get("/metrics", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert scraper.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 403
    assert scraper.get("/metrics").status_code == 403


def test_a_scraper_from_an_allowed_network_reads_them(make_app):
    inside = make_app(METRICS_ALLOWED_ADDRESSES=(ipaddress.ip_network("127.0.0.0/8"),))
    assert inside.test_client().get("/metrics").status_code == 200
    outside = make_app(METRICS_ALLOWED_ADDRESSES=(ipaddress.ip_network("10.0.0.0/8"),))
    assert outside.test_client().get("/metrics").status_code == 403


def test_metrics_allowed_addresses_must_be_addresses(monkeypatch, tmp_path):
    from booking.config import load_config

    monkeypatch.setenv("METRICS_ALLOWED_ADDRESSES", "10.0.0.0/8, the office")
    with pytest.raises(RuntimeError, match="METRICS_ALLOWED_ADDRESSES"):
        load_config(str(tmp_path))


# ---- what is counted ------------------------------------------------------------------------


def test_requests_are_counted_by_endpoint_and_status_and_timed(client):
    labels = {"endpoint": "public.home", "method": "GET", "status": "200"}
    before = sample("booking_http_requests_total", **labels)
    timed = sample("booking_http_request_duration_seconds_count", endpoint="public.home")
    missing = sample(
        "booking_http_requests_total", endpoint="unmatched", method="GET", status="404"
    )
    assert client.get("/").status_code == 200
    assert client.get("/no-such-page").status_code == 404
    assert sample("booking_http_requests_total", **labels) == before + 1
    assert (
        sample("booking_http_request_duration_seconds_count", endpoint="public.home") == timed + 1
    )
    assert (
        sample("booking_http_requests_total", endpoint="unmatched", method="GET", status="404")
        == missing + 1
    )


def test_holds_created_and_expired_are_counted(app_ctx):
    created = sample("booking_holds_total", outcome="created")
    expired = sample("booking_holds_total", outcome="expired")
    customer, trip = make_user(wallet="0"), make_trip()
    holds.hold_seats(customer_id=customer.id, schedule_id=trip.id, seat_numbers=["1A"], now=NOW)
    assert sample("booking_holds_total", outcome="created") == created + 1
    sweep.run(NOW + timedelta(hours=1))
    assert sample("booking_holds_total", outcome="expired") == expired + 1


def test_a_hold_refused_because_the_seat_is_taken_is_counted(client, app, auth):
    refused = sample("booking_holds_total", outcome="refused")
    made = trip_with_customer(app)
    with app.app_context():
        holds.hold_seats(
            customer_id=made["customer"],
            schedule_id=made["trip"],
            seat_numbers=["1A"],
            now=utcnow(),
        )
    sign_in_as(app, auth)
    answer = client.post(f"/schedules/{made['trip']}/holds", data={"seats": ["1A"]})
    assert answer.status_code == 409
    assert sample("booking_holds_total", outcome="refused") == refused + 1


def test_payments_are_counted_by_outcome(app_ctx):
    booked = sample("booking_payments_total", outcome="booked")
    failed = sample("booking_payments_total", outcome="webhook_failed")
    customer, trip = make_user(wallet="5000"), make_trip()
    pay_wallet(customer.id, hold(customer.id, trip.id, ["1A"]), ["1A"], NOW)
    assert sample("booking_payments_total", outcome="booked") == booked + 1

    other = make_user(wallet="0")
    paying = start_gateway(other.id, hold(other.id, trip.id, ["2A"]), ["2A"], NOW)
    deliver("payment.failed", paying.payment_id, NOW)
    assert sample("booking_payments_total", outcome="webhook_failed") == failed + 1
    db.session.rollback()


def test_open_seat_sockets_are_a_gauge(live_app, serve, sockets):  # noqa: F811
    application = live_app()
    trip = trip_with_customer(application)["trip"]
    before = sample("booking_open_sockets")
    ws = sockets(serve(application), trip)
    assert "seat-" in ws.receive(timeout=5)
    assert sample("booking_open_sockets") == before + 1
    ws.close()
    wait_for(lambda: sample("booking_open_sockets") == before, what="the gauge to drop")


def test_the_sweep_run_by_the_cli_is_timed(runner):
    runs = sample("booking_sweep_duration_seconds_count")
    assert runner.invoke(args=["holds", "expire"]).exit_code == 0
    assert sample("booking_sweep_duration_seconds_count") == runs + 1


# ---- several gunicorn workers ---------------------------------------------------------------

COUNT_ONE_HOLD = """
from booking.metrics import count_event_line
count_event_line(None, "info", {"event": "hold.created"})
"""
EXPOSE = """
import sys
from booking.metrics import exposition
sys.stdout.write(exposition()[0].decode())
"""


def test_with_a_multiprocess_dir_the_metrics_add_up_every_worker(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for _worker in range(2):
        subprocess.run([sys.executable, "-c", COUNT_ONE_HOLD], env=env, check=True, timeout=60)
    shown = subprocess.run(
        [sys.executable, "-c", EXPOSE], env=env, check=True, capture_output=True, text=True
    ).stdout
    assert 'booking_holds_total{outcome="created"} 2.0' in shown
