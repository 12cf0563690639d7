"""The admin back office's promo codes: percent or flat, bounds, a validity window, limits.

Same house rules as services.admin_catalog: one transaction per call, an audit row per change,
CatalogError / Conflict with a message for people, nothing changed on a refusal."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, or_, select

from booking.database import unit_of_work
from booking.extensions import db
from booking.models import PromoCode
from booking.models.enums import PromoKind
from booking.services import audit
from booking.services.admin_common import (
    ActiveKind,
    CatalogError,
    Page,
    flag,
    like,
    ordered,
    paginate,
)
from booking.services.errors import Conflict, NotFound

MESSAGES = {
    "not_found": "We could not find that promo code.",
    "code": "A code is 3 to 20 letters or digits.",
    "taken": "Promo code {code} already exists.",
    "kind": "Choose percent or flat.",
    "percent": "A percent discount is a whole number from 1 to 100.",
    "amount": "A flat discount is more than 0.",
    "money": "{label} must be an amount with at most 2 decimal places.",
    "min_amount": "The minimum fare cannot be negative.",
    "max_discount": "The largest discount, when given, must be more than 0.",
    "window": "The code must end after it starts.",
    "limit": "{label}, when given, must be at least 1.",
    "below_used": "The code has been used {used} time(s); its limit cannot be lower.",
}
CENT = Decimal("0.01")


@dataclass(frozen=True)
class PromoData:
    """What the promo form gives. ``value`` is the percent (kind percent) or the amount (flat)."""

    code: str
    kind: PromoKind | str
    value: Decimal | int | str
    valid_from: datetime
    valid_until: datetime
    description: str = ""
    min_amount: Decimal | str | None = None
    max_discount: Decimal | str | None = None
    usage_limit: int | None = None
    per_customer_limit: int | None = None
    is_active: bool = True


PROMO_SORTS = {
    "code": PromoCode.code,
    "kind": PromoCode.kind,
    "from": PromoCode.valid_from,
    "until": PromoCode.valid_until,
    "used": PromoCode.used_count,
    "active": PromoCode.is_active,
}


def list_promo_codes(
    filters: Mapping[str, Any] | None = None,
    sort: str | None = None,
    page: int | None = 1,
    per_page: int | None = 25,
    *,
    now: datetime | None = None,
) -> Page[PromoCode]:
    """Promo codes matching ``filters`` (q: code or description; kind; active: yes/no;
    state: current/expired/upcoming, needing ``now``), sorted, one page."""
    filters = filters or {}
    query = select(PromoCode)
    if q := (filters.get("q") or "").strip():
        pattern = like(q)
        query = query.where(
            or_(
                func.lower(PromoCode.code).like(pattern, escape="\\"),
                func.lower(PromoCode.description).like(pattern, escape="\\"),
            )
        )
    if (kind := filters.get("kind")) in {k.value for k in PromoKind}:
        query = query.where(PromoCode.kind == PromoKind(kind))
    if (active := flag(filters.get("active"))) is not None:
        query = query.where(PromoCode.is_active.is_(active))
    state = filters.get("state")
    if now is not None and state == "current":
        query = query.where(PromoCode.valid_from <= now, PromoCode.valid_until > now)
    elif now is not None and state == "expired":
        query = query.where(PromoCode.valid_until <= now)
    elif now is not None and state == "upcoming":
        query = query.where(PromoCode.valid_from > now)
    query = ordered(query, sort, PROMO_SORTS, "code").order_by(PromoCode.id)
    return paginate(query, page, per_page)


def get_promo_code(promo_id: uuid.UUID) -> PromoCode:
    """One promo code. :raise NotFound: when it does not exist."""
    promo = db.session.get(PromoCode, promo_id)
    if promo is None:
        raise NotFound(MESSAGES["not_found"])
    return promo


def _money(value: Any, label: str, field: str) -> Decimal | None:
    """An optional amount with at most two places."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise CatalogError(MESSAGES["money"].format(label=label), field=field) from None
    if not amount.is_finite() or amount != amount.quantize(CENT):
        raise CatalogError(MESSAGES["money"].format(label=label), field=field)
    return amount.quantize(CENT)


def _limit(value: Any, label: str, field: str) -> int | None:
    """An optional count of at least 1."""
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number < 1:
        raise CatalogError(MESSAGES["limit"].format(label=label), field=field)
    return number


def _promo_values(data: PromoData) -> dict[str, Any]:
    """Checked promo values, matching the table's CHECK constraints."""
    code = (data.code or "").strip().upper()
    if not 3 <= len(code) <= 20 or not code.isalnum() or not code.isascii():
        raise CatalogError(MESSAGES["code"], field="code")
    try:
        kind = PromoKind(data.kind)
    except ValueError:
        raise CatalogError(MESSAGES["kind"], field="kind") from None
    percent = amount = None
    if kind == PromoKind.PERCENT:
        try:
            percent = int(Decimal(str(data.value)))
        except (InvalidOperation, ValueError):
            percent = 0
        if not 1 <= percent <= 100 or Decimal(str(data.value)) != percent:
            raise CatalogError(MESSAGES["percent"], field="value")
    else:
        amount = _money(data.value, "The discount", "value")
        if amount is None or amount <= 0:
            raise CatalogError(MESSAGES["amount"], field="value")
    min_amount = _money(data.min_amount, "The minimum fare", "min_amount") or Decimal("0.00")
    if min_amount < 0:
        raise CatalogError(MESSAGES["min_amount"], field="min_amount")
    max_discount = _money(data.max_discount, "The largest discount", "max_discount")
    if max_discount is not None and max_discount <= 0:
        raise CatalogError(MESSAGES["max_discount"], field="max_discount")
    if data.valid_until <= data.valid_from:
        raise CatalogError(MESSAGES["window"], field="valid_until")
    return {
        "code": code,
        "description": " ".join((data.description or "").split())[:200],
        "kind": kind,
        "percent_off": percent,
        "amount_off": amount,
        "min_amount": min_amount,
        "max_discount": max_discount,
        "valid_from": data.valid_from,
        "valid_until": data.valid_until,
        "usage_limit": _limit(data.usage_limit, "The usage limit", "usage_limit"),
        "per_customer_limit": _limit(
            data.per_customer_limit, "The limit per customer", "per_customer_limit"
        ),
        "is_active": bool(data.is_active),
    }


def _require_unique(code: str, promo_id: uuid.UUID | None) -> None:
    """Refuse a code another promo has."""
    query = select(PromoCode.id).where(PromoCode.code == code)
    if promo_id is not None:
        query = query.where(PromoCode.id != promo_id)
    if db.session.scalar(query.limit(1)) is not None:
        raise Conflict(MESSAGES["taken"].format(code=code), field="code")


def create_promo_code(data: PromoData, *, actor_id: uuid.UUID | None, now: datetime) -> PromoCode:
    """Add a promo code. :raise CatalogError: a bad value; Conflict: the code exists."""
    values = _promo_values(data)
    with unit_of_work() as session:
        _require_unique(values["code"], None)
        promo = PromoCode(**values, created_at=now, updated_at=now)
        session.add(promo)
        session.flush()
        audit.record("promo_code", promo.id, "promo.created", actor_id=actor_id, at=now, **values)
    return promo


def update_promo_code(
    promo_id: uuid.UUID, data: PromoData, *, actor_id: uuid.UUID | None, now: datetime
) -> PromoCode:
    """Change a promo code; its usage limit may not drop below the uses already made."""
    values = _promo_values(data)
    with unit_of_work() as session:
        promo = session.get(PromoCode, promo_id, with_for_update=True)
        if promo is None:
            raise NotFound(MESSAGES["not_found"])
        _require_unique(values["code"], promo.id)
        if values["usage_limit"] is not None and values["usage_limit"] < promo.used_count:
            raise CatalogError(
                MESSAGES["below_used"].format(used=promo.used_count), field="usage_limit"
            )
        changes = {}
        for name, value in values.items():
            if getattr(promo, name) != value:
                changes[name] = [getattr(promo, name), value]
                setattr(promo, name, value)
        promo.updated_at = now
        audit.record("promo_code", promo.id, "promo.updated", actor_id=actor_id, at=now, **changes)
    return promo


def _set_promo_active(
    promo_id: uuid.UUID, active: bool, *, actor_id: uuid.UUID | None, now: datetime, **details
) -> PromoCode:
    """set_promo_active's work inside the caller's transaction: lock, switch, audit."""
    promo = db.session.get(PromoCode, promo_id, with_for_update=True)
    if promo is None:
        raise NotFound(MESSAGES["not_found"])
    _check_promo_switch(promo, active, now)
    promo.is_active = active
    promo.updated_at = now
    action = "promo.activated" if active else "promo.deactivated"
    audit.record(
        "promo_code", promo.id, action, actor_id=actor_id, at=now, code=promo.code, **details
    )
    return promo


def _check_promo_switch(promo: PromoCode, active: bool, now: datetime) -> None:
    """A promo code may always be switched on or off."""


def set_promo_active(
    promo_id: uuid.UUID, active: bool, *, actor_id: uuid.UUID | None, now: datetime
) -> PromoCode:
    """Switch a promo code on or off."""
    with unit_of_work():
        promo = _set_promo_active(promo_id, active, actor_id=actor_id, now=now)
    return promo


ACTIVE = ActiveKind(
    PromoCode, "promo_code", lambda p: p.code, _check_promo_switch, _set_promo_active
)
