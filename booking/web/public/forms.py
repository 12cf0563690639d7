"""The trip search form."""

from flask_wtf import FlaskForm
from wtforms import DateField, StringField
from wtforms.validators import Length, Optional


class SearchForm(FlaskForm):
    """Origin, destination and date; sent by GET, so no CSRF token."""

    class Meta:
        csrf = False

    origin = StringField("From", validators=[Optional(), Length(max=80)])
    destination = StringField("To", validators=[Optional(), Length(max=80)])
    date = DateField("Date", validators=[Optional()])
