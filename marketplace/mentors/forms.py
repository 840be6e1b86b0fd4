"""Forms for the #OpenToMentor profile; the topic and language pickers are shared with goals."""

from __future__ import annotations

from typing import Any

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from wtforms import IntegerField, SelectField, SelectMultipleField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, StopValidation
from wtforms.widgets import CheckboxInput, ListWidget

from ..forms import TandemForm
from ..models import MentorProfile, User
from ..services import fields, profiles, topics
from ..services.topics import MAX_TOPICS, TOPIC_MAX_LENGTH


def template_helpers() -> dict:
    """Names for codes stored in profiles and goals, for the templates of both blueprints."""
    return {
        "language_name": fields.language_name,
        "meeting_formats": profiles.MEETING_FORMATS,
    }


class MultiCheckboxField(SelectMultipleField):
    """A multi-select shown as checkboxes: usable without a mouse, a script or Ctrl-click."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def topic_choices() -> list[SelectChoice]:
    """Taxonomy topics as (slug, name in the UI language), sorted for that language."""
    locale = str(get_locale() or "en")
    choices = [SelectChoice(topic.slug, topic.display_name(locale)) for topic in topics.taxonomy_topics()]
    return sorted(choices, key=lambda choice: choice.label.casefold())


def language_choices() -> list[SelectChoice]:
    """Every language a profile or goal may name, as (ISO 639-1 code, name in the UI language)."""
    return [SelectChoice(code, str(name)) for code, name in fields.LANGUAGES.items()]


def at_least_one(form: TandemForm, field: SelectMultipleField) -> None:
    """Like DataRequired, minus its `required` flag: on a checkbox group that would demand every box."""
    if not field.data:
        raise StopValidation(_l("Choose at least one language."))


class TopicsAndLanguagesMixin:
    """Topics (taxonomy checkboxes + free tags) and languages, as mentors and goals both use them."""

    topics = MultiCheckboxField(_l("Topics"), choices=[])
    free_tags = StringField(
        _l("Other topics"),
        validators=[Optional(), Length(max=(TOPIC_MAX_LENGTH + 2) * MAX_TOPICS)],
    )
    languages = MultiCheckboxField(
        _l("Languages"),
        choices=[],
        validators=[at_least_one],
    )

    def load_choices(self) -> None:
        self.topics.choices = topic_choices()
        self.languages.choices = language_choices()

    def topic_entries(self) -> list[str]:
        """Chosen slugs followed by the typed free tags, for services.topics.resolve_topics."""
        return list(self.topics.data or []) + fields.split_free_tags(self.free_tags.data)

    def fill_topics(self, entity: Any) -> None:
        """Split an entity's topics back into ticked taxonomy boxes and the free-tag text."""
        self.topics.data = [t.slug for t in entity.topics if not t.is_free_tag]
        self.free_tags.data = ", ".join(t.name_en for t in entity.topics if t.is_free_tag)
        self.languages.data = entity.language_list


class MentorProfileForm(TopicsAndLanguagesMixin, TandemForm):
    headline = StringField(
        _l("Headline"), validators=[DataRequired(), Length(max=profiles.HEADLINE_MAX)],
        render_kw={"maxlength": profiles.HEADLINE_MAX},
    )
    teaching_text = TextAreaField(
        _l("What I can teach"),
        validators=[DataRequired(), Length(min=fields.TEXT_MIN, max=fields.TEXT_MAX)],
        render_kw={"rows": 8, "maxlength": fields.TEXT_MAX},
    )
    company = StringField(
        _l("Company"), validators=[DataRequired(), Length(max=fields.COMPANY_MAX)],
        render_kw={"autocomplete": "organization"},
    )
    capacity = IntegerField(
        _l("How many tandems at a time"),
        default=1,
        validators=[InputRequired(), NumberRange(profiles.CAPACITY_MIN, profiles.CAPACITY_MAX)],
        render_kw={"min": profiles.CAPACITY_MIN, "max": profiles.CAPACITY_MAX},
    )
    meetings_per_month = IntegerField(
        _l("Meetings per month"),
        default=1,
        validators=[InputRequired(), NumberRange(profiles.MEETINGS_MIN, profiles.MEETINGS_MAX)],
        render_kw={"min": profiles.MEETINGS_MIN, "max": profiles.MEETINGS_MAX},
    )
    meeting_format = SelectField(
        _l("Meeting format"), choices=[SelectChoice(key, label) for key, label in profiles.MEETING_FORMATS.items()],
        default="remote",
    )
    city = StringField(
        _l("City"), validators=[Optional(), Length(max=profiles.CITY_MAX)],
        render_kw={"autocomplete": "address-level2"},
    )
    submit = SubmitField(_l("Save profile"))

    def __init__(self, user: User, profile: MentorProfile | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.load_choices()
        # A verified company is the community manager's call: shown, not editable.
        self.company_locked = user.verified_company_id is not None
        if self.company_locked:
            del self.company
        if self.is_submitted():
            return
        if profile is not None:
            for name in ("headline", "teaching_text", "capacity", "meetings_per_month", "meeting_format", "city"):
                getattr(self, name).data = getattr(profile, name)
            self.fill_topics(profile)
        else:
            self.languages.data = fields.default_languages(user, str(get_locale()))
        if not self.company_locked and user.company is not None:
            self.company.data = user.company.name

    def to_data(self) -> dict[str, Any]:
        """The submitted values in the shape services.profiles.save_mentor_profile takes."""
        data = {
            "headline": self.headline.data,
            "teaching_text": self.teaching_text.data,
            "topics": self.topic_entries(),
            "languages": self.languages.data,
            "capacity": self.capacity.data,
            "meetings_per_month": self.meetings_per_month.data,
            "meeting_format": self.meeting_format.data,
            "city": self.city.data,
        }
        if not self.company_locked:
            data["company"] = self.company.data
        return data
