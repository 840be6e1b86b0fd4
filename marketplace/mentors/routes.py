"""#OpenToMentor profiles: my own (create, edit, pause, delete), anyone's public page, and the list."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import false, select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..forms import EmptyForm
from ..input_checks import page_arg
from ..models import MentorProfile, Topic, User
from ..services import matching, profiles
from .forms import MentorProfileForm, apply_errors, template_helpers, topic_choices

bp = Blueprint("mentors", __name__, url_prefix="/mentors")

PER_PAGE = 20


@bp.get("/")
@login_required
def index():
    topic_slug = request.args.get("topic", "").strip()
    query = (
        select(MentorProfile)
        .where(MentorProfile.is_open.is_(True))
        .order_by(MentorProfile.updated_at.desc(), MentorProfile.id.desc())
        .options(
            selectinload(MentorProfile.topics),
            selectinload(MentorProfile.user).selectinload(User.company),
            selectinload(MentorProfile.user).selectinload(User.verified_company),
        )
    )
    topic = None
    if topic_slug:
        topic = db.session.scalar(select(Topic).where(Topic.slug == topic_slug))
        # An unknown topic matches no one, rather than silently showing everyone.
        query = query.where(MentorProfile.topics.any(Topic.id == topic.id)) if topic else query.where(false())
    page = db.paginate(query, page=page_arg(), per_page=PER_PAGE, error_out=False)
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
        (profiles.discoverable_goal_summary(match.goal), match)
        for match in (matching.goals_for_mentor(profile, k=10) if profile is not None and profile.is_open else [])
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
        except profiles.ProfileError as problem:
            apply_errors(form, problem)
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
        except profiles.ProfileConflict as problem:
            flash(problem.errors["tandem"], "error")
            return redirect(url_for("mentors.my_profile"))
        flash(_("Your mentor profile is deleted."), "success")
        return redirect(url_for("mentors.my_profile"))
    return render_template("mentors/confirm_delete.html", form=form, profile=profile)


@bp.get("/<int:id>")
@login_required
def profile(id: int):
    mentor = db.session.get(MentorProfile, id)
    if mentor is None:
        abort(404)
    return render_template(
        "mentors/profile.html", profile=mentor, is_own=mentor.user_id == current_user.id, **template_helpers()
    )
