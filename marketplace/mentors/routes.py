"""#OpenToMentor profiles: my own (create, edit, pause, delete), anyone's public page, and the list."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..access import get_or_404
from ..forms import EmptyForm, place_errors
from ..input_checks import page_arg
from ..models import Goal, MentorProfile, get_by_id
from ..services import goals, profiles, responsiveness, tandems
from ..services.errors import ProfileConflict, ProfileError, TandemError
from ..services.matching import rules, search
from ..tandems.forms import AskForTandemForm, OfferHelpForm
from .forms import MentorProfileForm, template_helpers, topic_choices

bp = Blueprint("mentors", __name__, url_prefix="/mentors")

PER_PAGE = 20


@bp.get("/")
@login_required
def index():
    topic_slug = request.args.get("topic", "").strip()
    page, topic = profiles.open_mentors_page(topic_slug, page_arg(), PER_PAGE)
    return render_template(
        "mentors/list.html", page=page, topic=topic, topic_slug=topic_slug,
        topic_choices=topic_choices(), **template_helpers(),
    )


@bp.get("/me")
@login_required
def my_profile():
    profile = current_user.mentor_profile
    # Only what DESIGN.md allows before any tandem: title, topics, the owner's first name and company.
    fitting = [
        (goals.discoverable_goal_summary(match.goal), match)
        for match in (search.goals_for_mentor(profile, k=10) if profile is not None and profile.is_open else [])
    ]
    return render_template(
        "mentors/my_profile.html",
        profile=profile,
        fitting_goals=[(summary, match) for summary, match in fitting if summary is not None],
        form=EmptyForm(),
        **template_helpers(),
    )


@bp.route("/me/edit", methods=["GET", "POST"])
@login_required
def edit_profile():
    profile = current_user.mentor_profile
    form = MentorProfileForm(current_user, profile)
    if form.validate_on_submit():
        try:
            profiles.save_mentor_profile(current_user, form.to_data())
        except ProfileError as problem:
            place_errors(form, problem)
        else:
            flash(_("Your profile is saved.") if profile else _("Your profile is live: #OpenToMentor."), "success")
            return redirect(url_for("mentors.my_profile"))
    if form.is_submitted() and any(field.errors for field in form):
        flash(_("Please correct the marked fields."), "error")
    return render_template("mentors/edit.html", form=form, profile=profile, user=current_user)


def _my_profile():
    profile = current_user.mentor_profile
    if profile is None:
        flash(_("You have no mentor profile yet."), "info")
    return profile


@bp.post("/me/pause")
@login_required
def pause():
    profile = _my_profile()
    if profile is not None and EmptyForm().validate_on_submit():
        profiles.set_mentor_open(profile, False)
        flash(_("Your profile is paused: it no longer appears in searches or suggestions."), "success")
    return redirect(url_for("mentors.my_profile"))


@bp.post("/me/reopen")
@login_required
def reopen():
    profile = _my_profile()
    if profile is not None and EmptyForm().validate_on_submit():
        profiles.set_mentor_open(profile, True)
        flash(_("Your profile is open again: #OpenToMentor."), "success")
    return redirect(url_for("mentors.my_profile"))


@bp.route("/me/delete", methods=["GET", "POST"])
@login_required
def delete_profile():
    profile = _my_profile()
    if profile is None:
        return redirect(url_for("mentors.my_profile"))
    form = EmptyForm()
    if form.validate_on_submit():
        try:
            profiles.delete_mentor_profile(profile)
        except ProfileConflict as problem:
            place_errors(None, problem)
            return redirect(url_for("mentors.my_profile"))
        flash(_("Your mentor profile is deleted."), "success")
        return redirect(url_for("mentors.my_profile"))
    return render_template("mentors/confirm_delete.html", form=form, profile=profile)


def _ask_form(mentor: MentorProfile) -> tuple[AskForTandemForm, list]:
    """The "Ask for a tandem" form: the viewer's open goals the rules allow as choices, and the others with
    the reason the rules give."""
    options = tandems.request_options(current_user, mentor)
    form = AskForTandemForm()
    form.goal_id.choices = [(goal.id, goal.title) for goal, reason in options if reason is None]
    if not form.is_submitted():
        form.goal_id.data = request.args.get("goal", type=int)
    return form, [(goal, rules.reason_text(reason)) for goal, reason in options if reason is not None]


@bp.route("/<int:id>", methods=["GET", "POST"])
@login_required
def profile(id: int):
    """A mentor's page; others can ask them for a tandem here (POST: the request form)."""
    mentor = get_or_404(MentorProfile, id)
    is_own = mentor.user_id == current_user.id
    form, refused = (None, []) if is_own else _ask_form(mentor)
    status = 200
    if form is not None and form.is_submitted():
        if form.validate():
            goal = get_or_404(Goal, form.goal_id.data)
            try:
                tandems.request_tandem(goal, mentor, current_user, form.message.data or "")
            except TandemError as problem:
                form.goal_id.errors.append(problem.message)
                status = problem.status
            else:
                flash(_("Your request went to %(name)s.", name=mentor.user.name), "success")
                return redirect(url_for("goals.detail", id=goal.id))
        else:
            # A goal the rules forbid is not among the choices: say which rule rather than "not a valid choice".
            reason = next((text for goal, text in refused if goal.id == form.goal_id.data), None)
            if reason is not None:
                form.goal_id.errors = [reason]
            status = 422
    return render_template(
        "mentors/profile.html", profile=mentor, is_own=is_own, ask_form=form, refused_goals=refused,
        responsiveness=responsiveness.of(mentor), **template_helpers(),
    ), status


@bp.get("/me/goals/<int:goal_id>")
@login_required
def fitting_goal(goal_id: int):
    """One of "goals you could help with": only its summary, and the offer of help."""
    _, view = _offer_view(goal_id)
    return _fitting_goal_page(view, OfferHelpForm())


@bp.post("/me/goals/<int:goal_id>/offer")
@login_required
def offer_help(goal_id: int):
    goal, view = _offer_view(goal_id)
    form = OfferHelpForm()
    if not form.validate_on_submit():
        return _fitting_goal_page(view, form), 422
    try:
        offer = tandems.offer_help(goal, current_user, form.message.data or "")
    except TandemError as problem:
        place_errors(None, problem)
        return redirect(url_for("mentors.fitting_goal", goal_id=goal_id))
    flash(_("Your offer went to %(name)s.", name=view.summary.owner_first_name), "success")
    return redirect(url_for("tandems.detail", tandem_id=offer.id))


def _fitting_goal_page(view: tandems.OfferView, form: OfferHelpForm) -> str:
    blocked = rules.reason_text(view.blocked_by, to_the_mentor=True) if view.blocked_by else None
    return render_template("mentors/fitting_goal.html", view=view, form=form, blocked_reason=blocked)


def _offer_view(goal_id: int) -> tuple[Goal, tandems.OfferView]:
    goal = get_by_id(Goal, goal_id)
    view = tandems.offer_view(goal, current_user) if goal is not None else None
    if view is None:
        abort(404)
    return goal, view
