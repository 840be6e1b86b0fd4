"""Cohorts: planning, the state machine (draft → enrolling → matching → running → closed) and enrolment.

Every transition is one function that refuses with a reason people can act on, so the pages and the
API behave alike. Matching, review and publishing live in cohort_matching and cohort_review.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from ...extensions import begin_serialised_write, db
from ...input_checks import has_visible_text, single_line
from ...models import Cohort, CohortParticipant, Goal, Tandem, Topic, User, utcnow
from ...states import PUBLISHED, CohortState, GoalStatus, ParticipantStatus, TandemStatus
from .. import meetings, notifications
from ..errors import CohortError

NAME_MAX = 120
DESCRIPTION_MAX = 5000
MIN_MONTHS, MAX_MONTHS = 3, 12
# A cohort starts in a year a calendar, a time zone and the reports can all handle (year 1 overflowed UTC).
EARLIEST_YEAR, LATEST_YEAR = 2000, 9000
TARGET_MIN, TARGET_MAX = 1, 24
DEFAULT_TARGET = 6
ROLES = ("mentor", "mentee")
DECISIONS = (ParticipantStatus.ACCEPTED, ParticipantStatus.WAITLISTED, ParticipantStatus.REJECTED)

ROLE_LABELS = {"mentor": _l("Mentor"), "mentee": _l("Mentee")}


# --- planning ------------------------------------------------------------------------------------


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or the month's last day (31 January + 1 month = 28/29 February)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def check_fields(
    name: str | None,
    starts_on: date | None,
    ends_on: date | None,
    meeting_target: int | None,
    description: str = "",
    cohort: Cohort | None = None,
) -> dict[str, str]:
    """Every problem with a cohort's fields, by field name (empty when all is well)."""
    errors: dict[str, str] = {}
    name = single_line(name or "")
    if not has_visible_text(name):
        errors["name"] = _("Please give the cohort a name.")
    elif "\x00" in name:  # PostgreSQL refuses NUL in text; say so instead of failing
        errors["name"] = _("Contains a character that is not allowed.")
    elif len(name) > NAME_MAX:
        errors["name"] = _("At most %(n)d characters.", n=NAME_MAX)
    else:
        # SQLite's lower() folds ASCII only: the exact name is compared too, as the unique index does.
        clash = db.session.scalar(
            select(Cohort.id).where(or_(Cohort.name == name, func.lower(Cohort.name) == name.lower())).limit(1)
        )
        if clash is not None and (cohort is None or clash != cohort.id):
            errors["name"] = _("Another cohort already has this name.")
    if len(description or "") > DESCRIPTION_MAX:
        errors["description"] = _("At most %(n)d characters.", n=DESCRIPTION_MAX)
    if starts_on is None:
        errors["starts_on"] = _("Please give a start date.")
    if ends_on is None:
        errors["ends_on"] = _("Please give an end date.")
    if "\x00" in (description or ""):
        errors["description"] = _("Contains a character that is not allowed.")
    if starts_on is not None and not EARLIEST_YEAR <= starts_on.year <= LATEST_YEAR:
        errors["starts_on"] = _("Please give a realistic start date.")
    elif starts_on is not None and ends_on is not None and not (
        add_months(starts_on, MIN_MONTHS) <= ends_on <= add_months(starts_on, MAX_MONTHS)
    ):
        errors["ends_on"] = _(
            "The end date must lie %(low)d to %(high)d months after the start (between %(first)s and %(last)s).",
            low=MIN_MONTHS, high=MAX_MONTHS,
            first=format_date(add_months(starts_on, MIN_MONTHS)), last=format_date(add_months(starts_on, MAX_MONTHS)),
        )
    if meeting_target is None or not TARGET_MIN <= meeting_target <= TARGET_MAX:
        errors["meeting_target"] = _("A whole number from %(low)d to %(high)d.", low=TARGET_MIN, high=TARGET_MAX)
    return errors


def create_cohort(
    name: str,
    starts_on: date | None,
    ends_on: date | None,
    meeting_target: int | None = DEFAULT_TARGET,
    description: str = "",
    focus_topics: Iterable[Topic] = (),
) -> Cohort:
    """A new cohort in the draft state; raises CohortError(422) with the fields that are wrong."""
    errors = check_fields(name, starts_on, ends_on, meeting_target, description)
    if errors:
        raise CohortError.invalid(errors)
    cohort = Cohort(
        name=single_line(name), description=(description or "").strip(), starts_on=starts_on, ends_on=ends_on,
        meeting_target=meeting_target, state=CohortState.DRAFT, enrolment_open=False,
    )
    cohort.focus_topics = list(focus_topics)
    db.session.add(cohort)
    db.session.commit()
    return cohort


def update_cohort(
    cohort: Cohort,
    name: str,
    starts_on: date | None,
    ends_on: date | None,
    meeting_target: int | None,
    description: str = "",
    focus_topics: Iterable[Topic] = (),
) -> Cohort:
    """Edit the plan; the dates are fixed once tandems run (they carry them), and a closed cohort is history."""
    if cohort.state == CohortState.CLOSED:
        raise CohortError("closed", _("A closed cohort cannot be changed."))
    errors = check_fields(name, starts_on, ends_on, meeting_target, description, cohort)
    if cohort.state == CohortState.RUNNING and (starts_on != cohort.starts_on or ends_on != cohort.ends_on):
        errors["starts_on"] = _("The dates cannot change once the tandems are running.")
    if errors:
        raise CohortError.invalid(errors)
    cohort.name = single_line(name)
    cohort.description = (description or "").strip()
    cohort.starts_on, cohort.ends_on = starts_on, ends_on
    cohort.meeting_target = meeting_target
    cohort.focus_topics = list(focus_topics)
    db.session.commit()
    return cohort


# --- the state machine ---------------------------------------------------------------------------


def _count_participants(cohort: Cohort, role: str, status: str = ParticipantStatus.ACCEPTED) -> int:
    return db.session.scalar(
        select(func.count(CohortParticipant.id)).where(
            CohortParticipant.cohort_id == cohort.id, CohortParticipant.role == role, CohortParticipant.status == status
        )
    ) or 0


def count_drafts(cohort: Cohort) -> int:
    return db.session.scalar(
        select(func.count(Tandem.id)).where(Tandem.cohort_id == cohort.id, Tandem.status == TandemStatus.DRAFT)
    ) or 0


def count_published(cohort: Cohort) -> int:
    return db.session.scalar(
        select(func.count(Tandem.id)).where(Tandem.cohort_id == cohort.id, Tandem.status.in_(PUBLISHED))
    ) or 0


def _refuse_unless(cohort: Cohort, states: tuple[str, ...], message: str) -> None:
    if cohort.state not in states:
        raise CohortError("wrong_state", message)


def open_enrolment(cohort: Cohort) -> Cohort:
    """draft → enrolling: people can now apply from their dashboard."""
    _refuse_unless(cohort, ("draft",), _("Only a cohort in planning can open its enrolment."))
    cohort.state = CohortState.ENROLLING
    cohort.enrolment_open = True
    db.session.commit()
    return cohort


def start_matching(cohort: Cohort, commit: bool = True) -> Cohort:
    """draft or enrolling → matching: enrolment closes; refused until a mentor and a mentee are accepted."""
    _refuse_unless(cohort, ("draft", "enrolling"), _("Matching can start only from planning or enrolment."))
    no_mentor, no_mentee = _count_participants(cohort, "mentor") == 0, _count_participants(cohort, "mentee") == 0
    if no_mentor or no_mentee:
        if no_mentor and no_mentee:
            message = _("Matching needs at least one accepted mentor and one accepted mentee.")
        elif no_mentor:
            message = _("Matching needs at least one accepted mentor.")
        else:
            message = _("Matching needs at least one accepted mentee.")
        raise CohortError("nobody_accepted", message + " " + _("Accept applications or import participants first."))
    cohort.state = CohortState.MATCHING
    cohort.enrolment_open = False
    if commit:
        db.session.commit()
    return cohort


def reopen_enrolment(cohort: Cohort) -> Cohort:
    """matching → enrolling: for late applications, as long as nothing is published yet."""
    _refuse_unless(cohort, ("matching",), _("Enrolment can only be reopened while matching."))
    if count_published(cohort):
        raise CohortError("already_published", _("Tandems are already published; enrolment stays closed."))
    cohort.state = CohortState.ENROLLING
    cohort.enrolment_open = True
    db.session.commit()
    return cohort


def close(cohort: Cohort) -> Cohort:
    """running → closed: tandems complete and every participant is asked for feedback."""
    from . import surveys

    _refuse_unless(cohort, ("running",), _("Only a running cohort can be closed."))
    drafts = count_drafts(cohort)
    if drafts:
        raise CohortError(
            "unpublished_drafts",
            _("%(n)d draft tandems are not published. Publish or remove them before closing.", n=drafts),
        )
    now = utcnow()
    running = select(Tandem).where(Tandem.cohort_id == cohort.id, Tandem.status == TandemStatus.ACTIVE)
    for tandem in db.session.scalars(running).all():
        tandem.status = TandemStatus.COMPLETED
        tandem.ended_at = now
        meetings.cancel_upcoming(tandem)
    cohort.state = CohortState.CLOSED
    cohort.enrolment_open = False
    cohort.closed_at = now
    surveys.invite_participants(cohort)
    db.session.commit()
    return cohort


TRANSITIONS = {
    "open_enrolment": open_enrolment,
    "start_matching": start_matching,
    "reopen_enrolment": reopen_enrolment,
    "close": close,
}
# Which buttons a manager sees in each state (publishing has its own button on the review page).
ACTIONS_BY_STATE = {
    CohortState.DRAFT: ("open_enrolment", "start_matching"),
    CohortState.ENROLLING: ("start_matching",),
    CohortState.MATCHING: ("reopen_enrolment",),
    CohortState.RUNNING: ("close",),
    CohortState.CLOSED: (),
}
ACTION_LABELS = {
    "open_enrolment": _l("Open enrolment"),
    "start_matching": _l("Close enrolment and start matching"),
    "reopen_enrolment": _l("Reopen enrolment"),
    "close": _l("Close the cohort and send the survey"),
}


def transition(cohort: Cohort, action: str) -> Cohort:
    if action not in TRANSITIONS:
        raise CohortError("unknown_action", _("Unknown action."), 404)
    return TRANSITIONS[action](cohort)


# --- who sees what -------------------------------------------------------------------------------


def is_participant(cohort: Cohort, user: User) -> bool:
    return db.session.scalar(
        select(CohortParticipant.id)
        .where(CohortParticipant.cohort_id == cohort.id, CohortParticipant.user_id == user.id)
        .limit(1)
    ) is not None


def can_view(cohort: Cohort, user: User) -> bool:
    """Managers see every cohort; a person sees the cohorts they applied to, and any that is enrolling."""
    return bool(user.is_manager or cohort.state == CohortState.ENROLLING or is_participant(cohort, user))


def is_listed_for(cohort: Cohort, user: User) -> bool:
    """The cohorts a person's list holds (all_cohorts for managers, cohorts_of for others): what the API
    reads out one by one."""
    return bool(user.is_manager or is_participant(cohort, user))


def can_see_application(participant: CohortParticipant, user: User) -> bool:
    """An application: community managers, and the applicant themselves."""
    return bool(user.is_manager or participant.user_id == user.id)


def all_cohorts() -> list[Cohort]:
    return list(db.session.scalars(select(Cohort).order_by(Cohort.starts_on.desc(), Cohort.id.desc())))


def cohorts_of(user: User) -> list[Cohort]:
    return list(
        db.session.scalars(
            select(Cohort)
            .where(Cohort.id.in_(select(CohortParticipant.cohort_id).where(CohortParticipant.user_id == user.id)))
            .order_by(Cohort.starts_on.desc(), Cohort.id.desc())
        )
    )


def open_cohorts() -> list[Cohort]:
    return list(
        db.session.scalars(
            select(Cohort)
            .where(Cohort.state == CohortState.ENROLLING, Cohort.enrolment_open.is_(True))
            .order_by(Cohort.starts_on)
        )
    )


def participations(user: User, cohort: Cohort | None = None) -> list[CohortParticipant]:
    """A person's applications (one per role), newest cohort first."""
    query = (
        select(CohortParticipant).where(CohortParticipant.user_id == user.id)
        .options(selectinload(CohortParticipant.cohort), selectinload(CohortParticipant.goal))
        .order_by(CohortParticipant.created_at.desc(), CohortParticipant.id.desc())
    )
    if cohort is not None:
        query = query.where(CohortParticipant.cohort_id == cohort.id)
    return list(db.session.scalars(query))


def participants(cohort: Cohort, status: str | None = None, role: str | None = None) -> list[CohortParticipant]:
    query = (
        select(CohortParticipant).where(CohortParticipant.cohort_id == cohort.id)
        .options(
            selectinload(CohortParticipant.user).selectinload(User.company),
            selectinload(CohortParticipant.user).selectinload(User.verified_company),
            selectinload(CohortParticipant.goal),
        )
        .order_by(CohortParticipant.role, CohortParticipant.id)
    )
    if status is not None:
        query = query.where(CohortParticipant.status == status)
    if role is not None:
        query = query.where(CohortParticipant.role == role)
    return list(db.session.scalars(query))


@dataclass
class Counts:
    mentors: int
    mentees: int
    applied: int
    waitlisted: int
    rejected: int
    drafts: int
    published: int


def counts(cohort: Cohort) -> Counts:
    rows = db.session.execute(
        select(CohortParticipant.role, CohortParticipant.status, func.count(CohortParticipant.id))
        .where(CohortParticipant.cohort_id == cohort.id)
        .group_by(CohortParticipant.role, CohortParticipant.status)
    ).all()
    by = {(role, status): n for role, status, n in rows}
    by_status = {s: sum(n for (_r, st), n in by.items() if st == s) for s in CohortParticipant.STATUSES}
    return Counts(
        mentors=by.get(("mentor", ParticipantStatus.ACCEPTED), 0),
        mentees=by.get(("mentee", ParticipantStatus.ACCEPTED), 0),
        applied=by_status[ParticipantStatus.APPLIED], waitlisted=by_status[ParticipantStatus.WAITLISTED],
        rejected=by_status[ParticipantStatus.REJECTED],
        drafts=count_drafts(cohort), published=count_published(cohort),
    )


# --- enrolment -----------------------------------------------------------------------------------


def open_goals(user: User) -> list[Goal]:
    """The goals a mentee can bring into a cohort."""
    return [goal for goal in user.goals if goal.status == GoalStatus.OPEN]


def notify_managers(kind: str, key: str, params: dict, link: str | None, obj: tuple[str, int]) -> None:
    for manager_id in db.session.scalars(select(User.id).where(User.is_manager.is_(True))):
        notifications.notify(manager_id, kind, key, params, link, obj=obj)


def _lock(cohort_id: int) -> Cohort:
    """Begin a serialised write under the cohort's lock (assignment.lock_cohort: the cohort first, as matching,
    publishing and freed slots take it), so enrolment changes of one cohort happen one after the other."""
    from .assignment import lock_cohort  # assignment imports this module

    begin_serialised_write()
    cohort = lock_cohort(cohort_id)
    if cohort is None:
        raise CohortError("not_found", _("No such cohort."), 404)
    return cohort


def _lock_application(participant: CohortParticipant) -> tuple[Cohort, CohortParticipant, str]:
    """The cohort (locked) and the application re-read under its row lock, with the status the caller had read;
    not_found (404) when it was withdrawn meanwhile."""
    seen, participant_id = participant.status, participant.id
    cohort = _lock(participant.cohort_id)
    current = db.session.scalar(
        select(CohortParticipant).where(CohortParticipant.id == participant_id)
        .with_for_update().execution_options(populate_existing=True)
    )
    if current is None:
        raise CohortError("not_found", _("No such application."), 404)
    return cohort, current, seen


def _changed_meanwhile() -> CohortError:
    """Of two changes to one application at once (accept and reject, a decision and a withdrawal), the later
    one is refused instead of overwriting the first: the person reloads, sees the outcome and may change it."""
    return CohortError("wrong_state", _("This application was changed in the meantime. Look at its current state, "
                                        "then try again."))


def apply(cohort: Cohort, user: User, role: str, goal: Goal | None = None) -> CohortParticipant:
    """A mentor or mentee applies to an enrolling cohort; a mentee names the open goal they bring.

    Under the cohort's lock: of two applications at once (a double click) the second finds the first and is
    refused as already applied, as it would be a moment later."""
    try:
        cohort = _lock(cohort.id)
        if cohort.state != CohortState.ENROLLING or not cohort.enrolment_open:
            raise CohortError("enrolment_closed", _("This cohort is not taking applications."))
        if role not in ROLES:
            raise CohortError("invalid_fields", _("Choose mentor or mentee."), 422,
                              {"role": _("Choose mentor or mentee.")})
        if role == "mentor" and user.mentor_profile is None:
            raise CohortError(
                "no_profile", _("Create your mentor profile first: matching uses it."), 422,
                {"role": _("Create your mentor profile first: matching uses it.")},
            )
        if role == "mentee" and (goal is None or goal.owner_id != user.id or goal.status != GoalStatus.OPEN):
            raise CohortError(
                "no_goal", _("Choose one of your open learning goals."), 422,
                {"goal_id": _("Choose one of your open learning goals.")},
            )
        already = CohortError("already_applied", _("You have already applied to this cohort as %(role)s.",
                                                   role=str(ROLE_LABELS[role]).lower()))
        existing = db.session.scalar(
            select(CohortParticipant.id).where(
                CohortParticipant.cohort_id == cohort.id, CohortParticipant.user_id == user.id,
                CohortParticipant.role == role,
            )
        )
        if existing is not None:
            raise already
        participant = CohortParticipant(cohort=cohort, user=user, role=role, goal=goal if role == "mentee" else None,
                                        status=ParticipantStatus.APPLIED)
        db.session.add(participant)
        try:
            db.session.flush()
        except IntegrityError:  # imported a moment ago: an import does not take the cohort's lock
            raise already from None
        notify_managers(
            "cohort_application", f"cohort_application_{role}", {"name": user.name, "cohort": cohort.name},
            notifications.link_to("cohorts.detail", cohort_id=cohort.id), ("cohort_participant", participant.id),
        )
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return participant


def withdraw(participant: CohortParticipant, user: User) -> None:
    """A person takes back an application while the cohort still enrols (refused when it was decided meanwhile)."""
    if participant.user_id != user.id:
        raise CohortError("not_yours", _("This is not your application."), 403)
    try:
        cohort, participant, seen = _lock_application(participant)
        if cohort.state != CohortState.ENROLLING:
            raise CohortError("enrolment_closed", _("Enrolment has closed; please ask the community manager."))
        if participant.status != seen:
            raise _changed_meanwhile()
        db.session.delete(participant)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise


def _has_tandem(participant: CohortParticipant, statuses: tuple[str, ...]) -> bool:
    column = Tandem.mentor_user_id if participant.role == "mentor" else Tandem.mentee_user_id
    return db.session.scalar(
        select(Tandem.id).where(Tandem.cohort_id == participant.cohort_id, column == participant.user_id,
                                Tandem.status.in_(statuses)).limit(1)
    ) is not None


def decide(participant: CohortParticipant, decision: str) -> CohortParticipant:
    """The manager accepts, waitlists or rejects an application; the person is told either way.

    Decided on the application as it stands under the locks: a decision that crossed another one (or a
    withdrawal) is refused, so the person hears exactly one of them."""
    if decision not in DECISIONS:
        raise CohortError("unknown_decision", _("Unknown decision."), 400)
    try:
        cohort, participant, seen = _lock_application(participant)
        if cohort.state == CohortState.CLOSED:
            raise CohortError("closed", _("A closed cohort cannot be changed."))
        if decision == participant.status:  # a double click, or the same decision twice at once
            db.session.rollback()
            return participant
        if participant.status != seen:
            raise _changed_meanwhile()
        if participant.status == ParticipantStatus.ACCEPTED:
            if _has_tandem(participant, PUBLISHED):
                raise CohortError("has_tandem", _("%(name)s already has a published tandem in this cohort.",
                                                  name=participant.user.name))
            if _has_tandem(participant, (TandemStatus.DRAFT,)):
                raise CohortError("has_draft", _("Remove the draft tandem of %(name)s first.",
                                                 name=participant.user.name))
        if decision == ParticipantStatus.ACCEPTED and participant.role == "mentee" and participant.goal is None:
            raise CohortError("no_goal", _("%(name)s brings no goal; they need one to be matched.",
                                           name=participant.user.name))
        participant.status = decision
        # Each decision is its own occasion: a waitlisted person who is accepted later hears of both.
        notifications.notify(participant.user_id, "cohort_enrolment", f"cohort_{decision}", {"cohort": cohort.name},
                             notifications.link_to("cohorts.detail", cohort_id=cohort.id),
                             obj=("cohort_participant", participant.id), occasion=decision)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return participant


def matched_participant_ids(cohort: Cohort) -> set[int]:
    """Participants with a draft or published tandem in the cohort: they can no longer be waitlisted or rejected."""
    pairs = db.session.execute(
        select(Tandem.mentor_user_id, Tandem.mentee_user_id)
        .where(Tandem.cohort_id == cohort.id, Tandem.status.in_((TandemStatus.DRAFT, *PUBLISHED)))
    ).all()
    matched = {("mentor", mentor) for mentor, _mentee in pairs} | {("mentee", mentee) for _mentor, mentee in pairs}
    return {p.id for p in participants(cohort) if (p.role, p.user_id) in matched}


def accept_many(cohort: Cohort, participant_ids: Iterable[int]) -> tuple[int, list[str]]:
    """Accept several applications at once (the manager ticked them); answers how many, and each refusal."""
    wanted = set(participant_ids)
    ids = [p.id for p in participants(cohort) if p.id in wanted and p.status != ParticipantStatus.ACCEPTED]
    accepted, refusals = 0, []
    for participant_id in ids:
        # Read again after the previous decision's commit: None when it was withdrawn meanwhile.
        participant = db.session.get(CohortParticipant, participant_id)
        if participant is None:
            continue
        try:
            decide(participant, ParticipantStatus.ACCEPTED)
            accepted += 1
        except CohortError as problem:
            refusals.append(problem.message)
    return accepted, refusals


def can_import(cohort: Cohort) -> None:
    """Imports add accepted participants, which makes sense until the cohort closes."""
    if cohort.state == CohortState.CLOSED:
        raise CohortError("closed", _("A closed cohort cannot take new participants."))


def cohort_tandems(cohort: Cohort, statuses: Iterable[str]) -> list[Tandem]:
    return list(
        db.session.scalars(
            select(Tandem).where(Tandem.cohort_id == cohort.id, Tandem.status.in_(list(statuses)))
            .order_by(Tandem.id)
        )
    )


def tandems_of_cohort_user(cohort: Cohort, user: User) -> list[Tandem]:
    """A participant's published tandems in this cohort."""
    return list(
        db.session.scalars(
            select(Tandem).where(
                Tandem.cohort_id == cohort.id, Tandem.status.in_(PUBLISHED),
                or_(Tandem.mentor_user_id == user.id, Tandem.mentee_user_id == user.id),
            )
        )
    )
