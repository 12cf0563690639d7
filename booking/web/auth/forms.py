"""Login and registration forms."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, StringField, TelField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Regexp

from booking.services.accounts import PASSWORD_RULE


class LoginForm(FlaskForm):
    """Email and password."""

    email = EmailField("Email", validators=[DataRequired("Enter your email."), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired("Enter your password.")])
    remember = BooleanField("Keep me signed in on this device")
    next = HiddenField()


class RegisterForm(FlaskForm):
    """A new customer account."""

    first_name = StringField(
        "First name", validators=[DataRequired("Enter your first name."), Length(max=80)]
    )
    last_name = StringField(
        "Last name", validators=[DataRequired("Enter your last name."), Length(max=80)]
    )
    email = EmailField(
        "Email",
        validators=[
            DataRequired("Enter your email."),
            Email("Enter a valid email address, like name@example.com."),
            Length(max=254),
        ],
    )
    phone = TelField(
        "Mobile phone",
        validators=[
            DataRequired("Enter your phone number."),
            Regexp(r"^\+?[\d\s\-()]{10,20}$", message="Enter a phone number of 10 to 15 digits."),
        ],
    )
    password = PasswordField(
        "Password",
        validators=[
            DataRequired("Choose a password."),
            Regexp(
                r"^(?=.*[a-z])(?=.*[A-Z])(?=.*\d).{8,}$",
                message=f"Choose a password of {PASSWORD_RULE}.",
            ),
        ],
        description=PASSWORD_RULE.capitalize() + ".",
    )
    confirm = PasswordField(
        "Repeat password",
        validators=[
            DataRequired("Repeat the password."),
            EqualTo("password", "The passwords differ."),
        ],
    )
    next = HiddenField()


class SignOutForm(FlaskForm):
    """The Sign out button in the navigation: a POST with its CSRF token."""


class PasswordForm(FlaskForm):
    """A new password, with the current one as proof."""

    current = PasswordField(
        "Current password", validators=[DataRequired("Enter your current password.")]
    )
    password = PasswordField(
        "New password",
        validators=[
            DataRequired("Choose a new password."),
            Regexp(
                r"^(?=.*[a-z])(?=.*[A-Z])(?=.*\d).{8,}$",
                message=f"Choose a password of {PASSWORD_RULE}.",
            ),
        ],
        description=PASSWORD_RULE.capitalize() + ".",
    )
    confirm = PasswordField(
        "Repeat new password",
        validators=[
            DataRequired("Repeat the new password."),
            EqualTo("password", "The passwords differ."),
        ],
    )
