"""A fuzz of every route: each rule and method of the URL map, each path parameter, each form
field and query parameter a view reads, as each role, with empty, huge, NUL, control, unicode,
wrong-type, far-past and far-future values and malformed ids; then signed webhooks with every
field mutated. No answer may be a 5xx, and `flask reconcile` stays clean afterwards.

The table ``SPECS`` says what each (endpoint, method) reads, with a value that gets it past
validation; ``test_the_table_covers_every_route_form_field_and_query_parameter`` keeps it
complete against the URL map, the WTForms classes and every ``request.args`` read.

More examples by hand: ``FUZZ_EXAMPLES=2000 pytest tests/test_fuzz.py -k hypothesis``.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import pytest
from flask_wtf import FlaskForm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wtforms import FieldList, FormField
from wtforms.fields.core import UnboundField

import booking.web
from booking.extensions import db
from booking.gateway.sandbox import build_event, sign
from booking.models import Payment, Reservation
from booking.models.enums import HoldStatus
from booking.orm import utcnow
from booking.services.invariants import run_all
from booking.web.account.forms import CancelForm, TopUpForm
from booking.web.admin.bulk_forms import ApplyForm, UploadForm
from booking.web.admin.catalog_forms import (
    BulkActiveForm,
    BusForm,
    PromoForm,
    RouteForm,
    ScheduleForm,
    ToggleForm,
    UserForm,
)
from booking.web.admin.forms import ExtendHoldForm, ReleaseHoldForm, RetryRefundForm
from booking.web.admin.timetable_forms import (
    BulkForm,
    CancelTripForm,
    DepartedForm,
    RecurringForm,
    SwapBusForm,
)
from booking.web.auth.forms import LoginForm, PasswordForm, RegisterForm, SignOutForm
from booking.web.checkout.forms import CheckoutForm, HoldActionForm
from booking.web.desk.forms import (
    ActionForm,
    CheckInForm,
    DeparturesForm,
    DeskCancelForm,
    DeskSaleForm,
    LookupForm,
    SeatPickForm,
)
from booking.web.desk.shift_forms import CloseShiftForm, OpenShiftForm
from booking.web.payments.forms import SandboxDecisionForm, TicketVerifyForm
from booking.web.public.forms import SearchForm
from booking.web.schedules.forms import SeatChoiceForm
from tests.fuzz_support import (
    AT_THE_DOOR,
    HOSTILE,
    SECOND_LOOK,
    Sender,
    Upload,
    World,
    build_world,
    random_uuid,
)
from tests.support import PASSWORD

ROLES = ("anonymous", "customer", "staff", "admin")
EVERY_ROLE = os.environ.get("FUZZ_EVERY_ROLE") == "1"


# ---- the world every route is fuzzed in ---------------------------------------------------------


def path_values(world: World, endpoint: str) -> dict[str, str]:
    """The real value of each path parameter of ``endpoint``."""
    ids = world.ids
    values = {
        "schedule_id": ids["schedule_id"],
        "hold_id": ids["desk_hold_id"] if endpoint.startswith("desk.") else ids["hold_id"],
        "payment_id": ids["topup_id"] if endpoint == "account.topup_status" else ids["payment_id"],
        "shift_id": ids["shift_id"],
        "bus_id": ids["bus_id"],
        "route_id": ids["route_id"],
        "promo_id": ids["promo_id"],
        "user_id": ids["user_id"],
        # No refund in this world: a retry of an unknown one is refused, never a 5xx.
        "refund_id": str(uuid.UUID(int=1)),
        "reference": world.reference,
        "kind": "revenue-day" if endpoint.startswith("admin.report") else "routes",
        "filename": "css/app.css",
    }
    return values


# ---- what each route reads -----------------------------------------------------------------------


def passenger(prefix: str = "passengers-0-", seat: str = "3A") -> dict[str, str]:
    return {
        f"{prefix}seat_number": seat,
        f"{prefix}name": "Priya Raman",
        f"{prefix}age": "30",
        f"{prefix}gender": "female",
    }


def checkout_form(w: World) -> dict:
    return {
        **passenger(),
        "contact_name": "Priya Raman",
        "contact_phone": "9876543210",
        "contact_email": "priya@example.com",
        "promo_code": "FUZZ10",
        "use_wallet": "y",
        "method": "upi",
        "idempotency_key": "fuzz-key-1",
        "action": "pay",
    }


def desk_sale_form(w: World) -> dict:
    return {
        "contact_name": "Ravi Kumar",
        "contact_phone": "9876543210",
        "same_contact": "y",
        **passenger(seat="4A"),
        "contact_email": "ravi@example.com",
        "promo_code": "FUZZ10",
        "method": "cash",
        "tendered": "1000",
        "terminal_reference": "T-1",
        "reason": "walk-in",
        "action": "sell",
    }


def route_form(w: World) -> dict:
    return {
        "origin_city": "Mysuru",
        "destination_city": "Ooty",
        "distance_km": "125.5",
        "estimated_duration_minutes": "240",
        "is_active": "y",
        "stops-0-kind": "boarding",
        "stops-0-name": "Bus stand",
        "stops-0-minutes_from_departure": "0",
    }


def bus_form(w: World) -> dict:
    return {
        "bus_number": "KA01FZ0001",
        "bus_type": "deluxe",
        "amenities": "AC, Wi-Fi",
        "builtin_layout": "seater_2x2_40",
        "layout_json": "",
        "layout_file": Upload(""),
        "is_active": "y",
        "action": "save",
    }


def schedule_form(w: World) -> dict:
    start = (utcnow() + timedelta(days=20)).replace(hour=6, minute=0)
    return {
        "route_id": w.ids["route_id"],
        "bus_id": w.ids["spare_bus_id"],
        "departure_at": start.strftime("%Y-%m-%dT%H:%M"),
        "arrival_at": (start + timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M"),
        "base_price": "450.00",
        "status": "scheduled",
    }


def promo_form(w: World) -> dict:
    today = utcnow().date()
    return {
        "code": "NEWFUZZ",
        "description": "fuzz",
        "kind": "percent",
        "value": "10",
        "min_amount": "100",
        "max_discount": "200",
        "valid_from": f"{today - timedelta(days=1)}T00:00",
        "valid_until": f"{today + timedelta(days=30)}T00:00",
        "usage_limit": "100",
        "per_customer_limit": "2",
        "is_active": "y",
    }


def recurring_form(w: World) -> dict:
    first = utcnow().date() + timedelta(days=40)
    return {
        "route_id": w.ids["route_id"],
        "bus_id": w.ids["spare_bus_id"],
        "first_day": str(first),
        "last_day": str(first + timedelta(days=6)),
        "weekdays": ["0", "3"],
        "departure_times": "06:00, 22:30",
        "base_price": "400",
        "on_conflict": "skip",
        "action": "preview",
    }


def toggle(w: World) -> dict:
    return {"active": "0", "next": "/admin"}


def cancel_fields(w: World) -> dict:
    return {"seats": ["1A"], "refund_mode": "wallet", "reason": "plans changed"}


def search_args(w: World) -> dict:
    return {
        "origin": "Origin",
        "destination": "Chennai",
        "date": str(utcnow().date() + timedelta(days=2)),
        "sort": "departure",
        "bus_type": ["deluxe"],
        "window": "morning",
    }


def list_args(*names: str, **values: str):
    def args(w: World) -> dict:
        return {"q": "a", "sort": "name", "page": "1", **dict.fromkeys(names, ""), **values}

    return args


def insight_args(w: World) -> dict:
    """The dashboard's and the reports' period and filters."""
    return {
        "period": "custom",
        "from": "2026-11-01",
        "to": "2026-11-30",
        "route": w.ids["route_id"],
        "channel": "online",
        "trip": w.ids["schedule_id"],
    }


def activity_args(w: World) -> dict:
    """The audit log's filters."""
    return {
        "entity_type": "hold",
        "action": "hold.created",
        "actor": "system",
        "id": w.ids["hold_id"][:8],
        "from": "2026-11-01",
        "to": "2026-11-30",
        "page": "1",
    }


def none(w: World) -> dict:
    return {}


@dataclass(frozen=True)
class Spec:
    """What one (endpoint, method) reads: query parameters and form fields, each with a value
    that passes, and the WTForms classes they come from."""

    query: object = none
    form: object = none
    forms: tuple = ()


NEXT = {"next": "/bookings"}

SPECS: dict[tuple[str, str], Spec] = {
    ("public.home", "GET"): Spec(query=search_args, forms=(SearchForm,)),
    ("public.healthz", "GET"): Spec(),
    ("public.ready", "GET"): Spec(),
    ("ops.metrics_page", "GET"): Spec(),
    ("static", "GET"): Spec(query=lambda w: {"v": "0123456789ab"}),
    ("auth.login", "GET"): Spec(query=lambda w: NEXT),
    ("auth.login", "POST"): Spec(
        query=lambda w: NEXT,
        form=lambda w: {
            "email": "nobody@example.com",
            "password": "Wrong0ne!",
            "remember": "y",
            **NEXT,
        },
        forms=(LoginForm,),
    ),
    ("auth.register", "GET"): Spec(query=lambda w: NEXT),
    ("auth.register", "POST"): Spec(
        query=lambda w: NEXT,
        form=lambda w: {
            "first_name": "Meera",
            "last_name": "Iyer",
            "email": "meera-fuzz@example.com",
            "phone": "9876543210",
            "password": PASSWORD,
            "confirm": PASSWORD,
            **NEXT,
        },
        forms=(RegisterForm,),
    ),
    ("auth.logout", "POST"): Spec(forms=(SignOutForm,)),
    ("auth.change_password", "GET"): Spec(),
    # The current password is wrong, so no fuzzed value changes the role's password.
    ("auth.change_password", "POST"): Spec(
        form=lambda w: {"current": "Wrong0ne!", "password": PASSWORD, "confirm": PASSWORD},
        forms=(PasswordForm,),
    ),
    ("schedules.seat_map", "GET"): Spec(query=lambda w: {"seats": ["5A", "5B"]}),
    ("schedules.price", "GET"): Spec(query=lambda w: {"seats": ["5A", "5B"]}),
    ("schedules.hold", "POST"): Spec(form=lambda w: {"seats": ["6A"]}, forms=(SeatChoiceForm,)),
    ("checkout.checkout", "GET"): Spec(),
    ("checkout.pay", "POST"): Spec(form=checkout_form, forms=(CheckoutForm,)),
    ("checkout.price", "POST"): Spec(form=checkout_form, forms=(CheckoutForm,)),
    ("checkout.drop", "POST"): Spec(forms=(HoldActionForm,)),
    ("checkout.revive", "POST"): Spec(forms=(HoldActionForm,)),
    ("checkout.paying", "GET"): Spec(),
    ("account.bookings", "GET"): Spec(),
    ("account.booking", "GET"): Spec(query=lambda w: {"new": "1"}),
    ("account.ticket_pdf", "GET"): Spec(),
    ("account.trip_ics", "GET"): Spec(),
    ("account.cancel", "GET"): Spec(query=cancel_fields, forms=(CancelForm,)),
    ("account.cancel", "POST"): Spec(form=cancel_fields, forms=(CancelForm,)),
    ("account.wallet", "GET"): Spec(),
    ("account.topup", "POST"): Spec(
        form=lambda w: {"amount": "250.50", "method": "upi"}, forms=(TopUpForm,)
    ),
    ("account.topup_status", "GET"): Spec(),
    ("payments.webhook", "POST"): Spec(),  # signed bodies: test_every_signed_webhook_field
    # The customer back from Razorpay: signed fields (tests/test_razorpay.py signs real ones).
    ("payments.razorpay_callback", "GET"): Spec(
        query=lambda w: {
            "razorpay_payment_id": "pay_fuzz",
            "razorpay_payment_link_id": "plink_fuzz",
            "razorpay_payment_link_reference_id": str(uuid.uuid4()),
            "razorpay_payment_link_status": "paid",
            "razorpay_signature": "0" * 64,
        }
    ),
    ("payments.verify_ticket", "GET"): Spec(
        query=lambda w: {"token": w.ticket_token, "action": "verify"}, forms=(TicketVerifyForm,)
    ),
    ("payments.verify_ticket", "POST"): Spec(
        form=lambda w: {"token": w.ticket_token, "action": "verify"}, forms=(TicketVerifyForm,)
    ),
    ("gateway.sandbox", "GET"): Spec(),
    ("gateway.sandbox", "POST"): Spec(
        form=lambda w: {"decision": "decline"}, forms=(SandboxDecisionForm,)
    ),
    ("live.seats", "GET"): Spec(),
    ("desk.index", "GET"): Spec(
        query=lambda w: {"day": str(utcnow().date()), "q": "Chennai"}, forms=(DeparturesForm,)
    ),
    ("desk.sell", "GET"): Spec(query=lambda w: {"typed": "5A 5B"}),
    ("desk.hold_seats", "POST"): Spec(
        form=lambda w: {"typed": "7A, 7B", "seats": ["8A"]}, forms=(SeatPickForm,)
    ),
    ("desk.sale", "GET"): Spec(),
    ("desk.take_payment", "POST"): Spec(form=desk_sale_form, forms=(DeskSaleForm,)),
    ("desk.drop", "POST"): Spec(forms=(ActionForm,)),
    ("desk.lookup", "GET"): Spec(query=lambda w: {"q": "98"}, forms=(LookupForm,)),
    ("desk.booking", "GET"): Spec(query=lambda w: {"sold": "1"}),
    ("desk.receipt", "GET"): Spec(),
    ("desk.ticket", "GET"): Spec(),
    ("desk.resend", "POST"): Spec(forms=(ActionForm,)),
    ("desk.cancel", "GET"): Spec(query=cancel_fields, forms=(DeskCancelForm,)),
    ("desk.do_cancel", "POST"): Spec(form=cancel_fields, forms=(DeskCancelForm,)),
    ("desk.check_in", "GET"): Spec(),
    ("desk.check_in", "POST"): Spec(
        form=lambda w: {"token": w.ticket_token, "verify_only": "y"}, forms=(CheckInForm,)
    ),
    ("desk.manifest", "GET"): Spec(),
    ("desk.manifest_csv_file", "GET"): Spec(),
    ("desk.manifest_pdf_file", "GET"): Spec(),
    ("desk.shift", "GET"): Spec(),
    ("desk.open_shift", "POST"): Spec(
        form=lambda w: {"opening_float": "500.00", "station": "Mysuru"}, forms=(OpenShiftForm,)
    ),
    ("desk.close_shift", "POST"): Spec(
        form=lambda w: {"shift_id": w.ids["shift_id"], "counted_cash": "500", "note": "ok"},
        forms=(CloseShiftForm,),
    ),
    ("desk.shift_report", "GET"): Spec(),
    ("admin.dashboard", "GET"): Spec(query=insight_args),
    ("admin.bookings", "GET"): Spec(
        query=lambda w: {**insight_args(w), "page": "1", "refunded": "1"}
    ),
    ("admin.reports", "GET"): Spec(),
    ("admin.report", "GET"): Spec(query=insight_args),
    ("admin.report_csv", "GET"): Spec(query=insight_args),
    ("admin.holds", "GET"): Spec(query=lambda w: {"trip": w.ids["schedule_id"]}),
    ("admin.extend_hold", "POST"): Spec(
        form=lambda w: {"minutes": "5", "trip": w.ids["schedule_id"]}, forms=(ExtendHoldForm,)
    ),
    ("admin.release_hold", "POST"): Spec(
        form=lambda w: {"reason": "fraud check"}, forms=(ReleaseHoldForm,)
    ),
    ("admin.activity", "GET"): Spec(query=activity_args),
    ("admin.activity_csv", "GET"): Spec(query=activity_args),
    ("admin.outbox", "GET"): Spec(),
    ("admin.refunds", "GET"): Spec(query=lambda w: {"state": "pending", "page": "1"}),
    ("admin.retry_refund", "POST"): Spec(
        form=lambda w: {"state": "failed"}, forms=(RetryRefundForm,)
    ),
    ("admin.routes", "GET"): Spec(query=list_args("active")),
    ("admin.route_new", "GET"): Spec(),
    ("admin.route_new", "POST"): Spec(form=route_form, forms=(RouteForm,)),
    ("admin.route_edit", "GET"): Spec(),
    ("admin.route_edit", "POST"): Spec(form=route_form, forms=(RouteForm,)),
    ("admin.route_active", "POST"): Spec(form=toggle, forms=(ToggleForm,)),
    ("admin.buses", "GET"): Spec(query=list_args("type", "active")),
    ("admin.bus_new", "GET"): Spec(),
    ("admin.bus_new", "POST"): Spec(form=bus_form, forms=(BusForm,)),
    ("admin.bus_edit", "GET"): Spec(),
    ("admin.bus_edit", "POST"): Spec(form=bus_form, forms=(BusForm,)),
    ("admin.bus_active", "POST"): Spec(form=toggle, forms=(ToggleForm,)),
    ("admin.schedules", "GET"): Spec(
        query=list_args("status", "route_id", "bus_id", **{"from": "2026-01-01", "to": ""})
    ),
    ("admin.schedule_new", "GET"): Spec(),
    ("admin.schedule_new", "POST"): Spec(form=schedule_form, forms=(ScheduleForm,)),
    ("admin.schedule_edit", "GET"): Spec(),
    ("admin.schedule_edit", "POST"): Spec(form=schedule_form, forms=(ScheduleForm,)),
    ("admin.bulk_actions", "POST"): Spec(
        form=lambda w: {
            "ids": [w.ids["other_schedule_id"]],
            "action": "price",
            "change": "percent",
            "value": "10",
            "step": "preview",
        },
        forms=(BulkForm,),
    ),
    ("admin.recurring", "GET"): Spec(),
    ("admin.recurring_post", "POST"): Spec(form=recurring_form, forms=(RecurringForm,)),
    ("admin.promo_codes", "GET"): Spec(query=list_args("kind", "active", "state")),
    ("admin.promo_new", "GET"): Spec(),
    ("admin.promo_new", "POST"): Spec(form=promo_form, forms=(PromoForm,)),
    ("admin.promo_edit", "GET"): Spec(),
    ("admin.promo_edit", "POST"): Spec(form=promo_form, forms=(PromoForm,)),
    ("admin.promo_active", "POST"): Spec(form=toggle, forms=(ToggleForm,)),
    ("admin.users", "GET"): Spec(query=list_args("role", "active")),
    ("admin.user_edit", "GET"): Spec(),
    ("admin.user_edit", "POST"): Spec(
        form=lambda w: {"role": "customer", "home_station": "Mysuru"}, forms=(UserForm,)
    ),
    ("admin.user_active", "POST"): Spec(form=toggle, forms=(ToggleForm,)),
    ("admin.bulk_active", "POST"): Spec(
        form=lambda w: {
            "ids": [w.ids["route_id"]],
            "page_ids": [w.ids["route_id"]],
            "all_on_page": "y",
            "active": "1",
            "step": "preview",
            "next": "/admin/routes",
        },
        forms=(BulkActiveForm,),
    ),
    ("admin.shifts", "GET"): Spec(query=lambda w: {"open": "1"}),
    ("admin.upcoming_trips", "GET"): Spec(query=lambda w: {"page": "1"}),
    ("admin.trip", "GET"): Spec(),
    ("admin.trip_cancel", "POST"): Spec(
        form=lambda w: {"reason": "bus broke down", "confirm": "y"}, forms=(CancelTripForm,)
    ),
    ("admin.trip_swap_bus", "POST"): Spec(
        form=lambda w: {"bus_id": w.ids["spare_bus_id"]}, forms=(SwapBusForm,)
    ),
    ("admin.trip_departed", "POST"): Spec(forms=(DepartedForm,)),
    ("admin.bulk_index", "GET"): Spec(),
    ("admin.bulk", "GET"): Spec(query=lambda w: {"q": "a"}),
    ("admin.bulk_export", "GET"): Spec(query=lambda w: {"q": "a"}),
    ("admin.bulk_preview", "POST"): Spec(
        form=lambda w: {"file": Upload("origin_city,destination_city\nA,B\n")},
        forms=(UploadForm,),
    ),
    ("admin.bulk_apply", "POST"): Spec(
        form=lambda w: {"token": "A" * 32, "sha256": "0" * 64}, forms=(ApplyForm,)
    ),
}

# Path parameters that are text (not a UUID): each hostile value goes into the path too.
TEXT_PARAMETERS = {"reference", "kind", "filename"}
_PARAMETER = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


def rules_of(app, endpoint: str, method: str) -> list[str]:
    """The URL rules (strings) serving ``endpoint`` with ``method``."""
    return [r.rule for r in app.url_map.iter_rules(endpoint) if method in r.methods]


def fill(rule: str, values: dict[str, str]) -> str:
    """A rule's path with its parameters replaced (each value URL-quoted)."""
    return _PARAMETER.sub(lambda m: quote(values[m.group(2)], safe="/"), rule)


def path_variants(rule: str, real: dict[str, str]) -> list[tuple[str, str]]:
    """(label, path): the real path, then each parameter unknown, malformed and hostile."""
    variants = [("real", fill(rule, real))]
    for match in _PARAMETER.finditer(rule):
        name = match.group(2)
        wrong = {"unknown": random_uuid(), "malformed": "not-a-uuid", "nil": str(uuid.UUID(int=0))}
        if name in TEXT_PARAMETERS:
            wrong |= {k: v for k, v in HOSTILE.items() if isinstance(v, str) and v}
        for label, value in wrong.items():
            variants.append((f"{name}={label}", fill(rule, {**real, name: value})))
    return variants


# ---- signing in ------------------------------------------------------------------------------


def signed_in_clients(app, world: World) -> dict:
    """A test client per role, each signed in through the login form."""
    clients = {"anonymous": app.test_client()}
    for role in ("customer", "staff", "admin"):
        client = app.test_client()
        response = client.post("/login", data={"email": world.emails[role], "password": PASSWORD})
        assert response.status_code == 302, f"{role} could not sign in"
        clients[role] = client
    return clients


def refused(response) -> bool:
    """Whether the route turned the role away (to the sign-in page, or 401/403)."""
    if response is None:
        return False
    if response.status_code in (401, 403):
        return True
    return response.status_code == 302 and "/login" in response.headers.get("Location", "")


def assert_reconcile_clean(app) -> None:
    """`flask reconcile` exits 0 and prints no FAIL line."""
    result = app.test_cli_runner().invoke(args=["reconcile"])
    assert result.exit_code == 0 and "FAIL" not in result.output, result.output


# ---- the fuzz of every route ------------------------------------------------------------------


def fuzz_route(app, clients, world: World, endpoint: str, method: str, sender: Sender) -> None:
    """Every path variant, and every field with every hostile value, as the first role the
    route admits; each further role it admits gets every field with a dozen of them (all of
    them with FUZZ_EVERY_ROLE=1), and each role it turns away a few values everywhere at once."""
    spec = SPECS[(endpoint, method)]
    query, form = spec.query(world), spec.form(world)
    fields = [("query", name) for name in query] + [("form", name) for name in form]
    for rule in rules_of(app, endpoint, method):
        variants = path_variants(rule, path_values(world, endpoint))
        real = variants[0][1]
        fully_fuzzed = False
        for role in ROLES:
            client = clients[role]

            def send(path, q=query, f=form, mutated="baseline", client=client, role=role):
                return sender.send(client, role, method, path, query=q, form=f, mutated=mutated)

            blank = {name: "" for name in query}, {name: "" for name in form}
            admitted = not refused(send(real, *blank, mutated="all blank"))
            if not admitted:
                # Turned away at the door: a few values everywhere at once are enough.
                for name in AT_THE_DOOR:
                    value = HOSTILE[name]
                    send(
                        real,
                        dict.fromkeys(query, value),
                        dict.fromkeys(form, value),
                        mutated=f"all={name}",
                    )
                for label, path in variants[1:4]:
                    send(path, mutated=label)
                continue
            values = HOSTILE if not fully_fuzzed or EVERY_ROLE else SECOND_LOOK
            for where, name in fields:
                for label, value in values.items():
                    if isinstance(form.get(name), Upload) and where == "form":
                        value = Upload(value)
                    q = {**query, name: value} if where == "query" else query
                    f = {**form, name: value} if where == "form" else form
                    send(real, q, f, mutated=f"{name}={label}")
                # The field left out altogether.
                q = {k: v for k, v in query.items() if k != name or where != "query"}
                f = {k: v for k, v in form.items() if k != name or where != "form"}
                send(real, q, f, mutated=f"{name} missing")
            for label, path in variants[1:] if values is HOSTILE else variants[1:4]:
                send(path, mutated=label)
            send(real, mutated="baseline")
            fully_fuzzed = True


@pytest.mark.parametrize(("endpoint", "method"), sorted(SPECS), ids=lambda v: str(v))
def test_no_input_to_any_route_is_a_server_error(app, endpoint, method):
    """Every field, query and path parameter of the route, every hostile value, every role:
    no 5xx, and the invariants hold afterwards."""
    with app.app_context():
        world = build_world()
        db.session.remove()
    clients = signed_in_clients(app, world)
    sender = Sender()
    fuzz_route(app, clients, world, endpoint, method, sender)
    assert not sender.findings, "server errors:\n" + sender.report()
    with app.app_context():
        assert run_all() == []
        db.session.remove()
    assert_reconcile_clean(app)


# ---- signed webhooks ---------------------------------------------------------------------------


def webhook_bodies(world: World, now) -> list[tuple[str, bytes]]:
    """(label, body): a good success event with each field replaced, removed or mistyped."""
    good = json.loads(
        build_event("payment.succeeded", world.gateway_reference, world.gateway_amount, now=now)
    )
    wrong_types = {
        "null": None,
        "number": 12345,
        "float": 1e308,
        "true": True,
        "list": ["payment.succeeded"],
        "object": {"value": "payment.succeeded"},
        "nested": [[[[{"a": [1]}]]]],
    }
    bodies: list[tuple[str, bytes]] = []

    def mutate(path: tuple[str, ...], value, label: str, delete: bool = False) -> None:
        event = json.loads(json.dumps(good))
        target = event
        for key in path[:-1]:
            target = target[key]
        if delete:
            target.pop(path[-1])
        else:
            target[path[-1]] = value
        bodies.append((label, json.dumps(event).encode()))

    for path in (
        ("id",),
        ("type",),
        ("created",),
        ("data",),
        ("data", "reference"),
        ("data", "amount"),
    ):
        name = ".".join(path)
        mutate(path, None, f"{name} missing", delete=True)
        for label, value in {**HOSTILE, **wrong_types}.items():
            mutate(path, value, f"{name}={label}")
    for label, amount in {
        "amount=zero": "0.00",
        "amount=negative": "-525.00",
        "amount=more": "99999999.99",
        "amount=less": "1.00",
        "amount=three places": "1.005",
    }.items():
        mutate(("data", "amount"), amount, label)
    for label, raw in {
        "not json": b"not json",
        "empty": b"",
        "json list": b"[]",
        "json string": b'"payment.succeeded"',
        "nan": b'{"id": NaN}',
        "deep": b"[" * 50_000 + b"]" * 50_000,
        "invalid utf-8": b'{"id": "\xff\xfe"}',
        "nul": b'{"id": "evt\\u0000x", "type": "payment.succeeded"}',
        "duplicate keys": good_dupes(good),
    }.items():
        bodies.append((label, raw))
    return bodies


def good_dupes(good: dict) -> bytes:
    """The good event with its type given twice (the last one wins in json.loads)."""
    text = json.dumps(good)
    return text.replace('"type": ', '"type": "payment.refunded", "type": ', 1).encode()


def test_every_signed_webhook_field_mutated_is_never_a_server_error(app):
    """Each field of a correctly signed webhook mutated: refused (4xx) or applied, never a 5xx;
    then the real success still books the seats and reconcile is clean."""
    with app.app_context():
        world = build_world()
        db.session.remove()
    client = app.test_client()
    sender = Sender()
    secret = app.config["GATEWAY_WEBHOOK_SECRET"]
    now = utcnow()
    for label, body in webhook_bodies(world, now):
        headers = sign(body, int(now.timestamp()), secret)
        sender.send(
            client,
            "gateway",
            "POST",
            "/payments/webhook",
            mutated=label,
            body=body,
            headers=headers,
            content_type="application/json",
        )
    good = build_event("payment.succeeded", world.gateway_reference, world.gateway_amount, now=now)
    for label, headers in {
        "no headers": {},
        "timestamp=letters": {
            **sign(good, int(now.timestamp()), secret),
            "X-Sandbox-Timestamp": "abc",
        },
        "timestamp=huge": {**sign(good, 10**30, secret)},
        "timestamp=negative": {
            **sign(good, int(now.timestamp()), secret),
            "X-Sandbox-Timestamp": "-5",
        },
        "signature=unicode": {
            **sign(good, int(now.timestamp()), secret),
            "X-Sandbox-Signature": "v1=\u00e9\u00e9",
        },
        "signature=huge": {
            **sign(good, int(now.timestamp()), secret),
            "X-Sandbox-Signature": "v1=" + "a" * 10_001,
        },
        "signature=wrong secret": sign(good, int(now.timestamp()), "not-the-secret"),
        "stale": sign(good, int(now.timestamp()) - 10**6, secret),
    }.items():
        sender.send(
            client,
            "gateway",
            "POST",
            "/payments/webhook",
            mutated=label,
            body=good,
            headers=headers,
            content_type="application/json",
        )
    assert not sender.findings, "server errors:\n" + sender.report()

    response = client.post(
        "/payments/webhook",
        data=good,
        headers=sign(good, int(now.timestamp()), secret),
        content_type="application/json",
    )
    assert response.status_code == 200
    with app.app_context():
        payment = db.session.get(Payment, uuid.UUID(world.ids["payment_id"]))
        assert payment.booking_id is not None
        assert db.session.get(Reservation, payment.reservation_id).status == HoldStatus.CONFIRMED
        assert run_all() == []
        db.session.remove()
    assert_reconcile_clean(app)


# ---- the table is complete ----------------------------------------------------------------------

FORM_MODULES = sorted(Path(booking.web.__file__).parent.glob("**/*forms.py"))
# request.args reads outside a form: .get("x") / .getlist("x"), and the catalogue's helpers.
_ARG_READS = re.compile(r"""\bargs\.get(?:list)?\(\s*["'](\w+)["']""")
_LIST_ARGS = re.compile(r"_list_args\(([^)]*)\)")
_DAY_ARGS = re.compile(r"""_day\(\s*["'](\w+)["']\s*\)""")


def field_names(form_class, prefix: str = "") -> set[str]:
    """The names a form class reads from a request (a FieldList's first entry as name-0-sub)."""
    names: set[str] = set()
    for name, unbound in inspect.getmembers(form_class, lambda m: isinstance(m, UnboundField)):
        inner = unbound.args[0] if unbound.args else None
        if unbound.field_class is FieldList and isinstance(inner, UnboundField):
            if inner.field_class is FormField:
                names |= field_names(inner.args[0], f"{prefix}{name}-0-")
            else:
                names.add(f"{prefix}{name}-0")
        elif unbound.field_class is FormField:
            names |= field_names(inner, f"{prefix}{name}-")
        else:
            names.add(prefix + name)
    return names


def query_reads() -> set[str]:
    """Every query parameter a view reads outside a WTForms class."""
    names = set()
    for source in Path(booking.web.__file__).parent.glob("**/*.py"):
        text = source.read_text()
        names |= set(_ARG_READS.findall(text)) | set(_DAY_ARGS.findall(text))
        for call in _LIST_ARGS.findall(text):
            names |= set(re.findall(r"""["'](\w+)["']""", call))
        if "_list_args(" in text:
            names |= {"q", "sort", "page"}  # what _list_args always reads
    return names


def test_the_table_covers_every_route_form_field_and_query_parameter(app):
    """Each rule and method of the URL map has a row; each row sends every field of its forms;
    every form class is some row's; every request.args read is sent by some row."""
    served = {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert served == set(SPECS), f"missing {served - set(SPECS)}, stale {set(SPECS) - served}"

    ids = dict.fromkeys(
        ("route_id", "spare_bus_id", "shift_id", "other_schedule_id", "schedule_id", "hold_id"), ""
    )
    world = World({}, ids, "", "", "", Decimal(0))
    sent_queries: set[str] = set()
    for (endpoint, method), spec in SPECS.items():
        with app.test_request_context():
            query, form = spec.query(world), spec.form(world)
        sent_queries |= set(query)
        for form_class in spec.forms:
            missing = field_names(form_class) - set(query) - set(form)
            assert not missing, f"{endpoint} {method} does not send {sorted(missing)}"

    used = {form_class for spec in SPECS.values() for form_class in spec.forms}
    for module_path in FORM_MODULES:
        module_name = ".".join(
            module_path.relative_to(Path(booking.web.__file__).parents[2]).with_suffix("").parts
        )
        module = __import__(module_name, fromlist=["*"])
        for name, member in inspect.getmembers(module, inspect.isclass):
            if member.__module__ == module_name and issubclass(member, FlaskForm):
                assert member in used, f"{module_name}.{name} is in no row of SPECS"

    unread = query_reads() - sent_queries
    assert not unread, f"query parameters no row sends: {sorted(unread)}"


# ---- random inputs (Hypothesis): any text, anywhere at once -------------------------------------

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))
FIELDED = sorted(
    key for key, spec in SPECS.items() if spec.query is not none or spec.form is not none
)
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=300)
VALUE = st.one_of(
    st.sampled_from([v for v in HOSTILE.values() if isinstance(v, str)]),
    TEXT,
    st.integers().map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.dates().map(str),
    st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M")),
    st.lists(TEXT, max_size=3),
)


def test_hypothesis_any_values_in_many_fields_at_once_are_never_a_server_error(app):
    """Random values (any unicode, numbers, dates, lists) in several fields of a route at once,
    as the admin and the customer; FUZZ_EXAMPLES sets how many (more by hand)."""
    with app.app_context():
        world = build_world()
        db.session.remove()
    clients = signed_in_clients(app, world)
    sender = Sender()

    @settings(max_examples=EXAMPLES, suppress_health_check=list(HealthCheck), database=None)
    @given(
        route=st.sampled_from(FIELDED),
        role=st.sampled_from(ROLES[1:]),
        data=st.data(),
    )
    def fuzz(route, role, data):
        endpoint, method = route
        spec = SPECS[route]
        with app.test_request_context():
            query, form = spec.query(world), spec.form(world)
        names = sorted(query) + sorted(form)
        chosen = data.draw(st.lists(st.sampled_from(names), min_size=1, unique=True))
        values = {name: data.draw(VALUE) for name in chosen}
        query = {k: values.get(k, v) for k, v in query.items()}
        form = {
            k: (Upload(values[k]) if isinstance(v, Upload) else values[k]) if k in values else v
            for k, v in form.items()
        }
        for rule in rules_of(app, endpoint, method):
            path = fill(rule, path_values(world, endpoint))
            sender.send(
                clients[role], role, method, path, query=query, form=form, mutated=",".join(chosen)
            )

    fuzz()
    assert not sender.findings, "server errors:\n" + sender.report()
    with app.app_context():
        assert run_all() == []
        db.session.remove()
    assert_reconcile_clean(app)
