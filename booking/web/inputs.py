"""One check on every request's text: no NUL or other control character reaches a view.

PostgreSQL refuses a NUL in text outright (psycopg DataError, a 500), and no other C0 control
character belongs in a name, a code or a search; tab, line feed and carriage return pass, since
a textarea sends them.
"""

from __future__ import annotations

import re

from flask import Flask, abort, request

MESSAGE = (
    "The request has characters that are not allowed (a NUL or another control character). "
    "Remove them and try again."
)

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def has_control_characters(value: str) -> bool:
    """Whether ``value`` holds a control character other than tab, line feed or return."""
    return bool(_CONTROL.search(value))


def _refused_text() -> bool:
    """Whether the path, a query parameter or a form field (name or value) has one."""
    if has_control_characters(request.path):
        return True
    for source in (request.args, request.form):
        for key, values in source.lists():
            if has_control_characters(key) or any(map(has_control_characters, values)):
                return True
    return False


def register(app: Flask) -> None:
    """Refuse (400, with a message) any request whose text has control characters."""

    @app.before_request
    def _refuse_control_characters() -> None:
        if _refused_text():
            abort(400, MESSAGE)
