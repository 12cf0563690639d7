"""The sandbox gateway: a pretend card page inside this app, with webhooks signed like a real one's
(HMAC-SHA256 over "<timestamp>.<body>"), so the whole payment path runs without a provider.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
import uuid
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from flask import has_request_context, url_for
from werkzeug.routing import BuildError

from booking.gateway import (
    EVENT_TYPES,
    GatewayError,
    GatewaySession,
    WebhookError,
    WebhookEvent,
)

logger = logging.getLogger("booking.gateway")

TIMESTAMP_HEADER = "X-Sandbox-Timestamp"
SIGNATURE_HEADER = "X-Sandbox-Signature"
SIGNATURE_SCHEME = "v1="
# Both land in 64-character columns (payment_events.event_id, payments.gateway_reference).
MAX_ID_LENGTH = 64
AMOUNT_FORMAT = re.compile(r"\d{1,10}(\.\d{1,2})?")
TIMESTAMP_FORMAT = re.compile(r"\d{1,12}")


def build_event(
    event_type: str,
    gateway_reference: str,
    amount: Decimal,
    *,
    now: datetime,
    event_id: str | None = None,
) -> bytes:
    """The JSON body of a sandbox webhook, compact, as the gateway would send it."""
    event = {
        "id": event_id or f"evt_{secrets.token_hex(12)}",
        "type": event_type,
        "created": int(now.timestamp()),
        "data": {"reference": gateway_reference, "amount": f"{Decimal(amount):.2f}"},
    }
    return json.dumps(event, separators=(",", ":")).encode()


def sign(body: bytes, timestamp: int, secret: str) -> dict[str, str]:
    """The headers that sign ``body`` at ``timestamp`` with the webhook secret."""
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: SIGNATURE_SCHEME + _signature(body, str(timestamp), secret),
    }


def _signature(body: bytes, timestamp: str, secret: str) -> str:
    """Hex HMAC-SHA256 of "<timestamp>." + body."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def from_config(config: Mapping[str, Any]) -> SandboxGateway:
    """The sandbox gateway set up from the app's settings."""
    return SandboxGateway(
        webhook_secret=config["GATEWAY_WEBHOOK_SECRET"],
        tolerance_seconds=int(config["WEBHOOK_TOLERANCE_SECONDS"]),
        fail_refunds=bool(config.get("SANDBOX_FAIL_REFUNDS")),
    )


class SandboxGateway:
    """A gateway that always answers, paid through the in-app page at /gateway/sandbox/<id>."""

    name = "sandbox"

    def __init__(self, webhook_secret: str, tolerance_seconds: int = 300, fail_refunds=False):
        self.webhook_secret = webhook_secret
        self.tolerance_seconds = tolerance_seconds
        self.fail_refunds = fail_refunds  # SANDBOX_FAIL_REFUNDS: refuse refunds, for tests

    def create_session(
        self, payment_id: uuid.UUID, amount: Decimal, return_url: str
    ) -> GatewaySession:
        """Open a session: its page is the sandbox checkout of this payment.

        The sandbox page finds its way back from the payment itself, so return_url is unused.
        """
        reference = f"sbx_{secrets.token_hex(12)}"
        logger.info(
            "event=gateway.session_created gateway=%s payment_id=%s reference=%s amount=%s",
            self.name,
            payment_id,
            reference,
            amount,
        )
        return GatewaySession(reference=reference, url=_checkout_url(payment_id))

    def signed_event(
        self, event_type: str, gateway_reference: str, amount: Decimal, *, now: datetime
    ) -> tuple[bytes, dict[str, str]]:
        """A webhook body and its headers, signed with this gateway's secret, as sent at now."""
        body = build_event(event_type, gateway_reference, amount, now=now)
        return body, sign(body, int(now.timestamp()), self.webhook_secret)

    def verify_webhook(
        self, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> WebhookEvent:
        """Check the signature and age of a webhook, then parse its event.

        :raise WebhookError: for missing headers, a bad signature, a stale or future timestamp,
            a body that is not JSON, an unknown event type or a bad amount.
        """
        present = {str(key).lower(): value for key, value in headers.items()}
        timestamp = present.get(TIMESTAMP_HEADER.lower())
        signature = present.get(SIGNATURE_HEADER.lower())
        if not timestamp:
            raise WebhookError(f"The webhook has no {TIMESTAMP_HEADER} header.")
        if not signature:
            raise WebhookError(f"The webhook has no {SIGNATURE_HEADER} header.")
        if not isinstance(timestamp, str) or not TIMESTAMP_FORMAT.fullmatch(timestamp):
            raise WebhookError(f"The {TIMESTAMP_HEADER} header is not a Unix time.")
        if not isinstance(signature, str) or not signature.startswith(SIGNATURE_SCHEME):
            raise WebhookError(f"The {SIGNATURE_HEADER} header is not a v1 signature.")
        if not isinstance(body, bytes):
            raise WebhookError("The webhook body is not bytes.")

        given = signature.removeprefix(SIGNATURE_SCHEME)
        expected = _signature(body, timestamp, self.webhook_secret)
        # compare_digest refuses non-ASCII str; such a signature cannot match anyway.
        if not given.isascii() or not hmac.compare_digest(expected, given):
            raise WebhookError("The webhook signature does not match.")

        age = int(now.timestamp()) - int(timestamp)
        if age > self.tolerance_seconds:
            raise WebhookError(f"The webhook is too old ({age} seconds); it may be a replay.")
        if -age > self.tolerance_seconds:
            raise WebhookError(f"The webhook is dated {-age} seconds in the future.")
        return _parse_event(body)

    def refund(
        self, gateway_reference: str, amount: Decimal, reason: str, key: str | None = None
    ) -> str:
        """Refund part or all of a payment at once (or, told to by SANDBOX_FAIL_REFUNDS, refuse
        as a gateway that is down would).

        :raise GatewayError: when told to fail refunds.
        """
        if self.fail_refunds:
            logger.info(
                "event=gateway.refund_refused gateway=%s reference=%s amount=%s",
                self.name,
                gateway_reference,
                amount,
            )
            raise GatewayError("The sandbox gateway refused the refund (SANDBOX_FAIL_REFUNDS).")
        refund_reference = f"sbx_rf_{secrets.token_hex(12)}"
        logger.info(
            "event=gateway.refunded gateway=%s reference=%s refund_reference=%s amount=%s "
            "reason=%s",
            self.name,
            gateway_reference,
            refund_reference,
            amount,
            json.dumps(reason),
        )
        return refund_reference


def _parse_event(body: bytes) -> WebhookEvent:
    """Read a verified body into a WebhookEvent.

    :raise WebhookError: when it is not the JSON event we expect.
    """
    try:
        payload = json.loads(body, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise WebhookError("The webhook body is not valid JSON.") from exc
    if not isinstance(payload, dict):
        raise WebhookError("The webhook body is not a JSON object.")

    event_id = payload.get("id")
    if not _is_id(event_id):
        raise WebhookError("The webhook event has no usable id.")
    event_type = payload.get("type")
    if not isinstance(event_type, str) or event_type not in EVENT_TYPES:
        raise WebhookError(f"The webhook event type {str(event_type)[:40]!r} is not one we know.")
    data = payload.get("data")
    if not isinstance(data, dict):
        raise WebhookError("The webhook event has no data object.")
    reference = data.get("reference")
    if not _is_id(reference):
        raise WebhookError("The webhook event names no usable payment reference.")
    amount = data.get("amount")
    # A string, never a JSON number: money must not pass through a float.
    if not isinstance(amount, str) or not AMOUNT_FORMAT.fullmatch(amount):
        raise WebhookError('The webhook amount must be a decimal string such as "123.45".')
    value = Decimal(amount).quantize(Decimal("0.01"))
    if value <= 0:
        raise WebhookError("The webhook amount must be more than zero.")
    return WebhookEvent(
        event_id=event_id,
        event_type=event_type,
        gateway_reference=reference,
        amount=value,
        payload=payload,
    )


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
        and not any(ord(c) < 32 or ord(c) == 127 for c in value)  # PostgreSQL refuses a NUL
    )


def _checkout_url(payment_id: uuid.UUID) -> str:
    """The sandbox checkout page of a payment (a plain path when no request is active)."""
    if has_request_context():
        return url_for("gateway.sandbox", payment_id=payment_id, _external=False)
    try:
        return url_for("gateway.sandbox", payment_id=payment_id, _external=False)
    except (RuntimeError, BuildError):
        return f"/gateway/sandbox/{payment_id}"
