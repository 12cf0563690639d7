"""Admin forms."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import StopValidation

from booking.web.forms import strip


def _given(message: str):
    """A validator refusing blank text with ``message``. Unlike DataRequired it sets no
    ``required`` attribute, so the server (not the browser's bubble) says what is missing."""

    def check(_form, field) -> None:
        if not (field.data or "").strip():
            raise StopValidation(message)

    return check


class ReleaseHoldForm(FlaskForm):
    """Why the admin releases a live hold (kept in the audit log; the service keeps 200 chars)."""

    reason = StringField(
        "Reason for releasing",
        validators=[_given("Give a reason for releasing this hold.")],
        filters=[strip],
        # aria-required tells assistive technology; no ``required``, so an empty submit reaches
        # the server and its message rather than the browser's bubble.
        render_kw={"maxlength": 200, "aria-required": "true"},
    )


class RetryRefundForm(FlaskForm):
    """Retry one refund (CSRF only); ``state`` is the queue's filter to return to."""

    state = HiddenField(filters=[strip])


class ExtendHoldForm(FlaskForm):
    """How many more minutes a live hold gets (the choices stop at ADMIN_EXTEND_MAX_MINUTES;
    the service enforces the same limit)."""

    minutes = SelectField("Extend by", coerce=int, validate_choice=False)

    def offer_up_to(self, limit: int) -> ExtendHoldForm:
        """Offer 5, 10, 15 ... minutes up to ``limit`` (and ``limit`` itself)."""
        steps = sorted({*range(5, limit + 1, 5), limit} - {0})
        self.minutes.choices = [(n, f"{n} minutes") for n in steps]
        return self
