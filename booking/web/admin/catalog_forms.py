"""The admin catalogue's forms: route, bus (with its seat layout), schedule, promo code, user.

Times are typed in the operator's time zone (DISPLAY_TIMEZONE) and handed to the services in
UTC; the services check every rule, the forms only the shape of what was typed."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    DecimalField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from booking.layouts import BUILTIN_LAYOUTS, load_builtin
from booking.models.enums import BusType, PromoKind, Role, ScheduleStatus, StopKind
from booking.web.forms import amount, count, on_the_calendar, strip

LOCAL_INPUT = "%Y-%m-%dT%H:%M"


def to_utc(value: datetime | None) -> datetime | None:
    """A time typed in the operator's zone, as UTC."""
    if value is None:
        return None
    zone = ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])
    return value.replace(tzinfo=zone).astimezone(UTC)


def to_local(value: datetime | None) -> datetime | None:
    """A UTC time as the naive local time a datetime-local input shows."""
    if value is None:
        return None
    return value.astimezone(ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])).replace(tzinfo=None)


def when_field(label: str, required: bool = True) -> DateTimeLocalField:
    """A date and time input in the operator's zone."""
    checks = [InputRequired(f"Enter the {label.lower()} date and time.")] if required else []
    return DateTimeLocalField(
        label,
        format=LOCAL_INPUT,
        validators=[*(checks or [Optional()]), on_the_calendar],
        render_kw={"step": 60},
    )


class StopForm(Form):
    """One boarding or dropping point row; a row without a name is ignored."""

    kind = SelectField(
        "Kind", choices={StopKind.BOARDING.value: "Boarding", StopKind.DROPPING.value: "Dropping"}
    )
    name = StringField("Name", validators=[Optional(), Length(max=80)], filters=[strip])
    minutes_from_departure = IntegerField(
        "Minutes after departure",
        validators=[
            Optional(),
            count,
            NumberRange(min=0, message="Minutes cannot be negative."),
        ],
        render_kw={"inputmode": "numeric"},
    )


BLANK_STOP_ROWS = 3


class RouteForm(FlaskForm):
    """A road between two cities."""

    origin_city = StringField(
        "From",
        validators=[DataRequired("Enter the origin city."), Length(max=80)],
        filters=[strip],
    )
    destination_city = StringField(
        "To",
        validators=[DataRequired("Enter the destination city."), Length(max=80)],
        filters=[strip],
    )
    distance_km = DecimalField(
        "Distance (km)",
        places=1,
        validators=[
            InputRequired("Enter the distance."),
            amount(places=1),
            NumberRange(min=0.1, message="The distance must be more than 0 km."),
        ],
        render_kw={"inputmode": "decimal"},
    )
    estimated_duration_minutes = IntegerField(
        "Journey time (minutes)",
        validators=[
            InputRequired("Enter the journey time in minutes."),
            count,
            NumberRange(min=1, message="The journey time must be more than 0 minutes."),
        ],
        render_kw={"inputmode": "numeric"},
    )
    is_active = BooleanField("Active (trips can be scheduled and sold)", default=True)
    stops = FieldList(FormField(StopForm), min_entries=0, max_entries=40)

    def filled_stops(self) -> list[dict[str, Any]]:
        """The stop rows that have a name (blank rows are ignored)."""
        return [row.data for row in self.stops if (row.form.name.data or "").strip()]

    def add_blank_stops(self, count: int = BLANK_STOP_ROWS) -> None:
        """Room to type new stops."""
        for _ in range(count):
            self.stops.append_entry()


LAYOUT_CHOICES = {"": "Custom (paste or upload JSON below)", **BUILTIN_LAYOUTS}


class BusForm(FlaskForm):
    """A bus and its seat layout: a built-in one, or JSON pasted or uploaded."""

    bus_number = StringField(
        "Bus number",
        validators=[DataRequired("Enter the bus number."), Length(max=20)],
        filters=[strip],
    )
    bus_type = SelectField(
        "Bus type",
        choices={t.value: t.value.replace("_", " ").capitalize() for t in BusType},
        validators=[DataRequired("Choose a bus type.")],
    )
    amenities = StringField(
        "Amenities",
        validators=[Optional(), Length(max=300)],
        filters=[strip],
        description="Separated by commas: AC, Wi-Fi, Charging point.",
    )
    builtin_layout = SelectField("Seat layout", choices=LAYOUT_CHOICES, validate_choice=True)
    layout_json = TextAreaField(
        "Layout JSON",
        validators=[Optional()],
        description="The format is in docs/seat-layouts.md. Used when no built-in is chosen.",
        render_kw={"rows": 10, "spellcheck": "false", "class": "code-input"},
    )
    layout_file = FileField("…or upload a layout file (.json)")
    is_active = BooleanField("In service", default=True)

    def amenity_list(self) -> list[str]:
        """The amenities typed, one per comma (a form without the field keeps the bus's)."""
        typed = self.amenities.data or ""
        parts = typed if isinstance(typed, list) else typed.split(",")
        return [part.strip() for part in parts if isinstance(part, str) and part.strip()]

    def layout(self) -> tuple[Any | None, list[str]]:
        """The chosen layout as parsed JSON, or None and why it could not be read."""
        if self.builtin_layout.data:
            return load_builtin(self.builtin_layout.data), []
        upload = self.layout_file.data
        text = ""
        if upload is not None and getattr(upload, "filename", ""):
            raw = upload.read()
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                return None, ["The uploaded layout file is not UTF-8 text."]
            self.layout_json.data = text
        else:
            text = self.layout_json.data or ""
        if not text.strip():
            return None, ["Choose a built-in layout, or paste or upload the layout JSON."]
        try:
            return json.loads(text), []
        except json.JSONDecodeError as error:
            return None, [
                f"The layout is not valid JSON: {error.msg} at line {error.lineno}, "
                f"column {error.colno}."
            ]


class ScheduleForm(FlaskForm):
    """One trip: which bus on which route, when, and the base fare."""

    route_id = SelectField("Route", validators=[DataRequired("Choose a route.")])
    bus_id = SelectField("Bus", validators=[DataRequired("Choose a bus.")])
    departure_at = when_field("Departure")
    arrival_at = when_field("Arrival")
    base_price = DecimalField(
        "Base fare (₹)",
        places=2,
        validators=[
            InputRequired("Enter the base fare."),
            amount(),
            NumberRange(min=0.01, message="The base fare must be more than 0."),
        ],
        render_kw={"inputmode": "decimal"},
    )
    status = SelectField(
        "Status",
        choices={s.value: s.value.capitalize() for s in ScheduleStatus},
        default=ScheduleStatus.SCHEDULED.value,
    )


class PromoForm(FlaskForm):
    """A promo code: percent or flat, its bounds, window and limits."""

    code = StringField(
        "Code",
        validators=[DataRequired("Enter the code."), Length(min=3, max=20)],
        filters=[strip, lambda v: v.upper() if isinstance(v, str) else v],
    )
    description = StringField("Description", validators=[Optional(), Length(max=200)])
    kind = SelectField(
        "Discount", choices={PromoKind.PERCENT.value: "Percent", PromoKind.FLAT.value: "Flat ₹"}
    )
    value = DecimalField(
        "Amount (percent or ₹)",
        places=2,
        validators=[InputRequired("Enter the discount."), amount()],
        render_kw={"inputmode": "decimal"},
    )
    min_amount = DecimalField("Minimum fare (₹)", places=2, validators=[Optional(), amount()])
    max_discount = DecimalField("Largest discount (₹)", places=2, validators=[Optional(), amount()])
    valid_from = when_field("Valid from")
    valid_until = when_field("Valid until")
    usage_limit = IntegerField("Uses in all", validators=[Optional(), count])
    per_customer_limit = IntegerField("Uses per customer", validators=[Optional(), count])
    is_active = BooleanField("Active", default=True)


class UserForm(FlaskForm):
    """What an admin may change about an account."""

    role = SelectField("Role", choices={r.value: r.value.capitalize() for r in Role})
    home_station = StringField(
        "Home station",
        validators=[Optional(), Length(max=80)],
        filters=[strip],
        description="The counter a clerk usually works at (staff and admins only).",
    )


class ToggleForm(FlaskForm):
    """An activate / deactivate button: only the CSRF token."""

    active = HiddenField()


def _uuid(value: Any) -> Any:
    """A posted id as a UUID (an unparseable one stays as it is and fails validation)."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return value


class BulkActiveForm(FlaskForm):
    """Activate / deactivate the rows chosen on a list: ``ids`` are the ticked boxes; with
    ``all_on_page`` ticked every id of the page (``page_ids``) counts as chosen too, so the
    "choose all" box works without JavaScript. ``step`` is 'preview' or 'apply'."""

    ids = SelectMultipleField("Chosen", coerce=_uuid, validate_choice=False)
    page_ids = SelectMultipleField("On this page", coerce=_uuid, validate_choice=False)
    all_on_page = BooleanField("Choose all on this page")
    active = SelectField(
        "Action",
        choices={"1": "Activate", "0": "Deactivate"},
        validators=[DataRequired("Choose activate or deactivate.")],
    )
    step = HiddenField(default="preview")
    next = HiddenField()

    def chosen(self) -> list[uuid.UUID]:
        """The chosen ids, in the page's order, each once."""
        picked = list(self.ids.data or [])
        if self.all_on_page.data:
            picked += list(self.page_ids.data or [])
        return list(dict.fromkeys(picked))

    def validate_ids(self, field) -> None:
        ids = list(field.data or []) + list(self.page_ids.data or [])
        if any(not isinstance(i, uuid.UUID) for i in ids):
            raise ValidationError("Reload the list and choose the rows again.")
        if not self.chosen():
            raise ValidationError("Choose at least one row.")
