"""A tandem's programme page: kick-off checklist, progress, meetings (planned, held or missed) and invites.

Registered inside the cohorts blueprint (endpoints "cohorts.meetings.*", URLs /cohorts/tandems/...),
and open to any running tandem, whether it came from a cohort or from a request. Times are entered and
shown in the viewer's own time zone (services/timezones.py).
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import format_date, ngettext
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..access import get_or_404
from ..forms import EmptyForm, confirmation_page, place_errors
from ..goals.milestones import card_context
from ..models import MeetingProposal, Tandem
from ..services import meetings, pulse, scheduling, tandems, timezones
from ..services.errors import MeetingError
from .forms import DeclineProposalForm, MeetingForm, OutcomeForm, PickForm, ProposalForm

bp = Blueprint("meetings", __name__, url_prefix="/tandems")


def _partner_tandem(tandem_id: int) -> Tandem:
    """Only the two partners see a tandem's page; for anyone else it does not exist."""
    return get_or_404(Tandem, tandem_id, lambda tandem: tandems.can_view(tandem, current_user))


def _render(tandem: Tandem, form: MeetingForm | None = None, status: int = 200,
            proposal_form: ProposalForm | None = None, decline_form: DeclineProposalForm | None = None,
            outcome_form: tuple[int, OutcomeForm] | None = None):
    """The tandem's page; a form given comes back as it was sent, with its errors beside its fields
    (`outcome_form`: one meeting's "did it take place?" form, by the meeting's id)."""
    row = meetings.progress(tandem)
    views = meetings.meetings_for(tandem, current_user)
    outcome_forms = {view.meeting.id: _outcome_form(view.meeting.id) for view in views if view.ask_outcome}
    if outcome_form is not None:
        meeting_id, bound = outcome_form
        if meeting_id in outcome_forms and tandem.status == Tandem.RUNNING:
            outcome_forms[meeting_id] = bound
        else:  # the page draws no such form (answered meanwhile, an ended tandem): the errors as flashes
            for message in (m for messages in bound.errors.values() for m in messages):
                flash(message, "error")
    proposals = scheduling.proposal_views(tandem, current_user)
    open_proposal = next((view for view in proposals if view.proposal.status == MeetingProposal.OPEN), None)
    proposal_form = proposal_form or ProposalForm(formdata=None)
    # The form (and its suggested times) shows only while no proposal waits for an answer.
    suggested = ((proposal_form, scheduling.Suggestions("none", [])) if open_proposal
                 else proposal_form_choices(proposal_form, tandem))
    return render_template(
        "cohorts/tandem.html",
        tandem=tandem,
        open_proposal=open_proposal,
        earlier_proposals=[view for view in proposals if view.proposal.status != MeetingProposal.OPEN],
        proposal_form=suggested[0],
        suggestion_source=suggested[1].source,
        suggestions_since=suggested[1].since,
        decline_form=decline_form or DeclineProposalForm(formdata=None),
        pick_form=PickForm(formdata=None),
        progress=row,
        checklist=meetings.kickoff_checklist(tandem, row),
        meetings=views,
        form=form or MeetingForm(),
        outcome_forms=outcome_forms,
        button_form=EmptyForm(),
        show_contact=tandems.can_see_contact(tandem, current_user),
        partner=tandem.mentee if tandem.mentor_user_id == current_user.id else tandem.mentor_user,
        partner_name=tandems.partner_name(tandem, current_user),
        time_zone=timezones.name_of(current_user),
        running=tandem.status == Tandem.RUNNING,
        is_mentee=tandem.mentee_user_id == current_user.id,
        **card_context(tandem.goal, f"tandem-{tandem.id}", read_only=tandem.status != Tandem.RUNNING),
        pulse_checks=pulse.open_checks(current_user, tandem),
    ), status


def proposal_form_choices(form: ProposalForm, tandem: Tandem) -> tuple[ProposalForm, scheduling.Suggestions]:
    """The next times inside both partners' windows (else the viewer's own) as ticks on the form, labelled in the
    viewer's zone; also the suggestions (where they come from, or why there are none)."""
    found = scheduling.suggestions(tandem, current_user)
    form.suggested.choices = [(timezones.to_utc(moment).isoformat(),
                               timezones.format_instant(moment, current_user, with_zone=False))
                              for moment in found.starts]
    if found.source == "both":
        form.suggested.label.text = _("Times inside both your windows")
    return form, found


def _outcome_form(meeting_id: int) -> OutcomeForm:
    """One per asked meeting, prefixed, so the page's field ids stay unique."""
    return OutcomeForm(prefix=f"meeting-{meeting_id}")


def _in_my_zone(moment: datetime | None) -> datetime | None:
    """A time typed on the page is in the viewer's zone."""
    return moment.replace(tzinfo=timezones.zone_of(current_user)) if moment is not None else None


@bp.get("/<int:tandem_id>")
@login_required
def tandem(tandem_id: int):
    return _render(_partner_tandem(tandem_id))


@bp.post("/<int:tandem_id>/meetings")
@login_required
def log(tandem_id: int):
    tandem = _partner_tandem(tandem_id)
    form = MeetingForm()
    if not form.validate_on_submit():
        return _render(tandem, form, 400)
    try:
        meetings.create(
            tandem, current_user, _in_my_zone(form.starts_at.data), form.duration_minutes.data,
            status=form.status.data, video_url=form.video_url.data or "", topic=form.topic.data or "",
            private_note=form.private_note.data or "",
        )
    except MeetingError as problem:
        if not place_errors(form, problem):
            return redirect(url_for(".tandem", tandem_id=tandem.id))
        return _render(tandem, form, 400)
    flash(_("Meeting planned. You both get the invite by e-mail; download it below.")
          if form.status.data == "planned" else _("Meeting logged."), "success")
    return redirect(url_for(".tandem", tandem_id=tandem.id))


@bp.post("/<int:tandem_id>/meetings/<int:meeting_id>/outcome")
@login_required
def outcome(tandem_id: int, meeting_id: int):
    """The answer to "did it take place?": held, missed, or moved to a new time."""
    tandem = _partner_tandem(tandem_id)
    form = _outcome_form(meeting_id)
    if not form.validate_on_submit():
        if form.starts_at.errors:  # a time the browser sent broken: beside the field, as typed
            return _render(tandem, status=400, outcome_form=(meeting_id, form))
        flash(_("Please choose held, missed or a new time."), "error")
        return redirect(url_for(".tandem", tandem_id=tandem.id))
    try:
        meetings.record_outcome(tandem, meeting_id, current_user, form.outcome.data, _in_my_zone(form.starts_at.data))
    except MeetingError as problem:
        # A refused new time (the clocks skip it, outside the tandem's period) stands beside the field with the
        # time typed kept; anything else is a flash.
        if place_errors(form if form.outcome.data == "moved" else None, problem):
            return _render(tandem, status=400, outcome_form=(meeting_id, form))
        return redirect(url_for(".tandem", tandem_id=tandem.id))
    flash({"held": _("Marked as held: it now counts toward your target."),
           "missed": _("Recorded as missed. Plan the next meeting when you can."),
           "moved": _("Meeting moved. You both get the updated invite.")}[form.outcome.data], "success")
    return redirect(url_for(".tandem", tandem_id=tandem.id))


@bp.route("/<int:tandem_id>/meetings/<int:meeting_id>/delete", methods=["GET", "POST"])
@login_required
def delete(tandem_id: int, meeting_id: int):
    tandem = _partner_tandem(tandem_id)
    if request.method == "GET":
        meeting = meetings.own_meeting(tandem, meeting_id, current_user)
        if meeting is None:
            abort(404)
        progress = meetings.progress(tandem)
        held = progress.held - (0 if meeting.planned else 1)
        return confirmation_page(
            _("Delete this meeting?"),
            [_("The meeting of %(date)s is removed for both of you.", date=format_date(meeting.held_on)),
             ngettext("Your tandem then counts %(num)d of %(target)d meetings.",
                      "Your tandem then counts %(num)d of %(target)d meetings.", max(held, 0),
                      target=progress.target)],
            url_for(".delete", tandem_id=tandem.id, meeting_id=meeting_id), _("Delete the meeting"),
            url_for(".tandem", tandem_id=tandem.id),
        )
    if EmptyForm().validate_on_submit():
        try:
            meetings.delete_meeting(tandem, meeting_id, current_user)
            flash(_("Meeting deleted."), "info")
        except MeetingError as problem:
            place_errors(None, problem)
    return redirect(url_for(".tandem", tandem_id=tandem.id))


def invite_response(tandem: Tandem, meeting_id: int, viewer) -> Response:
    """The invite file of one meeting (page and API): an attachment, never cached."""
    try:
        meeting = meetings.get(tandem, meeting_id, viewer)
    except MeetingError:
        abort(404)
    return Response(
        meetings.invite(meeting), mimetype="text/calendar",
        headers={"Content-Disposition": f'attachment; filename="tandem-meeting-{meeting.id}.ics"',
                 "Cache-Control": "private, no-store"},
    )


@bp.get("/<int:tandem_id>/meetings/<int:meeting_id>.ics")
@login_required
def meeting_ics(tandem_id: int, meeting_id: int):
    return invite_response(_partner_tandem(tandem_id), meeting_id, current_user)
