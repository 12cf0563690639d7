"""The gateway's webhook, the sandbox gateway's checkout page, and ticket verification."""

from flask import Blueprint

bp = Blueprint("payments", __name__)
sandbox_bp = Blueprint("gateway", __name__)
