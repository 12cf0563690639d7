"""The booking desk for counter staff."""

from flask import Blueprint

bp = Blueprint("desk", __name__, url_prefix="/desk")
