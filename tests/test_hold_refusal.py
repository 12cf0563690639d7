"""A losing hold answered cheaply: for htmx, only the message and the taken seat cells out of
band, not the whole seat map; without JavaScript, the seat map page as before."""

from __future__ import annotations

import re

from booking.extensions import db
from booking.models import Seat
from booking.orm import utcnow
from booking.services import holds
from tests.support import make_user, sign_in_as
from tests.test_realtime import trip_with_customer

HTMX = {"HX-Request": "true"}


def a_rival_holds(app, trip_id, numbers) -> None:
    """Another customer holds these seats first."""
    with app.app_context():
        holds.hold_seats(
            customer_id=make_user(now=utcnow()).id,
            schedule_id=trip_id,
            seat_numbers=numbers,
            now=utcnow(),
        )


def test_a_losing_hold_over_htmx_gets_the_message_and_only_the_taken_cells(client, app, auth):
    made = trip_with_customer(app)
    a_rival_holds(app, made["trip"], ["2A"])
    sign_in_as(app, auth)
    full = client.post(f"/schedules/{made['trip']}/holds", data={"seats": ["1A", "2A"]})
    cheap = client.post(
        f"/schedules/{made['trip']}/holds", data={"seats": ["1A", "2A"]}, headers=HTMX
    )
    assert full.status_code == cheap.status_code == 409
    body = cheap.get_data(as_text=True)
    assert "<html" not in body
    assert body.startswith("Seat 2A is no longer available.")
    cells = re.findall(r'<label id="seat-([0-9a-f-]+)"[^>]*data-hx-swap-oob="true"', body)
    assert cells == [str(made["seats"]["2A"])]  # the taken seat only, not 1A
    held = r'value="2A"\s+aria-label="[^"]*held by another customer[^"]*"\s*disabled'
    assert re.search(held, body)
    assert cheap.headers["HX-Trigger"] == "seats-changed"  # the tally asks again
    assert "HX-Request" in cheap.headers["Vary"]
    assert len(cheap.data) * 10 < len(full.data), (len(cheap.data), len(full.data))
    with app.app_context():  # nothing was held for the loser
        assert db.session.get(Seat, made["seats"]["1A"]).status.value == "available"


def test_a_bad_choice_over_htmx_gets_the_message_alone(client, app, auth):
    made = trip_with_customer(app)
    sign_in_as(app, auth)
    refused = client.post(f"/schedules/{made['trip']}/holds", data={}, headers=HTMX)
    assert refused.status_code == 400
    body = refused.get_data(as_text=True)
    assert body.strip() and "<label" not in body and "<html" not in body


def test_a_winning_hold_over_htmx_goes_to_checkout_as_a_whole_page(client, app, auth):
    made = trip_with_customer(app)
    sign_in_as(app, auth)
    won = client.post(f"/schedules/{made['trip']}/holds", data={"seats": ["1A"]}, headers=HTMX)
    assert won.status_code == 204
    assert re.fullmatch(r"/holds/[0-9a-f-]+", won.headers["HX-Redirect"])


def test_a_visitor_holding_over_htmx_is_sent_to_sign_in_as_a_whole_page(client, app):
    made = trip_with_customer(app)
    answer = client.post(f"/schedules/{made['trip']}/holds", data={"seats": ["1A"]}, headers=HTMX)
    assert answer.status_code == 204
    assert answer.headers["HX-Redirect"].startswith("/login?next=")


def test_the_seat_form_posts_through_htmx_into_the_seat_note(client, app):
    made = trip_with_customer(app)
    page = client.get(f"/schedules/{made['trip']}").get_data(as_text=True)
    form = re.search(r'<form method="post" action="([^"]+)"[^>]*id="seat-form"[^>]*>', page)
    assert form is not None
    assert f'data-hx-post="{form.group(1)}"' in form.group(0)
    assert 'data-hx-target="#seat-note"' in form.group(0)
    # The running tally inside the form keeps its own target (hx-target is inherited).
    tally = re.search(r'<p class="seat-tally" id="seat-tally"[^>]*>', page).group(0)
    assert 'data-hx-target="this"' in tally
