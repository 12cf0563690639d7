"""A small stand-in for Razorpay's API on loopback: the endpoints the adapter uses (payment
links create/fetch/list, payments fetch/list, refunds create/list), answering with the JSON
shapes Razorpay documents, plus faults on demand (a 5xx, a 400, an answer that never comes);
and helpers that play the customer paying and Razorpay signing its callbacks and webhooks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlencode

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

KEY_ID = "rzp_test_fakekey"
KEY_SECRET = "fake-key-secret"
WEBHOOK_SECRET = "fake-webhook-secret"


@dataclass
class Fault:
    """What the next matching request gets instead of an answer."""

    method: str
    path_prefix: str
    status: int = 500  # 0: never answer (until the fake closes)
    code: str = "SERVER_ERROR"
    after: bool = False  # do the work first, then fail the answer (an answer lost on the way)


@dataclass
class RazorpayFake:
    """The fake's state; ``url`` is its base URL once started."""

    url: str = ""
    now: int = 0  # the Unix time stamped on what it makes
    links: dict[str, dict] = field(default_factory=dict)
    payments: dict[str, dict] = field(default_factory=dict)
    refunds: dict[str, dict] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    refund_status: str = "pending"  # what a new refund is (Razorpay: pending, then processed)
    released: threading.Event = field(default_factory=threading.Event)
    # Where the hosted page posts payment_link.paid once paid (the app's webhook), if anywhere.
    webhook_url: str | None = None

    # ---- faults ---------------------------------------------------------------------------

    def fail_next(
        self, method: str, path_prefix: str, status: int = 500, code="SERVER_ERROR", after=False
    ):
        """The next ``method`` request under ``path_prefix`` fails with ``status`` (``after``
        doing its work, when told)."""
        self.faults.append(Fault(method, path_prefix, status, code, after))

    def hang_next(self, method: str, path_prefix: str):
        """The next ``method`` request under ``path_prefix`` is never answered."""
        self.faults.append(Fault(method, path_prefix, 0))

    def calls(self, method: str, path_prefix: str) -> int:
        """How many such requests reached the fake."""
        return sum(1 for m, p in self.requests if m == method and p.startswith(path_prefix))

    # ---- the customer and Razorpay --------------------------------------------------------

    def pay(self, link_id: str, at: int | None = None) -> dict[str, str]:
        """The customer pays a link: a captured payment, the link paid; returns the query
        string Razorpay sends the customer back with, signed with the key secret."""
        link = self.links[link_id]
        payment_id = "pay_" + secrets.token_hex(7)
        stamp = at or self.now
        self.payments[payment_id] = {
            "id": payment_id,
            "entity": "payment",
            "amount": link["amount"],
            "currency": "INR",
            "status": "captured",
            "order_id": link["order_id"],
            "invoice_id": None,
            "international": False,
            "method": "upi",
            "amount_refunded": 0,
            "refund_status": None,
            "captured": True,
            "description": "#" + link_id.removeprefix("plink_"),
            "email": "priya@example.com",
            "contact": "+919876543210",
            "notes": [],
            "fee": 0,
            "tax": 0,
            "error_code": None,
            "created_at": stamp,
        }
        link.update(status="paid", amount_paid=link["amount"], updated_at=stamp)
        link["payments"] = [
            {
                "amount": link["amount"],
                "created_at": stamp,
                "method": "upi",
                "payment_id": payment_id,
                "plink_id": link_id,
                "status": "captured",
                "updated_at": stamp,
            }
        ]
        return self.callback_params(link_id, payment_id, "paid")

    def callback_params(self, link_id: str, payment_id: str, status: str, secret=KEY_SECRET):
        """The query Razorpay appends to the callback_url, signed as it documents."""
        reference = self.links[link_id]["reference_id"]
        message = f"{link_id}|{reference}|{status}|{payment_id}"
        return {
            "razorpay_payment_id": payment_id,
            "razorpay_payment_link_id": link_id,
            "razorpay_payment_link_reference_id": reference,
            "razorpay_payment_link_status": status,
            "razorpay_signature": _hmac(secret, message),
        }

    def callback_path(self, params: dict[str, str]) -> str:
        """The callback_url the link was made with (its path), with the signed query."""
        [link] = [
            link for link in self.links.values() if link["id"] == params["razorpay_payment_link_id"]
        ]
        path = "/" + link["callback_url"].split("://", 1)[1].split("/", 1)[1]
        return f"{path}?{urlencode(params)}"

    def webhook(
        self,
        event: str,
        entities: dict[str, dict],
        *,
        created_at: int | None = None,
        event_id: str | None = None,
        secret: str = WEBHOOK_SECRET,
    ) -> tuple[bytes, dict[str, str]]:
        """A webhook body as Razorpay sends it, and its signing headers."""
        body = json.dumps(
            {
                "entity": "event",
                "account_id": "acc_fake",
                "event": event,
                "contains": list(entities),
                "payload": {kind: {"entity": entity} for kind, entity in entities.items()},
                "created_at": self.now if created_at is None else created_at,
            }
        ).encode()
        headers = {
            "X-Razorpay-Signature": _hmac(secret, body.decode()),
            "X-Razorpay-Event-Id": event_id or "evt" + secrets.token_hex(7),
            "Content-Type": "application/json",
        }
        return body, headers

    def link_paid(self, link_id: str, **kw) -> tuple[bytes, dict[str, str]]:
        """The payment_link.paid webhook of a paid link."""
        link = self.links[link_id]
        payment = self.payments[link["payments"][0]["payment_id"]]
        return self.webhook("payment_link.paid", {"payment_link": link, "payment": payment}, **kw)

    def refund_event(self, refund_id: str, status: str, **kw) -> tuple[bytes, dict[str, str]]:
        """The refund.processed / refund.failed webhook of a refund, its status set so."""
        refund = self.refunds[refund_id]
        refund["status"] = status
        return self.webhook(f"refund.{status}", {"refund": refund}, **kw)

    # ---- the API --------------------------------------------------------------------------

    def __call__(self, environ, start_response):
        request = Request(environ)
        self.requests.append((request.method, request.path))
        for fault in list(self.faults):
            if request.method == fault.method and request.path.startswith(fault.path_prefix):
                self.faults.remove(fault)
                if fault.status == 0:
                    self.released.wait(30)
                    return Response(status=504)(environ, start_response)
                if fault.after and self._authorised(request):
                    self._route(request)
                return _error(fault.status, fault.code, "fake fault")(environ, start_response)
        if request.path.startswith("/i/"):  # the hosted page the customer pays on
            return self._hosted_page(request)(environ, start_response)
        if not self._authorised(request):
            return _error(401, "BAD_REQUEST_ERROR", "The api key provided is invalid")(
                environ, start_response
            )
        return self._route(request)(environ, start_response)

    def _hosted_page(self, request: Request) -> Response:
        """Razorpay's page for a link: a Pay button; paying sends the webhook (when told
        where) and the customer back to the callback_url with the signed query."""
        link_id = "plink_" + request.path.removeprefix("/i/")
        link = self.links.get(link_id)
        if link is None:
            return Response("No such link", status=404)
        if request.method == "POST":
            params = self.pay(link_id)
            if self.webhook_url:
                body, headers = self.link_paid(link_id)
                post = urllib.request.Request(self.webhook_url, data=body, headers=headers)
                urllib.request.urlopen(post, timeout=10).close()
            return Response(
                status=302, headers={"Location": f"{link['callback_url']}?{urlencode(params)}"}
            )
        rupees = f"{link['amount'] / 100:,.2f}"
        page = (
            "<!doctype html><html lang=en><title>Razorpay (fake)</title>"
            f"<h1>Pay Rs {rupees}</h1><form method=post><button>Pay Rs {rupees} by UPI</button>"
            "</form></html>"
        )
        return Response(page, mimetype="text/html")

    def _authorised(self, request: Request) -> bool:
        """Basic auth with the key id and secret, as the client sends it."""
        given = request.headers.get("Authorization", "")
        expected = base64.b64encode(f"{KEY_ID}:{KEY_SECRET}".encode()).decode()
        return given == f"Basic {expected}"

    def _route(self, request: Request) -> Response:
        parts = request.path.strip("/").split("/")
        method = request.method
        if len(parts) < 2 or parts[0] != "v1":
            return _error(404, "BAD_REQUEST_ERROR", "The requested URL was not found")
        kind, rest = parts[1], parts[2:]
        if kind == "payment_links":
            if method == "POST" and not rest:
                return self._create_link(request.get_json(silent=True) or {})
            if method == "GET" and not rest:
                ref = request.args.get("reference_id")
                found = [v for v in self.links.values() if ref is None or v["reference_id"] == ref]
                return _json({"payment_links": found})
            if method == "GET" and len(rest) == 1:
                return self._one(self.links, rest[0])
        if kind == "payments":
            if method == "GET" and not rest:
                return self._collection(self.payments, request)
            if method == "GET" and len(rest) == 1:
                return self._one(self.payments, rest[0])
            if method == "POST" and len(rest) == 2 and rest[1] == "refund":
                return self._refund(rest[0], request.get_json(silent=True) or {})
            if method == "GET" and len(rest) == 2 and rest[1] == "refunds":
                mine = {k: v for k, v in self.refunds.items() if v["payment_id"] == rest[0]}
                return self._collection(mine, request)
        if kind == "refunds" and method == "GET" and not rest:
            return self._collection(self.refunds, request)
        return _error(404, "BAD_REQUEST_ERROR", "The requested URL was not found")

    def _create_link(self, data: dict) -> Response:
        amount = data.get("amount")
        if not isinstance(amount, int) or amount < 100:
            return _error(400, "BAD_REQUEST_ERROR", "The amount must be atleast INR 1.00")
        reference = data.get("reference_id")
        if any(link["reference_id"] == reference for link in self.links.values()):
            return _error(
                400,
                "BAD_REQUEST_ERROR",
                f"Payment Link with reference id {reference} already exists",
            )
        link_id = "plink_" + secrets.token_hex(7)
        link = {
            "id": link_id,
            "entity": "payment_link",
            "accept_partial": data.get("accept_partial", False),
            "amount": amount,
            "amount_paid": 0,
            "callback_method": data.get("callback_method", ""),
            "callback_url": data.get("callback_url", ""),
            "cancelled_at": 0,
            "created_at": self.now,
            "currency": data.get("currency", "INR"),
            "customer": data.get("customer", {}),
            "description": data.get("description", ""),
            "expire_by": data.get("expire_by", 0),
            "expired_at": 0,
            "first_min_partial_amount": 0,
            "notes": data.get("notes") or None,
            "notify": {"email": False, "sms": False},
            "order_id": "order_" + secrets.token_hex(7),
            "payments": None,
            "reference_id": reference or "",
            "reminder_enable": False,
            "reminders": [],
            "short_url": f"{self.url}/i/{link_id.removeprefix('plink_')}",
            "status": "created",
            "updated_at": self.now,
            "upi_link": False,
            "user_id": "",
        }
        self.links[link_id] = link
        return _json(link)

    def _refund(self, payment_id: str, data: dict) -> Response:
        payment = self.payments.get(payment_id)
        if payment is None:
            return _error(400, "BAD_REQUEST_ERROR", "The id provided does not exist")
        amount = data.get("amount", payment["amount"] - payment["amount_refunded"])
        if not isinstance(amount, int) or amount <= 0:
            return _error(400, "BAD_REQUEST_ERROR", "The amount must be a positive integer")
        if payment["amount_refunded"] + amount > payment["amount"]:
            too_much = "The refund amount provided is greater than amount captured"
            return _error(400, "BAD_REQUEST_ERROR", too_much)
        refund_id = "rfnd_" + secrets.token_hex(7)
        refund = {
            "id": refund_id,
            "entity": "refund",
            "amount": amount,
            "currency": "INR",
            "payment_id": payment_id,
            "notes": data.get("notes") or [],
            "receipt": data.get("receipt"),
            "acquirer_data": {"arn": None},
            "created_at": self.now,
            "batch_id": None,
            "status": self.refund_status,
            "speed_processed": "normal",
            "speed_requested": data.get("speed", "normal"),
        }
        self.refunds[refund_id] = refund
        payment["amount_refunded"] += amount
        payment["refund_status"] = (
            "full" if payment["amount_refunded"] == payment["amount"] else "partial"
        )
        return _json(refund)

    def _one(self, table: dict, ident: str) -> Response:
        if ident not in table:
            return _error(400, "BAD_REQUEST_ERROR", "The id provided does not exist")
        return _json(table[ident])

    def _collection(self, table: dict, request: Request) -> Response:
        start = int(request.args.get("from", 0))
        end = int(request.args.get("to", 2**40))
        skip = int(request.args.get("skip", 0))
        count = int(request.args.get("count", 10))
        items = [v for v in table.values() if start <= v["created_at"] <= end]
        items.sort(key=lambda v: v["created_at"], reverse=True)
        page = items[skip : skip + count]
        return _json({"entity": "collection", "count": len(page), "items": page})


def _json(payload: dict, status: int = 200) -> Response:
    return Response(json.dumps(payload), status=status, mimetype="application/json")


def _error(status: int, code: str, description: str) -> Response:
    """Razorpay's error shape."""
    return _json(
        {
            "error": {
                "code": code,
                "description": description,
                "source": "NA",
                "step": "NA",
                "reason": "NA",
                "metadata": {},
            }
        },
        status,
    )


def _hmac(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


class RunningFake:
    """The fake served on 127.0.0.1 in a thread (a context manager)."""

    def __init__(self, now: datetime):
        self.fake = RazorpayFake(now=int(now.timestamp()))
        self.server = make_server("127.0.0.1", 0, self.fake, threaded=True)
        self.fake.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> RazorpayFake:
        self.thread.start()
        return self.fake

    def __exit__(self, *exc) -> None:
        self.fake.released.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def settings(fake: RazorpayFake, **overrides) -> dict:
    """The app settings that point GATEWAY=razorpay at the fake."""
    return {
        "GATEWAY": "razorpay",
        "RAZORPAY_KEY_ID": KEY_ID,
        "RAZORPAY_KEY_SECRET": KEY_SECRET,
        "RAZORPAY_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "RAZORPAY_BASE_URL": fake.url,
        "RAZORPAY_TIMEOUT_SECONDS": 1.0,
        "RAZORPAY_CALLBACK_URL": "http://localhost/payments/razorpay/return",
        **overrides,
    }
