"""The Razorpay gateway, through its official client: one Payment Link per payment (the customer
pays on Razorpay's page and is sent back to our callback, no JavaScript needed), webhooks
signed with the webhook secret, refunds, and the look-ups that settle and reconcile payments.

Razorpay counts money in paise (integers); this module is the only place that converts.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import razorpay
import requests
from flask import has_request_context, url_for
from razorpay.errors import BadRequestError, SignatureVerificationError

from booking.gateway import (
    GatewayError,
    GatewaySession,
    RefundAnswer,
    WebhookError,
    WebhookEvent,
    WebhookIgnored,
)

logger = logging.getLogger("booking.gateway")

DEFAULT_BASE_URL = "https://api.razorpay.com"
SIGNATURE_HEADER = "X-Razorpay-Signature"
EVENT_ID_HEADER = "X-Razorpay-Event-Id"
CALLBACK_FIELDS = (
    "razorpay_payment_id",
    "razorpay_payment_link_id",
    "razorpay_payment_link_reference_id",
    "razorpay_payment_link_status",
    "razorpay_signature",
)
MAX_ID_LENGTH = 64  # payment_events.event_id, payments.gateway_reference
PAGE = 100  # the most items Razorpay's list endpoints give at once
PAISE = Decimal(100)
# A Payment Link must stay open at least this long (Razorpay refuses a shorter expire_by).
MIN_LINK_MINUTES = 16


class RazorpayRefused(GatewayError):
    """Razorpay understood the request and said no (a 400: bad amount, duplicate reference)."""


class NothingCaptured(GatewayError):
    """The payment link has no captured payment (not paid, or not yet)."""


@dataclass(frozen=True)
class CallbackReturn:
    """A verified return of the customer from a Payment Link."""

    payment_id: uuid.UUID  # ours: the link's reference_id
    link_id: str
    link_status: str
    razorpay_payment_id: str


def from_config(config: Mapping[str, Any]) -> RazorpayGateway:
    """The Razorpay gateway set up from the app's settings.

    :raise GatewayError: when the keys are not configured (nothing can be paid then).
    """
    missing = [name for name in REQUIRED_SETTINGS if not config.get(name)]
    if missing:
        raise GatewayError(f"Razorpay is not configured: set {', '.join(missing)}.")
    return RazorpayGateway(
        key_id=config["RAZORPAY_KEY_ID"],
        key_secret=config["RAZORPAY_KEY_SECRET"],
        webhook_secret=config["RAZORPAY_WEBHOOK_SECRET"],
        base_url=config.get("RAZORPAY_BASE_URL") or DEFAULT_BASE_URL,
        timeout=float(config.get("RAZORPAY_TIMEOUT_SECONDS", 10)),
        tolerance_seconds=int(config.get("RAZORPAY_WEBHOOK_TOLERANCE_SECONDS", 86400)),
        session_minutes=int(config.get("GATEWAY_SESSION_MINUTES", 10)),
        callback_url=config.get("RAZORPAY_CALLBACK_URL") or None,
    )


REQUIRED_SETTINGS = ("RAZORPAY_KEY_ID", "RAZORPAY_KEY_SECRET", "RAZORPAY_WEBHOOK_SECRET")


class _TimedSession(requests.Session):
    """A requests session whose every call gives up after ``timeout`` seconds (the client sets
    none, and a hung gateway must not hold a request thread forever)."""

    def __init__(self, timeout: float):
        super().__init__()
        self.timeout = timeout

    def request(self, *args, **kwargs):
        """Send, bounded by the timeout unless the caller gave one."""
        kwargs.setdefault("timeout", self.timeout)
        return super().request(*args, **kwargs)


def to_paise(amount: Decimal) -> int:
    """Rupees (2 places) as integer paise."""
    return int((Decimal(amount) * PAISE).to_integral_value())


def from_paise(value: Any) -> Decimal:
    """Integer paise as rupees.

    :raise ValueError: for anything but a positive integer.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError("not a positive amount in paise")
    return (Decimal(value) / PAISE).quantize(Decimal("0.01"))


class RazorpayGateway:
    """Payment Links, webhooks and refunds at Razorpay."""

    name = "razorpay"

    def __init__(
        self,
        *,
        key_id: str,
        key_secret: str,
        webhook_secret: str,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 10,
        tolerance_seconds: int = 86400,
        session_minutes: int = 10,
        callback_url: str | None = None,
    ):
        self.client = razorpay.Client(
            session=_TimedSession(timeout), auth=(key_id, key_secret), base_url=base_url
        )
        self.client.set_app_details({"title": "bus-booking"})
        self.key_secret = key_secret
        self.webhook_secret = webhook_secret
        self.tolerance_seconds = tolerance_seconds
        self.session_minutes = session_minutes
        self.callback_url = callback_url

    # ---- paying ---------------------------------------------------------------------------

    def create_session(
        self, payment_id: uuid.UUID, amount: Decimal, return_url: str
    ) -> GatewaySession:
        """A Payment Link for ``amount`` whose reference_id is our payment id; the customer
        comes back to our callback, which sends them on to the "confirming" page.

        Razorpay keeps reference_id unique, so asking again for the same payment (after a
        timeout, say) finds the link already made instead of a second one to pay.

        :raise GatewayError: when Razorpay is down, slow or refuses.
        """
        reference = str(payment_id)
        data = {
            "amount": to_paise(amount),
            "currency": "INR",
            "accept_partial": False,
            "reference_id": reference,
            "description": "Bus tickets",
            "callback_url": self._callback_url(),
            "callback_method": "get",
            "expire_by": int(time.time()) + 60 * max(self.session_minutes, MIN_LINK_MINUTES),
            "notes": {"payment_id": reference},
        }
        link = None
        for attempt in (1, 2):
            try:
                link = self._call("create a payment link", self.client.payment_link.create, data)
                break
            except RazorpayRefused as refusal:
                link = self._link_by_reference(reference)
                if link is None:
                    raise refusal from None
                break
            except GatewayError:
                if attempt == 2:
                    raise
                # Once more with the same reference_id: it cannot make a second link to pay.
        if link.get("amount") != data["amount"] or not link.get("id") or not link.get("short_url"):
            raise GatewayError("Razorpay answered with a payment link that is not this payment's.")
        logger.info(
            "event=gateway.session_created gateway=%s payment_id=%s reference=%s amount=%s",
            self.name,
            payment_id,
            link["id"],
            amount,
        )
        return GatewaySession(reference=link["id"], url=link["short_url"])

    def _link_by_reference(self, reference: str) -> dict | None:
        """The payment link already made for our payment id, if Razorpay has one."""
        found = self._call(
            "look up a payment link", self.client.payment_link.all, {"reference_id": reference}
        )
        for link in found.get("payment_links") or []:
            if isinstance(link, dict) and link.get("reference_id") == reference:
                return link
        return None

    def _callback_url(self) -> str:
        """Where Razorpay sends the customer back (RAZORPAY_CALLBACK_URL, else our route).

        :raise GatewayError: outside a request with no RAZORPAY_CALLBACK_URL.
        """
        if self.callback_url:
            return self.callback_url
        if not has_request_context():
            raise GatewayError("Set RAZORPAY_CALLBACK_URL to open payment links outside a request.")
        return url_for("payments.razorpay_callback", _external=True)

    def verify_callback(self, params: Mapping[str, str]) -> CallbackReturn:
        """Check the customer's return from a Payment Link with Razorpay's signature scheme.

        :raise GatewayError: for a missing field, a bad signature or a reference not ours.
        """
        values = {}
        for name in CALLBACK_FIELDS:
            value = params.get(name)
            if not isinstance(value, str) or not value or len(value) > 200:
                raise GatewayError(f"The return from Razorpay has no {name}.")
            values[name] = value
        try:
            self.client.utility.verify_payment_link_signature(
                {
                    "razorpay_payment_id": values["razorpay_payment_id"],
                    "payment_link_id": values["razorpay_payment_link_id"],
                    "payment_link_reference_id": values["razorpay_payment_link_reference_id"],
                    "payment_link_status": values["razorpay_payment_link_status"],
                    "razorpay_signature": values["razorpay_signature"],
                    "secret": self.key_secret,
                }
            )
        except (SignatureVerificationError, TypeError, ValueError):
            raise GatewayError("The return from Razorpay is not signed by Razorpay.") from None
        try:
            payment_id = uuid.UUID(values["razorpay_payment_link_reference_id"])
        except ValueError:
            raise GatewayError("The return from Razorpay is about no payment of ours.") from None
        return CallbackReturn(
            payment_id,
            values["razorpay_payment_link_id"],
            values["razorpay_payment_link_status"],
            values["razorpay_payment_id"],
        )

    def settlement(self, gateway_reference: str) -> WebhookEvent | None:
        """Ask Razorpay where a payment link stands, as the event its webhook would have been:
        paid (a success), expired or cancelled (abandoned), or None while it is still open.

        :raise GatewayError: when Razorpay cannot be asked.
        """
        link = self._fetch_link(gateway_reference)
        status = link.get("status")
        if status == "paid":
            event_type, paise = "payment.succeeded", link.get("amount_paid")
        elif status in ("expired", "cancelled"):
            event_type, paise = "payment.abandoned", link.get("amount")
        else:
            return None
        try:
            amount = from_paise(paise)
        except ValueError:
            raise GatewayError("Razorpay answered with a payment link without an amount.") from None
        return WebhookEvent(
            event_id=f"settle_{gateway_reference}_{status}"[:MAX_ID_LENGTH],
            event_type=event_type,
            gateway_reference=gateway_reference,
            amount=amount,
            payload={"source": "settle", "payment_link": link},
        )

    # ---- webhooks -------------------------------------------------------------------------

    def verify_webhook(
        self, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> WebhookEvent:
        """Check a webhook's X-Razorpay-Signature (HMAC-SHA256 of the raw body with the webhook
        secret) and its age, then read it as one of our events.

        :raise WebhookError: unsigned, badly signed, stale or malformed; WebhookIgnored for a
            well-signed event we do not act on.
        """
        present = {str(key).lower(): value for key, value in headers.items()}
        signature = present.get(SIGNATURE_HEADER.lower())
        event_id = present.get(EVENT_ID_HEADER.lower())
        if not signature or not isinstance(signature, str):
            raise WebhookError(f"The webhook has no {SIGNATURE_HEADER} header.")
        if not _is_id(event_id):
            raise WebhookError(f"The webhook has no usable {EVENT_ID_HEADER} header.")
        if not isinstance(body, bytes):
            raise WebhookError("The webhook body is not bytes.")
        try:
            text = body.decode("utf-8")
            self.client.utility.verify_webhook_signature(text, signature, self.webhook_secret)
        except (SignatureVerificationError, UnicodeDecodeError, TypeError, ValueError):
            raise WebhookError("The webhook signature does not match.") from None
        try:
            payload = json.loads(text, parse_constant=_refuse_constant)
        except (ValueError, RecursionError):
            raise WebhookError("The webhook body is not valid JSON.") from None
        if not isinstance(payload, dict):
            raise WebhookError("The webhook body is not a JSON object.")
        created = payload.get("created_at")
        if isinstance(created, bool) or not isinstance(created, int):
            raise WebhookError("The webhook has no created_at time.")
        age = int(now.timestamp()) - created
        if age > self.tolerance_seconds:
            raise WebhookError(f"The webhook is too old ({age} seconds); it may be a replay.")
        if -age > self.tolerance_seconds:
            raise WebhookError(f"The webhook is dated {-age} seconds in the future.")
        return _read_event(event_id, payload)

    # ---- refunds --------------------------------------------------------------------------

    def refund(
        self, gateway_reference: str, amount: Decimal, reason: str, key: str | None = None
    ) -> RefundAnswer:
        """Refund ``amount`` of the payment captured on a payment link. With ``key`` (our refund
        id, sent as the refund's receipt), a refund Razorpay already has for it is returned
        instead of a second one: asking again after a timeout, or to learn its state, is safe.

        :raise GatewayError: no captured payment on the link, or Razorpay down or refusing.
        """
        payment_id = self.captured_payment_of(gateway_reference)
        if key:
            made = self._call(
                "list the payment's refunds", self.client.payment.fetch_multiple_refund, payment_id
            )
            for existing in made.get("items") or []:
                if existing.get("receipt") == key and existing.get("status") != "failed":
                    return RefundAnswer(existing["id"], existing.get("status") == "processed")
        data = {
            "amount": to_paise(amount),
            "speed": "normal",
            "notes": {"reason": reason[:250]},
        }
        if key:
            data["receipt"] = key
        answer = self._call("refund the payment", self.client.payment.refund, payment_id, data)
        if not _is_id(answer.get("id")):
            raise GatewayError("Razorpay answered the refund without a refund id.")
        logger.info(
            "event=gateway.refund_requested gateway=%s reference=%s refund_reference=%s "
            "amount=%s status=%s",
            self.name,
            gateway_reference,
            answer["id"],
            amount,
            answer.get("status"),
        )
        return RefundAnswer(answer["id"], answer.get("status") == "processed")

    def captured_payment_of(self, gateway_reference: str) -> str:
        """The id of the payment captured on a payment link.

        :raise NothingCaptured: when it has none; GatewayError when Razorpay cannot be asked.
        """
        link = self._fetch_link(gateway_reference)
        for paid in link.get("payments") or []:
            if paid.get("status") == "captured" and _is_id(paid.get("payment_id")):
                return paid["payment_id"]
        raise NothingCaptured(f"Razorpay has no captured payment on {gateway_reference}.")

    def payment_of_link(self, gateway_reference: str) -> str | None:
        """The id of the payment captured on a link, or None (nothing captured, no such link).

        :raise GatewayError: when Razorpay cannot be asked.
        """
        try:
            return self.captured_payment_of(gateway_reference)
        except (RazorpayRefused, NothingCaptured):
            return None

    def _fetch_link(self, link_id: str) -> dict:
        """One payment link, with its payments.

        :raise GatewayError: when Razorpay cannot be asked.
        """
        return self._call("fetch the payment link", self.client.payment_link.fetch, link_id)

    # ---- reconciling ----------------------------------------------------------------------

    def captured_payments(self, start: datetime, end: datetime) -> list[dict]:
        """Every payment captured at Razorpay created in [start, end)."""
        return [
            item
            for item in self._all("list payments", self.client.payment.all, start, end)
            if item.get("status") in ("captured", "refunded") or item.get("captured") is True
        ]

    def refunds(self, start: datetime, end: datetime) -> list[dict]:
        """Every refund made at Razorpay in [start, end)."""
        return self._all("list refunds", self.client.refund.all, start, end)

    def _all(self, what: str, fetch, start: datetime, end: datetime) -> list[dict]:
        """Page through a list endpoint between two times (Razorpay's ``to`` is inclusive)."""
        items: list[dict] = []
        query = {"from": int(start.timestamp()), "to": int(end.timestamp()) - 1, "count": PAGE}
        while True:
            page = self._call(what, fetch, {**query, "skip": len(items)})
            got = page.get("items") or []
            items.extend(item for item in got if isinstance(item, dict))
            if len(got) < PAGE:
                return items

    # ---- the client -----------------------------------------------------------------------

    def _call(self, what: str, method, *args) -> dict:
        """One call of the official client, its failures as our GatewayError.

        :raise RazorpayRefused: for a 400; GatewayError for a timeout, a 5xx, or an answer that
            is not JSON.
        """
        try:
            answer = method(*args)
        except BadRequestError as error:
            raise RazorpayRefused(f"Razorpay refused to {what}: {error}") from error
        except (razorpay.errors.ServerError, razorpay.errors.GatewayError) as error:
            raise GatewayError(f"Razorpay could not {what}: {error}") from error
        except requests.Timeout as error:
            raise GatewayError(f"Razorpay did not answer in time to {what}.") from error
        except (requests.RequestException, ValueError) as error:
            raise GatewayError(f"Razorpay could not be reached to {what}: {error}") from error
        if not isinstance(answer, dict):
            raise GatewayError(f"Razorpay answered {what} with something that is not an object.")
        return answer


def _read_event(event_id: str, payload: dict) -> WebhookEvent:
    """A verified Razorpay event as ours.

    :raise WebhookError: when it is not the shape Razorpay documents; WebhookIgnored for an
        event we do not act on.
    """
    name = payload.get("event")
    if not isinstance(name, str):
        raise WebhookError("The webhook names no event.")
    if name in ("payment.captured", "payment.failed", "payment.authorized"):
        # A Payment Link's payments carry no link id; a failed attempt leaves the link open for
        # another try. payment_link.paid (and .expired/.cancelled) settle the payment instead.
        raise WebhookIgnored(f"{name} is settled through the payment link's own events.")
    if name == "payment_link.paid":
        kind, event_type, amount_field = "payment_link", "payment.succeeded", "amount_paid"
    elif name in ("payment_link.expired", "payment_link.cancelled"):
        kind, event_type, amount_field = "payment_link", "payment.abandoned", "amount"
    elif name in ("refund.processed", "refund.failed"):
        kind, event_type, amount_field = "refund", name, "amount"
    else:
        raise WebhookIgnored(f"The webhook event {name[:40]!r} is not one we act on.")
    entity = _entity(payload, kind)
    reference = entity.get("id")
    if not _is_id(reference):
        raise WebhookError("The webhook event names no usable reference.")
    try:
        amount = from_paise(entity.get(amount_field))
    except ValueError:
        raise WebhookError("The webhook amount must be a positive number of paise.") from None
    return WebhookEvent(
        event_id=event_id,
        event_type=event_type,
        gateway_reference=reference,
        amount=amount,
        payload=payload,
    )


def _entity(payload: dict, kind: str) -> dict:
    """payload.<kind>.entity of a Razorpay event.

    :raise WebhookError: when it is missing.
    """
    inner = payload.get("payload")
    wrapped = inner.get(kind) if isinstance(inner, dict) else None
    entity = wrapped.get("entity") if isinstance(wrapped, dict) else None
    if not isinstance(entity, dict):
        raise WebhookError(f"The webhook carries no {kind}.")
    return entity


def _refuse_constant(name: str) -> Any:
    """Refuse NaN and Infinity, which json accepts by default.

    :raise ValueError: always.
    """
    raise ValueError(f"{name} is not JSON")


def _is_id(value: Any) -> bool:
    """Whether ``value`` is a non-empty string that fits our id columns."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= MAX_ID_LENGTH
        and not any(ord(c) < 32 or ord(c) == 127 for c in value)
    )
