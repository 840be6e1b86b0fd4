from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional


class RequestTandemForm(FlaskForm):
    goal_id = IntegerField(validators=[InputRequired()])
    mentor_id = IntegerField(validators=[InputRequired()])
    message = TextAreaField(_l("A short message to the mentor"), validators=[Optional(), Length(max=2000)])


class AnswerForm(FlaskForm):
    action = HiddenField(validators=[DataRequired()])
    message = TextAreaField(_l("Message"), validators=[Optional(), Length(max=2000)])


class EndTandemForm(FlaskForm):
    reason = TextAreaField(_l("Why does the tandem end?"), validators=[DataRequired(), Length(max=2000)])
