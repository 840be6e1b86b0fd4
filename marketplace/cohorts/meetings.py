"""A tandem's programme page: kick-off checklist, progress, meetings (logged or planned) and .ics files.

Registered inside the cohorts blueprint (endpoints "cohorts.meetings.*", URLs /cohorts/tandems/...),
and open to any running tandem, whether it came from a cohort or from a request.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import format_date, ngettext
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..forms import EmptyForm, confirmation_page
from ..models import Tandem, get_by_id
from ..services import meetings, tandems
from .forms import MeetingForm

bp = Blueprint("meetings", __name__, url_prefix="/tandems")


def _partner_tandem(tandem_id: int) -> Tandem:
    """Only the two partners see a tandem's meetings; for anyone else it does not exist."""
    tandem = get_by_id(Tandem, tandem_id)
    if not tandems.can_view(tandem, current_user):
        abort(404)
    return tandem


def _render(tandem: Tandem, form: MeetingForm | None = None, status: int = 200):
    row = meetings.progress(tandem)
    return render_template(
        "cohorts/tandem.html",
        tandem=tandem,
        progress=row,
        checklist=meetings.kickoff_checklist(tandem, row),
        meetings=meetings.meetings_for(tandem, current_user),
        form=form or MeetingForm(),
        button_form=EmptyForm(),
        show_contact=tandems.can_see_contact(tandem, current_user),
        partner=tandem.mentee if tandem.mentor_user_id == current_user.id else tandem.mentor_user,
    ), status


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
        meetings.log_meeting(
            tandem, current_user, form.held_on.data, form.minutes.data, form.topics_covered.data or "",
            form.private_note.data or "", planned=form.kind.data == "planned",
        )
    except meetings.MeetingError as problem:
        field = getattr(form, problem.field, None) if problem.field else None
        if field is None:
            flash(problem.message, "error")
            return redirect(url_for(".tandem", tandem_id=tandem.id))
        field.errors = [*field.errors, problem.message]
        return _render(tandem, form, problem.status)
    flash(_("Meeting planned. Download it for your calendar below.") if form.kind.data == "planned"
          else _("Meeting logged."), "success")
    return redirect(url_for(".tandem", tandem_id=tandem.id))


@bp.post("/<int:tandem_id>/meetings/<int:meeting_id>/held")
@login_required
def mark_held(tandem_id: int, meeting_id: int):
    tandem = _partner_tandem(tandem_id)
    if EmptyForm().validate_on_submit():
        try:
            meetings.mark_held(tandem, meeting_id, current_user)
            flash(_("Marked as held: it now counts toward your target."), "success")
        except meetings.MeetingError as problem:
            flash(problem.message, "error")
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
        except meetings.MeetingError as problem:
            flash(problem.message, "error")
    return redirect(url_for(".tandem", tandem_id=tandem.id))


def _ics(tandem: Tandem, items, filename: str) -> Response:
    body = meetings.ics_calendar(tandem, items, host=request.host.split(":")[0] or "tandem.example")
    return Response(
        body, mimetype="text/calendar",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "private, no-store"},
    )


@bp.get("/<int:tandem_id>/meetings.ics")
@login_required
def calendar(tandem_id: int):
    """Every planned meeting of the tandem in one calendar file."""
    tandem = _partner_tandem(tandem_id)
    return _ics(tandem, meetings.planned_meetings(tandem), f"tandem-{tandem.id}.ics")


@bp.get("/<int:tandem_id>/meetings/<int:meeting_id>.ics")
@login_required
def meeting_ics(tandem_id: int, meeting_id: int):
    tandem = _partner_tandem(tandem_id)
    meeting = next((m for m in meetings.planned_meetings(tandem) if m.id == meeting_id), None)
    if meeting is None:
        abort(404)
    return _ics(tandem, [meeting], f"tandem-meeting-{meeting.id}.ics")
