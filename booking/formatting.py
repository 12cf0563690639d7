"""How money, times and durations are written for people: one place for pages, PDFs, emails."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel import Locale
from babel.numbers import format_currency, format_decimal
from flask import current_app

# The days a person may type: enough for any timetable or report, and far enough from
# date.min / date.max that moving a day or a time zone never overflows.
EARLIEST_DAY = date(2000, 1, 1)
LATEST_DAY = date(2999, 12, 31)


def _money_locale() -> Locale:
    """The locale whose digit grouping money is written in (en_IN: lakhs and crores)."""
    return Locale.parse(current_app.config["MONEY_LOCALE"])


def _digits(value: Decimal) -> str:
    """An amount with its currency's decimals in the locale's grouping: '1,00,000.00'."""
    locale = _money_locale()
    # The locale's plain number pattern carries its grouping; the currency fixes the decimals.
    pattern = locale.decimal_formats[None]
    currency = current_app.config["CURRENCY_CODE"]
    return format_currency(value, currency, format=pattern, locale=locale)


def money(value: Decimal | int | float | None) -> str:
    """'Rs 1,234.50', 'Rs 1,00,000.00' (Indian grouping; whole amounts keep their paise)."""
    if value is None:
        return ""
    amount = Decimal(value).quantize(Decimal("0.01"))
    sign = "-" if amount < 0 else ""
    return f"{sign}{current_app.config['CURRENCY_SYMBOL']} {_digits(abs(amount))}"


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
    if quantized == quantized.to_integral():
        return format_decimal(quantized.to_integral(), locale=_money_locale())
    return _digits(quantized)


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
