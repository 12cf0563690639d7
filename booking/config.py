"""Settings from the environment: infrastructure, secrets and the business rules of DESIGN.md."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from decimal import Decimal
from pathlib import Path


def _int(name: str, default: int) -> int:
    """Read an integer setting from the environment."""
    raw = os.environ.get(name)
    return default if raw in (None, "") else int(raw)


def _float(name: str, default: float) -> float:
    """Read a number setting (seconds and the like) from the environment."""
    raw = os.environ.get(name)
    return default if raw in (None, "") else float(raw)


def _decimal_map(name: str, default: str) -> dict[str, Decimal]:
    """Read a setting like ``standard:5,sleeper:12`` into a dict of Decimals."""
    raw = os.environ.get(name) or default
    pairs = (item.split(":", 1) for item in raw.split(",") if item.strip())
    return {key.strip(): Decimal(value.strip()) for key, value in pairs}


def _socket_base(name: str) -> str:
    """Read a WebSocket origin (``ws://`` or ``wss://`` and a host), or "" when unset.

    :raise RuntimeError: for anything else, naming the setting.
    """
    raw = os.environ.get(name, "").strip()
    if raw and not (raw.startswith(("ws://", "wss://")) and raw.split("://", 1)[1].strip("/")):
        raise RuntimeError(f"{name} must be a ws:// or wss:// address, e.g. wss://ws.example.com")
    return raw


def _hosts(name: str) -> tuple[str, ...]:
    """Read a comma-separated list of hosts (``host`` or ``host:port``), lower-cased."""
    raw = os.environ.get(name, "")
    return tuple(part.strip().lower() for part in raw.split(",") if part.strip())


def _networks(name: str) -> tuple:
    """Read a comma-separated list of addresses or networks (``10.0.0.0/8``, ``127.0.0.1``).

    :raise RuntimeError: for one that is neither, naming the setting.
    """
    import ipaddress

    try:
        return tuple(
            ipaddress.ip_network(part.strip(), strict=False)
            for part in os.environ.get(name, "").split(",")
            if part.strip()
        )
    except ValueError as error:
        raise RuntimeError(f"{name}: {error}") from None


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
        # The Redis pub/sub channel seat updates travel on (every process of one site the same).
        "REALTIME_CHANNEL": os.environ.get("REALTIME_CHANNEL") or None,
        # How long any one Redis call (connect, or a command's answer) may take before it is
        # given up: the task queue, the seat-map publisher and /healthz/ready use it, each
        # without retries, so a Redis that is down or hung costs a request this, not minutes.
        "REDIS_SOCKET_TIMEOUT": _float("REDIS_SOCKET_TIMEOUT", 0.25),
        "PRODUCTION": production,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_SECURE": production,
        "WTF_CSRF_TIME_LIMIT": None,
        # Ping open seat-map sockets so dead browsers are noticed and idle proxies keep them.
        "SOCK_SERVER_OPTIONS": {"ping_interval": 25},
        # Where seat maps open their socket: unset, this site (a proxy routes /ws/ to the ws
        # process); or the ws process's own origin, e.g. wss://ws.example.com.
        "WS_BASE_URL": _socket_base("WS_BASE_URL"),
        # Page hosts (host[:port]) whose seat maps may open sockets here besides this host: the
        # web site's host when WS_BASE_URL sends its sockets to another host.
        "WS_ALLOWED_ORIGINS": _hosts("WS_ALLOWED_ORIGINS"),
        # Seat-map sockets one client address may have open on one process; past it a new one
        # is closed at once (code 4429).
        "WS_MAX_PER_ADDRESS": _int("WS_MAX_PER_ADDRESS", 20),
        # A seat-map socket with nothing pushed to it or heard from it this long is closed
        # (code 4408): a tab left open does not keep a connection for ever.
        "WS_IDLE_SECONDS": _float("WS_IDLE_SECONDS", 1800),
        # /metrics (Prometheus) is shown to signed-in admins, to these client addresses or
        # networks (e.g. 10.0.0.0/8 for the scraper), and to "Authorization: Bearer <token>".
        "METRICS_ALLOWED_ADDRESSES": _networks("METRICS_ALLOWED_ADDRESSES"),
        "METRICS_TOKEN": os.environ.get("METRICS_TOKEN") or None,
        # Responses: text (HTML, JSON, CSS, JS, SVG) of at least COMPRESS_MIN_SIZE bytes is
        # compressed (zstd, br or gzip, as the browser accepts), static files too.
        "COMPRESS_MIMETYPES": [
            "text/html",
            "application/json",
            "text/css",
            "text/javascript",
            "application/javascript",
            "image/svg+xml",
        ],
        "COMPRESS_MIN_SIZE": _int("COMPRESS_MIN_SIZE", 500),
        # A static file asked for without its current content hash (?v=) is cached this long;
        # with it, a year (static_url in templates always adds it).
        "STATIC_MAX_AGE_SECONDS": _int("STATIC_MAX_AGE_SECONDS", 300),
        # The operator and how money and times are shown.
        "OPERATOR_NAME": os.environ.get("OPERATOR_NAME", "Demo Travels"),
        "CURRENCY_SYMBOL": os.environ.get("CURRENCY_SYMBOL", "Rs"),
        # Money is grouped as this locale writes numbers (en_IN: 1,00,000.00) in this currency.
        "MONEY_LOCALE": os.environ.get("MONEY_LOCALE", "en_IN"),
        "CURRENCY_CODE": os.environ.get("CURRENCY_CODE", "INR"),
        "DISPLAY_TIMEZONE": os.environ.get("DISPLAY_TIMEZONE", "Asia/Kolkata"),
        # Holds (DESIGN.md "Rules").
        "HOLD_MINUTES": _int("HOLD_MINUTES", 15),
        # Seats a customer dropped and holds again within this many minutes keep the expiry
        # they had (dropping and re-holding does not restart the clock).
        "HOLD_REHOLD_MEMORY_MINUTES": _int("HOLD_REHOLD_MEMORY_MINUTES", 30),
        # Live holds one customer may have at once, across all trips.
        "MAX_LIVE_HOLDS_PER_CUSTOMER": _int("MAX_LIVE_HOLDS_PER_CUSTOMER", 3),
        "MAX_SEATS_PER_HOLD": _int("MAX_SEATS_PER_HOLD", 6),
        "GATEWAY_SESSION_MINUTES": _int("GATEWAY_SESSION_MINUTES", 10),
        "SALES_CUTOFF_MINUTES": _int("SALES_CUTOFF_MINUTES", 30),
        "SWEEP_INTERVAL_SECONDS": _int("SWEEP_INTERVAL_SECONDS", 30),
        "SWEEP_BATCH_SIZE": _int("SWEEP_BATCH_SIZE", 2000),
        # Outbox emails still pending this long after they were queued were never handed to a
        # worker (Redis was down): the beat sends them (with SMTP_HOST) every this many seconds.
        "EMAIL_RETRY_AFTER_SECONDS": _int("EMAIL_RETRY_AFTER_SECONDS", 120),
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
        # Accounts. A session ends after this many minutes without a request (staff and admins
        # sooner: their desk or back office may be left open on a shared computer).
        "STAFF_IDLE_MINUTES": _int("STAFF_IDLE_MINUTES", 30),
        "CUSTOMER_IDLE_MINUTES": _int("CUSTOMER_IDLE_MINUTES", 240),
        # "Keep me signed in" (customers only): the remember-me cookie's life.
        "REMEMBER_COOKIE_DURATION": timedelta(days=_int("REMEMBER_COOKIE_DAYS", 14)),
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        # Failed sign-ins are throttled (Flask-Limiter; a 429 with a message past a limit): from
        # one address, and from one address against one account. Successful ones never count.
        "LOGIN_LIMIT_PER_IP": os.environ.get("LOGIN_LIMIT_PER_IP", "20/minute;60/hour;200/day"),
        "LOGIN_LIMIT_PER_ACCOUNT": os.environ.get(
            "LOGIN_LIMIT_PER_ACCOUNT", "5/minute;10/hour;20/day"
        ),
        # Where the throttle counts: shared by every web process through Redis when REDIS_URL is
        # set (falling back to this process's memory while Redis cannot be reached).
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI")
        or os.environ.get("REDIS_URL")
        or "memory://",
        # Bounded like every other Redis call (REDIS_SOCKET_TIMEOUT): a hung Redis slows a sign-in
        # by at most that, then the limiter counts in memory until Redis answers again.
        "RATELIMIT_STORAGE_OPTIONS": {
            "socket_timeout": _float("REDIS_SOCKET_TIMEOUT", 0.25),
            "socket_connect_timeout": _float("REDIS_SOCKET_TIMEOUT", 0.25),
        },
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_SWALLOW_ERRORS": True,
        "RATELIMIT_STRATEGY": "moving-window",
        "RATELIMIT_HEADERS_ENABLED": True,
        # Payments.
        "GATEWAY": os.environ.get("GATEWAY", "sandbox"),
        # create_app refuses the sandbox gateway in production unless this says it is meant.
        "ALLOW_SANDBOX_IN_PRODUCTION": _flag("ALLOW_SANDBOX_IN_PRODUCTION"),
        "GATEWAY_WEBHOOK_SECRET": os.environ.get("GATEWAY_WEBHOOK_SECRET")
        or _secret_key(instance, production) + ":webhook",
        "WEBHOOK_TOLERANCE_SECONDS": _int("WEBHOOK_TOLERANCE_SECONDS", 300),
        # Razorpay (GATEWAY=razorpay): the API keys and the webhook secret from its dashboard.
        "RAZORPAY_KEY_ID": os.environ.get("RAZORPAY_KEY_ID") or None,
        "RAZORPAY_KEY_SECRET": os.environ.get("RAZORPAY_KEY_SECRET") or None,
        "RAZORPAY_WEBHOOK_SECRET": os.environ.get("RAZORPAY_WEBHOOK_SECRET") or None,
        "RAZORPAY_BASE_URL": os.environ.get("RAZORPAY_BASE_URL") or "https://api.razorpay.com",
        # Where Razorpay sends the customer back (default: this app's own return URL).
        "RAZORPAY_CALLBACK_URL": os.environ.get("RAZORPAY_CALLBACK_URL") or None,
        # Every call to Razorpay gives up after this; the customer is told to try again.
        "RAZORPAY_TIMEOUT_SECONDS": _float("RAZORPAY_TIMEOUT_SECONDS", 10.0),
        # Razorpay retries a webhook for 24 hours with its first created_at: older is stale.
        "RAZORPAY_WEBHOOK_TOLERANCE_SECONDS": _int("RAZORPAY_WEBHOOK_TOLERANCE_SECONDS", 86400),
        # After the customer's return, ask Razorpay this much later if no webhook settled it.
        "RAZORPAY_SETTLE_DELAY_SECONDS": _int("RAZORPAY_SETTLE_DELAY_SECONDS", 120),
        # Gateway refunds: a failed attempt is tried again after REFUND_RETRY_BASE_SECONDS,
        # doubling each time up to REFUND_RETRY_MAX_SECONDS; after REFUND_MAX_ATTEMPTS it is
        # failed and waits for a retry by hand (the admin's refunds queue).
        "REFUND_MAX_ATTEMPTS": _int("REFUND_MAX_ATTEMPTS", 5),
        "REFUND_RETRY_BASE_SECONDS": _int("REFUND_RETRY_BASE_SECONDS", 60),
        "REFUND_RETRY_MAX_SECONDS": _int("REFUND_RETRY_MAX_SECONDS", 3600),
        # The sandbox gateway refuses every refund (to try the retries and the refunds queue).
        "SANDBOX_FAIL_REFUNDS": _flag("SANDBOX_FAIL_REFUNDS"),
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
