"""The web layer: blueprints per audience, error pages, template filters and the session user."""

from __future__ import annotations

from flask import Flask, request

from booking.extensions import login_manager
from booking.services import accounts, audit


def register_web(app: Flask) -> None:
    """Attach blueprints, error handlers, filters and request hooks to the app.

    Each blueprint's views are imported here (that attaches them to it); a blueprint's package
    never imports its own views, so no import loop.
    """
    from booking.web import assets, errors, filters, inputs, security
    from booking.web.account import bp as account_bp
    from booking.web.account import routes as account_routes  # noqa: F401
    from booking.web.admin import activity_routes as admin_activity_routes  # noqa: F401
    from booking.web.admin import bp as admin_bp
    from booking.web.admin import bulk_routes as admin_bulk_routes  # noqa: F401
    from booking.web.admin import catalog_routes as admin_catalog_routes  # noqa: F401
    from booking.web.admin import insight_routes as admin_insight_routes  # noqa: F401
    from booking.web.admin import refund_routes as admin_refund_routes  # noqa: F401
    from booking.web.admin import routes as admin_routes  # noqa: F401
    from booking.web.admin import shift_routes as admin_shift_routes  # noqa: F401
    from booking.web.admin import timetable_routes as admin_timetable_routes  # noqa: F401
    from booking.web.auth import bp as auth_bp
    from booking.web.auth import routes as auth_routes  # noqa: F401
    from booking.web.auth import sessions as auth_sessions
    from booking.web.checkout import bp as checkout_bp
    from booking.web.checkout import routes as checkout_routes  # noqa: F401
    from booking.web.desk import bp as desk_bp
    from booking.web.desk import checkin_routes as desk_checkin_routes  # noqa: F401
    from booking.web.desk import manifest_routes as desk_manifest_routes  # noqa: F401
    from booking.web.desk import routes as desk_routes  # noqa: F401
    from booking.web.desk import shift_routes as desk_shift_routes  # noqa: F401
    from booking.web.live import bp as live_bp
    from booking.web.live import routes as live_routes  # noqa: F401
    from booking.web.ops import bp as ops_bp
    from booking.web.ops import routes as ops_routes  # noqa: F401
    from booking.web.payments import bp as payments_bp
    from booking.web.payments import routes as payments_routes  # noqa: F401
    from booking.web.payments import sandbox_bp
    from booking.web.public import bp as public_bp
    from booking.web.public import routes as public_routes  # noqa: F401
    from booking.web.schedules import bp as schedules_bp
    from booking.web.schedules import routes as schedules_routes  # noqa: F401

    for blueprint in (
        public_bp,
        auth_bp,
        schedules_bp,
        checkout_bp,
        account_bp,
        payments_bp,
        sandbox_bp,
        live_bp,
        ops_bp,
        desk_bp,
        admin_bp,
    ):
        app.register_blueprint(blueprint)
    errors.register(app)
    inputs.register(app)
    filters.register(app)
    security.register(app)
    assets.register(app)

    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.user_loader(accounts.get_user)
    auth_sessions.register(app)

    @app.before_request
    def _remember_client_ip() -> None:
        audit.client_ip.set(request.remote_addr)
