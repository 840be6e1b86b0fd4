"""Re-matching: nobody is left alone when a pairing fails.

A mentee whose tandem ends early, or whose request is declined, hears of the next best mentors at once
(search.next_suggestions, the one place for "who next"; expiry does the same in request_expiry); so does one
whose mentor deletes their account, which ends a running tandem for either side like an early end. In a
cohort, a mentor's slot freed by a tandem that ended early is offered to the cohort's waitlist: the manager
sees the best waiting mentee for it and confirms, and only then is a tandem created, under the same rules
and locks as publishing a cohort pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _
from sqlalchemy import func, select

from ..extensions import db
from ..models import MAX_ID, Cohort, CohortParticipant, Goal, MentorProfile, Tandem, User, get_by_id, utcnow
from ..states import PAIRING, GoalStatus, ParticipantStatus, TandemStatus
from . import labels, notifications
from .cohorts import assignment, enrolment, review
from .cohorts.enrolment import CohortError
from .cohorts.explanations import Reason
from .matching import rules, search, vectors

NEXT_SUGGESTIONS_IN_MESSAGE = 3
# A cohort takes new pairs while it matches or runs (as review._reviewable).
OPEN_STATES = PAIRING
# Waiting for a pair in a cohort: put on the waiting list, or accepted and left unmatched.
WAITING_STATUSES = (ParticipantStatus.WAITLISTED, ParticipantStatus.ACCEPTED)
ENDED_EARLY = TandemStatus.ENDED


def _next_names(goal: Goal | None) -> list[str]:
    if goal is None or goal.status != GoalStatus.OPEN:
        return []
    return [m.mentor.name for m in search.next_suggestions(goal, NEXT_SUGGESTIONS_IN_MESSAGE)]


def _goal_link(goal: Goal | None, tandem: Tandem) -> str:
    if goal is None:
        return notifications.link_to("tandems.detail", tandem_id=tandem.id)
    return notifications.link_to("goals.detail", id=goal.id) + "#next-suggestions"  # link_to builds no anchors


def _reopen(goal: Goal | None) -> list[str]:
    """The goal of a tandem that ended early is open again; answers the next best mentors' names for it."""
    if goal is not None and goal.status == GoalStatus.MATCHED:
        goal.status = GoalStatus.OPEN
        vectors.refresh_goal(goal)  # discoverable again, if the owner lets mentors find it
    db.session.flush()
    return _next_names(goal)


def after_early_end(tandem: Tandem, ended_by: User, reason: str) -> None:
    """In the transaction of tandems.end: the goal is open again and its mentee hears of the next best
    mentors (with the partner's reason when the mentor ended it); in a cohort the managers hear a slot is free."""
    goal = tandem.goal
    names = _reopen(goal)
    title = goal.title if goal is not None else ""
    params = {"name": ended_by.name, "reason": reason, "title": title, "suggestions": ", ".join(names)}
    link = _goal_link(goal, tandem)
    if ended_by.id == tandem.mentee_user_id:
        if tandem.mentor_user_id:
            notifications.notify(tandem.mentor_user_id, "tandem_ended", "tandem_ended",
                                 {"name": ended_by.name, "reason": reason}, obj=("tandem", tandem.id))
        key = "tandem_ended_own_next" if names else "tandem_ended_own_none"
        notifications.notify(ended_by, "tandem_ended", key, params, link, obj=("tandem", tandem.id))
    elif tandem.mentee_user_id:
        key = "tandem_ended_next" if names else "tandem_ended_none"
        notifications.notify(tandem.mentee_user_id, "tandem_ended", key, params, link, obj=("tandem", tandem.id))
    _tell_managers(tandem)


def partner_left(tandem: Tandem, leaver: User) -> None:
    """In the transaction of an account deletion, before the leaver's side of their running tandem is emptied:
    it ends as an early end does, whichever side left. The remaining partner is told why; a mentor left alone
    has their slot free again (a cohort's managers see it offered to the waiting list), a mentee left alone
    has their goal open again with the next best mentors (and waits for a new pair in a cohort)."""
    tandem.status = ENDED_EARLY
    tandem.ended_at = utcnow()
    tandem.end_reason = labels.ACCOUNT_DELETED_REASON
    goal = tandem.goal
    title = goal.title if goal is not None else ""
    if leaver.id == tandem.mentee_user_id:
        if tandem.mentor_user_id:
            notifications.notify(tandem.mentor_user_id, "tandem_ended", "tandem_ended_account_deleted",
                                 {"title": title}, obj=("tandem", tandem.id))
        _tell_managers(tandem)
        return
    names = _reopen(goal)  # the ended tandem keeps the leaver's profile until after this: never suggested back
    if tandem.mentee_user_id:
        key = "tandem_ended_mentor_deleted_next" if names else "tandem_ended_mentor_deleted_none"
        notifications.notify(tandem.mentee_user_id, "tandem_ended", key,
                             {"title": title, "suggestions": ", ".join(names)}, _goal_link(goal, tandem),
                             obj=("tandem", tandem.id))
    cohort = tandem.cohort
    if cohort is not None and cohort.state in OPEN_STATES and tandem.mentee is not None:
        enrolment.notify_managers(
            "cohort_slot_freed", "cohort_mentor_left", {"cohort": cohort.name, "name": tandem.mentee.name},
            notifications.link_to("cohorts.detail", cohort_id=cohort.id) + "#freed-slots", ("tandem", tandem.id),
        )


def pending_partner_left(tandem: Tandem, leaver: User) -> None:
    """In the transaction of an account deletion, before the leaver's pending request or offer is removed: the
    other side hears it has ended; a mentee whose request ends this way hears of the next best mentors, as after
    a decline."""
    if leaver.id == tandem.mentor_user_id:
        _mentee_hears_pending_ended(tandem, "account")
    else:
        _mentor_hears_pending_ended(tandem, "owner")


def pending_goal_deleted(tandem: Tandem) -> None:
    """Before a pending request or offer goes with its deleted goal: the mentor hears it has ended (a request as
    withdrawn)."""
    _mentor_hears_pending_ended(tandem, "goal")


def pending_profile_deleted(tandem: Tandem) -> None:
    """Before a pending request or offer goes with its mentor's deleted profile: the mentee hears it has ended, and
    of a request, as after a decline, which mentors could help next."""
    _mentee_hears_pending_ended(tandem, "profile")


# Why a pending request or offer ended, as its mentee reads it (offer, request, request with no one to suggest) ...
_TO_THE_MENTEE = {
    "account": ("offer_ended_account_deleted", "request_ended_account_deleted",
                "request_ended_account_deleted_none"),
    "profile": ("offer_ended_profile_deleted", "request_ended_profile_deleted",
                "request_ended_profile_deleted_none"),
}
# ... and as its mentor reads it (an offer; a request ends as withdrawn).
_TO_THE_MENTOR = {"owner": "offer_ended_owner_deleted", "goal": "offer_ended_goal_deleted"}


def _mentee_hears_pending_ended(tandem: Tandem, cause: str) -> None:
    """The mentee of a pending request or offer whose mentor side goes (`cause`: the account, the profile)."""
    if not tandem.mentee_user_id:
        return
    goal = tandem.goal
    title = goal.title if goal is not None else ""
    told = {"obj": ("tandem", tandem.id)}  # the e-mail's key names the event: the offer's own mail stays apart
    offer_key, request_key, request_key_none = _TO_THE_MENTEE[cause]
    if tandem.status == Tandem.OFFERED:
        notifications.notify(tandem.mentee_user_id, "offer_received", offer_key, {"title": title}, **told)
        return
    names = _next_names(goal)  # the request still waits here, so its mentor is left out
    link = _goal_link(goal, tandem) if goal is not None else None
    notifications.notify(tandem.mentee_user_id, "request_declined", request_key if names else request_key_none,
                         {"title": title, "suggestions": ", ".join(names)}, link, **told)


def _mentor_hears_pending_ended(tandem: Tandem, cause: str) -> None:
    """The mentor of a pending request or offer whose mentee side goes (`cause`: the owner's account, the goal)."""
    if not tandem.mentor_user_id:
        return
    told = {"obj": ("tandem", tandem.id)}
    if tandem.status == Tandem.OFFERED:
        notifications.notify(tandem.mentor_user_id, "offer_answered", _TO_THE_MENTOR[cause],
                             {"title": tandem.goal.title if tandem.goal is not None else ""}, **told)
    else:
        notifications.notify(tandem.mentor_user_id, "request_withdrawn", "request_withdrawn", **told)


def _tell_managers(tandem: Tandem) -> None:
    cohort = tandem.cohort
    if cohort is not None and cohort.state in OPEN_STATES:
        mentor_name = tandem.mentor_user.name if tandem.mentor_user else ""
        enrolment.notify_managers(
            "cohort_slot_freed", "cohort_slot_freed", {"cohort": cohort.name, "name": mentor_name},
            notifications.link_to("cohorts.detail", cohort_id=cohort.id) + "#freed-slots", ("tandem", tandem.id),
        )


def tell_declined(tandem: Tandem, decliner: User) -> None:
    """In the transaction of tandems.decline: the mentee hears of the decline and of the next best mentors."""
    goal = tandem.goal
    names = _next_names(goal)
    params = {"name": decliner.name, "title": goal.title if goal else "", "suggestions": ", ".join(names)}
    if names:
        notifications.notify(tandem.mentee_user_id, "request_declined", "request_declined_next", params,
                             _goal_link(goal, tandem), obj=("tandem", tandem.id))
    else:
        notifications.notify(tandem.mentee_user_id, "request_declined", "request_declined", {"name": decliner.name},
                             notifications.link_to("tandems.detail", tandem_id=tandem.id), obj=("tandem", tandem.id))


# --- freed cohort slots -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Proposal:
    """The best waiting mentee for a freed slot, with the score and reasons a cohort run would give."""

    participant: CohortParticipant
    goal: Goal
    score: float
    reasons: list[Reason]  # worded by explanations.reason_texts


@dataclass(frozen=True)
class FreedSlot:
    mentor: MentorProfile
    free: int  # slots freed by early ends that are still free
    proposal: Proposal | None  # None: nobody on the waitlist may pair with this mentor


def waitlist(cohort: Cohort) -> list[CohortParticipant]:
    """Mentees waiting for a pair in this cohort: waitlisted, or accepted and unmatched, with an open goal."""
    paired = set(db.session.scalars(
        select(Tandem.mentee_user_id).where(Tandem.cohort_id == cohort.id,
                                            Tandem.status.in_((Tandem.DRAFT, Tandem.RUNNING)))
    ))
    return [
        p for p in enrolment.participants(cohort, role="mentee")
        if p.status in WAITING_STATUSES and p.goal is not None and p.goal.status == GoalStatus.OPEN
        and p.user_id not in paired
    ]


def _freed_counts(cohort: Cohort) -> dict[int, int]:
    """Mentor profile id -> how many of the mentor's tandems in this cohort ended early."""
    rows = db.session.execute(
        select(Tandem.mentor_profile_id, func.count(Tandem.id))
        .where(Tandem.cohort_id == cohort.id, Tandem.status == ENDED_EARLY, Tandem.mentor_profile_id.is_not(None))
        .group_by(Tandem.mentor_profile_id)
    )
    return dict(rows.all())


def _accepted_mentor(cohort: Cohort, profile: MentorProfile) -> bool:
    return db.session.scalar(
        select(CohortParticipant.id).where(
            CohortParticipant.cohort_id == cohort.id, CohortParticipant.user_id == profile.user_id,
            CohortParticipant.role == "mentor", CohortParticipant.status == ParticipantStatus.ACCEPTED,
        ).limit(1)
    ) is not None


def _free_slots(cohort: Cohort, profile: MentorProfile, ended: int) -> int:
    """Of the slots early ends freed, those the mentor still has free (capacity minus running and drafts)."""
    if not _accepted_mentor(cohort, profile):
        return 0
    return max(0, min(ended, rules.mentor_facts([profile])[0].free_capacity))


def _paired_before(cohort: Cohort, profile: MentorProfile) -> set[int]:
    """Mentees this mentor already had a tandem with in this cohort: an ended pair is not proposed again."""
    return set(db.session.scalars(
        select(Tandem.mentee_user_id).where(Tandem.cohort_id == cohort.id, Tandem.mentor_profile_id == profile.id,
                                            Tandem.status != Tandem.DRAFT)
    ))


def _candidates(cohort: Cohort, profile: MentorProfile) -> list[CohortParticipant]:
    """Waiting mentees no hard rule forbids with this mentor (one rule context for all of them)."""
    before = _paired_before(cohort, profile)
    waiting = [p for p in waitlist(cohort) if p.user_id not in before]
    if not waiting:
        return []
    mentor = rules.mentor_facts([profile])[0]
    context = rules.rule_context([profile.user_id, *(p.user_id for p in waiting)])
    return [p for p in waiting if not rules.pair_violations(mentor, rules.mentee_facts(p.goal), context)]


def _best(cohort: Cohort, profile: MentorProfile) -> Proposal | None:
    proposals = []
    for participant in _candidates(cohort, profile):
        score, reasons = assignment.pair_score(participant.goal, profile)
        proposals.append(Proposal(participant, participant.goal, score, reasons))
    return max(proposals, key=lambda p: (p.score, -p.participant.id), default=None)


def freed_slots(cohort: Cohort) -> list[FreedSlot]:
    """Every mentor with a slot freed by an early end and still free, with the best waiting mentee for it."""
    if cohort.state not in OPEN_STATES:
        return []
    slots = []
    for mentor_id, ended in sorted(_freed_counts(cohort).items()):
        profile = db.session.get(MentorProfile, mentor_id)
        free = _free_slots(cohort, profile, ended) if profile is not None else 0
        if free:
            slots.append(FreedSlot(profile, free, _best(cohort, profile)))
    return slots


def confirm(cohort: Cohort, mentor_id: int, participant_id: int) -> Tandem:
    """The manager confirms a proposal: a running tandem of the mentor and the waiting mentee, both told.

    Under the cohort's lock (as publishing), so of two confirmations at once the second waits and then finds
    the slot taken (409); every hard rule, capacity included, is checked again under the mentor's row lock.
    """
    try:
        cohort = assignment.lock_cohort_in(
            cohort.id, OPEN_STATES, _("Only a cohort that is matching or running takes new pairs.")
        )
        profile = db.session.scalar(
            select(MentorProfile).where(MentorProfile.id == mentor_id).with_for_update()
            .execution_options(populate_existing=True)
        ) if 0 < mentor_id <= MAX_ID else None
        participant = get_by_id(CohortParticipant, participant_id)
        ended = _freed_counts(cohort).get(profile.id, 0) if profile is not None else 0
        # A mentor outside the cohort, or one whose tandems never ended early, never had a freed slot here.
        if profile is None or not ended or not _accepted_mentor(cohort, profile) or participant is None \
                or participant.cohort_id != cohort.id or participant.role != "mentee":
            raise CohortError("not_found", _("No such freed slot or waiting mentee in this cohort."), 404)
        if not _free_slots(cohort, profile, ended):
            raise CohortError("slot_taken", _("This slot is no longer free."))
        if participant.id not in {p.id for p in waitlist(cohort)}:
            raise CohortError("not_waiting", _("%(name)s is no longer waiting for a pair.", name=participant.user.name))
        goal = db.session.scalar(
            select(Goal).where(Goal.id == participant.goal_id).with_for_update()
            .execution_options(populate_existing=True)
        )
        if participant.user_id in _paired_before(cohort, profile):
            raise CohortError("paired_before", _("%(mentor)s and %(mentee)s already had a tandem in this cohort.",
                                                 mentor=profile.user.name, mentee=participant.user.name))
        broken = rules.check_pair(profile, goal)
        if broken:
            pair = f"{profile.user.name} → {participant.user.name}"
            raise CohortError(broken[0], _("%(pair)s is not allowed: %(reason)s", pair=pair,
                                           reason=rules.reason_text(broken[0])))
        score, reasons = assignment.pair_score(goal, profile)
        tandem = Tandem(goal=goal, mentor=profile, mentee_user_id=goal.owner_id, mentor_user_id=profile.user_id,
                        cohort_id=cohort.id, status=Tandem.DRAFT, score=score, reasons=reasons)
        db.session.add(tandem)
        db.session.flush()
        review.activate(cohort, tandem, utcnow())
        tandem.starts_on = max(date.today(), cohort.starts_on)  # joining a running cohort starts today
        participant.status = ParticipantStatus.ACCEPTED
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return tandem
