"""``/metrics``: Prometheus's text format, for admins, a configured address or a token."""

from __future__ import annotations

import hmac
import ipaddress

from flask import Response, current_app, request
from flask_login import current_user

from booking import metrics
from booking.models.enums import Role
from booking.web.ops import bp

REFUSED = (
    "Metrics are shown to admins, to the addresses in METRICS_ALLOWED_ADDRESSES "
    "and with METRICS_TOKEN.\n"
)


def may_scrape() -> bool:
    """Whether this request may read the metrics: a signed-in admin, a client address inside
    METRICS_ALLOWED_ADDRESSES, or ``Authorization: Bearer`` with METRICS_TOKEN."""
    if current_user.is_authenticated and current_user.role == Role.ADMIN:
        return True
    token = current_app.config.get("METRICS_TOKEN")
    given = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(address in network for network in current_app.config["METRICS_ALLOWED_ADDRESSES"])


@bp.get("/metrics")
def metrics_page():
    """Every metric of this process (of all workers, with PROMETHEUS_MULTIPROC_DIR)."""
    if not may_scrape():
        return Response(REFUSED, status=403, mimetype="text/plain")
    body, content_type = metrics.exposition()
    response = Response(body, content_type=content_type)
    response.headers["Cache-Control"] = "no-store"
    return response
