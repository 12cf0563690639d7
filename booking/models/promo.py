"""Promo codes: percent or flat discounts with bounds, a validity window and usage limits."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from booking.db_types import enum_type
from booking.extensions import db
from booking.models.enums import PromoKind
from booking.orm import IdMixin, TimestampMixin


class PromoCode(IdMixin, TimestampMixin, db.Model):
    """A discount code. used_count only rises through a conditional update within the limit."""

    __tablename__ = "promo_codes"
    __table_args__ = (
        CheckConstraint("code = upper(code)", name="code_upper_case"),
        CheckConstraint(
            "(kind = 'percent' AND percent_off BETWEEN 1 AND 100 AND amount_off IS NULL)"
            " OR (kind = 'flat' AND amount_off > 0 AND percent_off IS NULL)",
            name="discount_matches_kind",
        ),
        CheckConstraint("min_amount >= 0", name="min_amount_not_negative"),
        CheckConstraint("max_discount IS NULL OR max_discount > 0", name="max_discount_positive"),
        CheckConstraint("valid_until > valid_from", name="window"),
        CheckConstraint("usage_limit IS NULL OR usage_limit > 0", name="usage_limit_positive"),
        CheckConstraint(
            "per_customer_limit IS NULL OR per_customer_limit > 0", name="per_customer_positive"
        ),
        CheckConstraint(
            "used_count >= 0 AND (usage_limit IS NULL OR used_count <= usage_limit)",
            name="used_within_limit",
        ),
    )

    code: Mapped[str] = mapped_column(String(20), unique=True)
    description: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[PromoKind] = mapped_column(enum_type(PromoKind, "promo_kind"))
    # Money columns hold whole paise on SQLite, so a percentage lives in a column of its own.
    percent_off: Mapped[int | None]
    amount_off: Mapped[Decimal | None]
    min_amount: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    max_discount: Mapped[Decimal | None]
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime]
    usage_limit: Mapped[int | None]
    per_customer_limit: Mapped[int | None]
    used_count: Mapped[int] = mapped_column(default=0)
    is_active: Mapped[bool] = mapped_column(default=True)
