"""Signing in, registering and signing out."""

from flask import Blueprint

bp = Blueprint("auth", __name__)
