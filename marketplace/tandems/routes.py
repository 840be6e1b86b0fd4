"""Tandem pages: request a mentor for a goal, answer, withdraw, end."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required

from ..access import get_or_404
from ..forms import EmptyForm, confirmation_page, place_errors
from ..models import Goal, MentorProfile, Tandem
from ..services import goals, meetings, tandems
from ..services.errors import TandemError
from ..services.matching import search
from ..states import TandemStatus
from .forms import AnswerForm, EndTandemForm, RequestTandemForm

bp = Blueprint("tandems", __name__, url_prefix="/tandems")


def _own_tandem(tandem_id: int) -> Tandem:
    return get_or_404(Tandem, tandem_id, lambda tandem: tandems.can_view(tandem, current_user))


@bp.get("/")
@login_required
def index():
    return render_template("tandems/index.html", tandems=tandems.tandems_of(current_user))


@bp.post("/request")
@login_required
def request_tandem():
    form = RequestTandemForm()
    if not form.validate_on_submit():
        # The message is the one field a person types; its own error says more than "incomplete".
        flash(form.message.errors[0] if form.message.errors else
              _("The request could not be sent: the form was incomplete."), "error")
        return redirect(url_for("goals.index"))
    goal = get_or_404(Goal, form.goal_id.data, lambda goal: goals.can_edit_goal(current_user, goal))
    profile = get_or_404(MentorProfile, form.mentor_id.data)
    try:
        tandems.request_tandem(goal, profile, current_user, form.message.data or "")
    except TandemError as problem:
        place_errors(None, problem)
    else:
        flash(_("Your request went to %(name)s.", name=profile.user.name), "success")
    return redirect(url_for("goals.detail", id=goal.id))


@bp.get("/<int:tandem_id>")
@login_required
def detail(tandem_id: int):
    tandem = _own_tandem(tandem_id)
    return render_template(
        "tandems/detail.html",
        tandem=tandem,
        answer_form=AnswerForm(),
        form=EmptyForm(),
        show_contact=tandems.can_see_contact(tandem, current_user),
        goal_in_full=tandem.goal is not None and goals.can_view_goal(current_user, tandem.goal),
        is_mentor=tandem.mentor_user_id == current_user.id,
        ended_request=tandem.status in (*search.ENDED_REQUEST_STATUSES, TandemStatus.ENDED),
    )


@bp.post("/<int:tandem_id>/answer")
@login_required
def answer(tandem_id: int):
    tandem = _own_tandem(tandem_id)
    form = AnswerForm()
    if form.validate_on_submit() and form.action.data in ("accept", "decline"):
        offered = tandem.status == Tandem.OFFERED
        try:
            if form.action.data == "accept":
                tandems.accept(tandem, current_user, form.message.data or "")
                flash(_("Tandem accepted. You can now see each other's e-mail address."), "success")
            else:
                tandems.decline(tandem, current_user, form.message.data or "")
                flash(_("Offer declined.") if offered else _("Request declined."), "info")
        except TandemError as problem:
            place_errors(None, problem)
    return redirect(url_for("tandems.detail", tandem_id=tandem.id))


@bp.post("/<int:tandem_id>/withdraw")
@login_required
def withdraw(tandem_id: int):
    tandem = _own_tandem(tandem_id)
    if EmptyForm().validate_on_submit():
        try:
            offered = tandem.status == Tandem.OFFERED
            tandems.withdraw(tandem, current_user)
            flash(_("Offer withdrawn.") if offered else _("Request withdrawn."), "info")
        except TandemError as problem:
            place_errors(None, problem)
    return redirect(url_for("tandems.detail", tandem_id=tandem.id))


@bp.route("/<int:tandem_id>/end", methods=["GET", "POST"])
@login_required
def end(tandem_id: int):
    tandem = _own_tandem(tandem_id)
    form = EndTandemForm()
    if form.validate_on_submit():
        try:
            tandems.end(tandem, current_user, form.reason.data)
            flash(_("The tandem has ended."), "info")
        except TandemError as problem:
            place_errors(None, problem)
        return redirect(url_for("tandems.detail", tandem_id=tandem.id))
    if tandem.status != TandemStatus.ACTIVE:
        return redirect(url_for("tandems.detail", tandem_id=tandem.id))
    progress = meetings.progress(tandem)
    partner = tandem.mentee if tandem.mentor_user_id == current_user.id else tandem.mentor_user
    return confirmation_page(
        _("End this tandem early?"),
        [_("The tandem with %(name)s ends now and cannot be restarted; both of you are told.",
           name=partner.name if partner else _("your partner")),
         ngettext("You held %(num)d of %(target)d meetings.", "You held %(num)d of %(target)d meetings.",
                  progress.held, target=progress.target)],
        url_for("tandems.end", tandem_id=tandem.id), _("End tandem"), url_for("tandems.detail", tandem_id=tandem.id),
        form=form, fields=("reason",), status=400 if form.errors else 200,
    )
