from flask_babel import lazy_gettext as _l
from wtforms import IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, Optional

from ..forms import TandemForm
from ..services.fields import MESSAGE_MAX


class RequestTandemForm(TandemForm):
    goal_id = IntegerField(validators=[InputRequired()])
    mentor_id = IntegerField(validators=[InputRequired()])
    message = TextAreaField(_l("A short message to the mentor"), validators=[Optional(), Length(max=MESSAGE_MAX)])


class AskForTandemForm(TandemForm):
    """"Ask for a tandem" on a mentor's page: one of the asker's goals that the rules allow, and a message.
    The caller sets `goal_id.choices`."""

    goal_id = SelectField(_l("For which goal?"), coerce=int, validators=[InputRequired()])
    message = TextAreaField(
        _l("A short personal message"), validators=[Optional(), Length(max=MESSAGE_MAX)], render_kw={"rows": 4}
    )


class OfferHelpForm(TandemForm):
    message = TextAreaField(
        _l("A short message to the goal's owner"), validators=[Optional(), Length(max=MESSAGE_MAX)],
        render_kw={"rows": 4},
    )


class AnswerForm(TandemForm):
    """The answer comes from the button pressed (name="action"). Not a hidden field: hidden_tag() would put an
    empty one before the buttons, browsers send both, and the empty value (the first) won."""

    action = StringField(validators=[AnyOf(("accept", "decline"))])
    message = TextAreaField(_l("Message"), validators=[Optional(), Length(max=MESSAGE_MAX)])


class EndTandemForm(TandemForm):
    reason = TextAreaField(_l("Why does the tandem end?"), validators=[DataRequired(), Length(max=MESSAGE_MAX)])
