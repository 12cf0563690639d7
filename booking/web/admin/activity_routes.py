"""The audit log: every row in words, with the real actor, filters, paging, a link from each row
to its entity, and the same rows as CSV."""

from __future__ import annotations

from flask import Response, current_app, request, url_for

from booking.documents import audit_words, report_csv
from booking.formatting import local_time
from booking.models.enums import Role
from booking.services import audit
from booking.services.audit import AuditError, LogFilter, LogRow
from booking.web.access import role_required
from booking.web.admin import bp
from booking.web.htmx import render

# entity_type -> (endpoint, its id argument): the entity's own admin page.
ENTITY_PAGES = {
    "schedule": ("admin.trip", "schedule_id"),
    "route": ("admin.route_edit", "route_id"),
    "bus": ("admin.bus_edit", "bus_id"),
    "promo_code": ("admin.promo_edit", "promo_id"),
    "user": ("admin.user_edit", "user_id"),
    "shift": ("desk.shift_report", "shift_id"),
}
BOOKING_KEYS = ("reference", "booking_reference", "booking")


def entity_link(row: LogRow) -> str:
    """Where a row's entity can be seen: its own page, a booking's desk page by reference, or
    else this log narrowed to the entity's history."""
    log = row.log
    page = ENTITY_PAGES.get(log.entity_type)
    if page and page[0] in current_app.view_functions and audit_words.is_uuid(log.entity_id):
        return url_for(page[0], **{page[1]: log.entity_id})
    reference = next((log.details.get(key) for key in BOOKING_KEYS if log.details.get(key)), None)
    if isinstance(reference, str) and "desk.booking" in current_app.view_functions:
        return url_for("desk.booking", reference=reference)
    return url_for("admin.activity", id=log.entity_id)


def actor_text(row: LogRow) -> str:
    """'Asha User1 (customer, asha@example.com)', or 'system' for the sweep and beat tasks."""
    if row.actor_email is None:
        return "system"
    return f"{row.actor_name} ({row.actor_role}, {row.actor_email})"


def _asked() -> tuple[LogFilter, int, str | None]:
    """The filter and page in the query string; on bad input no filter and the message."""
    args = request.args
    page = args.get("page", "1")
    try:
        wanted = audit.log_filter(
            entity_type=args.get("entity_type"),
            action=args.get("action"),
            actor=args.get("actor"),
            entity_id=args.get("id"),
            first=args.get("from"),
            last=args.get("to"),
        )
    except AuditError as error:
        return LogFilter(), 1, error.message
    if not page.isdigit() or len(page) > 6 or int(page) < 1:
        return wanted, 1, "Pages are numbered from 1."
    return wanted, int(page), None


@bp.get("/activity", endpoint="activity")
@role_required(Role.ADMIN)
def activity():
    """The audit log, newest first, filtered by entity, action, actor, period and id; paged."""
    wanted, page, error = _asked()
    found = audit.search(wanted, page=page, per_page=current_app.config["ACTIVITY_PAGE_SIZE"])
    types, actions = audit.kinds()
    return render(
        "admin/activity.html",
        "admin/_activity.html",
        400 if error else 200,
        found=found,
        wanted=wanted,
        args=wanted.args(),
        types=types,
        actions=actions,
        error=error,
        describe=audit_words.describe,
        short_id=audit_words.short_id,
        entity_link=entity_link,
        actor_text=actor_text,
    )


@bp.get("/activity.csv", endpoint="activity_csv")
@role_required(Role.ADMIN)
def activity_csv():
    """The matching rows (up to EXPORT_MAX_ROWS, newest first) as formula-safe CSV."""
    wanted, _, error = _asked()
    if error:
        return Response(error + "\n", status=400, mimetype="text/plain")
    rows = audit.export(wanted, limit=current_app.config["EXPORT_MAX_ROWS"])
    body = report_csv.render_rows(
        ["when", "action", "entity", "entity_id", "actor", "ip_address", "details"],
        (
            [
                local_time(row.log.timestamp, "%Y-%m-%d %H:%M:%S"),
                row.log.action_type,
                row.log.entity_type,
                row.log.entity_id,
                actor_text(row),
                row.log.ip_address or "",
                audit_words.sentence(row.log.action_type, row.log.details),
            ]
            for row in rows
        ),
    )
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="activity.csv"'},
    )
