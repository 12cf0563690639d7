"""What every blueprint's forms share: a filter for typed text and a form's first error."""

from __future__ import annotations

from flask_wtf import FlaskForm


def strip(value):
    """Drop the spaces around typed text (None stays None)."""
    return value.strip() if isinstance(value, str) else value


def first_error(form: FlaskForm) -> str:
    """The first message of an invalid form, to show above it."""
    for messages in form.errors.values():
        if messages:
            return messages[0]
    return "Please check the form and try again."
