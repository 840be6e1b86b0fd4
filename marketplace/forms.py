"""Forms shared by several blueprints, the base class every form derives from, and the catalogue WTForms'
own messages are translated from."""

from flask import flash, has_request_context, request
from flask_babel import get_translations, lazy_ngettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DecimalField, Field, FloatField, Form, IntegerField, PasswordField, StringField
from wtforms.validators import StopValidation

from .extensions import db
from .input_checks import broken_query_names, has_visible_text, text_problem, unstorable_message, unstorable_replaced
from .services.errors import ServiceError


def storable_text(form: Form, field: Field) -> None:
    """Refuse text the database cannot store (a NUL byte or a lone surrogate) beside its field; the form shows it
    back with each such character as U+FFFD, never the raw NUL in the page."""
    if isinstance(field.data, str) and (problem := text_problem(field.data)):
        field.data = unstorable_replaced(field.data)
        raise StopValidation(problem)


def parsed_first(form: Form, field: Field) -> None:
    """A number that did not parse ("abc") gets that one message, not also the range's."""
    if field.process_errors:
        raise StopValidation()


def visible_if_required(form: Form, field: Field) -> None:
    """A required text of only invisible characters (a zero-width space, a bidi control) is as empty as one of
    spaces, which DataRequired already refuses: the same message."""
    if field.flags.required and isinstance(field.data, str) and field.data.strip() \
            and not has_visible_text(field.data):
        raise StopValidation(field.gettext("This field is required."))


class TandemForm(FlaskForm):
    """Every text field (text areas, search, e-mail, hidden and password fields too) checks `storable_text`
    first, so no form can forget it and a NUL byte gets an error beside its field instead of a 500; every
    required one but a password (any characters may make one) then `visible_if_required`."""

    class Meta(FlaskForm.Meta):
        def bind_field(self, form, unbound_field, options):
            field = super().bind_field(form, unbound_field, options)
            if isinstance(field, StringField):
                visible = [] if isinstance(field, PasswordField) else [visible_if_required]
                field.validators = [storable_text, *visible, *field.validators]
            elif isinstance(field, IntegerField | DecimalField | FloatField):
                field.validators = [parsed_first, *field.validators]
            return field

    def validate(self, extra_validators=None) -> bool:
        """The fields' own checks; then any field whose typed value holds what cannot be stored (a number or a
        date sent with a NUL, a query value that is not UTF-8) is refused too, and its value shown back with
        U+FFFD, never raw in the page."""
        valid = super().validate(extra_validators)
        broken = broken_query_names() if has_request_context() else frozenset()  # not UTF-8: refused the same
        for field in self:
            raw = getattr(field, "raw_data", None) or []
            problem = next((p for value in raw if isinstance(value, str) and (p := text_problem(value))), None)
            problem = problem or (unstorable_message() if field.name in broken else None)
            if problem:
                field.raw_data = [unstorable_replaced(v) if isinstance(v, str) else v for v in raw]
                field.errors = list(field.errors) or [problem]
                valid = False
        return valid


class EmptyForm(TandemForm):
    """A bare POST button still carries a CSRF token."""


def place_errors(form: Form | None, error: ServiceError) -> bool:
    """Show a service's refusal on the form: each named field's message beside that field, a message the
    form has no field for (or a refusal naming none, or any refusal when there is no form) as a flash.
    Anything half-done is rolled back. True when something now stands beside a field (render the form)."""
    db.session.rollback()
    if form is None:
        flash(error.message, "error")
        return False
    unplaced, placed = [], False
    for name, message in error.fields.items():
        field = form._fields.get(name)
        if field is not None:
            field.errors = [*field.errors, message]
            placed = True
        else:
            unplaced.append(message)
    if not error.fields:
        unplaced.append(error.message)
    for message in unplaced:
        flash(message, "error")
    return placed


# The default messages of WTForms and Flask-WTF validators that Tandem's forms can show, marked here so that
# pybabel extracts them into Tandem's catalogue: German forms then speak as the rest of Tandem does (formal
# "Sie", "Bitte ..."), not in WTForms' bundled German. Tandem's own form messages are in the catalogue anyway.
LIBRARY_MESSAGES = (
    _l("This field is required."),
    lazy_ngettext("Field must be at least %(min)d character long.",
                  "Field must be at least %(min)d characters long.", 2),
    lazy_ngettext("Field cannot be longer than %(max)d character.",
                  "Field cannot be longer than %(max)d characters.", 2),
    lazy_ngettext("Field must be exactly %(max)d character long.",
                  "Field must be exactly %(max)d characters long.", 2),
    _l("Field must be between %(min)d and %(max)d characters long."),
    _l("Number must be at least %(min)s."),
    _l("Number must be at most %(max)s."),
    _l("Number must be between %(min)s and %(max)s."),
    _l("Invalid email address."),
    _l("Invalid input."),
    _l("Not a valid choice."),
    _l("Invalid Choice: could not coerce."),
    _l("Invalid choice(s): one or more data inputs could not be coerced."),
    lazy_ngettext("'%(value)s' is not a valid choice for this field.",
                  "'%(value)s' are not valid choices for this field.", 2),
    _l("Not a valid integer value."),
    _l("Not a valid decimal value."),
    _l("Not a valid float value."),
    _l("Not a valid date value."),
    _l("Not a valid datetime value."),
    _l("Not a valid time value."),
    _l("File does not have an approved extension."),
    _l("File does not have an approved extension: {extensions}"),
)


class _CatalogueTranslations:
    """WTForms asks this for its messages before it fills in the numbers; it answers from Tandem's catalogue."""

    def ugettext(self, string: str) -> str:
        return get_translations().ugettext(string)

    def ungettext(self, singular: str, plural: str, n: int) -> str:
        return get_translations().ungettext(singular, plural, n)


_CATALOGUE = _CatalogueTranslations()


def use_tandem_catalogue_for_form_messages() -> None:
    """Before each request: Flask-WTF takes the translations it finds on the request instead of loading
    WTForms' bundled catalogue (flask_wtf.i18n caches them there)."""
    request.wtforms_translations = _CATALOGUE


def confirmation_page(heading: str, consequences: list[str], action: str, button: str, cancel: str,
                      form: FlaskForm | None = None, fields: tuple[str, ...] = (), status: int = 200):
    """The step before an irreversible action: a GET page saying what will happen, whose POST form does it.

    A page rather than a script dialog, since the Content-Security-Policy allows no inline script.
    """
    from flask import render_template

    page = render_template("confirm.html", heading=heading, consequences=consequences, action=action, button=button,
                           cancel=cancel, form=form or EmptyForm(), fields=fields)
    return page, status
