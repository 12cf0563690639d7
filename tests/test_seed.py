"""Demo seed: deterministic, idempotent, and `flask seed verify` catches any drift."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from booking.extensions import db
from booking.models import Route, Seat, User
from booking.orm import utcnow
from booking.services import seed

pytestmark = pytest.mark.slow


def test_seed_twice_changes_nothing_and_verify_passes_then_catches_a_tampered_row(runner, app):
    """The second run adds nothing; verify passes; one altered seat makes verify exit 1."""
    first = runner.invoke(args=["seed"])
    assert first.exit_code == 0, first.output
    assert "trips for" in first.output  # progress is shown
    with app.app_context():
        counts_after_first = seed.table_counts()

    second = runner.invoke(args=["seed"])
    assert second.exit_code == 0, second.output
    assert "Added: users 0, routes 0, buses 0, promo_codes 0, schedules 0, seats 0" in second.output
    with app.app_context():
        assert seed.table_counts() == counts_after_first

    verified = runner.invoke(args=["seed", "verify"])
    assert verified.exit_code == 0, verified.output
    assert "OK: seed parity verified." in verified.output
    assert "seats" in verified.output and "activity_logs" in verified.output  # every table

    with app.app_context():
        seat_id = db.session.scalars(select(Seat.id).limit(1)).one()
        db.session.execute(
            update(Seat).where(Seat.id == seat_id).values(ladies_only=True, price_modifier=99)
        )
        db.session.commit()
    tampered = runner.invoke(args=["seed", "verify"])
    assert tampered.exit_code == 1
    assert "MISMATCH checksum" in tampered.output


def test_verify_reports_an_extra_row_by_name(runner, app):
    """An added route shows up as a count difference, not only as a checksum change."""
    assert runner.invoke(args=["seed"]).exit_code == 0
    with app.app_context():
        route = db.session.scalars(select(Route).limit(1)).one()
        spare = Route(
            origin_city="Nowhere",
            destination_city="Elsewhere",
            distance_km=1.0,
            estimated_duration_minutes=1,
            created_at=route.created_at,
            updated_at=route.created_at,
        )
        db.session.add(spare)
        db.session.commit()
    result = runner.invoke(args=["seed", "verify"])
    assert result.exit_code == 1
    assert "MISMATCH routes: expected 24, found 25" in result.output


def test_seed_on_another_day_matches_the_expected_snapshot(app_ctx):
    """The expected file was made on another day; a seed dated 2026-03-01 still matches it."""
    day = date(2026, 3, 1)
    seed.seed(day, utcnow())
    assert seed.snapshot(day) == seed.expected()
    # Read relative to the wrong day, the same rows no longer match: the window matters.
    assert seed.snapshot(day + timedelta(days=1))["counts"]["schedules"] < 420
    assert db.session.scalar(select(User.role).where(User.email == "staff@example.com")) == "staff"
