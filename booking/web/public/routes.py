"""The search page (home) and /healthz."""

from __future__ import annotations

from datetime import timedelta

from flask import jsonify, request
from sqlalchemy import text

from booking.extensions import db
from booking.orm import utcnow
from booking.services import catalog
from booking.web.htmx import render
from booking.web.public import bp
from booking.web.public.forms import SearchForm

# How far ahead a search may look: beyond it no trip is sold, and far dates overflow the clock.
SEARCH_AHEAD = timedelta(days=366)


@bp.get("/")
def home():
    """Search trips by route and date (today by default); results update in place with htmx.

    Each field is judged on its own: a tampered sort, window or bus type is dropped, and never
    costs the visitor the date or the filters they did choose.
    """
    now = utcnow()
    form = SearchForm(request.args)
    form.validate()
    today = catalog.local_today(now)
    day = form.date.data if form.date.data and not form.date.errors else today
    if day < today:
        form.date.errors.append("Choose today or a later date.")
        day = today
    elif day > today + SEARCH_AHEAD:
        form.date.errors.append("Choose a date within the next year.")
        day = today
    known_types = {value for value, *_ in form.bus_type.iter_choices()}
    result = catalog.search(
        day=day,
        now=now,
        origin=(form.origin.data or "").strip() or None,
        destination=(form.destination.data or "").strip() or None,
        sort=form.sort.data if not form.sort.errors else "departure",
        bus_types=[t for t in form.bus_type.data or [] if t in known_types] or None,
        window=form.window.data if not form.window.errors else None,
    )
    return render(
        "public/home.html",
        "public/_results.html",
        form=form,
        day=day,
        today=today,
        result=result,
        cities=catalog.cities(),
    )


@bp.get("/healthz")
def healthz():
    """JSON health: the app answers and the database does too."""
    try:
        db.session.execute(text("SELECT 1"))
        database = "ok"
    except Exception as exc:  # the point is to report any failure, not to raise it
        database = f"error: {type(exc).__name__}"
    finally:
        db.session.rollback()
    status = 200 if database == "ok" else 503
    return jsonify(status="ok" if status == 200 else "degraded", database=database), status
