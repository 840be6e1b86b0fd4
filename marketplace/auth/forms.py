"""Forms for registration, login, passwords and the account page."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    EmailField,
    Field,
    Form,
    HiddenField,
    PasswordField,
    SelectField,
    StringField,
    SubmitField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Optional, ValidationError

from ..forms import TandemForm
from ..services import accounts, scheduling, timezones

# Language names stay in their own language so everyone finds theirs.
LANGUAGE_CHOICES = [SelectChoice("en", "English", {"lang": "en"}), SelectChoice("de", "Deutsch", {"lang": "de"})]


def strip_whitespace(value: str | None) -> str | None:
    """Pasted addresses and names often carry stray spaces."""
    return value.strip() if isinstance(value, str) else value


def acceptable_password(form: TandemForm, field: Field) -> None:
    """The one password policy (services.accounts), shown beside the field."""
    problem = accounts.password_problem(field.data or "")
    if problem:
        raise ValidationError(problem)


def acceptable_email(form: Form, field: Field) -> None:
    """The one e-mail check (services.accounts), so login accepts every address registration and imports do."""
    try:
        field.data = accounts.clean_email(field.data or "")
    except accounts.AccountError as problem:
        raise ValidationError(str(problem)) from None


def _email_field(label) -> EmailField:
    return EmailField(
        label,
        validators=[DataRequired(), Length(max=254), acceptable_email],
        filters=[strip_whitespace],
        render_kw={"autocomplete": "email"},
    )


def _new_password_fields(label) -> tuple[PasswordField, PasswordField]:
    password = PasswordField(
        label,
        validators=[DataRequired(), acceptable_password],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The two passwords do not match."))],
        render_kw={"autocomplete": "new-password"},
    )
    return password, confirm


class RegisterForm(TandemForm):
    name = StringField(
        _l("Name"),
        validators=[DataRequired(), Length(max=accounts.NAME_MAX)],
        filters=[strip_whitespace],
        render_kw={"autocomplete": "name"},
    )
    email = _email_field(_l("E-mail"))
    company = StringField(
        _l("Company"),
        validators=[DataRequired(), Length(max=200)],
        filters=[strip_whitespace],
        render_kw={"autocomplete": "organization"},
    )
    password, confirm = _new_password_fields(_l("Password"))
    # Pre-selected with the page's language (register): what the site and its e-mails then speak. Left empty
    # (an old form), the page's language counts too: a person who signed up in German is written to in German.
    language = SelectField(_l("Preferred language"), choices=LANGUAGE_CHOICES, validators=[Optional()])
    # Filled from the browser by static/timezone.js; empty (no script) keeps the fallback zone.
    # A label of its own: WTForms would otherwise translate a generated one while binding, fixing the
    # request's language before the new account's choice counts.
    time_zone = HiddenField(_l("Time zone"), validators=[Optional(), Length(max=64)],
                            render_kw={"data-browser-time-zone": ""})


class LoginForm(TandemForm):
    email = _email_field(_l("E-mail"))
    password = PasswordField(
        _l("Password"), validators=[DataRequired()], render_kw={"autocomplete": "current-password"}
    )
    remember = BooleanField(_l("Keep me logged in on this device"))


class ForgotPasswordForm(TandemForm):
    email = _email_field(_l("E-mail"))


class SetPasswordForm(TandemForm):
    """Used by the reset link and the invitation link alike."""

    password, confirm = _new_password_fields(_l("New password"))


class ChangePasswordForm(TandemForm):
    current_password = PasswordField(
        _l("Current password"), validators=[DataRequired()], render_kw={"autocomplete": "current-password"}
    )
    password, confirm = _new_password_fields(_l("New password"))


class SettingsForm(TandemForm):
    locale = SelectField(_l("Language"), choices=LANGUAGE_CHOICES)
    # Not sent: the setting stays as it is. The choices are set per form (about 450 zones).
    # IANA names are identifiers, shown as they are in every language.
    time_zone = SelectField(_l("Time zone"), choices=[], validate_choice=False, validators=[Optional()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.time_zone.choices = [(name, name.replace("_", " ")) for name in timezones.names()]

    def validate_time_zone(self, field: Field) -> None:
        if field.data and not timezones.is_valid(field.data):
            raise ValidationError(_l("Choose a time zone from the list."))


class AvailabilityForm(TandemForm):
    """One weekly window, in half hours of the person's own time zone (the API takes any minute)."""

    weekday = SelectField(_l("Day"), coerce=int, choices=[])
    starts = SelectField(_l("From"), coerce=int, choices=[])
    ends = SelectField(_l("To"), coerce=int, choices=[])
    submit = SubmitField(_l("Add this window"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.weekday.choices = list(enumerate(scheduling.day_names()))
        steps = [(minute, scheduling.clock(minute)) for minute in range(0, scheduling.DAY_MINUTES + 1, 30)]
        self.starts.choices, self.ends.choices = steps[:-1], steps[1:]


class ApiTokenForm(TandemForm):
    token_name = StringField(
        _l("Token name"),
        validators=[DataRequired(), Length(max=80)],
        filters=[strip_whitespace],
        description=_l("For example the tool that will use it."),
    )


class DeleteAccountForm(TandemForm):
    password = PasswordField(_l("Your password"), validators=[DataRequired()])
