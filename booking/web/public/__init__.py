"""Pages anyone can see: the search page and the health check."""

from flask import Blueprint

bp = Blueprint("public", __name__)
