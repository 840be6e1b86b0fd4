"""Milestone pages: a goal's milestones page, and the forms the goal and tandem pages post to.

Registered inside the goals blueprint (endpoints "goals.milestones.*", URLs /goals/<id>/milestones...).
Who may read, tick or edit is services.milestones' to say; here a reader who may not is told 404.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..access import get_or_404
from ..forms import place_errors
from ..models import Goal, Tandem, get_by_id
from ..services import milestones, tandems
from .forms import MilestoneActionForm, MilestoneForm

bp = Blueprint("milestones", __name__, url_prefix="/<int:goal_id>/milestones")


def card_context(goal: Goal | None, back: str, read_only: bool = False) -> dict[str, Any]:
    """What the milestones card (goals/_milestones.html) needs on a goal or tandem page; `read_only` for the
    page of a tandem that no longer runs (the owner still edits the goal's milestones on the goal page)."""
    readable = goal is not None and milestones.can_read(goal, current_user)
    changeable = readable and not read_only
    return {
        "milestone_goal": goal if readable else None,
        "milestone_can_edit": changeable and milestones.can_edit(goal, current_user),
        "milestone_can_tick": changeable and milestones.can_tick(goal, current_user),
        "milestone_progress": milestones.progress(goal) if readable else None,
        "milestone_form": MilestoneForm(back=back),
        "milestone_action_form": MilestoneActionForm(back=back),
        "milestone_back": back,
    }


def _readable_goal(goal_id: int) -> Goal:
    return get_or_404(Goal, goal_id, lambda goal: milestones.can_read(goal, current_user))


def _back(goal: Goal, back: str | None):
    """Return to the page the form was on: a tandem page the user may see, else the milestones page."""
    if back and back.startswith("tandem-") and back[7:].isdigit():
        tandem = get_by_id(Tandem, int(back[7:]))
        if tandems.can_view(tandem, current_user) and tandem.goal_id == goal.id:
            return redirect(url_for("cohorts.meetings.tandem", tandem_id=tandem.id, _anchor="milestones"))
    if back == "goal":
        return redirect(url_for("goals.detail", id=goal.id, _anchor="milestones"))
    return redirect(url_for(".page", goal_id=goal.id))


def _page(goal: Goal, form: MilestoneForm | None = None, rename: dict[int, MilestoneForm] | None = None,
          status: int = 200):
    forms = rename or {}
    for milestone in goal.milestones:
        forms.setdefault(milestone.id, MilestoneForm(prefix=f"m{milestone.id}", title=milestone.title))
    context = card_context(goal, "page")
    if form is not None:
        context["milestone_form"] = form
    return render_template("goals/milestones.html", goal=goal, rename_forms=forms, **context), status


@bp.route("", methods=["GET", "POST"])
@login_required
def page(goal_id: int):
    """GET: the goal's milestones; POST: the owner adds one (an error is shown beside the field)."""
    goal = _readable_goal(goal_id)
    form = MilestoneForm()
    if not form.is_submitted():
        return _page(goal)
    if not milestones.can_edit(goal, current_user):
        abort(403)
    if not form.validate():
        return _page(goal, form, status=400)
    try:
        milestones.add(goal, current_user, form.title.data)
    except milestones.MilestoneError as problem:
        # The form's one field carries a refusal that names none (too many milestones).
        place_errors(form, problem if problem.fields else milestones.MilestoneError.on_field(
            "title", problem.message, problem.code, problem.status))
        return _page(goal, form, status=problem.status if problem.status < 500 else 400)
    flash(_("Milestone added."), "success")
    return _back(goal, form.back.data)


@bp.post("/<int:milestone_id>")
@login_required
def change(goal_id: int, milestone_id: int):
    """One button on a milestone: tick or untick it (the partners), move it or remove it (the owner)."""
    goal = _readable_goal(goal_id)
    form = MilestoneActionForm()
    if not form.validate_on_submit():
        flash(_("That did not work; please try again."), "error")
        return _back(goal, form.back.data)
    try:
        milestone = milestones.get(goal, milestone_id)
        action = form.action.data
        if action == "delete":
            milestones.remove(goal, milestone, current_user)
            flash(_("Milestone removed."), "info")
        elif action in ("up", "down"):
            milestones.move_by(goal, milestone, current_user, -1 if action == "up" else 1)
        else:
            milestones.update(goal, milestone, current_user, {"done": action == "done"})
    except milestones.MilestoneError as problem:
        if problem.status == 404:
            raise
        place_errors(None, problem)
    return _back(goal, form.back.data)


@bp.post("/<int:milestone_id>/title")
@login_required
def rename(goal_id: int, milestone_id: int):
    """The owner renames a milestone on the milestones page; an error is shown beside that field."""
    goal = _readable_goal(goal_id)
    milestone = milestones.get(goal, milestone_id)
    if not milestones.can_edit(goal, current_user):
        abort(403)
    form = MilestoneForm(prefix=f"m{milestone.id}")
    if form.validate_on_submit():
        try:
            milestones.update(goal, milestone, current_user, {"title": form.title.data})
        except milestones.MilestoneError as problem:
            place_errors(form, problem)
        else:
            flash(_("Milestone renamed."), "success")
            return redirect(url_for(".page", goal_id=goal.id))
    return _page(goal, rename={milestone.id: form}, status=400)
