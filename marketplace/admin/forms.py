"""Forms of the community-manager area."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, SearchField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from ..forms import TandemForm


class SearchForm(TandemForm):
    """A GET filter: nothing changes, so it carries no CSRF token."""

    class Meta:
        csrf = False

    q = SearchField(_l("Search"), validators=[Optional(), Length(max=200)])
    submit = SubmitField(_l("Search"))


class VerifyCompanyForm(TandemForm):
    company = StringField(_l("Verified company"), validators=[DataRequired(), Length(max=200)])
    submit = SubmitField(_l("Save verified company"))


class CompanyNameForm(TandemForm):
    name = StringField(_l("Company name"), validators=[DataRequired(), Length(max=200)])
    submit = SubmitField(_l("Rename"))


class CompanyDomainsForm(TandemForm):
    domains = TextAreaField(_l("E-mail domains"), validators=[Optional(), Length(max=4000)])
    submit = SubmitField(_l("Save domains"))


class CompetitorForm(TandemForm):
    name = StringField(_l("Competitor"), validators=[DataRequired(), Length(max=200)])
    submit = SubmitField(_l("Add competitor"))


class MergeCompanyForm(TandemForm):
    """Step one of a merge: name the company that stays; nothing changes before the confirmation."""

    into = StringField(_l("Company to keep"), validators=[DataRequired(), Length(max=200)])
    submit = SubmitField(_l("Review merge"))


class ConfirmMergeForm(TandemForm):
    survivor_id = HiddenField(validators=[DataRequired()])
    submit = SubmitField(_l("Merge companies"))


class TopicForm(TandemForm):
    name_en = StringField(_l("Name (English)"), validators=[DataRequired(), Length(max=120)])
    name_de = StringField(_l("Name (German)"), validators=[DataRequired(), Length(max=120)])
    synonyms = TextAreaField(_l("Synonyms"), validators=[Optional(), Length(max=4000)])
    submit = SubmitField(_l("Save topic"))
