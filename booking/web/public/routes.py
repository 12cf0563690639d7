"""The search page (home), /healthz (liveness) and /healthz/ready (readiness)."""

from __future__ import annotations

from datetime import timedelta

from flask import jsonify, request

from booking.orm import utcnow
from booking.services import catalog, health
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
    """Liveness, JSON: the process answers and its database does too (Redis is not asked, so
    a Redis outage never gets web processes restarted: requests go on without it)."""
    database = health.database_state()
    status = 200 if database == health.OK else 503
    return jsonify(status="ok" if status == 200 else "degraded", database=database), status


@bp.get("/healthz/ready")
def ready():
    """Readiness, JSON: the database and Redis, each reported; 503 when either is down."""
    ok, states = health.readiness()
    return jsonify(status="ok" if ok else "unavailable", **states), 200 if ok else 503
