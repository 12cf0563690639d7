"""The payment gateway adapter: what the payments service asks of a gateway, and which one to use.

A real gateway is one new module beside sandbox.py exposing ``from_config(config) -> Gateway``,
plus one line in ADAPTERS.
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from flask import current_app

EVENT_TYPES = frozenset(
    {"payment.succeeded", "payment.failed", "payment.abandoned", "refund.succeeded"}
)
# Events about a refund at the gateway (the event's gateway_reference is the refund's).
REFUND_EVENT_TYPES = frozenset({"refund.processed", "refund.failed"})

# GATEWAY setting -> module holding that gateway's adapter.
ADAPTERS = {"sandbox": "booking.gateway.sandbox", "razorpay": "booking.gateway.razorpay"}


class GatewayError(Exception):
    """The gateway refused or failed a request; ``message`` says why, for the logs and the
    services that turn it into words for a person."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class WebhookError(GatewayError):
    """A webhook call was refused: unsigned, badly signed, stale or not understood."""

    status = 400  # what the webhook endpoint answers


class WebhookIgnored(GatewayError):
    """A well-signed webhook about nothing we act on: acknowledged (so the gateway stops
    sending it) and otherwise ignored."""


@dataclass(frozen=True)
class RefundAnswer:
    """The gateway's answer to a refund: its reference, and whether the money has gone back
    already (``processed``) or the gateway will say so later (by webhook, or when asked again
    with the same key)."""

    reference: str
    processed: bool = True


@dataclass(frozen=True)
class GatewaySession:
    """A checkout session at the gateway: its reference and the page the customer pays on."""

    reference: str
    url: str


@dataclass(frozen=True)
class WebhookEvent:
    """A verified gateway event about one payment (or its refund)."""

    event_id: str
    event_type: str
    gateway_reference: str
    amount: Decimal
    payload: dict[str, Any] = field(repr=False)


class Gateway(Protocol):
    """What the payments service needs from a payment gateway."""

    def create_session(
        self, payment_id: uuid.UUID, amount: Decimal, return_url: str
    ) -> GatewaySession:
        """Open a checkout session for ``amount``; the customer is sent to its url."""
        ...

    def verify_webhook(
        self, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> WebhookEvent:
        """Check a webhook's signature and freshness and parse it.

        :raise WebhookError: for anything but a well-signed, fresh, well-formed event.
        """
        ...

    def refund(
        self, gateway_reference: str, amount: Decimal, reason: str, key: str | None = None
    ) -> str | RefundAnswer:
        """Refund ``amount`` of a captured payment; returns the gateway's refund reference (a
        plain string: processed at once). Asked again with the same ``key`` (our refund's id),
        a gateway that can returns the refund it already made instead of a second one."""
        ...


def get_gateway() -> Gateway:
    """The gateway named by the GATEWAY setting.

    :raise RuntimeError: when GATEWAY names no known gateway (a deployment error).
    """
    name = current_app.config["GATEWAY"]
    if name not in ADAPTERS:
        raise RuntimeError(f"Unknown GATEWAY {name!r}; known: {', '.join(sorted(ADAPTERS))}.")
    return importlib.import_module(ADAPTERS[name]).from_config(current_app.config)
