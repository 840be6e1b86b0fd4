"""Propose, then pick: the forms on a tandem's programme page (endpoints "cohorts.proposals.*").

One partner proposes up to three times (ticked suggestions or typed in their own zone); the other picks one
or asks for others; the proposer may withdraw. The rules live in services/scheduling.py.
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..forms import EmptyForm, place_errors
from ..services import scheduling
from .forms import DeclineProposalForm, PickForm, ProposalForm
from .meetings import _in_my_zone, _partner_tandem, _render, proposal_form_choices

bp = Blueprint("proposals", __name__, url_prefix="/tandems")


def _back(tandem_id: int):
    return redirect(url_for("cohorts.meetings.tandem", tandem_id=tandem_id, _anchor="propose-title"))


def _parse_suggested(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.utcoffset() is not None else None


@bp.post("/<int:tandem_id>/proposals")
@login_required
def propose(tandem_id: int):
    tandem = _partner_tandem(tandem_id)
    form, _source = proposal_form_choices(ProposalForm(), tandem)
    if not form.validate_on_submit():
        return _render(tandem, status=400, proposal_form=form)
    starts: list[tuple[str, datetime | None]] = [("suggested", _parse_suggested(value))
                                                 for value in form.suggested.data or []]
    starts += [(name, _in_my_zone(getattr(form, name).data)) for name in ProposalForm.OTHERS
               if getattr(form, name).data is not None]
    if not 1 <= len(starts) <= scheduling.MAX_SLOTS:
        form.suggested.errors = [*form.suggested.errors, _("Choose or type one to three times.")]
        return _render(tandem, status=400, proposal_form=form)
    slots = [scheduling.SlotInput(moment, form.duration_minutes.data, form.video_url.data or "",
                                  form.topic.data or "") for _name, moment in starts]
    try:
        scheduling.propose(tandem, current_user, slots)
    except scheduling.SchedulingError as problem:
        if problem.field == "starts_at" and problem.slot is not None:  # the form field that time came from
            problem = scheduling.SchedulingError(problem.code, problem.message, problem.status,
                                                 starts[problem.slot][0])
        if not place_errors(form, problem):
            return _back(tandem.id)
        return _render(tandem, status=400, proposal_form=form)
    partner = tandem.mentee if tandem.mentor_user_id == current_user.id else tandem.mentor_user
    flash(_("Your times went to %(name)s, each in their own time zone. You get the invite once they pick one.",
            name=partner.name if partner else _("your partner")), "success")
    return _back(tandem.id)


@bp.post("/<int:tandem_id>/proposals/<int:proposal_id>/pick")
@login_required
def pick(tandem_id: int, proposal_id: int):
    tandem = _partner_tandem(tandem_id)
    form = PickForm()
    if not form.validate_on_submit():
        flash(_("Pick one of the proposed times."), "error")
        return _back(tandem.id)
    try:
        scheduling.pick(tandem, proposal_id, current_user, form.slot.data)
    except scheduling.SchedulingError as problem:
        place_errors(None, problem)
        return _back(tandem.id)
    flash(_("Meeting planned. You both get the invite by e-mail; download it below."), "success")
    return redirect(url_for("cohorts.meetings.tandem", tandem_id=tandem.id, _anchor="meetings-title"))


@bp.post("/<int:tandem_id>/proposals/<int:proposal_id>/decline")
@login_required
def decline(tandem_id: int, proposal_id: int):
    tandem = _partner_tandem(tandem_id)
    form = DeclineProposalForm()
    if not form.validate_on_submit():
        return _render(tandem, status=400, decline_form=form)
    try:
        scheduling.decline(tandem, proposal_id, current_user, form.note.data or "")
    except scheduling.SchedulingError as problem:
        if place_errors(form, problem):
            return _render(tandem, status=400, decline_form=form)
        return _back(tandem.id)
    flash(_("Your partner is asked for other times. You can also propose some yourself."), "info")
    return _back(tandem.id)


@bp.post("/<int:tandem_id>/proposals/<int:proposal_id>/withdraw")
@login_required
def withdraw(tandem_id: int, proposal_id: int):
    tandem = _partner_tandem(tandem_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        scheduling.withdraw(tandem, proposal_id, current_user)
    except scheduling.SchedulingError as problem:
        place_errors(None, problem)
        return _back(tandem.id)
    flash(_("Your proposed times are withdrawn."), "info")
    return _back(tandem.id)
