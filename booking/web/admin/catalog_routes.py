"""Admin catalogue pages: routes, buses (with the seat layout preview), schedules, promo
codes and users. Each kind has a list (search, filters, sortable headers, pages; htmx swaps
the table), a new / edit form and activate / deactivate buttons; routes, buses and promo
codes also take a checkbox column and an action bar (preview, then confirm: all or nothing),
and the schedules list posts its chosen trips to the timetable's bulk actions. Admins only;
GET changes nothing; every rule is in services.admin_*."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, time, timedelta
from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask_login import current_user

from booking.layouts import LayoutError
from booking.models.enums import BusType, PromoKind, Role, ScheduleStatus
from booking.orm import utcnow
from booking.services import admin_catalog as catalog
from booking.services import inventory
from booking.services.catalog import local_day_bounds
from booking.services.errors import DomainError
from booking.web.access import role_required
from booking.web.admin import bp
from booking.web.admin.catalog_forms import (
    BulkActiveForm,
    BusForm,
    PromoForm,
    RouteForm,
    ScheduleForm,
    ToggleForm,
    UserForm,
    to_local,
    to_utc,
)
from booking.web.admin.timetable_forms import BulkForm
from booking.web.forms import day_on_the_calendar, first_error
from booking.web.htmx import render

PER_PAGE = 25
ACTIVE_CHOICES = [("", "All"), ("active", "Active"), ("inactive", "Inactive")]
# The lists with bulk activate / deactivate: the URL's kind -> (service kind, list, noun).
BULK_KINDS = {
    "routes": ("routes", "admin.routes", "route(s)"),
    "buses": ("buses", "admin.buses", "bus(es)"),
    "promo-codes": ("promo_codes", "admin.promo_codes", "promo code(s)"),
}
BULK_LISTS = {service: url for url, (service, _, _) in BULK_KINDS.items()}


# ---- shared --------------------------------------------------------------------------------


def _list_args(*names: str) -> dict[str, str]:
    """The list's query string: search, sort, page and the named filters (blank ones dropped)."""
    keys = ("q", "sort", *names)
    return {key: request.args.get(key, "").strip() for key in keys if request.args.get(key)}


def _page_number() -> int:
    """The page asked for (1 when missing or not a number)."""
    return request.args.get("page", 1, type=int) or 1


def _list(kind: str, page, args: dict[str, str], filters: list, **context):
    """Render a list page (or, for htmx, its table)."""
    return render(
        "admin/catalog/list.html",
        f"admin/catalog/_{kind}_table.html",
        kind=kind,
        page=page,
        args=args,
        filters=filters,
        toggle=ToggleForm(),
        bulk=BulkActiveForm(formdata=None) if kind in BULK_LISTS else None,
        bulk_kind=BULK_LISTS.get(kind),
        table_template=f"admin/catalog/_{kind}_table.html",
        **context,
    )


def _refused(form, error: DomainError) -> None:
    """Show a service's refusal on the field it names, else above the form."""
    name = error.details.get("field")
    target = getattr(form, name, None) if name else None
    messages = getattr(error, "errors", None) or [error.message]
    if target is not None and hasattr(target, "errors"):
        target.errors = list(target.errors or []) + messages
    else:
        form.form_errors.extend(messages)


def _toggled(label: str, active: bool) -> str:
    """The message after a switch."""
    return f"{label} {'activated' if active else 'deactivated'}."


def _back(default: str) -> str:
    """Where a button sends the admin back to: the admin page it was on, else ``default``."""
    target = request.form.get("next") or ""
    return target if target.startswith("/admin/") and "//" not in target else default


def _want_active() -> bool:
    """The activate / deactivate button's wish."""
    return request.form.get("active") in ("1", "true", "yes")


# ---- many at once ----------------------------------------------------------------------------


def _bulk_page(kind: str, form: BulkActiveForm, changes, status: int = 200, error=None):
    """The preview of a bulk switch (or its refusal) with the Confirm button."""
    _, list_endpoint, noun = BULK_KINDS[kind]
    return render(
        "admin/catalog/bulk_active.html",
        "admin/catalog/_bulk_active.html",
        status,
        form=form,
        kind=kind,
        noun=noun,
        changes=changes,
        error=error,
        chosen=form.chosen() if not form.ids.errors else [],
        back=_back(url_for(list_endpoint)),
    )


@bp.post("/<kind>/bulk-active", endpoint="bulk_active")
@role_required(Role.ADMIN)
def bulk_active(kind: str):
    """Activate or deactivate the chosen routes, buses or promo codes: step=preview shows what
    would change (refusals too), step=apply does it all or nothing."""
    if kind not in BULK_KINDS:
        abort(404)
    service, list_endpoint, noun = BULK_KINDS[kind]
    form = BulkActiveForm()
    if not form.validate_on_submit():
        return _bulk_page(kind, form, None, status=400, error=first_error(form))
    ids, active, now = form.chosen(), form.active.data == "1", utcnow()
    try:
        if form.step.data != "apply":
            changes = catalog.preview_active_many(service, ids, active, now)
            return _bulk_page(kind, form, changes)
        count = catalog.set_active_many(service, ids, active, actor_id=current_user.id, now=now)
    except DomainError as error:
        try:
            changes = catalog.preview_active_many(service, ids, active, now)
        except DomainError:
            changes = None
        return _bulk_page(kind, form, changes, status=error.status, error=error.message)
    flash(f"{count} {noun} {'activated' if active else 'deactivated'}.", "success")
    return redirect(_back(url_for(list_endpoint)))


# ---- routes --------------------------------------------------------------------------------


@bp.get("/routes", endpoint="routes")
@role_required(Role.ADMIN)
def routes_list():
    """Routes, searchable by city."""
    args = _list_args("active")
    page = catalog.list_routes(args, args.get("sort"), _page_number(), PER_PAGE)
    return _list("routes", page, args, [("active", "Status", ACTIVE_CHOICES)])


def _route_data(form: RouteForm) -> catalog.RouteData:
    """The service's input from the form."""
    return catalog.RouteData(
        origin_city=form.origin_city.data,
        destination_city=form.destination_city.data,
        distance_km=form.distance_km.data,
        estimated_duration_minutes=form.estimated_duration_minutes.data,
        is_active=form.is_active.data,
        stops=[
            catalog.StopData(row["kind"], row["name"], row["minutes_from_departure"])
            for row in form.filled_stops()
        ],
    )


def _route_page(form: RouteForm, route=None, status: int = 200):
    """The route form page."""
    return render(
        "admin/catalog/route_form.html",
        "admin/catalog/route_form.html",
        status,
        form=form,
        route=route,
        toggle=ToggleForm(),
    )


@bp.route("/routes/new", methods=["GET", "POST"], endpoint="route_new")
@role_required(Role.ADMIN)
def route_new():
    """Add a route (with optional boarding and dropping points)."""
    form = RouteForm()
    if request.method == "GET":
        form.add_blank_stops()
    if not form.validate_on_submit():
        return _route_page(form, status=400 if form.is_submitted() else 200)
    try:
        route = catalog.create_route(_route_data(form), actor_id=current_user.id, now=utcnow())
    except DomainError as error:
        _refused(form, error)
        return _route_page(form, status=error.status)
    flash(f"Route {route.name} added.", "success")
    return redirect(url_for("admin.routes"))


@bp.route("/routes/<uuid:route_id>", methods=["GET", "POST"], endpoint="route_edit")
@role_required(Role.ADMIN)
def route_edit(route_id: uuid.UUID):
    """Change a route."""
    route = catalog.get_route(route_id)
    form = RouteForm(obj=route)
    if request.method == "GET":
        form.add_blank_stops()
    if not form.validate_on_submit():
        return _route_page(form, route, status=400 if form.is_submitted() else 200)
    try:
        route = catalog.update_route(
            route_id, _route_data(form), actor_id=current_user.id, now=utcnow()
        )
    except DomainError as error:
        _refused(form, error)
        return _route_page(form, catalog.get_route(route_id), status=error.status)
    flash(f"Route {route.name} saved.", "success")
    return redirect(url_for("admin.routes"))


@bp.post("/routes/<uuid:route_id>/active", endpoint="route_active")
@role_required(Role.ADMIN)
def route_active(route_id: uuid.UUID):
    """Put a route in or out of service."""
    if ToggleForm().validate_on_submit():
        try:
            route = catalog.set_route_active(
                route_id, _want_active(), actor_id=current_user.id, now=utcnow()
            )
        except DomainError as error:
            flash(error.message, "error")
        else:
            flash(_toggled(f"Route {route.name}", route.is_active), "success")
    return redirect(_back(url_for("admin.routes")))


# ---- buses ---------------------------------------------------------------------------------


@bp.get("/buses", endpoint="buses")
@role_required(Role.ADMIN)
def buses_list():
    """Buses, searchable by number."""
    args = _list_args("type", "active")
    page = catalog.list_buses(args, args.get("sort"), _page_number(), PER_PAGE)
    types = [("", "All")] + [(t.value, t.value.replace("_", " ").capitalize()) for t in BusType]
    return _list(
        "buses", page, args, [("type", "Type", types), ("active", "Status", ACTIVE_CHOICES)]
    )


def _bus_page(form: BusForm, bus=None, status: int = 200, preview=None, layout_errors=()):
    """The bus form page; the preview fragment alone for htmx's Preview button."""
    return render(
        "admin/catalog/bus_form.html",
        "admin/catalog/_layout_preview.html"
        if request.form.get("action") == "preview"
        else "admin/catalog/bus_form.html",
        status,
        form=form,
        bus=bus,
        preview=preview,
        layout_errors=list(layout_errors),
        toggle=ToggleForm(),
        ticked=[],
    )


def _bus_submit(form: BusForm, bus=None):
    """Preview or save the bus form."""
    if not form.validate_on_submit():
        return _bus_page(form, bus, status=400 if form.is_submitted() else 200)
    layout, errors = form.layout()
    if layout is None:
        return _bus_page(form, bus, status=400, layout_errors=errors)
    if request.form.get("action") == "preview":
        try:
            catalog.check_layout(layout)
            preview = inventory.layout_preview(layout)
        except (DomainError, LayoutError) as error:
            return _bus_page(form, bus, 400, layout_errors=getattr(error, "errors", [str(error)]))
        form.layout_json.data = json.dumps(layout, indent=2)
        return _bus_page(form, bus, preview=preview)
    data = catalog.BusData(
        bus_number=form.bus_number.data,
        bus_type=form.bus_type.data,
        seat_layout_config=layout,
        amenities=form.amenity_list(),
        is_active=form.is_active.data,
    )
    try:
        if bus is None:
            saved = catalog.create_bus(data, actor_id=current_user.id, now=utcnow())
        else:
            saved = catalog.update_bus(bus.id, data, actor_id=current_user.id, now=utcnow())
    except catalog.LayoutRefused as error:
        return _bus_page(form, bus, status=400, layout_errors=error.errors)
    except DomainError as error:
        _refused(form, error)
        return _bus_page(form, bus, status=error.status)
    flash(f"Bus {saved.bus_number} saved ({saved.total_seats} seats).", "success")
    return redirect(url_for("admin.buses"))


@bp.route("/buses/new", methods=["GET", "POST"], endpoint="bus_new")
@role_required(Role.ADMIN)
def bus_new():
    """Add a bus."""
    form = BusForm()
    if request.method == "GET":
        form.builtin_layout.data = "seater_2x2_40"
    return _bus_submit(form)


@bp.route("/buses/<uuid:bus_id>", methods=["GET", "POST"], endpoint="bus_edit")
@role_required(Role.ADMIN)
def bus_edit(bus_id: uuid.UUID):
    """Change a bus (its layout only while no upcoming trip uses it)."""
    bus = catalog.get_bus(bus_id)
    form = BusForm(obj=bus)
    if request.method == "GET":
        form.bus_type.data = bus.bus_type.value
        form.amenities.data = ", ".join(bus.amenities or [])
        form.builtin_layout.data = ""
        form.layout_json.data = json.dumps(bus.seat_layout_config, indent=2)
        return _bus_page(form, bus, preview=inventory.layout_preview(bus.seat_layout_config))
    return _bus_submit(form, bus)


@bp.post("/buses/<uuid:bus_id>/active", endpoint="bus_active")
@role_required(Role.ADMIN)
def bus_active(bus_id: uuid.UUID):
    """Put a bus in or out of service."""
    if ToggleForm().validate_on_submit():
        try:
            bus = catalog.set_bus_active(
                bus_id, _want_active(), actor_id=current_user.id, now=utcnow()
            )
        except DomainError as error:
            flash(error.message, "error")
        else:
            flash(_toggled(f"Bus {bus.bus_number}", bus.is_active), "success")
    return redirect(_back(url_for("admin.buses")))


# ---- schedules -----------------------------------------------------------------------------


def _day(name: str) -> datetime | None:
    """A date filter (YYYY-MM-DD) as the start of that day in the operator's zone, in UTC
    (None when it is not a date on the calendar, as for a blank filter)."""
    day = day_on_the_calendar(request.args.get(name))
    return local_day_bounds(day)[0] if day else None


@bp.get("/schedules", endpoint="schedules")
@role_required(Role.ADMIN)
def schedules_list():
    """Trips with seats sold and left, searchable by city or bus, filtered by status and day."""
    args = _list_args("status", "route_id", "bus_id", "from", "to")
    filters: dict[str, Any] = dict(args)
    filters["from"] = _day("from")
    to = _day("to")
    filters["to"] = to + timedelta(days=1) if to else None
    now = utcnow()
    page = catalog.list_schedules(filters, args.get("sort"), _page_number(), PER_PAGE, now=now)
    statuses = [("", "All")] + [(s.value, s.value.capitalize()) for s in ScheduleStatus]
    return _list(
        "schedules",
        page,
        args,
        [("status", "Status", statuses), ("from", "From", "date"), ("to", "To", "date")],
        now=now,
        trips_bulk=BulkForm(formdata=None),
    )


def _schedule_choices(form: ScheduleForm, schedule=None) -> None:
    """Active routes and buses (and the trip's own, even when inactive)."""
    routes = catalog.list_routes({"active": "active"}, "origin", 1, 100).items
    buses = catalog.list_buses({"active": "active"}, "number", 1, 100).items
    if schedule is not None:
        if schedule.route not in routes:
            routes.append(schedule.route)
        if schedule.bus not in buses:
            buses.append(schedule.bus)
    form.route_id.choices = {"": "Choose a route", **{str(r.id): r.name for r in routes}}
    form.bus_id.choices = {
        "": "Choose a bus",
        **{str(b.id): f"{b.bus_number} · {b.type_label}, {b.total_seats} seats" for b in buses},
    }


def _schedule_page(form: ScheduleForm, schedule=None, status: int = 200):
    """The schedule form page."""
    return render(
        "admin/catalog/schedule_form.html",
        "admin/catalog/schedule_form.html",
        status,
        form=form,
        schedule=schedule,
    )


def _schedule_data(form: ScheduleForm, schedule=None) -> catalog.ScheduleData:
    """The service's input from the form."""
    return catalog.ScheduleData(
        bus_id=uuid.UUID(form.bus_id.data),
        route_id=uuid.UUID(form.route_id.data),
        departure_at=to_utc(form.departure_at.data),
        arrival_at=to_utc(form.arrival_at.data),
        base_price=form.base_price.data,
        status=form.status.data if schedule is not None else ScheduleStatus.SCHEDULED,
    )


@bp.route("/schedules/new", methods=["GET", "POST"], endpoint="schedule_new")
@role_required(Role.ADMIN)
def schedule_new():
    """Add a trip; its seats are made from the bus layout."""
    form = ScheduleForm()
    _schedule_choices(form)
    if request.method == "GET" and form.departure_at.data is None:
        tomorrow = to_local(utcnow()).date() + timedelta(days=1)
        form.departure_at.data = datetime.combine(tomorrow, time(21, 0))
        form.arrival_at.data = datetime.combine(tomorrow + timedelta(days=1), time(6, 0))
    if not form.validate_on_submit():
        return _schedule_page(form, status=400 if form.is_submitted() else 200)
    try:
        schedule = catalog.create_schedule(
            _schedule_data(form), actor_id=current_user.id, now=utcnow()
        )
    except DomainError as error:
        _refused(form, error)
        return _schedule_page(form, status=error.status)
    flash(f"Trip added with {schedule.available_seats} seats.", "success")
    return redirect(url_for("admin.schedules"))


@bp.route("/schedules/<uuid:schedule_id>", methods=["GET", "POST"], endpoint="schedule_edit")
@role_required(Role.ADMIN)
def schedule_edit(schedule_id: uuid.UUID):
    """Change a trip: sold seats and sold fares stay as they are."""
    schedule = catalog.get_schedule(schedule_id)
    form = ScheduleForm(
        data=None
        if request.method == "POST"
        else {
            "route_id": str(schedule.route_id),
            "bus_id": str(schedule.bus_id),
            "departure_at": to_local(schedule.departure_at),
            "arrival_at": to_local(schedule.arrival_at),
            "base_price": schedule.base_price,
            "status": schedule.status.value,
        }
    )
    _schedule_choices(form, schedule)
    if not form.validate_on_submit():
        return _schedule_page(form, schedule, status=400 if form.is_submitted() else 200)
    try:
        catalog.update_schedule(
            schedule_id, _schedule_data(form, schedule), actor_id=current_user.id, now=utcnow()
        )
    except DomainError as error:
        _refused(form, error)
        return _schedule_page(form, schedule, status=error.status)
    flash("Trip saved.", "success")
    return redirect(url_for("admin.schedules"))


# ---- promo codes ---------------------------------------------------------------------------


@bp.get("/promo-codes", endpoint="promo_codes")
@role_required(Role.ADMIN)
def promo_codes_list():
    """Promo codes, searchable by code or description."""
    args = _list_args("kind", "active", "state")
    page = catalog.list_promo_codes(args, args.get("sort"), _page_number(), PER_PAGE, now=utcnow())
    kinds = [("", "All"), (PromoKind.PERCENT.value, "Percent"), (PromoKind.FLAT.value, "Flat")]
    states = [("", "Any time"), ("current", "Valid now"), ("upcoming", "Upcoming")]
    states.append(("expired", "Expired"))
    return _list(
        "promo_codes",
        page,
        args,
        [
            ("kind", "Kind", kinds),
            ("state", "Validity", states),
            ("active", "Status", ACTIVE_CHOICES),
        ],
        now=utcnow(),
    )


def _promo_data(form: PromoForm) -> catalog.PromoData:
    """The service's input from the form."""
    return catalog.PromoData(
        code=form.code.data,
        kind=form.kind.data,
        value=form.value.data,
        valid_from=to_utc(form.valid_from.data),
        valid_until=to_utc(form.valid_until.data),
        description=form.description.data or "",
        min_amount=form.min_amount.data,
        max_discount=form.max_discount.data,
        usage_limit=form.usage_limit.data,
        per_customer_limit=form.per_customer_limit.data,
        is_active=form.is_active.data,
    )


def _promo_page(form: PromoForm, promo=None, status: int = 200):
    """The promo code form page."""
    return render(
        "admin/catalog/promo_form.html",
        "admin/catalog/promo_form.html",
        status,
        form=form,
        promo=promo,
        toggle=ToggleForm(),
    )


@bp.route("/promo-codes/new", methods=["GET", "POST"], endpoint="promo_new")
@role_required(Role.ADMIN)
def promo_new():
    """Add a promo code."""
    form = PromoForm()
    if request.method == "GET":
        start = to_local(utcnow()).replace(second=0, microsecond=0)
        form.valid_from.data, form.valid_until.data = start, start + timedelta(days=30)
    if not form.validate_on_submit():
        return _promo_page(form, status=400 if form.is_submitted() else 200)
    try:
        promo = catalog.create_promo_code(_promo_data(form), actor_id=current_user.id, now=utcnow())
    except DomainError as error:
        _refused(form, error)
        return _promo_page(form, status=error.status)
    flash(f"Promo code {promo.code} added.", "success")
    return redirect(url_for("admin.promo_codes"))


@bp.route("/promo-codes/<uuid:promo_id>", methods=["GET", "POST"], endpoint="promo_edit")
@role_required(Role.ADMIN)
def promo_edit(promo_id: uuid.UUID):
    """Change a promo code."""
    promo = catalog.get_promo_code(promo_id)
    form = PromoForm(obj=promo)
    if request.method == "GET":
        form.kind.data = promo.kind.value
        form.value.data = promo.percent_off if promo.kind == PromoKind.PERCENT else promo.amount_off
        form.valid_from.data = to_local(promo.valid_from)
        form.valid_until.data = to_local(promo.valid_until)
    if not form.validate_on_submit():
        return _promo_page(form, promo, status=400 if form.is_submitted() else 200)
    try:
        promo = catalog.update_promo_code(
            promo_id, _promo_data(form), actor_id=current_user.id, now=utcnow()
        )
    except DomainError as error:
        _refused(form, error)
        return _promo_page(form, catalog.get_promo_code(promo_id), status=error.status)
    flash(f"Promo code {promo.code} saved.", "success")
    return redirect(url_for("admin.promo_codes"))


@bp.post("/promo-codes/<uuid:promo_id>/active", endpoint="promo_active")
@role_required(Role.ADMIN)
def promo_active(promo_id: uuid.UUID):
    """Switch a promo code on or off."""
    if ToggleForm().validate_on_submit():
        try:
            promo = catalog.set_promo_active(
                promo_id, _want_active(), actor_id=current_user.id, now=utcnow()
            )
        except DomainError as error:
            flash(error.message, "error")
        else:
            flash(_toggled(f"Promo code {promo.code}", promo.is_active), "success")
    return redirect(_back(url_for("admin.promo_codes")))


# ---- users ---------------------------------------------------------------------------------


@bp.get("/users", endpoint="users")
@role_required(Role.ADMIN)
def users_list():
    """Accounts, searchable by email, name or phone."""
    args = _list_args("role", "active")
    page = catalog.list_users(args, args.get("sort"), _page_number(), PER_PAGE)
    roles = [("", "All")] + [(r.value, r.value.capitalize()) for r in Role]
    return _list(
        "users",
        page,
        args,
        [
            ("role", "Role", roles),
            ("active", "Status", ACTIVE_CHOICES),
        ],
    )


def _user_page(form: UserForm, user, status: int = 200):
    """The account page."""
    return render(
        "admin/catalog/user_form.html",
        "admin/catalog/user_form.html",
        status,
        form=form,
        user=user,
        toggle=ToggleForm(),
    )


@bp.route("/users/<uuid:user_id>", methods=["GET", "POST"], endpoint="user_edit")
@role_required(Role.ADMIN)
def user_edit(user_id: uuid.UUID):
    """Change an account's role and home station."""
    user = catalog.get_account(user_id)
    form = UserForm(obj=user)
    if request.method == "GET":
        form.role.data = user.role.value
    if not form.validate_on_submit():
        return _user_page(form, user, status=400 if form.is_submitted() else 200)
    try:
        catalog.update_user(
            user_id,
            role=form.role.data,
            home_station=form.home_station.data,
            actor_id=current_user.id,
            now=utcnow(),
        )
    except DomainError as error:
        _refused(form, error)
        return _user_page(form, catalog.get_account(user_id), status=error.status)
    flash(f"{user.email} saved.", "success")
    return redirect(url_for("admin.users"))


@bp.post("/users/<uuid:user_id>/active", endpoint="user_active")
@role_required(Role.ADMIN)
def user_active(user_id: uuid.UUID):
    """Activate or deactivate an account (a deactivated one is signed out everywhere)."""
    if ToggleForm().validate_on_submit():
        try:
            user = catalog.set_user_active(
                user_id, _want_active(), actor_id=current_user.id, now=utcnow()
            )
        except DomainError as error:
            flash(error.message, "error")
        else:
            flash(_toggled(user.email, user.is_active), "success")
    return redirect(_back(url_for("admin.users")))
