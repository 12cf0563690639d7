"""Pages for operations rather than people: the Prometheus metrics."""

from flask import Blueprint

bp = Blueprint("ops", __name__)
