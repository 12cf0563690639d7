"""Role gates for views: anonymous people go to sign in, the wrong role gets 403."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import abort
from flask_login import current_user

from booking.extensions import login_manager
from booking.models.enums import Role


def role_required(*roles: Role) -> Callable:
    """Allow a view only to signed-in users holding one of ``roles``.

    :raise Forbidden: (403) for a signed-in user without the role.
    """

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator
