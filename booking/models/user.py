"""Accounts: customers, counter staff and admins."""

from __future__ import annotations

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from booking.db_types import enum_type
from booking.extensions import db
from booking.models.enums import Role
from booking.orm import IdMixin, TimestampMixin


class User(IdMixin, TimestampMixin, UserMixin, db.Model):
    """A person who signs in. Emails are stored lower-case, so uniqueness ignores case."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("email = lower(email)", name="email_lower_case"),
        CheckConstraint("length(phone) BETWEEN 10 AND 15", name="phone_length"),
        CheckConstraint("session_version >= 0", name="session_version_not_negative"),
    )

    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    first_name: Mapped[str] = mapped_column(String(80))
    last_name: Mapped[str] = mapped_column(String(80))
    phone: Mapped[str] = mapped_column(String(15))
    role: Mapped[Role] = mapped_column(enum_type(Role, "user_role"), default=Role.CUSTOMER)
    is_active: Mapped[bool] = mapped_column(default=True)
    # The city of the counter a staff member usually works at (a shift's default station).
    home_station: Mapped[str | None] = mapped_column(String(80))
    # Part of the id that sessions and remember-me cookies carry (get_id): raising it on sign
    # out, a password change or deactivation makes every cookie issued before it name nobody.
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")

    def get_id(self) -> str:
        """The id Flask-Login keeps in session and remember-me cookies: ``<id>:<version>``."""
        return f"{self.id}:{self.session_version}"

    @property
    def full_name(self) -> str:
        """First and last name."""
        return f"{self.first_name} {self.last_name}".strip()

    def has_role(self, *roles: Role) -> bool:
        """Whether the user holds one of the given roles."""
        return self.role in roles
