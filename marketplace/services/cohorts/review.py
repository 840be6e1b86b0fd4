"""Reviewing cohort drafts (swap, remove, lock, add a pair) and publishing them in one transaction.

Every change a manager makes goes through rules.pair_violations, and publishing checks every hard
rule again under row locks: no published pair ever breaks one, whatever happened since matching.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ...extensions import begin_serialised_write, db
from ...models import Cohort, CohortParticipant, Goal, MentorProfile, Tandem, User, get_by_id, utcnow
from ...states import PAIRING, SLOT_TAKING, CohortState, GoalStatus, ParticipantStatus, TandemStatus
from .. import notifications, tandems
from ..labels import score_percent
from ..matching import rules, taxonomy, vectors
from ..matching.search import weak_pair
from . import assignment, enrolment
from .enrolment import CohortError


@dataclass(frozen=True)
class Summary:
    """The figures a manager watches while reviewing: how many drafts, their total and lowest score."""

    count: int
    total: float
    lowest: float | None

    @property
    def average(self) -> float | None:
        return self.total / self.count if self.count else None


@dataclass(frozen=True)
class Change:
    before: Summary
    after: Summary

    def describe(self) -> str:
        return _(
            "Average match %(before)s → %(after)s; lowest %(low_before)s → %(low_after)s.",
            before=score_percent(self.before.average), after=score_percent(self.after.average),
            low_before=score_percent(self.before.lowest), low_after=score_percent(self.after.lowest),
        )


def drafts(cohort: Cohort) -> list[Tandem]:
    return list(
        db.session.scalars(
            select(Tandem).where(Tandem.cohort_id == cohort.id, Tandem.status == TandemStatus.DRAFT)
            .options(
                selectinload(Tandem.goal), selectinload(Tandem.mentor),  # the mentor's words: weak_pairs
                selectinload(Tandem.mentee).selectinload(User.company),
                selectinload(Tandem.mentor_user).selectinload(User.company),
            )
            .order_by(Tandem.score.desc(), Tandem.id)
        )
    )


def summary(cohort: Cohort) -> Summary:
    scores = [t.score or 0.0 for t in drafts(cohort)]
    return Summary(len(scores), round(sum(scores), 4), round(min(scores), 4) if scores else None)


def _draft(cohort: Cohort, tandem_id: int) -> Tandem:
    tandem = get_by_id(Tandem, tandem_id)
    if tandem is None or tandem.cohort_id != cohort.id or tandem.status != TandemStatus.DRAFT:
        raise CohortError("not_found", _("No such draft in this cohort."), 404)
    return tandem


def _reviewable(cohort: Cohort) -> None:
    if cohort.state not in PAIRING:
        raise CohortError("wrong_state", _("Drafts can only be changed while the cohort is matching or running."))


def _pair_label(goal: Goal, profile: MentorProfile) -> str:
    return f"{profile.user.name} → {goal.owner.name}"


def _refuse_if_broken(goal: Goal, profile: MentorProfile, deciding: Tandem | None = None,
                      check_capacity: bool = False) -> None:
    """The same pair check as a new request (rules.check_pair), ignoring the draft being decided. Capacity
    only where the change takes a new slot (a swap or lock moves or keeps one)."""
    broken = rules.check_pair(profile, goal, check_capacity=check_capacity, deciding=deciding)
    if broken:
        raise CohortError(
            broken[0],
            _("%(pair)s is not allowed: %(reason)s", pair=_pair_label(goal, profile),
              reason=rules.reason_text(broken[0])),
        )


def _rescore(tandem: Tandem) -> None:
    tandem.score, tandem.reasons = assignment.pair_score(tandem.goal, tandem.mentor)


def swap(cohort: Cohort, first_id: int, second_id: int) -> Change:
    """Exchange the mentors of two drafts; refused with the rule's reason when a new pair breaks one."""
    _reviewable(cohort)
    first, second = _draft(cohort, first_id), _draft(cohort, second_id)
    if first.id == second.id:
        raise CohortError("same_draft", _("Choose two different pairs to swap."), 400)
    if first.locked or second.locked:
        raise CohortError("locked", _("Unlock both pairs before swapping them."))
    if first.goal is None or second.goal is None or first.mentor is None or second.mentor is None:
        raise CohortError("gone", _("A goal or mentor profile of these pairs no longer exists."))
    before = summary(cohort)
    _refuse_if_broken(first.goal, second.mentor, first)
    _refuse_if_broken(second.goal, first.mentor, second)
    first_mentor, second_mentor = first.mentor, second.mentor
    first.mentor, first.mentor_user_id = second_mentor, second_mentor.user_id
    second.mentor, second.mentor_user_id = first_mentor, first_mentor.user_id
    _rescore(first)
    _rescore(second)
    db.session.commit()
    return Change(before, summary(cohort))


def remove(cohort: Cohort, tandem_id: int) -> Change:
    _reviewable(cohort)
    tandem = _draft(cohort, tandem_id)
    if tandem.locked:
        raise CohortError("locked", _("Unlock this pair before removing it."))
    before = summary(cohort)
    db.session.delete(tandem)
    db.session.commit()
    return Change(before, summary(cohort))


def set_locked(cohort: Cohort, tandem_id: int, locked: bool) -> Tandem:
    """A locked pair survives a new matching run and keeps its mentor's slot."""
    _reviewable(cohort)
    tandem = _draft(cohort, tandem_id)
    if locked:
        if tandem.goal is None or tandem.mentor is None:
            raise CohortError("gone", _("A goal or mentor profile of these pairs no longer exists."))
        _refuse_if_broken(tandem.goal, tandem.mentor, tandem)
    tandem.locked = locked
    db.session.commit()
    return tandem


def _participant(cohort: Cohort, participant_id: int, role: str) -> CohortParticipant:
    participant = get_by_id(CohortParticipant, participant_id)
    if participant is None or participant.cohort_id != cohort.id or participant.role != role:
        raise CohortError("not_found", _("No such participant in this cohort."), 404)
    if participant.status != ParticipantStatus.ACCEPTED:
        raise CohortError("not_accepted", _("%(name)s is not an accepted participant.", name=participant.user.name))
    return participant


def add_pair(cohort: Cohort, mentee_participant_id: int, mentor_participant_id: int) -> Change:
    """A pair chosen by the manager: every rule applies, capacity included; it is locked so a re-run keeps it."""
    begin_serialised_write()
    _reviewable(cohort)
    mentee = _participant(cohort, mentee_participant_id, "mentee")
    mentor = _participant(cohort, mentor_participant_id, "mentor")
    goal, profile = mentee.goal, mentor.user.mentor_profile
    if goal is None or goal.status != GoalStatus.OPEN:
        raise CohortError("no_goal", _("%(name)s brings no open learning goal.", name=mentee.user.name))
    if profile is None:
        raise CohortError("no_profile", _("%(name)s has no mentor profile.", name=mentor.user.name))
    already = db.session.scalar(
        select(Tandem.id).where(Tandem.cohort_id == cohort.id, Tandem.status.in_(SLOT_TAKING),
                                Tandem.mentee_user_id == mentee.user_id).limit(1)
    )
    if already is not None:
        raise CohortError("mentee_paired", _("%(name)s already has a pair in this cohort.", name=mentee.user.name))
    _refuse_if_broken(goal, profile, check_capacity=True)
    before = summary(cohort)
    score, reasons = assignment.pair_score(goal, profile)
    db.session.add(Tandem(
        goal=goal, mentor=profile, mentee_user_id=goal.owner_id, mentor_user_id=profile.user_id, cohort_id=cohort.id,
        status=TandemStatus.DRAFT, locked=True, score=score, reasons=reasons,
    ))
    db.session.commit()
    return Change(before, summary(cohort))


def rule_problems(cohort: Cohort) -> dict[int, str]:
    """Drafts that would be refused at publishing now (rules or capacity changed since matching), with why."""
    found: dict[int, str] = {}
    pending = drafts(cohort)
    profiles = [t.mentor for t in pending if t.mentor is not None]
    # The drafts being published are what is decided: they take no slot yet, `used` counts them below.
    deciding = [t.id for t in pending]
    facts = {f.id: f for f in rules.mentor_facts(profiles, deciding)}
    context = rules.rule_context({t.mentee_user_id for t in pending} | {t.mentor_user_id for t in pending},
                                 deciding)
    used: dict[int, int] = {}
    seen_goals: set[int] = set()
    for tandem in pending:
        if tandem.goal is None or tandem.mentor is None:
            found[tandem.id] = _("The goal or mentor profile no longer exists.")
            continue
        if tandem.goal.status != GoalStatus.OPEN or tandem.goal_id in seen_goals:
            found[tandem.id] = _("The goal is no longer open or has another pair.")
            continue
        seen_goals.add(tandem.goal_id)
        fact = facts[tandem.mentor_profile_id]
        mentor = dataclasses.replace(fact, free_capacity=fact.free_capacity - used.get(tandem.mentor_profile_id, 0))
        broken = rules.pair_violations(mentor, rules.mentee_facts(tandem.goal), context)
        if broken:
            found[tandem.id] = rules.reason_text(broken[0])
        used[tandem.mentor_profile_id] = used.get(tandem.mentor_profile_id, 0) + 1
    return found


def weak_pairs(drafts: list[Tandem]) -> set[int]:
    """The drafts below the relevance floor (`matching.weak_pair`, the rule suggestions hide by and the pair's
    explanation warns by), flagged in the review and at publishing."""
    detect = taxonomy.TopicDetector()  # one taxonomy read for every draft
    return {t.id for t in drafts
            if t.goal is None or t.mentor is None or weak_pair(t.score or 0.0, t.goal, t.mentor, detect)}


def drafts_version(tandems: list[Tandem]) -> str:
    """A digest of the draft pairs (which mentor with which goal): what a publish confirmation showed."""
    pairs = sorted((t.id, t.mentor_profile_id or 0, t.goal_id or 0, t.mentee_user_id or 0) for t in tandems)
    return hashlib.sha256(repr(pairs).encode()).hexdigest()[:32]


def publish(cohort: Cohort, reviewed: str | None = None) -> int:
    """All drafts become active tandems in one transaction, or none do; answers how many.

    The cohort row is locked first, so when two managers publish at once the second waits and then
    finds nothing left (409). Every hard rule, capacity included, is checked again here. With `reviewed` (the
    drafts_version the confirmation showed), drafts changed since (another tab swapped a pair) publish nothing.
    """
    try:
        cohort = assignment.lock_cohort_in(
            cohort.id, PAIRING, _("Only a cohort that is matching or running can publish tandems.")
        )
        pending = list(
            db.session.scalars(
                select(Tandem).where(Tandem.cohort_id == cohort.id, Tandem.status == TandemStatus.DRAFT)
                .with_for_update().execution_options(populate_existing=True).order_by(Tandem.id)
            )
        )
        if not pending:
            raise CohortError("nothing_to_publish", _("Nothing left to publish."))
        if reviewed is not None and drafts_version(pending) != reviewed:
            raise CohortError("drafts_changed", _("The draft pairs changed since you looked at them (in another tab "
                                                  "or by another manager). Nothing was published: review them "
                                                  "again."), 409)
        # Lock the mentors too: a tandem request accepted meanwhile must not take the same last slot.
        mentor_ids = sorted({t.mentor_profile_id for t in pending if t.mentor_profile_id is not None})
        list(db.session.scalars(
            select(MentorProfile).where(MentorProfile.id.in_(mentor_ids)).with_for_update()
            .execution_options(populate_existing=True)
        ))
        problems = rule_problems(cohort)
        if problems:
            names = {t.id: (t.mentor_user.name if t.mentor_user else "?", t.mentee.name if t.mentee else "?")
                     for t in pending}
            details = "; ".join(f"{names[i][0]} → {names[i][1]}: {reason}" for i, reason in problems.items())
            raise CohortError("rule_broken", _("Nothing was published. Fix these pairs first: %(details)s",
                                               details=details))
        now = utcnow()
        for tandem in pending:
            activate(cohort, tandem, now)
        if cohort.state == CohortState.MATCHING:
            cohort.state = CohortState.RUNNING
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return len(pending)


def activate(cohort: Cohort, tandem: Tandem, now) -> None:
    """A cohort draft starts (publishing, or a confirmed freed slot in services/rematching.py): the goal is
    matched, its other requests close, both partners are told. The caller holds the locks and commits."""
    goal = tandem.goal
    assert goal is not None and tandem.mentor is not None
    tandem.status = TandemStatus.ACTIVE
    tandem.locked = False
    tandem.responded_at = now
    tandem.starts_on, tandem.ends_on = cohort.starts_on, cohort.ends_on
    goal.status = GoalStatus.MATCHED
    tandems.close_pending(goal, tandem, in_cohort=True)
    link = notifications.link_to("cohorts.meetings.tandem", tandem_id=tandem.id)
    mentor_name = tandem.mentor_user.name if tandem.mentor_user else ""
    mentee_name = tandem.mentee.name if tandem.mentee else ""
    notifications.notify(
        tandem.mentee_user_id, "tandem_started", "cohort_published_mentee",
        {"cohort": cohort.name, "name": mentor_name, "title": goal.title}, link, obj=("tandem", tandem.id),
        contact=tandem.mentor_user,
    )
    notifications.notify(
        tandem.mentor_user_id, "tandem_started", "cohort_published_mentor",
        {"cohort": cohort.name, "name": mentee_name, "title": goal.title}, link, obj=("tandem", tandem.id),
        contact=tandem.mentee,
    )
    vectors.refresh_goal(goal)  # a matched goal leaves the discoverable index


def pair_choices(cohort: Cohort) -> tuple[list[CohortParticipant], list[CohortParticipant]]:
    """Accepted mentees without a pair and accepted mentors with a free slot, for the "add a pair" form."""
    paired = {
        t.mentee_user_id
        for t in enrolment.cohort_tandems(cohort, (TandemStatus.DRAFT, TandemStatus.ACTIVE))
    }
    mentees = [p for p in enrolment.participants(cohort, ParticipantStatus.ACCEPTED, "mentee")
               if p.user_id not in paired and p.goal is not None and p.goal.status == GoalStatus.OPEN]
    mentors = [p for p in enrolment.participants(cohort, ParticipantStatus.ACCEPTED, "mentor")
               if p.user.mentor_profile is not None]
    return mentees, mentors
