"""Inputs that used to end in a 500: control characters in checkout details, and a query the
database cancelled at statement_timeout."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from booking.database import unit_of_work, with_retries
from booking.errors import Busy
from booking.models import Seat
from booking.services.details import CheckoutDetails, Passenger, check_details


def details(**changes) -> CheckoutDetails:
    fields = {
        "passengers": (Passenger("1A", "Priya Raman", 30, "female"),),
        "contact_name": "Priya Raman",
        "contact_phone": "9876543210",
        "contact_email": "priya@example.com",
        "promo_code": None,
    }
    fields.update(changes)
    return CheckoutDetails(**fields)


SEATS = [Seat(seat_number="1A", ladies_only=False)]


def test_good_details_pass():
    assert check_details(SEATS, details()) == {}


@pytest.mark.parametrize("bad", ["Priya\x00Raman", "Priya\x1bRaman", "Priya\nRaman", "Pri\x7fya"])
@pytest.mark.parametrize("field", ["contact_name", "contact_phone", "contact_email", "promo_code"])
def test_control_characters_in_contact_fields_are_refused(field, bad):
    """Nothing with a NUL (or another control character) is ever stored on the hold."""
    errors = check_details(SEATS, details(**{field: bad}))
    assert field in errors


@pytest.mark.parametrize("bad", ["Priya\x00Raman", "Priya\tRaman", "\x00"])
def test_control_characters_in_a_passenger_name_are_refused(bad):
    errors = check_details(SEATS, details(passengers=(Passenger("1A", bad, 30, "female"),)))
    assert "control characters" in errors["1A"]


def test_a_passenger_without_a_seat_number_is_refused_not_a_crash():
    errors = check_details(SEATS, details(passengers=(Passenger(None, "Priya", 30, "female"),)))
    assert "without a seat" in errors["passengers"] and "1A" in errors


class _Orig(Exception):
    def __init__(self, sqlstate: str):
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


@pytest.mark.parametrize("sqlstate", ["55P03", "57014"])
def test_lock_and_statement_timeouts_become_busy(sqlstate):
    def attempt():
        raise OperationalError("SELECT 1", {}, _Orig(sqlstate))

    with pytest.raises(Busy) as raised:
        with_retries(attempt)
    assert raised.value.status == 503


def test_other_operational_errors_still_raise():
    def attempt():
        raise OperationalError("SELECT 1", {}, _Orig("08006"))

    with pytest.raises(OperationalError):
        with_retries(attempt)


@pytest.mark.postgres
def test_a_query_cancelled_by_statement_timeout_is_busy(app_ctx):
    """PostgreSQL cancels a statement past statement_timeout (57014): Busy, 503."""

    def attempt():
        with unit_of_work() as session:
            session.execute(text("SET LOCAL statement_timeout = 50"))
            session.execute(text("SELECT pg_sleep(1)"))

    with pytest.raises(Busy):
        with_retries(attempt)
