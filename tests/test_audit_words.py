"""The audit log in words: each kind of detail as a person reads it."""

from __future__ import annotations

import pytest

from booking.documents.audit_words import describe, sentence, value_text

HOLD_ID = "3f2a9c1e-0b7d-4c55-9a1e-1234567890ab"


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("seats", ["L3", "L4"], "L3, L4"),
        ("total", "930.00", "Rs 930.00"),
        ("refund_amount", "1250.5", "Rs 1,250.50"),
        ("late", False, "no"),
        ("complimentary", None, "none"),
        ("attach_ticket", True, "yes"),
        ("hold_id", HOLD_ID, "3f2a9c1e"),
        ("method", "credit_card", "Credit card"),
        ("percent", 50, "50%"),
        ("minutes", 10, "10 minutes"),
        ("end_reason", "paid_late", "paid late"),
        ("reason", "Customer phoned", "Customer phoned"),
    ],
)
def test_a_detail_reads_in_words(app_ctx, key, value, words):
    """Seats joined, money in rupees, booleans as words, short references, no Python repr."""
    assert value_text(key, value) == words


def test_a_time_reads_in_the_operators_zone(app_ctx):
    """An ISO UTC time is shown in Kolkata time."""
    assert value_text("expires_at", "2026-12-01T06:15:00+00:00") == "01 Dec 2026 11:45:00"


def test_an_update_reads_from_what_to_what(app_ctx):
    """An *.updated row's [old, new] pairs and a previous_x beside x read "from ... to ..."."""
    assert describe("route.updated", {"distance_km": [350, 365], "is_active": [True, False]}) == [
        ("Distance km", "from 350 to 365"),
        ("Is active", "from yes to no"),
    ]
    assert describe(
        "hold.extended",
        {
            "minutes": 10,
            "previous_expires_at": "2026-12-01T06:15:00+00:00",
            "expires_at": "2026-12-01T06:25:00+00:00",
        },
    ) == [
        ("Expiry", "from 01 Dec 2026 11:45:00 to 01 Dec 2026 11:55:00"),
        ("Minutes", "10 minutes"),
    ]


def test_seats_added_and_dropped_stay_lists_in_a_change(app_ctx):
    """A two-seat list is seats, never mistaken for a from/to pair."""
    assert describe("schedule.updated", {"seats_added": ["1A", "1B"]}) == [
        ("Seats added", "1A, 1B")
    ]


def test_seat_ids_are_left_out_beside_the_seat_numbers(app_ctx):
    """A released hold's row names its seats by number; the ids it also keeps are not shown."""
    assert describe("hold.released", {"seats": ["4C"], "seat_ids": [HOLD_ID]}) == [("Seats", "4C")]


def test_the_details_make_one_line_for_the_csv(app_ctx):
    """Label and words, separated by semicolons."""
    line = sentence("booking.confirmed", {"seats": ["L3", "L4"], "total": "930.00", "late": False})
    assert line == "Seats L3, L4; Total Rs 930.00; Late no"
