"""The web layer: blueprints per audience, error pages, template filters and the session user."""

from __future__ import annotations

from flask import Flask, request

from booking.extensions import login_manager
from booking.services import accounts, audit


def register_web(app: Flask) -> None:
    """Attach blueprints, error handlers, filters and request hooks to the app."""
    from booking.web import errors, filters
    from booking.web.account import bp as account_bp
    from booking.web.admin import bp as admin_bp
    from booking.web.auth import bp as auth_bp
    from booking.web.checkout import bp as checkout_bp
    from booking.web.desk import bp as desk_bp
    from booking.web.live import bp as live_bp
    from booking.web.payments import bp as payments_bp
    from booking.web.payments import sandbox_bp
    from booking.web.public import bp as public_bp
    from booking.web.schedules import bp as schedules_bp

    for blueprint in (
        public_bp,
        auth_bp,
        schedules_bp,
        checkout_bp,
        account_bp,
        payments_bp,
        sandbox_bp,
        live_bp,
        desk_bp,
        admin_bp,
    ):
        app.register_blueprint(blueprint)
    errors.register(app)
    filters.register(app)

    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.user_loader(accounts.get_user)

    @app.before_request
    def _remember_client_ip() -> None:
        audit.client_ip.set(request.remote_addr)
