"""What the fuzz of every route sends: the hostile values, a sender that counts requests and
collects every 5xx (or exception) instead of stopping at the first, and the run's tally."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from booking.extensions import db
from booking.models import Booking, Payment, Ticket
from booking.models.enums import PaymentMethod, Role
from booking.orm import utcnow
from booking.services import payments
from tests.money_support import desk_hold, hold, make_promo, open_shift, pay_wallet, start_gateway
from tests.support import make_trip, make_user

# Every request the fuzz sent in this pytest run (the terminal summary prints it).
SENT = {"requests": 0, "server_errors": 0}

HUGE = 10_001

# name -> value. A list is sent as that many values of one field (a wrong type for a single
# field); everything else as one value. Kept in families so a report names what broke.
HOSTILE: dict[str, str | list[str]] = {
    "empty": "",
    "spaces": "   ",
    "huge": "A" * HUGE,
    "huge_digits": "9" * HUGE,
    "nul": "ab\x00cd",
    "control": "\x01\x08\x1b[2J\x7f",
    "crlf": "line\r\nSet-Cookie: x=1",
    "tab": "\t",
    "rtl": "\u202eevil\u202c \u05e2\u05d1\u05e8\u05d9\u05ea \u0627\u0644\u0639\u0631\u0628\u064a",
    "emoji": "\U0001f68c\U0001f469\u200d\U0001f469\u200d\U0001f467\U0001f1ee\U0001f1f3",
    "combining": "e" + "\u0301" * 60 + "\u0d15\u0d4d\u0d37",
    "zero_width": "\u200b\ufeff\u2060",
    "letters": "abc",
    "negative": "-1",
    "negative_huge": "-" + "9" * 40,
    "huge_number": "9" * 40,
    "exponent": "1e309",
    "nan": "NaN",
    "infinity": "-Infinity",
    "fraction": "0.001",
    "hex": "0x1F",
    "far_past_date": "0001-01-01",
    "far_future_date": "9999-12-31",
    "impossible_date": "2026-02-30",
    "far_past_time": "0001-01-01T00:00",
    "far_future_time": "9999-12-31T23:59",
    "bad_uuid": "not-a-uuid",
    "nil_uuid": "00000000-0000-0000-0000-000000000000",
    "random_uuid": "3b1f6a2e-8c4d-4e7a-9f10-2b3c4d5e6f70",
    "list": ["a", "b", "\U0001f68c"],
    "html": "<script>alert(1)</script>\"'><img src=x>",
    "sql": "' OR 1=1; DROP TABLE users; --",
    "path": "../../../../etc/passwd",
    "format": "%s%n%x{0}{__class__}${x}",
    "json_list": '[1, [2, {"a": null}]]',
    "json_object": '{"decks": {"rows": "x"}, "seats": -1}',
    "json_deep": "[" * 20_000 + "]" * 20_000,
}

# A smaller set for roles a route does not admit, where the request should end at the door.
AT_THE_DOOR = ("empty", "huge", "nul", "rtl", "list", "bad_uuid", "far_future_date")
# What a second role a route admits gets in every field (the first gets all of HOSTILE).
SECOND_LOOK = {
    name: HOSTILE[name]
    for name in (
        "empty",
        "huge",
        "nul",
        "emoji",
        "letters",
        "negative_huge",
        "nan",
        "far_past_date",
        "far_future_time",
        "bad_uuid",
        "list",
        "json_deep",
    )
}


def as_upload(value: str | list[str]) -> tuple[io.BytesIO, str]:
    """A hostile value as an uploaded file (its name hostile too when it is text)."""
    text = value if isinstance(value, str) else ",".join(value)
    name = (text[:40] or "empty") + ".csv"
    return io.BytesIO(text.encode("utf-8", "surrogatepass")), name


@dataclass
class Finding:
    """One request answered with a 5xx or an exception."""

    role: str
    method: str
    path: str
    mutated: str
    outcome: str

    def __str__(self) -> str:
        return f"{self.role:9} {self.method:4} {self.path} [{self.mutated}] -> {self.outcome}"


@dataclass
class Sender:
    """Sends requests through a test client and keeps the 5xx answers."""

    findings: list[Finding] = field(default_factory=list)

    def send(
        self,
        client,
        role: str,
        method: str,
        path: str,
        *,
        query: dict | None = None,
        form: dict | None = None,
        mutated: str = "baseline",
        body: bytes | None = None,
        **extra,
    ):
        """One request; a 5xx or an exception becomes a finding (the response, or None)."""
        SENT["requests"] += 1
        form = {
            key: (as_upload(value.value) if isinstance(value, Upload) else value)
            for key, value in (form or {}).items()
        }
        has_file = any(isinstance(value, tuple) for value in form.values())
        try:
            response = client.open(
                path,
                method=method,
                query_string=query or None,
                data=body if body is not None else (form or None),
                content_type="multipart/form-data" if has_file else extra.pop("content_type", None),
                **extra,
            )
        except Exception as error:  # any exception out of the app is a 500 in production
            self._found(role, method, path, mutated, f"{type(error).__name__}: {error}"[:300])
            return None
        if response.status_code >= 500:
            body = response.get_data(as_text=True)[:200].replace("\n", " ")
            self._found(role, method, path, mutated, f"{response.status_code} {body}")
        response.close()  # a file response (static, PDF) holds its file open until closed
        return response

    def _found(self, role, method, path, mutated, outcome) -> None:
        SENT["server_errors"] += 1
        self.findings.append(Finding(role, method, path[:120], mutated, outcome))

    def report(self) -> str:
        """The findings, one a line (the first 40)."""
        lines = [str(finding) for finding in self.findings[:40]]
        more = len(self.findings) - len(lines)
        return "\n".join(lines + ([f"... and {more} more"] if more > 0 else []))


@dataclass(frozen=True)
class Upload:
    """A form value to send as an uploaded file."""

    value: str | list[str]


def random_uuid() -> str:
    """A well-formed id that names nothing."""
    return str(uuid.uuid4())


# ---- the world every route is fuzzed in ---------------------------------------------------


@dataclass
class World:
    """Real rows for every kind of path parameter, so requests get past the look-ups."""

    emails: dict[str, str]
    ids: dict[str, str]
    reference: str
    ticket_token: str
    gateway_reference: str
    gateway_amount: Decimal


def build_world() -> World:
    """A customer with a booking, a live hold and a pending gateway payment and top-up; a clerk
    with an open shift and a desk hold; an admin; two trips, a spare bus and a promo code."""
    now = utcnow()
    customer = make_user(wallet="5000", now=now, first_name="Asha")
    staff = make_user(Role.STAFF, now=now, first_name="Clerk")
    admin = make_user(Role.ADMIN, now=now, first_name="Admin")
    trip = make_trip(now=now)
    other_trip = make_trip(now=now, departs_in=timedelta(days=3))
    spare_bus = make_trip(now=now, departs_in=timedelta(days=9)).bus_id
    booked_hold = hold(customer.id, trip.id, ["1A"], now=now)
    booking_id = pay_wallet(customer.id, booked_hold, ["1A"], now=now)
    live_hold = hold(customer.id, trip.id, ["3A"], now=now)
    gateway_hold = hold(customer.id, other_trip.id, ["2A"], now=now)
    started = start_gateway(customer.id, gateway_hold, ["2A"], now=now, use_wallet=False)
    topup = payments.start_topup(
        customer_id=customer.id,
        amount=Decimal("500.00"),
        method=PaymentMethod.UPI,
        now=now,
        return_url="/wallet",
    )
    shift = open_shift(staff.id, now=now)
    walk_in_hold = desk_hold(staff.id, trip.id, ["4A"], now=now)
    promo = make_promo("FUZZ10", now=now)
    booking = db.session.get(Booking, booking_id)
    ticket = db.session.query(Ticket).filter_by(booking_id=booking_id).one()
    gateway_payment = db.session.get(Payment, started.payment_id)
    return World(
        emails={"customer": customer.email, "staff": staff.email, "admin": admin.email},
        ids={
            "schedule_id": str(trip.id),
            "other_schedule_id": str(other_trip.id),
            "hold_id": str(live_hold),
            "desk_hold_id": str(walk_in_hold),
            "payment_id": str(started.payment_id),
            "topup_id": str(topup.payment_id),
            "shift_id": str(shift.id),
            "bus_id": str(trip.bus_id),
            "spare_bus_id": str(spare_bus),
            "route_id": str(trip.route_id),
            "promo_id": str(promo),
            "user_id": str(customer.id),
        },
        reference=booking.reference,
        ticket_token=ticket.qr_payload,
        gateway_reference=gateway_payment.gateway_reference,
        gateway_amount=gateway_payment.amount,
    )
