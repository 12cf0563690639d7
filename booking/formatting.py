"""How money, times and durations are written for people: one place for pages, PDFs, emails."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import current_app


def money(value: Decimal | int | float | None) -> str:
    """'Rs 1,234.50' (whole amounts keep their paise: 'Rs 650.00')."""
    if value is None:
        return ""
    amount = Decimal(value).quantize(Decimal("0.01"))
    sign = "-" if amount < 0 else ""
    return f"{sign}{current_app.config['CURRENCY_SYMBOL']} {abs(amount):,.2f}"


def local_time(value: datetime | None, fmt: str = "%d %b %Y, %H:%M") -> str:
    """A UTC time shown in the operator's time zone."""
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])).strftime(fmt)


def duration(minutes: int) -> str:
    """'6h 30m'."""
    hours, rest = divmod(int(minutes), 60)
    return f"{hours}h {rest:02d}m" if hours else f"{rest}m"


def percent(value: Decimal | int | float) -> str:
    """'5%', '12.5%' (no trailing zeros)."""
    return f"{Decimal(value).normalize():f}%"


def amount(value: Decimal | int | float) -> str:
    """A bare amount for tight spaces: '930', '930.50' (the currency is said nearby)."""
    quantized = Decimal(value).quantize(Decimal("0.01"))
    return f"{quantized:,.0f}" if quantized == quantized.to_integral() else f"{quantized:,.2f}"


METHOD_LABELS = {
    "upi": "UPI",
    "credit_card": "Credit card",
    "debit_card": "Debit card",
    "net_banking": "Net banking",
    "wallet": "Wallet",
    "cash": "Cash",
}


def method_label(method) -> str:
    """'UPI', 'Credit card' ... for a payment method."""
    value = getattr(method, "value", method)
    return METHOD_LABELS.get(value, str(value).replace("_", " ").capitalize())
