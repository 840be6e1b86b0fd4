"""Forms for learning goals."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, HiddenField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from ..forms import TandemForm
from ..mentors.forms import TopicsAndLanguagesMixin
from ..models import Goal, User
from ..services import fields, goals, labels, milestones


class GoalForm(TopicsAndLanguagesMixin, TandemForm):
    title = StringField(
        _l("Title"), validators=[DataRequired(), Length(max=goals.TITLE_MAX)],
        render_kw={"maxlength": goals.TITLE_MAX},
    )
    description = TextAreaField(
        _l("What I want to learn"),
        validators=[DataRequired(), Length(min=fields.TEXT_MIN, max=fields.TEXT_MAX)],
        render_kw={"rows": 8, "maxlength": fields.TEXT_MAX},
    )
    excluded_companies = TextAreaField(
        _l("Companies to exclude"),
        validators=[Optional(), Length(max=(fields.COMPANY_MAX + 1) * goals.MAX_EXCLUDED_COMPANIES)],
        render_kw={"rows": 3},
    )
    discoverable = BooleanField(_l("Let suitable mentors find this goal"), default=True)
    submit = SubmitField(_l("Save goal"))

    def __init__(self, owner: User, goal: Goal | None = None, interface_language: str = "en", **kwargs: Any):
        super().__init__(**kwargs)
        self.load_choices()
        if self.is_submitted():
            return
        if goal is not None:
            self.title.data = goal.title
            self.description.data = goal.description
            self.discoverable.data = goal.discoverable
            self.excluded_companies.data = "\n".join(c.name for c in goal.excluded_companies)
            self.fill_topics(goal)
        else:
            self.languages.data = goals.default_goal_languages(owner, interface_language)

    def to_data(self) -> dict[str, Any]:
        """The submitted values in the shape services.profiles.save_goal takes."""
        return {
            "title": self.title.data,
            "description": self.description.data,
            "topics": self.topic_entries(),
            "languages": self.languages.data,
            "excluded_companies": self.excluded_companies.data or "",
            "discoverable": self.discoverable.data,
        }


class GoalStatusForm(TandemForm):
    """One button per status; the pressed button's value is the new status."""

    status = SelectField(
        _l("Status"), choices=[SelectChoice(key, label) for key, label in labels.GOAL_STATUS.items()]
    )


class MilestoneForm(TandemForm):
    """Add or rename a milestone; `back` names the page to return to ("goal" or "tandem-<id>")."""

    title = StringField(
        _l("Milestone"), validators=[DataRequired(), Length(max=milestones.TITLE_MAX)],
        render_kw={"maxlength": milestones.TITLE_MAX},
    )
    back = HiddenField(validators=[Optional(), Length(max=40)])


class MilestoneActionForm(TandemForm):
    """One button on a milestone: tick, untick, move up or down, remove (CSRF like every form)."""

    action = SelectField(choices=[SelectChoice(a, a) for a in ("done", "undone", "up", "down", "delete")])
    back = HiddenField(validators=[Optional(), Length(max=40)])
