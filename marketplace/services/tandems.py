"""Tandem requests: ask, accept, decline, withdraw, end. Each change is one transaction."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, timedelta

from flask_babel import gettext as _
from sqlalchemy import or_, select
from sqlalchemy.orm.exc import ObjectDeletedError

from ..extensions import begin_serialised_write, db
from ..models import Goal, MentorProfile, Tandem, User, utcnow
from . import notifications, rules

MAX_OPEN_REQUESTS_PER_GOAL = 5
DEFAULT_LENGTH_DAYS = 182  # about six months, the usual programme length


class TandemError(Exception):
    """A request that a rule forbids; `code` is machine-readable, the message is for people."""

    def __init__(self, code: str, message: str, status: int = 409):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


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
        if status == "active":
            raise TandemError("not_active", _("Only a running tandem can be ended."))
        raise TandemError("not_open", _("This request is no longer open."))


def open_requests(goal: Goal, lock: bool = False) -> list[Tandem]:
    query = select(Tandem).where(Tandem.goal_id == goal.id, Tandem.status == "requested")
    if lock:  # PostgreSQL re-checks the status after waiting for a row, so one declined meanwhile drops out
        query = query.with_for_update().execution_options(populate_existing=True)
    return list(db.session.scalars(query))


def request_tandem(goal: Goal, profile: MentorProfile, requester: User, message: str = "") -> Tandem:
    """A mentee asks a mentor to work on one of their goals."""
    if goal.owner_id != requester.id:
        raise TandemError("not_owner", _("Only the goal's owner can request a tandem for it."), status=403)
    begin_serialised_write()
    _lock(Goal, goal.id)  # after an acceptance on this goal commits: its status, pairs and open requests
    if goal.status != "open":
        raise TandemError("goal_not_open", _("This goal is not open any more."))
    broken = rules.check_pair(profile, goal)
    if broken:
        raise TandemError(broken[0], rules.reason_text(broken[0]))
    if len(open_requests(goal)) >= MAX_OPEN_REQUESTS_PER_GOAL:
        raise TandemError(
            "too_many_requests",
            _("A goal can have at most %(n)d open requests. Withdraw one first.", n=MAX_OPEN_REQUESTS_PER_GOAL),
        )
    tandem = Tandem(
        goal=goal,
        mentor=profile,
        mentee=requester,
        mentor_user_id=profile.user_id,
        status="requested",
        request_message=(message or "").strip()[:2000],
    )
    db.session.add(tandem)
    db.session.flush()
    notifications.notify(
        profile.user_id, "request_received", "request_received", {"name": requester.name, "title": goal.title},
        notifications.link_to("tandems.detail", tandem_id=tandem.id), obj=("tandem", tandem.id),
    )
    db.session.commit()
    return tandem


def accept(tandem: Tandem, mentor_user: User, message: str = "") -> Tandem:
    """The mentor accepts: every hard rule is checked again under row locks, the goal's other requests are
    withdrawn. A request that a rule no longer allows is cancelled (both people are told why) and refused
    with the rule's code; a full mentor or a goal that is no longer open is refused and stays as it is."""
    if tandem.mentor_user_id != mentor_user.id:
        raise TandemError("not_mentor", _("Only the requested mentor can answer this request."), status=403)
    if tandem.status != Tandem.OPEN_REQUEST:
        raise TandemError("not_open", _("This request is no longer open."))
    mentor_id, goal_id = tandem.mentor_id, tandem.goal_id  # read before the commit below expires the tandem
    try:
        begin_serialised_write()
        profile = _lock(MentorProfile, mentor_id)
        goal = _lock(Goal, goal_id)  # before the tandem: two acceptances on one goal queue, not deadlock
        if profile is None or goal is None:
            raise TandemError("gone", _("The profile or goal no longer exists."))
        _lock_in(tandem, Tandem.OPEN_REQUEST)
        if goal.status != "open":
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
        tandem.response_message = (message or "").strip()[:2000]
        tandem.responded_at = utcnow()
        tandem.starts_on = date.today()
        tandem.ends_on = date.today() + timedelta(days=DEFAULT_LENGTH_DAYS)
        goal.status = "matched"
        for other in open_requests(goal, lock=True):
            if other.id == tandem.id:
                continue
            other.status = "withdrawn"
            other.responded_at = utcnow()
            notifications.notify(other.mentor_user_id, "request_withdrawn", "request_withdrawn_matched",
                                 {"title": goal.title}, obj=("tandem", other.id))
        link = notifications.link_to("tandems.detail", tandem_id=tandem.id)
        # The mentee's answer doubles as the start of the tandem; both learn the partner's contact.
        notifications.notify(
            tandem.mentee_user_id, "request_accepted", "request_accepted",
            {"name": mentor_user.name, "title": goal.title}, link, obj=("tandem", tandem.id), contact=mentor_user,
        )
        notifications.notify(
            mentor_user, "tandem_started", "tandem_started", {"name": tandem.mentee.name, "title": goal.title},
            link, obj=("tandem", tandem.id), contact=tandem.mentee,
        )
        from . import vectors

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


def recheck_open_pairings(company_ids: Collection[int]) -> int:
    """Re-check every pending request and unpublished cohort draft of people at these companies, and
    end those a hard rule no longer allows; answers how many were ended. The caller commits.

    Call it after anything that changes which companies people count as, or which companies compete:
    a new competitor link (both companies), a person's stated or verified company changing (old and
    new company), two companies merged (both), a verification confirmed or revoked. A pending request
    that is no longer allowed becomes `cancelled` and both people are told why; such a draft is removed
    and the community managers are told (the partners never saw it). Capacity is not judged here (it
    is at acceptance and publishing), nor a pause (a paused mentor may still answer pending requests).
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
                Tandem.status.in_((Tandem.OPEN_REQUEST, Tandem.DRAFT)),
                or_(Tandem.mentee_user_id.in_(people), Tandem.mentor_user_id.in_(people)),
            )
            .order_by(Tandem.id)
        )
    )
    ended = 0
    for tandem in pending:
        if tandem.goal is None or tandem.mentor is None:
            continue
        broken = [
            code for code in rules.check_pair(tandem.mentor, tandem.goal, check_capacity=False, deciding=tandem)
            if code != "mentor_paused"
        ]
        if not broken:
            continue
        ended += 1
        if tandem.status == Tandem.OPEN_REQUEST:
            _cancel(tandem, broken[0])
        else:
            from . import cohorts

            cohorts.notify_managers(
                "draft_removed", "draft_removed",
                {"cohort": tandem.cohort.name if tandem.cohort else "", "reason_code": broken[0]},
                notifications.link_to("cohorts.review", cohort_id=tandem.cohort_id) if tandem.cohort_id else None,
                ("tandem", tandem.id),
            )
            db.session.delete(tandem)
    db.session.flush()
    return ended


def decline(tandem: Tandem, mentor_user: User, message: str = "") -> Tandem:
    if tandem.mentor_user_id != mentor_user.id:
        raise TandemError("not_mentor", _("Only the requested mentor can answer this request."), status=403)
    begin_serialised_write()
    _lock_in(tandem, "requested")
    tandem.status = "declined"
    tandem.response_message = (message or "").strip()[:2000]
    tandem.responded_at = utcnow()
    notifications.notify(
        tandem.mentee_user_id, "request_declined", "request_declined", {"name": mentor_user.name},
        notifications.link_to("tandems.detail", tandem_id=tandem.id), obj=("tandem", tandem.id),
    )
    db.session.commit()
    return tandem


def withdraw(tandem: Tandem, mentee: User) -> Tandem:
    if tandem.mentee_user_id != mentee.id:
        raise TandemError("not_mentee", _("Only the mentee can withdraw this request."), status=403)
    begin_serialised_write()
    _lock_in(tandem, "requested")
    tandem.status = "withdrawn"
    tandem.responded_at = utcnow()
    notifications.notify(tandem.mentor_user_id, "request_withdrawn", "request_withdrawn", obj=("tandem", tandem.id))
    db.session.commit()
    return tandem


def end(tandem: Tandem, user: User, reason: str) -> Tandem:
    """Either partner ends a running tandem early, with a reason; the capacity is free again."""
    if not tandem.involves(user):
        raise TandemError("not_partner", _("Only the partners can end this tandem."), status=403)
    begin_serialised_write()
    _lock_in(tandem, "active")
    reason = (reason or "").strip()
    if not reason:
        raise TandemError("reason_required", _("Please say why the tandem ends."), status=400)
    tandem.status = "ended"
    tandem.end_reason = reason[:2000]
    tandem.ended_at = utcnow()
    partner_id = tandem.mentor_user_id if user.id == tandem.mentee_user_id else tandem.mentee_user_id
    if partner_id:
        notifications.notify(partner_id, "tandem_ended", "tandem_ended", {"name": user.name, "reason": reason},
                             obj=("tandem", tandem.id))
    db.session.commit()
    return tandem


def tandems_for_goal(goal: Goal) -> list[Tandem]:
    """Requests and tandems on a goal, newest first (cohort drafts stay with the manager)."""
    return list(
        db.session.scalars(
            select(Tandem).where(Tandem.goal_id == goal.id, Tandem.status != "draft").order_by(Tandem.created_at.desc())
        )
    )


def tandems_of(user: User) -> list[Tandem]:
    return list(
        db.session.scalars(
            select(Tandem)
            .where(or_(Tandem.mentee_user_id == user.id, Tandem.mentor_user_id == user.id), Tandem.status != "draft")
            .order_by(Tandem.created_at.desc())
        )
    )


def can_view(tandem: Tandem | None, viewer: User) -> bool:
    """Who may see a tandem (pages and API alike): its two partners, once it is more than a cohort draft
    (a draft stays with the community managers until it is published)."""
    return tandem is not None and tandem.status != Tandem.DRAFT and tandem.involves(viewer)


def can_see_contact(tandem: Tandem, viewer: User) -> bool:
    """Partners see each other's e-mail only once the tandem is accepted."""
    return tandem.involves(viewer) and tandem.status in ("active", "ended", "completed")
