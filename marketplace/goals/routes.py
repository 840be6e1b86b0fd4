"""Learning goals: my goals, creating and editing one, its status, and its page for those allowed to see it."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..access import get_or_404
from ..forms import EmptyForm, place_errors
from ..mentors.forms import template_helpers
from ..models import Goal, MentorProfile, get_by_id
from ..services import companies, goals, labels, tandems
from ..services.errors import ProfileConflict, ProfileError
from ..services.matching import search
from ..states import GoalStatus, TandemStatus
from ..tandems.forms import RequestTandemForm
from .forms import GoalForm, GoalStatusForm
from .milestones import bp as milestones_bp
from .milestones import card_context

bp = Blueprint("goals", __name__, url_prefix="/goals")
bp.register_blueprint(milestones_bp)


def visible_goal(goal_id: int) -> Goal:
    """The goal when the current user may see it; otherwise 404, so its existence stays private."""
    return get_or_404(Goal, goal_id, lambda goal: goals.can_view_goal(current_user, goal))


def editable_goal(goal_id: int) -> Goal:
    """The goal when the current user owns it: 404 for those who may not see it, 403 for other viewers."""
    return get_or_404(Goal, goal_id, lambda goal: goals.can_view_goal(current_user, goal),
                      allowed=lambda goal: goals.can_edit_goal(current_user, goal))


def _status_messages() -> dict[str, str]:
    return {
        "open": _("The goal is open again."),
        "matched": _("The goal is marked as matched."),
        "closed": _("The goal is closed."),
    }


@bp.get("/")
@login_required
def index():
    return render_template(
        "goals/index.html", goals=current_user.goals, statuses=labels.GOAL_STATUS, **template_helpers()
    )


def _unknown_companies_text(names: list[str]) -> str | None:
    unknown = companies.unknown_company_names(names)
    if not unknown:
        return None
    return _("No company called %(names)s is known yet — it is kept and will apply when someone joins from it.",
             names=", ".join(unknown))


def _unknown_notice(form: GoalForm) -> str | None:
    """Said beside the excluded-companies field: which of its names exclude nobody yet."""
    try:
        names = goals.parse_company_names(form.excluded_companies.data)
    except ProfileError:
        return None  # the field's own error says what is wrong
    return _unknown_companies_text(names)


def _saved(goal: Goal, message: str | None = None) -> None:
    """Say the goal is saved (`message`, or the plain words), and which excluded companies are unknown."""
    flash(message or _("Your goal is saved."), "success")
    notice = _unknown_companies_text([c.name for c in goal.excluded_companies])
    if notice:
        flash(notice, "info")


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    """A new goal; `?mentor=<profile id>` (from "Ask for a tandem") leads back to that mentor's request form."""
    mentor = get_by_id(MentorProfile, request.args.get("mentor", 0, type=int))
    form = GoalForm(current_user, interface_language=str(get_locale()))
    if form.validate_on_submit():
        try:
            goal = goals.save_goal(current_user, form.to_data())
        except ProfileError as problem:
            place_errors(form, problem)
        else:
            if mentor is not None:
                _saved(goal, _("Your goal is saved. Now send your request to %(name)s.", name=mentor.user.name))
                return redirect(url_for("mentors.profile", id=mentor.id, goal=goal.id, _anchor="ask"))
            _saved(goal)
            return redirect(url_for("goals.detail", id=goal.id))
    if form.is_submitted() and any(field.errors for field in form):
        flash(_("Please correct the marked fields."), "error")
    return render_template(
        "goals/edit.html", form=form, goal=None, for_mentor=mentor, unknown_companies_notice=_unknown_notice(form)
    )


# Mentors a goal's page suggests; fewer when fewer match well (matching.search.is_padding, the floor).
SUGGESTIONS_SHOWN = 5


@bp.get("/<int:id>")
@login_required
def detail(id: int):
    goal = visible_goal(id)
    can_edit = goals.can_edit_goal(current_user, goal)
    # A mentor on the goal sees the goal, never its shortlist.
    show_suggestions = goals.can_see_suggestions(current_user, goal) and goal.status == GoalStatus.OPEN
    # Never the mentor who declined, withdrew or let a request expire: the owner sees who could help next.
    suggestions = search.next_suggestions(goal, k=SUGGESTIONS_SHOWN) if show_suggestions else []
    requests = tandems.tandems_for_goal(goal) if can_edit else []
    return render_template(
        "goals/detail.html",
        goal=goal,
        can_edit=can_edit,
        show_settings=goals.can_see_goal_settings(current_user, goal),
        suggestions=suggestions,
        requests=requests,
        request_ended=any(t.status in search.ENDED_REQUEST_STATUSES for t in requests),
        tandem_ended=any(t.status == TandemStatus.ENDED for t in requests),
        request_form=RequestTandemForm(),
        form=EmptyForm(),
        statuses=labels.GOAL_STATUS,
        **card_context(goal, "goal"),
        **template_helpers(),
    )


@bp.route("/<int:id>/edit", methods=["GET", "POST"])
@login_required
def edit(id: int):
    goal = editable_goal(id)
    form = GoalForm(current_user, goal)
    if form.validate_on_submit():
        try:
            goals.save_goal(current_user, form.to_data(), goal)
        except ProfileError as problem:
            place_errors(form, problem)
        else:
            _saved(goal)
            return redirect(url_for("goals.detail", id=goal.id))
    if form.is_submitted() and any(field.errors for field in form):
        flash(_("Please correct the marked fields."), "error")
    return render_template("goals/edit.html", form=form, goal=goal, unknown_companies_notice=_unknown_notice(form))


@bp.post("/<int:id>/status")
@login_required
def set_status(id: int):
    goal = editable_goal(id)
    form = GoalStatusForm()
    if form.validate_on_submit():
        try:
            goals.set_goal_status(goal, form.status.data)
        except ProfileError as problem:
            flash(problem.fields["status"], "error")
        else:
            flash(_status_messages()[goal.status], "success")
    else:
        flash(_("That status change did not work; please try again."), "error")
    return redirect(url_for("goals.detail", id=goal.id))


@bp.route("/<int:id>/delete", methods=["GET", "POST"])
@login_required
def delete(id: int):
    goal = editable_goal(id)
    form = EmptyForm()
    if form.validate_on_submit():
        try:
            goals.delete_goal(goal)
        except ProfileConflict as problem:
            place_errors(None, problem)
            return redirect(url_for("goals.detail", id=goal.id))
        flash(_("Your goal is deleted."), "success")
        return redirect(url_for("goals.index"))
    return render_template("goals/confirm_delete.html", form=form, goal=goal)
