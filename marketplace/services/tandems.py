"""Tandem requests: ask, accept, decline, withdraw, end. Each change is one transaction."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import gettext as _
from sqlalchemy import Select, or_, select
from sqlalchemy.orm.exc import ObjectDeletedError

from ..extensions import begin_serialised_write, db
from ..input_checks import has_visible_text
from ..models import Goal, MentorProfile, Tandem, User, utcnow
from ..states import PUBLISHED, GoalStatus, TandemStatus
from . import goals, notifications, request_expiry
from .errors import TandemError
from .fields import MESSAGE_MAX
from .matching import rules

MAX_OPEN_REQUESTS_PER_GOAL = 5
DEFAULT_LENGTH_DAYS = 182  # about six months, the usual programme length


def _lock(model: type[MentorProfile] | type[Goal], row_id: int | None) -> MentorProfile | Goal | None:
    """Row-lock and re-read a mentor or a goal (PostgreSQL), so two acceptances cannot both take the last
    slot, nor both match one goal. Order everywhere: mentor, then goal, then tandems."""
    if row_id is None:
        return None
    return db.session.scalar(
        select(model).where(model.id == row_id).with_for_update().execution_options(populate_existing=True)
    )


def _lock_in(tandem: Tandem, status: str) -> None:
    """Re-read the tandem under a row lock and refuse unless it is still in `status` ("requested" or
    "active"): of two answers at once (a withdrawal while the mentor declines, say) the later one fails
    instead of overwriting the first."""
    try:
        db.session.refresh(tandem, with_for_update=True)
    except ObjectDeletedError:  # an account or goal deletion removed it meanwhile
        db.session.rollback()
        raise TandemError("gone", _("The profile or goal no longer exists.")) from None
    if tandem.status != status:
        db.session.rollback()
        if status == TandemStatus.ACTIVE:
            raise TandemError("not_active", _("Only a running tandem can be ended."))
        raise TandemError("not_open", _("This request is no longer open."))
    if request_expiry.is_overdue(tandem):  # its time is up even if the job has not written `expired` yet
        db.session.rollback()
        raise TandemError("expired", _("This request expired unanswered."))


def open_requests(goal: Goal, lock: bool = False, statuses: Collection[str] = (Tandem.OPEN_REQUEST,)) -> list[Tandem]:
    """A goal's tandems waiting for an answer: its requests, or with `statuses` its offers too. A request
    whose time is up no longer counts, before the job expires it."""
    query = select(Tandem).where(
        Tandem.goal_id == goal.id, Tandem.status.in_(list(statuses)),
        or_(Tandem.status != Tandem.OPEN_REQUEST, Tandem.created_at > utcnow() - request_expiry.expiry_time()),
    )
    if lock:  # PostgreSQL re-checks the status after waiting for a row, so one declined meanwhile drops out
        query = query.with_for_update().execution_options(populate_existing=True)
    return list(db.session.scalars(query))


def request_options(viewer: User, profile: MentorProfile) -> list[tuple[Goal, str | None]]:
    """The viewer's open goals for "Ask for a tandem" on a mentor's page, each with the code of the first
    hard rule that forbids asking this mentor for it (None when the request may be sent)."""
    options = []
    for goal in viewer.goals:
        if goal.status != GoalStatus.OPEN:
            continue
        broken = rules.check_pair(profile, goal)
        options.append((goal, broken[0] if broken else None))
    return options


def request_tandem(goal: Goal, profile: MentorProfile, requester: User, message: str = "") -> Tandem:
    """A mentee asks a mentor to work on one of their goals."""
    if goal.owner_id != requester.id:
        raise TandemError("not_owner", _("Only the goal's owner can request a tandem for it."), status=403)
    begin_serialised_write()
    _lock(Goal, goal.id)  # after an acceptance on this goal commits: its status, pairs and open requests
    if goal.status != GoalStatus.OPEN:
        raise TandemError("goal_not_open", _("This goal is not open any more."))
    _refuse_broken_rules(profile, goal)
    if len(open_requests(goal)) >= MAX_OPEN_REQUESTS_PER_GOAL:
        raise TandemError(
            "too_many_requests",
            _("A goal can have at most %(n)d open requests. Withdraw one first.", n=MAX_OPEN_REQUESTS_PER_GOAL),
        )
    return _ask(goal, profile, Tandem.OPEN_REQUEST, message, profile.user_id, requester)


def _refuse_broken_rules(profile: MentorProfile, goal: Goal, to_the_mentor: bool = False) -> None:
    broken = rules.check_pair(profile, goal)
    if broken:
        raise TandemError(broken[0], rules.reason_text(broken[0], to_the_mentor))


def _ask(goal: Goal, profile: MentorProfile, status: str, message: str, told: int, asker: User) -> Tandem:
    """Store a request or an offer, tell the one who answers it (`told`, a user id), commit."""
    tandem = Tandem(
        goal=goal,
        mentor=profile,
        mentee=goal.owner,
        mentor_user_id=profile.user_id,
        status=status,
        request_message=(message or "").strip()[:MESSAGE_MAX],
    )
    db.session.add(tandem)
    db.session.flush()
    key = "offer_received" if status == Tandem.OFFERED else "request_received"
    notifications.notify(
        told, key, key, {"name": asker.name, "title": goal.title},
        notifications.link_to("tandems.detail", tandem_id=tandem.id), obj=("tandem", tandem.id),
    )
    db.session.commit()
    return tandem


def offer_help(goal: Goal, mentor_user: User, message: str = "") -> Tandem:
    """A mentor offers help on a goal from "goals you could help with"; the goal's owner accepts or declines.
    The same hard rules as a request apply; until it is accepted the mentor sees only the goal's summary."""
    profile = mentor_user.mentor_profile
    if profile is None:
        raise TandemError("no_profile", _("Only a mentor with a profile can offer help."), status=403)
    begin_serialised_write()
    _lock(Goal, goal.id)
    if not goals.is_discoverable(goal):
        raise TandemError("goal_not_open", _("This goal is not open any more."))
    _refuse_broken_rules(profile, goal, to_the_mentor=True)
    return _ask(goal, profile, Tandem.OFFERED, message, goal.owner_id, mentor_user)


# Rules about who the two people are: a goal that breaks one is not shown to the mentor at all. The others
# (capacity, a pause, an open pair) only stop an offer for now, and the page says why.
_WHO_RULES = frozenset(
    {"same_person", "same_company", "excluded_by_mentee", "excluded_by_mentor", "competitors", "no_shared_language"}
)


@dataclass(frozen=True)
class OfferView:
    """A goal as a mentor who could help with it sees it: the summary DESIGN.md allows, why no offer can be
    sent now (a reason code, None when it can), and the mentor's pending offer on it, if any."""

    summary: goals.GoalSummary
    blocked_by: str | None
    pending_offer: Tandem | None


def offer_view(goal: Goal, mentor_user: User) -> OfferView | None:
    """None when the goal is not this mentor's to see (hidden, no longer open, or a rule about the two people
    forbids the pair), so the page answers 404 exactly when "goals you could help with" would not list it."""
    profile = mentor_user.mentor_profile
    summary = goals.discoverable_goal_summary(goal)
    if profile is None or summary is None or goal.owner_id == mentor_user.id:
        return None
    broken = rules.check_pair(profile, goal)
    if _WHO_RULES.intersection(broken):
        return None
    pending = db.session.scalar(
        select(Tandem).where(Tandem.goal_id == goal.id, Tandem.mentor_user_id == mentor_user.id,
                             Tandem.status == Tandem.OFFERED)
    )
    return OfferView(summary=summary, blocked_by=broken[0] if broken else None, pending_offer=pending)


def _check_answerer(tandem: Tandem, user: User) -> None:
    """Who answers: the mentor answers a request, the goal's owner an offer."""
    if tandem.status == Tandem.OFFERED:
        if tandem.mentee_user_id != user.id:
            raise TandemError("not_owner", _("Only the goal's owner can answer this offer."), status=403)
    elif tandem.mentor_user_id != user.id:
        raise TandemError("not_mentor", _("Only the requested mentor can answer this request."), status=403)
    if tandem.status not in Tandem.PENDING_STATUSES:
        raise TandemError("not_open", _("This request is no longer open."))


def close_pending(goal: Goal, keep: Tandem, in_cohort: bool = False) -> None:
    """The goal found its mentor: every other open request and offer on it is withdrawn, each mentor told."""
    for other in open_requests(goal, lock=True, statuses=Tandem.PENDING_STATUSES):
        if other.id == keep.id:
            continue
        if other.status == Tandem.OFFERED:
            kind, key = "offer_answered", "offer_closed_matched"
        else:
            kind, key = "request_withdrawn", "request_withdrawn_cohort" if in_cohort else "request_withdrawn_matched"
        other.status = TandemStatus.WITHDRAWN
        other.responded_at = utcnow()
        notifications.notify(other.mentor_user_id, kind, key, {"title": goal.title}, obj=("tandem", other.id))


def accept(tandem: Tandem, user: User, message: str = "") -> Tandem:
    """The one asked accepts (the mentor a request, the goal's owner an offer): every hard rule is checked
    again under row locks, the goal's other requests and offers are withdrawn. One that a rule no longer
    allows is cancelled (both people are told why) and refused with the rule's code; a full mentor or a goal
    that is no longer open is refused and stays as it is."""
    _check_answerer(tandem, user)
    pending = tandem.status
    mentor_id, goal_id = tandem.mentor_profile_id, tandem.goal_id  # read before the commit below expires the tandem
    try:
        begin_serialised_write()
        profile = _lock(MentorProfile, mentor_id)
        goal = _lock(Goal, goal_id)  # before the tandem: two acceptances on one goal queue, not deadlock
        if profile is None or goal is None:
            raise TandemError("gone", _("The profile or goal no longer exists."))
        _lock_in(tandem, pending)
        if goal.status != GoalStatus.OPEN:
            raise TandemError("goal_not_open", _("This goal is not open any more."))
        broken = rules.check_pair(profile, goal, deciding=tandem)
        if broken == ["mentor_full"]:
            raise TandemError("mentor_full", rules.reason_text("mentor_full"))
        if broken:
            _cancel(tandem, broken[0])
            db.session.commit()
            raise TandemError(
                broken[0],
                _("This request can no longer be accepted and was cancelled: %(reason)s",
                  reason=rules.reason_text(broken[0])),
            )
        tandem.status = Tandem.RUNNING
        tandem.response_message = (message or "").strip()[:MESSAGE_MAX]
        tandem.responded_at = utcnow()
        tandem.starts_on = date.today()
        tandem.ends_on = date.today() + timedelta(days=DEFAULT_LENGTH_DAYS)
        goal.status = GoalStatus.MATCHED
        close_pending(goal, tandem)
        link = notifications.link_to("tandems.detail", tandem_id=tandem.id)
        # The asker learns the answer, the answerer gets the start; both learn the partner's contact.
        asker, answer_kind = (
            (tandem.mentor_user, "offer_answered") if pending == Tandem.OFFERED else (tandem.mentee, "request_accepted")
        )
        answer_key = "offer_accepted" if pending == Tandem.OFFERED else "request_accepted"
        notifications.notify(
            asker, answer_kind, answer_key, {"name": user.name, "title": goal.title}, link,
            obj=("tandem", tandem.id), contact=user,
        )
        notifications.notify(
            user, "tandem_started", "tandem_started", {"name": asker.name, "title": goal.title},
            link, obj=("tandem", tandem.id), contact=asker,
        )
        from .matching import vectors

        vectors.refresh_goal(goal)  # a matched goal leaves the discoverable index
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return tandem


def _cancel(tandem: Tandem, code: str) -> None:
    """A request that a hard rule no longer allows: cancelled, and both people are told which rule."""
    tandem.status = Tandem.CANCELLED
    tandem.responded_at = utcnow()
    title = tandem.goal.title if tandem.goal is not None else ""
    for user_id in (tandem.mentee_user_id, tandem.mentor_user_id):
        notifications.notify(
            user_id, "request_cancelled", "request_cancelled", {"title": title, "reason_code": code},
            notifications.link_to("tandems.detail", tandem_id=tandem.id), obj=("tandem", tandem.id),
        )


def end_pending_with(candidates: Select, removed: str) -> None:
    """The pending requests and offers among `candidates` end with the goal or mentor profile (`removed`) they
    were about, as with a deleted account: the other side is told (services/rematching.py), the rows go. An
    answer could not be given any more, and the pair rule would keep the two from asking each other again."""
    from . import rematching

    tell = rematching.pending_goal_deleted if removed == "goal" else rematching.pending_profile_deleted
    for tandem in db.session.scalars(candidates.where(Tandem.status.in_(Tandem.PENDING_STATUSES))
                                     .order_by(Tandem.id).with_for_update()):
        tell(tandem)
        db.session.delete(tandem)
    db.session.flush()


def recheck_open_pairings(company_ids: Collection[int], tell_running: bool = True) -> int:
    """Re-check every pending request or offer and unpublished cohort draft of people at these companies, and
    end those a hard rule no longer allows; answers how many were ended. The caller commits.

    Call it after anything that changes which companies people count as, or which companies compete:
    a new competitor link (both companies), a person's stated or verified company changing (old and
    new company), two companies merged (both), a verification confirmed or revoked. A pending request
    that is no longer allowed becomes `cancelled` and both people are told why; such a draft is removed
    and the community managers are told (the partners never saw it). Capacity is not judged here (it
    is at acceptance and publishing), nor a pause (a paused mentor may still answer pending requests). A running
    tandem the change puts at odds with a rule is not ended: the community managers are told (`tell_running`; a
    company merge tells them in its own words).
    """
    ids = [c for c in company_ids if c is not None]
    if not ids:
        return 0
    people = select(User.id).where(
        or_(User.company_id.in_(ids), User.verified_company_id.in_(ids), User.domain_company_id.in_(ids))
    )
    pending = list(
        db.session.scalars(
            select(Tandem)
            .where(
                Tandem.status.in_((*Tandem.PENDING_STATUSES, Tandem.DRAFT, Tandem.RUNNING)),
                or_(Tandem.mentee_user_id.in_(people), Tandem.mentor_user_id.in_(people)),
            )
            .order_by(Tandem.id)
        )
    )
    ended, running_broken = 0, []
    for tandem in pending:
        if tandem.goal is None or tandem.mentor is None:
            continue
        broken = [
            code for code in rules.check_pair(tandem.mentor, tandem.goal, check_capacity=False, deciding=tandem)
            if code != "mentor_paused"
        ]
        if not broken:
            continue
        if tandem.status == Tandem.RUNNING:
            running_broken.append((tandem, broken[0]))
            continue
        ended += 1
        if tandem.status in Tandem.PENDING_STATUSES:
            _cancel(tandem, broken[0])
        else:
            from .cohorts import enrolment

            enrolment.notify_managers(
                "draft_removed", "draft_removed",
                {"cohort": tandem.cohort.name if tandem.cohort else "", "reason_code": broken[0]},
                notifications.link_to("cohorts.review", cohort_id=tandem.cohort_id) if tandem.cohort_id else None,
                ("tandem", tandem.id),
            )
            db.session.delete(tandem)
    if running_broken and tell_running:
        _tell_managers_running_broken(running_broken)
    db.session.flush()
    return ended


def _tell_managers_running_broken(running: list[tuple[Tandem, str]]) -> None:
    """A running tandem is never ended by a change elsewhere (the partners may be halfway through): the
    community managers are told which ones now break a hard rule, and why, to decide with the people."""
    from .cohorts import enrolment

    for tandem, code in running:
        enrolment.notify_managers(
            "tandem_rule_broken", "running_tandem_rule_broken",
            {"mentee": tandem.mentee.name if tandem.mentee else "", "mentor": tandem.mentor_user.name
             if tandem.mentor_user else "", "title": tandem.goal.title, "reason_code": code},
            notifications.link_to("tandems.detail", tandem_id=tandem.id), ("tandem", tandem.id),
        )


def decline(tandem: Tandem, user: User, message: str = "") -> Tandem:
    """The one asked says no: the mentor to a request, the goal's owner to an offer; the asker is told."""
    _check_answerer(tandem, user)
    offered = tandem.status == Tandem.OFFERED
    begin_serialised_write()
    # The state read before the write lock: on SQLite the lock's commit reloads the row, and a withdrawal
    # committed meanwhile must make this answer fail, not pass as "still what it is".
    _lock_in(tandem, Tandem.OFFERED if offered else Tandem.OPEN_REQUEST)
    tandem.status = TandemStatus.DECLINED
    tandem.response_message = (message or "").strip()[:MESSAGE_MAX]
    tandem.responded_at = utcnow()
    link = notifications.link_to("tandems.detail", tandem_id=tandem.id)
    if offered:  # the mentor knew only the owner's first name, and keeps to it
        notifications.notify(tandem.mentor_user_id, "offer_answered", "offer_declined",
                             {"name": user.first_name, "title": tandem.goal.title if tandem.goal else ""},
                             link, obj=("tandem", tandem.id))
    else:
        from . import rematching

        rematching.tell_declined(tandem, user)  # with the next best mentors for the goal
    db.session.commit()
    return tandem


def withdraw(tandem: Tandem, user: User) -> Tandem:
    """The asker takes it back: the mentee a request, the mentor an offer; the other side is told."""
    offered = tandem.status == Tandem.OFFERED
    asker_id = tandem.mentor_user_id if offered else tandem.mentee_user_id
    if asker_id != user.id:
        if offered:
            raise TandemError("not_mentor", _("Only the mentor can withdraw this offer."), status=403)
        raise TandemError("not_mentee", _("Only the mentee can withdraw this request."), status=403)
    begin_serialised_write()
    _lock_in(tandem, Tandem.OFFERED if offered else Tandem.OPEN_REQUEST)
    tandem.status = TandemStatus.WITHDRAWN
    tandem.responded_at = utcnow()
    if offered:
        notifications.notify(tandem.mentee_user_id, "offer_received", "offer_withdrawn",
                             {"name": user.name, "title": tandem.goal.title if tandem.goal else ""},
                             obj=("tandem", tandem.id))
    else:
        notifications.notify(tandem.mentor_user_id, "request_withdrawn", "request_withdrawn",
                             obj=("tandem", tandem.id))
    db.session.commit()
    return tandem


def end(tandem: Tandem, user: User, reason: str) -> Tandem:
    """Either partner ends a running tandem early, with a reason; the capacity is free again, the goal open,
    and the mentee hears who could help next (services/rematching.py)."""
    if not tandem.involves(user):
        raise TandemError("not_partner", _("Only the partners can end this tandem."), status=403)
    begin_serialised_write()
    _lock(Goal, tandem.goal_id)  # the goal opens again: locked before the tandem, as everywhere
    _lock_in(tandem, TandemStatus.ACTIVE)
    reason = (reason or "").strip()
    if not has_visible_text(reason):
        raise TandemError("reason_required", _("Please say why the tandem ends."), status=400)
    tandem.status = TandemStatus.ENDED
    tandem.end_reason = reason[:MESSAGE_MAX]
    tandem.ended_at = utcnow()
    from . import meetings, rematching

    rematching.after_early_end(tandem, user, reason)  # the partner told, the mentee offered who could help next
    meetings.cancel_upcoming(tandem, user)
    db.session.commit()
    return tandem


def tandems_for_goal(goal: Goal) -> list[Tandem]:
    """Requests and tandems on a goal, newest first (cohort drafts stay with the manager)."""
    return list(
        db.session.scalars(
            select(Tandem)
            .where(Tandem.goal_id == goal.id, Tandem.status != TandemStatus.DRAFT)
            .order_by(Tandem.created_at.desc())
        )
    )


def tandems_of(user: User) -> list[Tandem]:
    return list(
        db.session.scalars(
            select(Tandem)
            .where(
                or_(Tandem.mentee_user_id == user.id, Tandem.mentor_user_id == user.id),
                Tandem.status != TandemStatus.DRAFT,
            )
            .order_by(Tandem.created_at.desc())
        )
    )


def can_view(tandem: Tandem | None, viewer: User) -> bool:
    """Who may see a tandem (pages and API alike): its two partners, once it is more than a cohort draft
    (a draft stays with the community managers until it is published)."""
    return tandem is not None and tandem.status != Tandem.DRAFT and tandem.involves(viewer)


def sees_mentee_in_full(tandem: Tandem, viewer: User) -> bool:
    """The mentee's full name: for themselves, and for a mentor who may see the goal in full (DESIGN.md);
    a mentor whose offer is not accepted (or whose request ended unanswered) knows only the first name."""
    return viewer.id == tandem.mentee_user_id or tandem.status in Tandem.GOAL_VISIBLE_STATUSES


def mentee_name(tandem: Tandem, viewer: User) -> str:
    """The mentee's name as `viewer` may see it (pages and API alike)."""
    if tandem.mentee is None:
        return ""
    return tandem.mentee.name if sees_mentee_in_full(tandem, viewer) else tandem.mentee.first_name


def partner_name(tandem: Tandem, viewer: User) -> str:
    """The other partner's name as `viewer` may see it: the mentor's in full, the mentee's as mentee_name
    allows; "" once that partner deleted their account (pages, e-mails and the data export alike)."""
    if viewer.id == tandem.mentor_user_id:
        return mentee_name(tandem, viewer)
    return tandem.mentor_user.name if tandem.mentor_user else ""


def can_see_contact(tandem: Tandem, viewer: User) -> bool:
    """Partners see each other's e-mail only once the tandem is accepted."""
    return tandem.involves(viewer) and tandem.status in PUBLISHED
