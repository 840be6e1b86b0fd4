"""Forms of the cohort pages: planning, enrolment, import, review, meetings and the survey."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    DateField,
    DateTimeLocalField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
    URLField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import HiddenInput

from ..forms import TandemForm
from ..mentors.forms import MultiCheckboxField
from ..services import meetings, pulse, scheduling
from ..services.cohorts import enrolment, surveys
from ..states import MeetingStatus


class CohortForm(TandemForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=enrolment.NAME_MAX)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=enrolment.DESCRIPTION_MAX)])
    starts_on = DateField(_l("Start date"), validators=[InputRequired()])
    ends_on = DateField(_l("End date"), validators=[InputRequired()])
    meeting_target = IntegerField(
        _l("Meeting target per tandem"), default=enrolment.DEFAULT_TARGET,
        validators=[InputRequired(), NumberRange(enrolment.TARGET_MIN, enrolment.TARGET_MAX)],
    )
    focus_topics = MultiCheckboxField(_l("Focus topics"), choices=[], validators=[Optional()])
    submit = SubmitField(_l("Save cohort"))


class ApplyForm(TandemForm):
    role = RadioField(_l("I take part as"), validators=[InputRequired()],
                      choices=[SelectChoice("mentor", _l("Mentor")), SelectChoice("mentee", _l("Mentee"))])
    goal_id = SelectField(_l("The learning goal I bring (mentees)"), coerce=int, choices=[], validate_choice=False,
                          validators=[Optional()])
    submit = SubmitField(_l("Apply"))


class DecisionForm(TandemForm):
    """The decision comes from the button pressed (name="decision"), so it is not a hidden field."""

    decision = StringField(validators=[AnyOf(enrolment.DECISIONS)])


class ImportForm(TandemForm):
    file = FileField(_l("Participants file (CSV or Excel)"),
                     validators=[FileRequired(), FileAllowed(["csv", "txt", "tsv", "xlsx"],
                                                             _l("Please upload a .csv, .txt or .xlsx file."))])
    submit = SubmitField(_l("Check the file"))


class ConfirmImportForm(TandemForm):
    token = HiddenField(validators=[DataRequired(), Length(max=64)])
    submit = SubmitField(_l("Import these participants"))


class PublishForm(TandemForm):
    """The publish confirmation: it carries the draft pairs it showed (review.drafts_version)."""

    drafts = HiddenField(validators=[DataRequired(), Length(max=64)])


class SwapForm(TandemForm):
    first = SelectField(_l("First pair"), coerce=int, choices=[], validators=[InputRequired()])
    second = SelectField(_l("Second pair"), coerce=int, choices=[], validators=[InputRequired()])
    submit = SubmitField(_l("Swap their mentors"))


class AddPairForm(TandemForm):
    mentee = SelectField(_l("Mentee"), coerce=int, choices=[], validators=[InputRequired()])
    mentor = SelectField(_l("Mentor"), coerce=int, choices=[], validators=[InputRequired()])
    submit = SubmitField(_l("Add this pair"))


class ProgressFilterForm(TandemForm):
    """A GET filter: nothing changes, so it carries no CSRF token."""

    class Meta:
        csrf = False

    show = SelectField(_l("Show"), default="all", validators=[Optional()], choices=[
        SelectChoice("all", _l("All tandems")), SelectChoice("behind", _l("Only tandems behind")),
    ])
    submit = SubmitField(_l("Filter"))


class MeetingForm(TandemForm):
    """A meeting's time is entered in the person's own time zone; the view makes it an instant."""

    status = RadioField(_l("This meeting"), default=MeetingStatus.PLANNED, validators=[InputRequired()], choices=[
        SelectChoice(MeetingStatus.PLANNED, _l("is planned")), SelectChoice(MeetingStatus.HELD, _l("took place")),
        SelectChoice(MeetingStatus.MISSED, _l("did not take place")),
    ])
    starts_at = DateTimeLocalField(_l("Date and time"), format="%Y-%m-%dT%H:%M", validators=[InputRequired()])
    duration_minutes = IntegerField(
        _l("Length in minutes"), default=60,
        validators=[InputRequired(), NumberRange(meetings.MINUTES_MIN, meetings.MINUTES_MAX)],
    )
    video_url = URLField(_l("Video-call link (optional)"), validators=[Optional(), Length(max=meetings.URL_MAX)])
    topic = TextAreaField(_l("Topic (your partner sees it)"), validators=[Optional(), Length(max=meetings.TOPICS_MAX)])
    private_note = TextAreaField(_l("Private note (only you ever see it)"),
                                 validators=[Optional(), Length(max=meetings.NOTE_MAX)])
    submit = SubmitField(_l("Save meeting"))


class OutcomeForm(TandemForm):
    """"Did it take place?": the answer is the button pressed; a new time only for "moved"."""

    outcome = StringField(validators=[AnyOf((MeetingStatus.HELD, MeetingStatus.MISSED, "moved"))])
    starts_at = DateTimeLocalField(_l("New date and time"), format="%Y-%m-%dT%H:%M", validators=[Optional()])


class ProposalForm(TandemForm):
    """Up to three times to propose: ticked suggestions (UTC instants) and typed ones (in the person's zone);
    length, link and topic hold for each. The view counts them; the service judges each time."""

    suggested = MultiCheckboxField(_l("Times inside your windows"), choices=[], validate_choice=False,
                                   validators=[Optional()])
    other_1 = DateTimeLocalField(_l("Other time 1"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    other_2 = DateTimeLocalField(_l("Other time 2"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    other_3 = DateTimeLocalField(_l("Other time 3"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    duration_minutes = IntegerField(
        _l("Length in minutes"), default=60,
        validators=[InputRequired(), NumberRange(meetings.MINUTES_MIN, meetings.MINUTES_MAX)],
    )
    video_url = URLField(_l("Video-call link (optional)"), validators=[Optional(), Length(max=meetings.URL_MAX)])
    topic = TextAreaField(_l("Topic (optional)"), validators=[Optional(), Length(max=meetings.TOPICS_MAX)])
    submit = SubmitField(_l("Propose these times"))

    OTHERS = ("other_1", "other_2", "other_3")


class PickForm(TandemForm):
    """The picked time is the button pressed (name="slot")."""

    slot = IntegerField(validators=[InputRequired()])


class DeclineProposalForm(TandemForm):
    note = TextAreaField(_l("A short note (optional)"), validators=[Optional(), Length(max=scheduling.NOTE_MAX)])
    submit = SubmitField(_l("None of these: ask for other times"))


class SurveyForm(TandemForm):
    satisfaction = RadioField(
        _l("How satisfied are you with your tandem? (1 = not at all, 5 = very)"),
        choices=[SelectChoice(i, str(i)) for i in range(1, 6)], coerce=int, validators=[InputRequired()],
    )
    recommend = RadioField(
        _l("How likely are you to recommend Tandem to a colleague? (0 = not at all, 10 = certainly)"),
        choices=[SelectChoice(i, str(i)) for i in range(0, 11)], coerce=int, validators=[InputRequired()],
    )
    improve = TextAreaField(_l("What should we improve?"), validators=[Optional(), Length(max=surveys.IMPROVE_MAX)])
    submit = SubmitField(_l("Send my answers"))


class FreedSlotForm(TandemForm):
    """The manager's confirmation of a proposal for a freed slot: which mentor, which waiting mentee."""

    mentor_id = IntegerField(widget=HiddenInput(), validators=[InputRequired(), NumberRange(min=1)])
    participant_id = IntegerField(widget=HiddenInput(), validators=[InputRequired(), NumberRange(min=1)])


class PulseForm(TandemForm):
    usefulness = RadioField(pulse.QUESTIONS["usefulness"], choices=[SelectChoice(i, str(i)) for i in pulse.SCALE],
                            coerce=int, validators=[InputRequired()])
    collaboration = RadioField(pulse.QUESTIONS["collaboration"],
                               choices=[SelectChoice(i, str(i)) for i in pulse.SCALE], coerce=int,
                               validators=[InputRequired()])
    comment = TextAreaField(_l("Anything you would like to add? (optional)"),
                            validators=[Optional(), Length(max=pulse.COMMENT_MAX)])
    submit = SubmitField(_l("Send my answers"))


class NudgeForm(TandemForm):
    """A nudge button; `seen` is the number of nudges the page showed (services.health.nudge)."""

    seen = IntegerField(validators=[InputRequired(), NumberRange(0, 10_000)])
