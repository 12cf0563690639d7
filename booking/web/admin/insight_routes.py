"""Admin insight pages: the dashboard for a period (each figure a link to what is behind it), the
bookings list those links open, and the reports with their printable page and CSV export."""

from __future__ import annotations

from flask import Response, render_template, request, url_for

from booking.documents import report_csv
from booking.formatting import local_time, method_label, money
from booking.models.enums import Role
from booking.orm import utcnow
from booking.services import insight, refund_queue, reports
from booking.services.insight import InsightError
from booking.web.access import role_required
from booking.web.admin import bp
from booking.web.admin.charts import Item, columns, rows
from booking.web.htmx import render


def _asked(now) -> tuple[insight.Period, insight.Filters, str | None]:
    """The period and filters in the query string; on bad input the last 7 days unfiltered and
    the message (the page says it and answers 400)."""
    args = request.args
    try:
        period = insight.resolve_period(args.get("period"), args.get("from"), args.get("to"), now)
        filters = insight.resolve_filters(args.get("route"), args.get("channel"), args.get("trip"))
    except InsightError as error:
        return insight.resolve_period("7d", None, None, now), insight.Filters(), error.message
    return period, filters, None


def _percent(value) -> str:
    """'62.5%', or 'n/a' when there is nothing to divide by."""
    return "n/a" if value is None else f"{value}%"


def _charts(board: insight.Dashboard, args: dict[str, str]) -> dict:
    """The dashboard's four charts from its numbers."""
    short = "%d %b" if len(board.series) > 1 else "%d %b %Y"
    by_day = [
        (point, {"period": "custom", "from": point.day.isoformat(), "to": point.day.isoformat()})
        for point in board.series
    ]
    filters = board.filters.args()
    return {
        "bookings": columns(
            "chart-bookings",
            "Bookings per day",
            "Bookings",
            [
                Item(
                    p.day.strftime(short),
                    p.bookings,
                    str(p.bookings),
                    href=url_for("admin.bookings", **day, **filters),
                )
                for p, day in by_day
            ],
        ),
        "revenue": columns(
            "chart-revenue",
            "Gross takings per day",
            "Gross (GST incl.)",
            [
                Item(
                    p.day.strftime(short),
                    p.gross,
                    money(p.gross),
                    href=url_for("admin.report", kind="revenue-day", **day, **filters),
                )
                for p, day in by_day
            ],
        ),
        "occupancy": rows(
            "chart-occupancy",
            "Occupancy by route",
            "Seats sold of offered",
            [
                Item(
                    load.name,
                    load.rate or 0,
                    f"{_percent(load.rate)} ({load.sold} of {load.offered})",
                    href=url_for("admin.report", kind="occupancy", route=load.id, **args),
                )
                for load in board.routes
            ],
            scale_to=100,
            unit_note="Bars run from 0% to 100% of the seats offered on trips in the period.",
        ),
        "funnel": rows(
            "chart-funnel",
            "Hold funnel",
            "Holds",
            [
                Item(label, value, str(value), tone, href)
                for label, value, tone, href in _funnel_items(board, args)
            ],
        ),
    }


def _funnel_items(board: insight.Dashboard, args: dict[str, str]):
    """(label, count, tone, link) for each stage of the hold funnel."""
    funnel = board.funnel

    def log(action: str) -> str:
        return url_for("admin.activity", action=action, **_log_period(board.period))

    return [
        ("Created", funnel.created, "main", log("hold.created")),
        ("Paid", funnel.confirmed, "ok", url_for("admin.bookings", **args)),
        ("Expired unpaid", funnel.expired, "bad", log("hold.expired")),
        ("Released by admin", funnel.released, "warn", log("hold.released")),
        ("Dropped by customer", funnel.dropped, "muted", log("hold.cancelled")),
        ("Still live", funnel.live, "main", url_for("admin.holds")),
    ]


def _log_period(period: insight.Period) -> dict[str, str]:
    """The audit log's own from/to arguments for a period."""
    return {"from": period.first.isoformat(), "to": period.last.isoformat()}


@bp.get("", endpoint="dashboard")
@role_required(Role.ADMIN)
def dashboard():
    """This period's numbers at a glance (``?period=today|7d|30d|custom&from=&to=``)."""
    now = utcnow()
    period, filters, error = _asked(now)
    board = insight.dashboard(period, now, filters)
    args = {**period.args(), **filters.args()}
    return render_template(
        "admin/dashboard.html",
        board=board,
        refunds=refund_queue.state_totals(),
        args=args,
        charts=_charts(board, args),
        log_period=_log_period(period),
        error=error,
        periods=insight.PERIODS,
        routes=insight.route_choices(),
        percent=_percent,
        method_label=method_label,
    ), (400 if error else 200)


@bp.get("/bookings", endpoint="bookings")
@role_required(Role.ADMIN)
def bookings_list():
    """The bookings sold in a period, filterable like the dashboard (what its figures count)."""
    now = utcnow()
    period, filters, error = _asked(now)
    page = request.args.get("page", "1")
    found = reports.booking_list(
        period,
        filters,
        refunded_only=request.args.get("refunded") == "1",
        page=int(page) if page.isdigit() and len(page) <= 6 else 1,
    )
    args = {**period.args(), **filters.args()}
    if request.args.get("refunded") == "1":
        args["refunded"] = "1"
    return render(
        "admin/bookings.html",
        "admin/_bookings.html",
        400 if error else 200,
        found=found,
        period=period,
        filters=filters,
        args=args,
        error=error,
        periods=insight.PERIODS,
        routes=insight.route_choices(),
    )


@bp.get("/reports", endpoint="reports")
@role_required(Role.ADMIN)
def reports_index():
    """The list of reports, each opened for the last 7 days."""
    return render_template("admin/reports.html", kinds=reports.KINDS)


@bp.get("/reports/<kind>", endpoint="report")
@role_required(Role.ADMIN)
def report(kind: str):
    """One report for a period, route and channel; printable (print CSS) and exportable."""
    if kind not in reports.KINDS:
        return render_template("admin/reports.html", kinds=reports.KINDS, missing=kind), 404
    now = utcnow()
    period, filters, error = _asked(now)
    table = reports.build(kind, period, filters)
    extra = reports.state_totals(period, filters) if kind == "cancellations" else None
    return render_template(
        "admin/report.html",
        report=table,
        kinds=reports.KINDS,
        args={**period.args(), **filters.args()},
        states=extra,
        error=error,
        periods=insight.PERIODS,
        routes=insight.route_choices(),
        drawn_at=local_time(now),
    ), (400 if error else 200)


@bp.get("/reports/<kind>.csv", endpoint="report_csv")
@role_required(Role.ADMIN)
def report_csv_file(kind: str):
    """The report as CSV (formula-safe), named for the report and its period."""
    if kind not in reports.KINDS:
        return Response("There is no such report.\n", status=404, mimetype="text/plain")
    period, filters, error = _asked(utcnow())
    if error:
        return Response(error + "\n", status=400, mimetype="text/plain")
    table = reports.build(kind, period, filters)
    name = f"{kind}-{period.first:%Y%m%d}-{period.last:%Y%m%d}.csv"
    return Response(
        report_csv.render_report(table),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
