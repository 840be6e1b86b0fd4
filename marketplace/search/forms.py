from flask_babel import lazy_gettext as _l
from wtforms import IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ..forms import TandemForm
from ..services.fields import LANGUAGES


class MentorSearchForm(TandemForm):
    """A GET form: nothing changes on the server, so it carries no CSRF token."""

    class Meta:
        csrf = False

    q = StringField(_l("What would you like to learn?"), validators=[DataRequired(), Length(max=500)])
    language = SelectField(
        _l("Language"),
        # Every language a profile can name, as the API takes (fields.LANGUAGES).
        choices=[SelectChoice("", _l("Any language")),
                 *(SelectChoice(code, label) for code, label in LANGUAGES.items())],
        validators=[Optional()],
    )
    format = SelectField(
        _l("Meetings"),
        choices=[
            SelectChoice(key, label)
            for key, label in (("", _l("Remote or on-site")), ("remote", _l("Remote")), ("onsite", _l("On-site")))
        ],
        validators=[Optional()],
    )
    exclude = StringField(_l("Leave out companies"), validators=[Optional(), Length(max=500)])
    k = IntegerField(_l("Results"), default=10, validators=[Optional(), NumberRange(min=1, max=50)])
