"""How a mentor answers requests, from their own history: how soon, and what share they answer.

Shown on the profile once there are MIN_REQUESTS settled requests (answered or left to expire); cohort
pairs are no requests and do not count, nor requests the mentee withdrew before an answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import median

from flask_babel import format_percent
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..extensions import db
from ..models import MentorProfile, Tandem, as_utc
from .request_expiry import SETTLED_STATUSES

MIN_REQUESTS = 3
# (at most this many hours for the median answer, the label), fastest first.
SPEEDS = (
    (24, _l("Usually answers within a day")),
    (72, _l("Usually answers within three days")),
    (168, _l("Usually answers within a week")),
)
SLOW = _l("Usually takes more than a week to answer")
SILENT = _l("Has not answered requests lately")


@dataclass(frozen=True)
class Responsiveness:
    requests: int
    answered: int
    median_hours: float | None  # of the answered ones; None when none was answered

    @property
    def share_answered(self) -> float:
        return self.answered / self.requests

    def speed_label(self) -> str:
        """"Usually answers within a day" and the like, in the current language."""
        if self.median_hours is None:
            return str(SILENT)
        return str(next((label for hours, label in SPEEDS if self.median_hours <= hours), SLOW))

    def share_label(self) -> str:
        return _("answers %(share)s of requests", share=format_percent(self.share_answered))


def of(profile: MentorProfile) -> Responsiveness | None:
    """The mentor's responsiveness, or None while fewer than MIN_REQUESTS requests are settled."""
    rows = db.session.execute(
        select(Tandem.status, Tandem.created_at, Tandem.responded_at).where(
            Tandem.mentor_profile_id == profile.id, Tandem.cohort_id.is_(None), Tandem.status.in_(SETTLED_STATUSES),
            Tandem.responded_at.is_not(None),
        )
    ).all()
    if len(rows) < MIN_REQUESTS:
        return None
    hours = [(as_utc(answered) - as_utc(created)).total_seconds() / 3600
             for status, created, answered in rows if status != Tandem.EXPIRED]
    return Responsiveness(requests=len(rows), answered=len(hours), median_hours=median(hours) if hours else None)
