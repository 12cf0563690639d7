"""Settings from the environment: infrastructure, secrets and the business rules of DESIGN.md."""

from __future__ import annotations

import os
import secrets
from decimal import Decimal
from pathlib import Path


def _int(name: str, default: int) -> int:
    """Read an integer setting from the environment."""
    raw = os.environ.get(name)
    return default if raw in (None, "") else int(raw)


def _decimal_map(name: str, default: str) -> dict[str, Decimal]:
    """Read a setting like ``standard:5,sleeper:12`` into a dict of Decimals."""
    raw = os.environ.get(name) or default
    pairs = (item.split(":", 1) for item in raw.split(",") if item.strip())
    return {key.strip(): Decimal(value.strip()) for key, value in pairs}


def _flag(name: str) -> bool:
    """Read a yes/no setting: 1, true, yes or on (any case) mean yes."""
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _secret_key(instance_path: Path, production: bool) -> str:
    """Return SECRET_KEY from the environment, or one generated once and kept under instance/.

    :raise RuntimeError: in production when SECRET_KEY is not set.
    """
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    if production:
        raise RuntimeError("SECRET_KEY must be set in production (FLASK_ENV=production).")
    path = instance_path / "secret_key"
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def load_config(instance_path: str) -> dict:
    """Build the configuration mapping for create_app from the environment."""
    instance = Path(instance_path)
    production = os.environ.get("FLASK_ENV") == "production"
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{instance / 'booking.db'}"
    if database_url.startswith("postgres://"):
        database_url = "postgresql://" + database_url.removeprefix("postgres://")
    if database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgresql://")
    bulk_max_bytes = _int("BULK_MAX_BYTES", 5 * 1024 * 1024)
    return {
        "SECRET_KEY": _secret_key(instance, production),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": os.environ.get("REDIS_URL") or None,
        "PRODUCTION": production,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_SECURE": production,
        "WTF_CSRF_TIME_LIMIT": None,
        # Ping open seat-map sockets so dead browsers are noticed and idle proxies keep them.
        "SOCK_SERVER_OPTIONS": {"ping_interval": 25},
        # The operator and how money and times are shown.
        "OPERATOR_NAME": os.environ.get("OPERATOR_NAME", "Demo Travels"),
        "CURRENCY_SYMBOL": os.environ.get("CURRENCY_SYMBOL", "Rs"),
        # Money is grouped as this locale writes numbers (en_IN: 1,00,000.00) in this currency.
        "MONEY_LOCALE": os.environ.get("MONEY_LOCALE", "en_IN"),
        "CURRENCY_CODE": os.environ.get("CURRENCY_CODE", "INR"),
        "DISPLAY_TIMEZONE": os.environ.get("DISPLAY_TIMEZONE", "Asia/Kolkata"),
        # Holds (DESIGN.md "Rules").
        "HOLD_MINUTES": _int("HOLD_MINUTES", 15),
        "MAX_SEATS_PER_HOLD": _int("MAX_SEATS_PER_HOLD", 6),
        "GATEWAY_SESSION_MINUTES": _int("GATEWAY_SESSION_MINUTES", 10),
        "SALES_CUTOFF_MINUTES": _int("SALES_CUTOFF_MINUTES", 30),
        "SWEEP_INTERVAL_SECONDS": _int("SWEEP_INTERVAL_SECONDS", 30),
        "SWEEP_BATCH_SIZE": _int("SWEEP_BATCH_SIZE", 2000),
        "TRIPS_COMPLETE_INTERVAL_SECONDS": _int("TRIPS_COMPLETE_INTERVAL_SECONDS", 600),
        "LOCK_TIMEOUT_MS": _int("LOCK_TIMEOUT_MS", 2000),
        # The live-holds console: the most minutes one "extend" may add, and how near its expiry
        # a hold is flagged as about to lapse.
        "ADMIN_EXTEND_MAX_MINUTES": _int("ADMIN_EXTEND_MAX_MINUTES", 15),
        "HOLD_LAPSING_SECONDS": _int("HOLD_LAPSING_SECONDS", 120),
        # The admin dashboard: trips departing within this many hours are listed with their load.
        "DASHBOARD_DEPARTING_HOURS": _int("DASHBOARD_DEPARTING_HOURS", 6),
        # The audit log: rows per page, and the most rows one CSV export writes.
        "ACTIVITY_PAGE_SIZE": _int("ACTIVITY_PAGE_SIZE", 50),
        "EXPORT_MAX_ROWS": _int("EXPORT_MAX_ROWS", 50000),
        # Pricing: GST percent by bus type.
        "GST_RATES": _decimal_map("GST_RATES", "standard:5,deluxe:5,semi_sleeper:12,sleeper:12"),
        # Cancellation policy tiers.
        "CANCEL_FULL_REFUND_HOURS": _int("CANCEL_FULL_REFUND_HOURS", 24),
        "CANCEL_CUSTOMER_CUTOFF_HOURS": _int("CANCEL_CUSTOMER_CUTOFF_HOURS", 2),
        "CANCEL_PARTIAL_REFUND_PERCENT": _int("CANCEL_PARTIAL_REFUND_PERCENT", 50),
        # Check-in at the bus door: from this many hours before departure until arrival.
        "CHECKIN_OPENS_HOURS": _int("CHECKIN_OPENS_HOURS", 12),
        # Accounts.
        "LOGIN_MAX_FAILURES": _int("LOGIN_MAX_FAILURES", 5),
        "LOGIN_LOCK_MINUTES": _int("LOGIN_LOCK_MINUTES", 15),
        # Payments.
        "GATEWAY": os.environ.get("GATEWAY", "sandbox"),
        # create_app refuses the sandbox gateway in production unless this says it is meant.
        "ALLOW_SANDBOX_IN_PRODUCTION": _flag("ALLOW_SANDBOX_IN_PRODUCTION"),
        "GATEWAY_WEBHOOK_SECRET": os.environ.get("GATEWAY_WEBHOOK_SECRET")
        or _secret_key(instance, production) + ":webhook",
        "WEBHOOK_TOLERANCE_SECONDS": _int("WEBHOOK_TOLERANCE_SECONDS", 300),
        # Bulk CSV edit in the admin pages: the largest file and the most rows one upload takes.
        "BULK_MAX_BYTES": bulk_max_bytes,
        # The largest request body any page takes (a bare 413 beyond it, before the body is
        # read or a webhook verified): the bulk CSV upload's limit plus 1 MB, so a file a little
        # over that limit still gets the bulk page's own message.
        "MAX_CONTENT_LENGTH": _int("MAX_CONTENT_LENGTH", bulk_max_bytes + 1024 * 1024),
        "BULK_MAX_ROWS": _int("BULK_MAX_ROWS", 20_000),
        # Email: SMTP when configured, else only the outbox table.
        "SMTP_HOST": os.environ.get("SMTP_HOST") or None,
        "SMTP_PORT": _int("SMTP_PORT", 25),
        "MAIL_FROM": os.environ.get("MAIL_FROM", "tickets@example.com"),
    }
