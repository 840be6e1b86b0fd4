"""Reminders that periodic jobs give: each occasion once, however often (or by how many workers) a job runs.

A reminder is a `Reminder` row written in the same transaction as its notification (and so its e-mail):
half-time on an unanswered request, a tandem without a meeting lately (a new occasion per period), a
cohort whose end approaches (its survey follows).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from ..extensions import db
from ..models import Cohort, CohortParticipant, Meeting, Reminder, Tandem
from ..states import CohortState, ParticipantStatus
from . import notifications


def once(
    user_id: int | None,
    kind: str,
    key: str,
    params: dict[str, Any],
    link: str | None,
    *,
    obj: tuple[str, int],
    occasion: str,
) -> bool:
    """Notify `user_id` of this occasion unless they were already reminded of it; True when reminded now.
    The caller commits."""
    if user_id is None:
        return False
    object_type, object_id = obj
    given = db.session.scalar(
        select(Reminder.id).where(Reminder.kind == kind, Reminder.object_type == object_type,
                                  Reminder.object_id == object_id, Reminder.user_id == user_id,
                                  Reminder.occasion == occasion)
    )
    if given is not None:
        return False
    db.session.add(Reminder(user_id=user_id, kind=kind, object_type=object_type, object_id=object_id,
                            occasion=occasion))
    notifications.notify(user_id, kind, key, params, link, obj=obj, occasion=occasion)
    return True


def nudge_quiet_tandems(now: datetime) -> int:
    """Both partners of a running tandem without a meeting held for TANDEM_NO_MEETING_NUDGE_DAYS are nudged,
    once per such period since the last meeting (or the start); answers how many people were nudged."""
    days = int(current_app.config["TANDEM_NO_MEETING_NUDGE_DAYS"])
    today = now.date()
    last_meeting = (
        select(Meeting.tandem_id, func.max(Meeting.held_on).label("held_on"))
        .where(Meeting.status == Meeting.HELD).group_by(Meeting.tandem_id).subquery()
    )
    rows = db.session.execute(
        select(Tandem, last_meeting.c.held_on)
        .outerjoin(last_meeting, last_meeting.c.tandem_id == Tandem.id)
        .where(Tandem.status == Tandem.RUNNING)
        .order_by(Tandem.id)
    ).all()
    nudged = 0
    for tandem, held_on in rows:
        since: date | None = held_on or tandem.starts_on
        if since is None or (today - since).days < days:
            continue
        period = (today - since).days // days
        title = tandem.goal.title if tandem.goal is not None else ""
        link = notifications.link_to("tandems.detail", tandem_id=tandem.id)
        for user_id, partner in ((tandem.mentee_user_id, tandem.mentor_user),
                                 (tandem.mentor_user_id, tandem.mentee)):
            params = {"name": partner.name if partner else "", "title": title, "days": (today - since).days}
            nudged += once(user_id, "tandem_reminder", "no_meeting_nudge", params, link, obj=("tandem", tandem.id),
                           occasion=f"no_meeting:{since.isoformat()}:{period}")
    db.session.commit()
    return nudged


def remind_cohort_end(now: datetime) -> int:
    """Accepted participants of a running cohort that ends within TANDEM_SURVEY_REMINDER_DAYS hear that its
    survey follows (once per end date: a moved end is a new occasion); answers how many were reminded."""
    today = now.date()
    horizon = today + timedelta(days=int(current_app.config["TANDEM_SURVEY_REMINDER_DAYS"]))
    reminded = 0
    for cohort in db.session.scalars(
        select(Cohort).where(Cohort.state == CohortState.RUNNING, Cohort.ends_on >= today, Cohort.ends_on <= horizon)
        .order_by(Cohort.id)
    ):
        user_ids = sorted(set(db.session.scalars(
            select(CohortParticipant.user_id).where(CohortParticipant.cohort_id == cohort.id,
                                                    CohortParticipant.status == ParticipantStatus.ACCEPTED)
        )))
        link = notifications.link_to("cohorts.detail", cohort_id=cohort.id)
        for user_id in user_ids:
            reminded += once(user_id, "survey_open", "survey_soon", {"cohort": cohort.name, "date": cohort.ends_on},
                             link, obj=("cohort", cohort.id), occasion=f"ends:{cohort.ends_on.isoformat()}")
    db.session.commit()
    return reminded
