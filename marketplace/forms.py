"""Forms shared by several blueprints, and the base class every form of the app derives from."""

from flask_wtf import FlaskForm
from wtforms import Field, Form, StringField
from wtforms.validators import StopValidation

from .input_checks import text_problem


def storable_text(form: Form, field: Field) -> None:
    """Refuse text the database cannot store (a NUL byte or a lone surrogate) beside its field."""
    if isinstance(field.data, str) and (problem := text_problem(field.data)):
        raise StopValidation(problem)


class TandemForm(FlaskForm):
    """Every text field (text areas, search, e-mail, hidden and password fields too) checks `storable_text`
    first, so no form can forget it and a NUL byte gets an error beside its field instead of a 500."""

    class Meta(FlaskForm.Meta):
        def bind_field(self, form, unbound_field, options):
            field = super().bind_field(form, unbound_field, options)
            if isinstance(field, StringField):
                field.validators = [storable_text, *field.validators]
            return field


class EmptyForm(TandemForm):
    """A bare POST button still carries a CSRF token."""


def confirmation_page(heading: str, consequences: list[str], action: str, button: str, cancel: str,
                      form: FlaskForm | None = None, fields: tuple[str, ...] = (), status: int = 200):
    """The step before an irreversible action: a GET page saying what will happen, whose POST form does it.

    A page rather than a script dialog, since the Content-Security-Policy allows no inline script.
    """
    from flask import render_template

    page = render_template("confirm.html", heading=heading, consequences=consequences, action=action, button=button,
                           cancel=cancel, form=form or EmptyForm(), fields=fields)
    return page, status
