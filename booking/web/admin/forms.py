"""Admin forms."""

from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired

from booking.web.forms import strip


class ReleaseHoldForm(FlaskForm):
    """Why the admin releases a live hold (kept in the audit log; the service keeps 200 chars)."""

    reason = StringField(
        "Reason",
        validators=[DataRequired("Give a reason for releasing this hold.")],
        filters=[strip],
        render_kw={"maxlength": 200},
    )


class RetryRefundForm(FlaskForm):
    """Retry one refund (CSRF only); ``state`` is the queue's filter to return to."""

    state = HiddenField(filters=[strip])
