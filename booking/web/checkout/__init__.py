"""Checkout: passengers, price, paying, and the page that waits for the gateway."""

from flask import Blueprint

bp = Blueprint("checkout", __name__)
