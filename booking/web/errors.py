"""Error pages (HTML) and error bodies (JSON under /api/); no stack trace reaches a user."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from booking.services.errors import DomainError

logger = logging.getLogger("booking.web")

MESSAGES = {
    400: "The request could not be understood.",
    401: "Please sign in to continue.",
    403: "You do not have access to this page.",
    404: "We could not find that page.",
    405: "That action is not allowed here.",
    500: "Something went wrong on our side. Please try again in a moment.",
}


def wants_json() -> bool:
    """Whether the caller is the JSON API (or asked for JSON) rather than a browser."""
    return request.path.startswith("/api/") or request.path == "/payments/webhook"


def error_response(status: int, message: str):
    """An error as JSON for the API, as a page otherwise."""
    if wants_json():
        return jsonify(error={"status": status, "message": message}), status
    return render_template("errors/error.html", status=status, message=message), status


def register(app: Flask) -> None:
    """Install the error handlers."""

    @app.errorhandler(CSRFError)
    def _csrf(_error: CSRFError):
        return error_response(
            400, "This form has expired or did not come from this site. Reload and try again."
        )

    @app.errorhandler(DomainError)
    def _domain(error: DomainError):
        return error_response(error.status, error.message)

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):
        if isinstance(error, InternalServerError):
            original = getattr(error, "original_exception", None)
            if original is not None:
                logger.exception("unhandled error", exc_info=original)
        status = error.code or 500
        # abort(400, "...") carries a message meant for the user; the stock texts do not.
        custom = error.description != type(error).description and status != 500
        message = error.description if custom else MESSAGES.get(status, error.description)
        return error_response(status, message)
