"""Requests that cannot die silently: half-time reminders, expiry with the next suggestions, and mentors
who let requests expire pausing themselves until they click "I'm back".

A request unanswered for TANDEM_REQUEST_EXPIRY_HOURS is over at once: it no longer counts as open (see
tandems.open_requests) and cannot be answered; the periodic job `request_expiry` writes the status and
tells both people. Every function takes `now`, so tests move a clock instead of waiting.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from itsdangerous import URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.orm.exc import ObjectDeletedError

from ..extensions import begin_serialised_write, db
from ..models import MentorProfile, Tandem, as_utc, utcnow
from ..states import STARTED, GoalStatus, TandemStatus
from . import notifications, preferences, reminders
from .matching import search, vectors

# This many requests in a row left to expire pause a mentor's profile.
EXPIRIES_BEFORE_PAUSE = 2
# Statuses that end a request the mentor saw: answered (accepted, later ended or completed; declined) or not.
SETTLED_STATUSES = (*STARTED, TandemStatus.DECLINED, TandemStatus.EXPIRED)
NEXT_SUGGESTIONS_IN_MAIL = 3


def expiry_time() -> timedelta:
    return timedelta(hours=float(current_app.config["TANDEM_REQUEST_EXPIRY_HOURS"]))


def expires_at(tandem: Tandem) -> datetime:
    return as_utc(tandem.created_at) + expiry_time()


def is_overdue(tandem: Tandem, now: datetime | None = None) -> bool:
    """An open request whose time is up, whether or not the job has written `expired` yet."""
    return tandem.status == Tandem.OPEN_REQUEST and expires_at(tandem) <= (now or utcnow())


def _open_requests_created_before(moment: datetime) -> list[Tandem]:
    return list(db.session.scalars(
        select(Tandem).where(Tandem.status == Tandem.OPEN_REQUEST, Tandem.created_at <= moment)
        .order_by(Tandem.created_at, Tandem.id)
    ))


def remind_at_half_time(now: datetime) -> int:
    """The mentor of every request past half its time (and not yet over) is reminded once."""
    reminded = 0
    for tandem in _open_requests_created_before(now - expiry_time() / 2):
        if is_overdue(tandem, now):
            continue
        params = {"name": tandem.mentee.name if tandem.mentee else "",
                  "title": tandem.goal.title if tandem.goal else "", "date": expires_at(tandem).date()}
        reminded += reminders.once(
            tandem.mentor_user_id, "request_received", "request_reminder", params,
            notifications.link_to("tandems.detail", tandem_id=tandem.id), obj=("tandem", tandem.id),
            occasion="half_time",
        )
    db.session.commit()
    return reminded


def expire_due(now: datetime) -> int:
    """Every overdue request becomes `expired`, one transaction each; answers how many did."""
    expired = 0
    for tandem in _open_requests_created_before(now - expiry_time()):
        expired += expire(tandem, now)
    return expired


def expire(tandem: Tandem, now: datetime) -> bool:
    """Expire one overdue request (False if it was answered meanwhile): the mentee hears of it with the
    goal's next suggestions, the mentor in the app; a second expiry in a row pauses the mentor."""
    begin_serialised_write()
    try:
        db.session.refresh(tandem, with_for_update=True)
    except ObjectDeletedError:
        db.session.rollback()
        return False
    if not is_overdue(tandem, now):
        db.session.rollback()
        return False
    tandem.status = Tandem.EXPIRED
    tandem.responded_at = now
    db.session.flush()
    goal, profile = tandem.goal, tandem.mentor
    title = goal.title if goal is not None else ""
    mentor_name = tandem.mentor_user.name if tandem.mentor_user else ""
    if profile is not None:
        _pause_if_inactive(profile, now)
    names = ([m.mentor.name for m in search.next_suggestions(goal, NEXT_SUGGESTIONS_IN_MAIL)]
             if goal is not None and goal.status == GoalStatus.OPEN else [])
    key, params = ("request_expired", {"name": mentor_name, "title": title, "suggestions": ", ".join(names)}) \
        if names else ("request_expired_none", {"name": mentor_name, "title": title})
    link = (notifications.link_to("goals.detail", id=goal.id) if goal is not None
            else notifications.link_to("tandems.detail", tandem_id=tandem.id))
    notifications.notify(tandem.mentee_user_id, "request_expired", key, params, link, obj=("tandem", tandem.id))
    if tandem.mentor_user_id is not None:
        notifications.notify(
            tandem.mentor_user_id, "request_expired", "request_expired_mentor",
            {"name": tandem.mentee.name if tandem.mentee else "", "title": title},
            notifications.link_to("tandems.detail", tandem_id=tandem.id), obj=("tandem", tandem.id), email=False,
        )
    db.session.commit()
    return True


def _pause_if_inactive(profile: MentorProfile, now: datetime) -> None:
    """Pause an open profile whose last EXPIRIES_BEFORE_PAUSE settled requests (since its last "I'm back")
    all expired, and send the mentor the one-click way back."""
    if not profile.is_open:
        return
    query = select(Tandem.status).where(
        Tandem.mentor_profile_id == profile.id, Tandem.cohort_id.is_(None), Tandem.status.in_(SETTLED_STATUSES),
        Tandem.responded_at.is_not(None),
    )
    if profile.back_at is not None:
        query = query.where(Tandem.responded_at > profile.back_at)
    latest = list(db.session.scalars(
        query.order_by(Tandem.responded_at.desc(), Tandem.id.desc()).limit(EXPIRIES_BEFORE_PAUSE)
    ))
    if len(latest) < EXPIRIES_BEFORE_PAUSE or any(status != Tandem.EXPIRED for status in latest):
        return
    profile.is_open = False
    profile.auto_paused_at = now
    vectors.refresh_mentor(profile)
    notifications.notify(
        profile.user_id, "mentor_paused", "mentor_paused_inactive", {"count": EXPIRIES_BEFORE_PAUSE},
        notifications.link_to("preferences.back", token=back_token(profile)), obj=("mentor_profile", profile.id),
        occasion=now.isoformat(),
    )


# --- "I'm back" ---------------------------------------------------------------------------------------


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="tandem-mentor-back")


def back_token(profile: MentorProfile) -> str:
    """A signed token for one pause: it names the profile and the moment it was paused, so a link from an
    earlier pause does nothing once the mentor came back."""
    paused = as_utc(profile.auto_paused_at).isoformat() if profile.auto_paused_at else ""
    return _serializer().dumps({"p": profile.id, "at": paused})


def read_back_token(token: str) -> MentorProfile | None:
    """The profile of a valid token: paused by the pause the token was made for, or open again (a second
    click); None for a bad token, or one from an earlier pause while the profile is paused otherwise."""
    data = preferences.signed_data(_serializer(), token, "p")
    if data is None:
        return None
    profile = db.session.get(MentorProfile, data["p"])
    if profile is None or profile.is_open:
        return profile
    current = as_utc(profile.auto_paused_at).isoformat() if profile.auto_paused_at else None
    return profile if current == data.get("at") else None
