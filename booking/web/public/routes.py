"""The search page (home) and /healthz."""

from __future__ import annotations

from flask import jsonify, request
from sqlalchemy import text

from booking.extensions import db
from booking.orm import utcnow
from booking.services import catalog
from booking.web.htmx import render
from booking.web.public import bp
from booking.web.public.forms import SearchForm


@bp.get("/")
def home():
    """Search trips by route and date (today by default); results update in place with htmx."""
    now = utcnow()
    form = SearchForm(request.args)
    today = catalog.local_today(now)
    day = today
    if form.validate() and form.date.data:
        if form.date.data < today:
            form.date.errors.append("Choose today or a later date.")
        else:
            day = form.date.data
    result = catalog.search(
        day=day,
        now=now,
        origin=(form.origin.data or "").strip() or None,
        destination=(form.destination.data or "").strip() or None,
        sort=form.sort.data or "departure",
        bus_types=form.bus_type.data or None,
        window=form.window.data or None,
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
