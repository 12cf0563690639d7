"""The seat map of a trip and holding seats on it."""

from flask import Blueprint

bp = Blueprint("schedules", __name__)
