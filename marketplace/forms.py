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
