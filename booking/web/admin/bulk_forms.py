"""Forms of the bulk CSV edit pages."""

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField
from wtforms.validators import DataRequired, Regexp


class UploadForm(FlaskForm):
    """The CSV file to preview."""

    file = FileField(
        "CSV file",
        validators=[FileRequired("Choose a CSV file to upload.")],
        description="UTF-8, comma-separated, with the header row of an export.",
        render_kw={"accept": ".csv,text/csv"},
    )


class ApplyForm(FlaskForm):
    """Apply the previewed file: the token of the stored upload and the sha256 of its bytes."""

    token = HiddenField(validators=[DataRequired(), Regexp(r"^[A-Za-z0-9_-]{20,64}$")])
    sha256 = HiddenField(validators=[DataRequired(), Regexp(r"^[0-9a-f]{64}$")])
