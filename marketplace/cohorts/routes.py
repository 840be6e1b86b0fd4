"""Cohort pages: planning, enrolment, CSV import, matching review, publishing, progress, report, survey.

Views parse input, call a service and render; every rule lives in services/cohorts*.py.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms.fields.choices import SelectChoice

from ..access import get_or_404
from ..admin.decorators import manager_required
from ..forms import EmptyForm, confirmation_page, place_errors
from ..mentors.forms import topic_choices
from ..models import Cohort, CohortParticipant, Tandem, get_by_id
from ..services import exports, health, labels, meetings, rematching, timezones, topics
from ..services.cohorts import (
    assignment,
    enrolment,
    explanations,
    import_jobs,
    imports,
    reports,
    surveys,
    upload,
)
from ..services.cohorts import (
    review as cohort_review,
)
from ..services.errors import CohortError, SurveyError
from ..services.labels import match_label
from ..states import PAIRING, CohortState, TandemStatus
from .forms import (
    AddPairForm,
    ApplyForm,
    CohortForm,
    ConfirmImportForm,
    DecisionForm,
    FreedSlotForm,
    ImportForm,
    NudgeForm,
    ProgressFilterForm,
    PublishForm,
    SurveyForm,
    SwapForm,
)
from .freed_slots import bp as freed_slots_bp
from .meetings import bp as meetings_bp
from .proposals import bp as proposals_bp
from .pulse import bp as pulse_bp

bp = Blueprint("cohorts", __name__, url_prefix="/cohorts")
bp.register_blueprint(meetings_bp)
bp.register_blueprint(proposals_bp)
bp.register_blueprint(freed_slots_bp)
bp.register_blueprint(pulse_bp)


@bp.app_template_global()
def cohort_role_label(role: str) -> str:
    return str(enrolment.ROLE_LABELS.get(role, role))


@bp.app_template_global()
def health_label(state: str) -> str:
    return health.health_label(state)


@bp.app_template_global()
def health_reason(reason: health.Reason) -> str:
    return health.reason_text(reason)


@bp.app_template_global()
def match_reasons(reasons: list, topic_names: dict[int, str] | None = None) -> list[str]:
    """Why a cohort pair was proposed, in the reader's language."""
    return explanations.reason_texts(reasons, topic_names)


@bp.app_template_global()
def my_time(moment) -> str:
    """An instant in the viewer's time zone and language."""
    return timezones.format_instant(moment, current_user)


def _cohort(cohort_id: int) -> Cohort:
    return get_or_404(Cohort, cohort_id)


def _visible_cohort(cohort_id: int) -> Cohort:
    return get_or_404(Cohort, cohort_id, lambda cohort: enrolment.can_view(cohort, current_user))


# --- list, plan, edit ----------------------------------------------------------------------------


@bp.get("/")
@login_required
def index():
    if current_user.is_manager:
        rows = [(cohort, enrolment.counts(cohort)) for cohort in enrolment.all_cohorts()]
        return render_template("cohorts/index.html", rows=rows, manager=True)
    mine = enrolment.participations(current_user)
    applied_ids = {p.cohort_id for p in mine}
    return render_template(
        "cohorts/index.html", manager=False, participations=mine,
        open_cohorts=[c for c in enrolment.open_cohorts() if c.id not in applied_ids],
        surveys=surveys.open_invitations(current_user),
    )


def _topics(slugs: list[str]):
    return topics.resolve_topics([s for s in slugs if s]) if slugs else []


def _cohort_form(cohort: Cohort | None = None) -> CohortForm:
    form = CohortForm(obj=cohort) if cohort is not None and request.method == "GET" else CohortForm()
    form.focus_topics.choices = topic_choices()
    if cohort is not None and request.method == "GET":
        form.focus_topics.data = [t.slug for t in cohort.focus_topics]
    return form


@bp.route("/new", methods=["GET", "POST"])
@manager_required
def new():
    form = _cohort_form()
    if form.validate_on_submit():
        try:
            cohort = enrolment.create_cohort(
                form.name.data, form.starts_on.data, form.ends_on.data, form.meeting_target.data,
                form.description.data or "", _topics(form.focus_topics.data or []),
            )
        except CohortError as problem:
            place_errors(form, problem)
        else:
            flash(_("Cohort “%(name)s” created. Open its enrolment or import participants next.", name=cohort.name),
                  "success")
            return redirect(url_for(".detail", cohort_id=cohort.id))
    return render_template("cohorts/form.html", form=form, cohort=None), 400 if form.errors else 200


@bp.route("/<int:cohort_id>/edit", methods=["GET", "POST"])
@manager_required
def edit(cohort_id: int):
    cohort = _cohort(cohort_id)
    form = _cohort_form(cohort)
    if form.validate_on_submit():
        try:
            enrolment.update_cohort(
                cohort, form.name.data, form.starts_on.data, form.ends_on.data, form.meeting_target.data,
                form.description.data or "", _topics(form.focus_topics.data or []),
            )
        except CohortError as problem:
            place_errors(form, problem)
        else:
            flash(_("Cohort saved."), "success")
            return redirect(url_for(".detail", cohort_id=cohort.id))
    return render_template("cohorts/form.html", form=form, cohort=cohort), 400 if form.errors else 200


@bp.get("/<int:cohort_id>")
@login_required
def detail(cohort_id: int):
    cohort = _visible_cohort(cohort_id)
    if current_user.is_manager:
        return render_template(
            "cohorts/manage.html", cohort=cohort, counts=enrolment.counts(cohort),
            participants=enrolment.participants(cohort), decision_form=DecisionForm(), form=EmptyForm(),
            actions=[(a, enrolment.ACTION_LABELS[a]) for a in enrolment.ACTIONS_BY_STATE[cohort.state]],
            matched=enrolment.matched_participant_ids(cohort), confirm_first=CONFIRM_FIRST,
            freed_slots=rematching.freed_slots(cohort), slot_form=FreedSlotForm(),
        )
    return _render_participant(cohort)


def _apply_form() -> ApplyForm:
    form = ApplyForm()
    goals = enrolment.open_goals(current_user)
    form.goal_id.choices = [SelectChoice(goal.id, goal.title) for goal in goals]
    return form


def _render_participant(cohort: Cohort, form: ApplyForm | None = None, status: int = 200):
    mine = enrolment.participations(current_user, cohort)
    applied_roles = {p.role for p in mine}
    form = form or _apply_form()
    can_apply = (cohort.state == CohortState.ENROLLING and cohort.enrolment_open
                 and len(applied_roles) < len(enrolment.ROLES))
    return render_template(
        "cohorts/participant.html", cohort=cohort, participations=mine, form=form, button_form=EmptyForm(),
        can_apply=can_apply, applied_roles=applied_roles, has_profile=current_user.mentor_profile is not None,
        tandems=enrolment.tandems_of_cohort_user(cohort, current_user),
        invitation=surveys.invitation(cohort, current_user),
    ), status


# Steps that cannot be undone: their button opens a confirmation page that says what will happen.
CONFIRM_FIRST = ("close",)


@bp.route("/<int:cohort_id>/state/<action>", methods=["GET", "POST"])
@manager_required
def change_state(cohort_id: int, action: str):
    cohort = _cohort(cohort_id)
    if request.method == "GET":
        if action not in CONFIRM_FIRST or action not in enrolment.ACTIONS_BY_STATE[cohort.state]:
            abort(404)
        running = enrolment.cohort_tandems(cohort, (TandemStatus.ACTIVE,))
        below = meetings.below_target(running)
        return confirmation_page(
            _("Close “%(name)s”?", name=cohort.name),
            [ngettext("%(num)d running tandem is marked completed now.",
                      "%(num)d running tandems are marked completed now.", len(running)),
             *([ngettext("%(num)d of them held fewer meetings than the target of %(target)d.",
                         "%(num)d of them held fewer meetings than the target of %(target)d.", below,
                         target=cohort.meeting_target)] if below else []),
             _("Every participant is asked to answer the wrap-up survey; the cohort can no longer be changed.")],
            url_for(".change_state", cohort_id=cohort.id, action=action), str(enrolment.ACTION_LABELS[action]),
            url_for(".detail", cohort_id=cohort.id),
        )
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        enrolment.transition(cohort, action)
    except CohortError as problem:
        place_errors(None, problem)
    else:
        flash(_("The cohort is now: %(state)s.", state=labels.cohort_state_label(cohort.state)), "success")
    return redirect(url_for(".detail", cohort_id=cohort.id))


# --- enrolment -----------------------------------------------------------------------------------


@bp.post("/<int:cohort_id>/apply")
@login_required
def apply(cohort_id: int):
    cohort = _visible_cohort(cohort_id)
    form = _apply_form()
    if not form.validate_on_submit():
        return _render_participant(cohort, form, 400)
    goal = None
    if form.role.data == "mentee":
        goal = next((g for g in enrolment.open_goals(current_user) if g.id == form.goal_id.data), None)
    try:
        enrolment.apply(cohort, current_user, form.role.data, goal)
    except CohortError as problem:
        place_errors(form, problem)
        return _render_participant(cohort, form, problem.status if problem.status < 500 else 400)
    flash(_("Your application is in. The community manager will decide soon; you will get a notification."),
          "success")
    return redirect(url_for(".detail", cohort_id=cohort.id))


def _participant(cohort: Cohort, participant_id: int) -> CohortParticipant:
    return get_or_404(CohortParticipant, participant_id, lambda participant: participant.cohort_id == cohort.id)


@bp.post("/<int:cohort_id>/applications/<int:participant_id>/withdraw")
@login_required
def withdraw(cohort_id: int, participant_id: int):
    cohort = _visible_cohort(cohort_id)
    participant = _participant(cohort, participant_id)
    if participant.user_id != current_user.id:
        abort(404)
    if EmptyForm().validate_on_submit():
        try:
            enrolment.withdraw(participant, current_user)
            flash(_("Your application was withdrawn."), "info")
        except CohortError as problem:
            place_errors(None, problem)
    return redirect(url_for(".detail", cohort_id=cohort.id))


@bp.post("/<int:cohort_id>/participants/accept")
@manager_required
def accept_many(cohort_id: int):
    cohort = _cohort(cohort_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    ids = [int(value) for value in request.form.getlist("participant") if value.isdigit() and len(value) < 12]
    if not ids:
        flash(_("Tick the applications to accept first."), "error")
        return redirect(url_for(".detail", cohort_id=cohort.id) + "#participants")
    accepted, refusals = enrolment.accept_many(cohort, ids)
    flash(ngettext("%(num)d application accepted.", "%(num)d applications accepted.", accepted), "success")
    for message in refusals:
        flash(message, "error")
    return redirect(url_for(".detail", cohort_id=cohort.id) + "#participants")


@bp.post("/<int:cohort_id>/participants/<int:participant_id>/decision")
@manager_required
def decide(cohort_id: int, participant_id: int):
    cohort = _cohort(cohort_id)
    participant = _participant(cohort, participant_id)
    form = DecisionForm()
    if not form.validate_on_submit():
        flash(_("Choose accept, waitlist or reject."), "error")
    else:
        try:
            enrolment.decide(participant, form.decision.data)
            flash(_("%(name)s: %(status)s.", name=participant.user.name,
                    status=labels.participant_status_label(participant.status)), "success")
        except CohortError as problem:
            place_errors(None, problem)
    return redirect(url_for(".detail", cohort_id=cohort.id) + "#participants")


# --- CSV import: upload, preview, confirm --------------------------------------------------------


@bp.route("/<int:cohort_id>/import", methods=["GET", "POST"])
@manager_required
def import_upload(cohort_id: int):
    cohort = _cohort(cohort_id)
    form = ImportForm()
    if not form.validate_on_submit():
        return render_template("cohorts/import.html", cohort=cohort, form=form), 400 if form.errors else 200
    try:
        enrolment.can_import(cohort)
    except CohortError as problem:
        place_errors(None, problem)
        return redirect(url_for(".detail", cohort_id=cohort.id))
    token = upload.stage(form.file.data.read(), cohort, current_user, form.file.data.filename or "")
    # 303: the browser fetches the preview with GET, so Back and reload never send the file again.
    return redirect(url_for(".import_preview", cohort_id=cohort.id, token=token), 303)


@bp.get("/<int:cohort_id>/import/<token>")
@manager_required
def import_preview(cohort_id: int, token: str):
    cohort = _cohort(cohort_id)
    try:
        preview, filename = upload.preview(token, cohort, current_user)
    except CohortError as problem:
        place_errors(None, problem)
        return redirect(url_for(".import_upload", cohort_id=cohort.id))
    confirm = ConfirmImportForm(formdata=None, data={"token": token if preview.ok else None})
    return render_template("cohorts/import_preview.html", cohort=cohort, preview=preview, confirm_form=confirm,
                           filename=filename)


@bp.get("/import-template.<any(csv, xlsx):ext>")
@manager_required
def import_template(ext: str):
    if ext == "xlsx":
        return exports.xlsx_response(imports.template_xlsx(), "tandem-participants.xlsx")
    return exports.csv_response(imports.template_csv(), "tandem-participants.csv")


@bp.post("/<int:cohort_id>/import/confirm")
@manager_required
def import_confirm(cohort_id: int):
    cohort = _cohort(cohort_id)
    form = ConfirmImportForm()
    if not form.validate_on_submit():
        flash(_("The uploaded file has expired. Please upload it again."), "error")
        return redirect(url_for(".import_upload", cohort_id=cohort.id))
    try:
        job = import_jobs.start(cohort, current_user, form.token.data)
    except CohortError as problem:
        place_errors(None, problem)
        return redirect(url_for(".import_upload", cohort_id=cohort.id))
    # The import runs as a job; the browser watches its progress (and Back never resubmits it).
    return redirect(url_for(".import_progress", cohort_id=cohort.id, job_id=job.id))


@bp.get("/<int:cohort_id>/import/jobs/<int:job_id>")
@manager_required
def import_progress(cohort_id: int, job_id: int):
    cohort = _cohort(cohort_id)
    job = import_jobs.job_of(cohort, job_id)
    if job is None:
        abort(404)
    return render_template("cohorts/import_progress.html", cohort=cohort, progress=import_jobs.progress_of(job))


# --- matching, review, publish -------------------------------------------------------------------


def _draft_label(tandem) -> str:
    mentor = tandem.mentor_user.name if tandem.mentor_user else "?"
    mentee = tandem.mentee.name if tandem.mentee else "?"
    return f"{mentor} → {mentee} ({match_label(tandem.score)})"


@bp.get("/<int:cohort_id>/matching")
@manager_required
def review(cohort_id: int):
    cohort = _cohort(cohort_id)
    drafts = cohort_review.drafts(cohort)
    swap_form = SwapForm(formdata=None)
    swap_form.first.choices = swap_form.second.choices = [
        SelectChoice(t.id, _draft_label(t)) for t in drafts if not t.locked
    ]
    mentees, mentors = cohort_review.pair_choices(cohort)
    add_form = AddPairForm(formdata=None)
    add_form.mentee.choices = [SelectChoice(p.id, f"{p.user.name} – {p.goal.title}") for p in mentees]
    add_form.mentor.choices = [SelectChoice(p.id, p.user.name) for p in mentors]
    return render_template(
        "cohorts/review.html", cohort=cohort, drafts=drafts, summary=cohort_review.summary(cohort),
        weak=cohort_review.weak_pairs(drafts), topic_names=explanations.topic_names(t.reasons for t in drafts),
        unmatched=assignment.unmatched(cohort) if cohort.state in PAIRING else [],
        problems=cohort_review.rule_problems(cohort) if drafts else {},
        published=enrolment.count_published(cohort), swap_form=swap_form, add_form=add_form, form=EmptyForm(),
    )


@bp.post("/<int:cohort_id>/match")
@manager_required
def match(cohort_id: int):
    cohort = _cohort(cohort_id)
    if EmptyForm().validate_on_submit():
        try:
            result = assignment.run(cohort)
        except CohortError as problem:
            place_errors(None, problem)
            return redirect(url_for(".detail", cohort_id=cohort.id))
        proposed = ngettext("%(num)d draft tandem proposed;", "%(num)d draft tandems proposed;", result.new_drafts)
        unmatched = ngettext("%(num)d person is unmatched.", "%(num)d people are unmatched.", len(result.unmatched))
        flash(f"{proposed} {unmatched}", "success")
    return redirect(url_for(".review", cohort_id=cohort.id))


def _after_change(change: cohort_review.Change, message: str) -> None:
    flash(f"{message} {change.describe()}", "success")


def _change_drafts(
    cohort: Cohort, form: FlaskForm, change: Callable[[], cohort_review.Change], done: str, invalid: str
) -> Response:
    """Make a review-page form's change to the drafts and say what it did, why it was refused, or `invalid`
    when the form is; back to the review either way."""
    if form.validate_on_submit():
        try:
            _after_change(change(), done)
        except CohortError as problem:
            place_errors(None, problem)
    else:
        flash(invalid, "error")
    return redirect(url_for(".review", cohort_id=cohort.id))


@bp.post("/<int:cohort_id>/drafts/swap")
@manager_required
def swap(cohort_id: int):
    cohort = _cohort(cohort_id)
    form = SwapForm()
    form.first.choices = form.second.choices = [SelectChoice(t.id, str(t.id)) for t in cohort_review.drafts(cohort)]
    return _change_drafts(cohort, form, lambda: cohort_review.swap(cohort, form.first.data, form.second.data),
                          _("Mentors swapped."), _("Choose two pairs to swap."))


@bp.post("/<int:cohort_id>/drafts/add")
@manager_required
def add_pair(cohort_id: int):
    cohort = _cohort(cohort_id)
    form = AddPairForm()
    mentees, mentors = cohort_review.pair_choices(cohort)
    form.mentee.choices = [SelectChoice(p.id, "") for p in mentees]
    form.mentor.choices = [SelectChoice(p.id, "") for p in mentors]
    return _change_drafts(cohort, form, lambda: cohort_review.add_pair(cohort, form.mentee.data, form.mentor.data),
                          _("Pair added and locked."), _("Choose a mentee and a mentor."))


@bp.post("/<int:cohort_id>/drafts/<int:tandem_id>/<any(lock, unlock):action>")
@manager_required
def lock(cohort_id: int, tandem_id: int, action: str):
    cohort = _cohort(cohort_id)
    if EmptyForm().validate_on_submit():
        try:
            cohort_review.set_locked(cohort, tandem_id, action == "lock")
            flash(_("Pair locked: a new matching run keeps it.") if action == "lock" else _("Pair unlocked."), "info")
        except CohortError as problem:
            place_errors(None, problem)
    return redirect(url_for(".review", cohort_id=cohort.id))


@bp.post("/<int:cohort_id>/drafts/<int:tandem_id>/remove")
@manager_required
def remove(cohort_id: int, tandem_id: int):
    cohort = _cohort(cohort_id)
    if EmptyForm().validate_on_submit():
        try:
            _after_change(cohort_review.remove(cohort, tandem_id), _("Pair removed."))
        except CohortError as problem:
            place_errors(None, problem)
    return redirect(url_for(".review", cohort_id=cohort.id))


@bp.route("/<int:cohort_id>/publish", methods=["GET", "POST"])
@manager_required
def publish(cohort_id: int):
    cohort = _cohort(cohort_id)
    if request.method == "GET":
        drafts = cohort_review.drafts(cohort)
        if not drafts or cohort.state not in PAIRING:
            return redirect(url_for(".review", cohort_id=cohort.id))
        weak = len(cohort_review.weak_pairs(drafts))
        form = PublishForm(drafts=cohort_review.drafts_version(drafts))
        return confirmation_page(
            _("Publish the tandems of “%(name)s”?", name=cohort.name),
            [ngettext("%(num)d draft tandem starts now; both partners are notified.",
                      "%(num)d draft tandems start now; both partners are notified.", len(drafts)),
             *([ngettext("%(num)d of them is a weak match (below the relevance floor).",
                         "%(num)d of them are weak matches (below the relevance floor).", weak)] if weak else []),
             _("Published tandems leave the draft list: they can be ended, not unpublished.")],
            url_for(".publish", cohort_id=cohort.id),
            ngettext("Publish %(num)d tandem", "Publish %(num)d tandems", len(drafts)),
            url_for(".review", cohort_id=cohort.id),
            form=form,
        )
    form = PublishForm()
    if form.validate_on_submit():
        try:
            count = cohort_review.publish(cohort, reviewed=form.drafts.data)
        except CohortError as problem:
            place_errors(None, problem)
            return redirect(url_for(".review", cohort_id=cohort.id))
        flash(ngettext("%(num)d tandem published. Both partners were notified and see their kick-off checklist.",
                       "%(num)d tandems published. Both partners were notified and see their kick-off checklist.",
                       count), "success")
    return redirect(url_for(".detail", cohort_id=cohort.id))


# --- progress and report -------------------------------------------------------------------------


@bp.get("/<int:cohort_id>/progress")
@manager_required
def progress(cohort_id: int):
    cohort = _cohort(cohort_id)
    form = ProgressFilterForm(request.args)
    only_behind = form.validate() and form.show.data == "behind"
    rows = meetings.cohort_progress(cohort, only_behind=only_behind)
    pair_health = health.cohort_health(cohort)
    return render_template("cohorts/progress.html", cohort=cohort, rows=rows, form=form, only_behind=only_behind,
                           behind_days=meetings.BEHIND_AFTER_DAYS, pair_health=pair_health,
                           quiet_weeks=health.quiet_weeks(),
                           nudge_forms={row.tandem.id: NudgeForm(formdata=None, seen=row.nudges,
                                                                 prefix=f"tandem-{row.tandem.id}")
                                        for row in pair_health})


@bp.post("/<int:cohort_id>/tandems/<int:tandem_id>/nudge")
@manager_required
def nudge(cohort_id: int, tandem_id: int):
    """E-mail both partners of a running tandem that their community manager asks how it goes."""
    cohort = _cohort(cohort_id)
    form = NudgeForm(prefix=f"tandem-{tandem_id}")
    if not form.validate_on_submit():
        abort(400)
    sent = health.nudge(cohort, get_by_id(Tandem, tandem_id), current_user, form.seen.data)
    if sent:
        flash(_("Both partners were e-mailed: you asked how their tandem is going."), "success")
    else:
        flash(_("This nudge has already gone to both partners."), "info")
    return redirect(url_for(".progress", cohort_id=cohort.id, _anchor=f"health-{tandem_id}"))


@bp.get("/<int:cohort_id>/report")
@manager_required
def report(cohort_id: int):
    cohort = _cohort(cohort_id)
    return render_template("cohorts/report.html", cohort=cohort, report=reports.report(cohort),
                           min_answers=surveys.MIN_ANSWERS)


@bp.get("/<int:cohort_id>/report.csv")
@manager_required
def report_csv(cohort_id: int):
    cohort = _cohort(cohort_id)
    return exports.csv_response(reports.report_csv(reports.report(cohort)), f"cohort-{cohort.id}-report.csv")


@bp.get("/<int:cohort_id>/tandems.csv")
@manager_required
def tandems_csv(cohort_id: int):
    cohort = _cohort(cohort_id)
    return exports.csv_response(reports.tandems_csv(cohort), f"cohort-{cohort.id}-tandems.csv")


@bp.get("/<int:cohort_id>/cohort.xlsx")
@manager_required
def export_xlsx(cohort_id: int):
    cohort = _cohort(cohort_id)
    return exports.xlsx_response(reports.cohort_xlsx(cohort, reports.report(cohort)), f"cohort-{cohort.id}.xlsx")


# matplotlib's SVG styles its shapes with style attributes; the chart holds no script and loads nothing.
CHART_POLICY = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"


@bp.get("/<int:cohort_id>/charts/<any(meetings, scores, satisfaction, milestones):name>.svg")
@manager_required
def chart(cohort_id: int, name: str):
    """One report chart in the interface language (the page puts the language in the address, so a chart
    cached in one language is never shown in the other)."""
    cohort = _cohort(cohort_id)
    svg = reports.chart_svg(reports.report(cohort), name)
    if svg is None:
        abort(404)
    return Response(svg, mimetype="image/svg+xml",
                    headers={"Cache-Control": "private, max-age=60", "Content-Security-Policy": CHART_POLICY})


# --- wrap-up survey ------------------------------------------------------------------------------


@bp.route("/<int:cohort_id>/survey", methods=["GET", "POST"])
@login_required
def survey(cohort_id: int):
    cohort = _visible_cohort(cohort_id)
    invitation = surveys.invitation(cohort, current_user)
    if invitation is None:
        abort(404)
    form = SurveyForm()
    if invitation.answered_at is None and form.validate_on_submit():
        try:
            surveys.submit(cohort, current_user, form.satisfaction.data, form.recommend.data, form.improve.data or "")
        except SurveyError as problem:
            if not place_errors(form, problem):
                return redirect(url_for(".survey", cohort_id=cohort.id))
        else:
            flash(_("Thank you! Your answers are stored without your name."), "success")
            return redirect(url_for(".detail", cohort_id=cohort.id))
    status = 400 if form.errors else 200
    return render_template("cohorts/survey.html", cohort=cohort, form=form, invitation=invitation), status
