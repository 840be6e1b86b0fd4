"""Pulse checks: 30 days into a tandem and after every second meeting held, each partner says how it goes.

Two scales (how useful, how well the two work together; 1-5) and an optional comment. An answer belongs
to the person who gave it (their data export holds it) and to nobody else: the partner never sees it, and
community managers see answers only in aggregate, from MIN_ANSWERS answers on, plus the one signal pair
health reads (services/health.py): whether a partner's latest answer was low. Public functions that change
something commit their own unit of work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import Cohort, PulseCheck, Tandem, User, get_by_id
from ..states import PUBLISHED
from . import meetings, notifications
from .cohorts import enrolment, surveys
from .errors import PulseError

FIRST_AFTER_DAYS = 30
EVERY_HELD = 2  # meetings held between two checks
SCALE = range(1, 6)
LOW = 2  # an answer at or below this on either scale is low
COMMENT_MAX = 2000
MIN_ANSWERS = surveys.MIN_ANSWERS
KIND = "pulse_check"

QUESTIONS = {
    "usefulness": _l("How useful is your tandem for you? (1 = not at all, 5 = very)"),
    "collaboration": _l("How well are you and your partner working together? (1 = not at all, 5 = very well)"),
}


def due_occasions(tandem: Tandem, held: int, today: date) -> list[str]:
    """The occasions this running tandem has reached: "day-30" after its start, "held-N" for every second
    meeting held (only the latest: four meetings logged at once ask once, not twice)."""
    occasions = []
    start = meetings.period(tandem)[0]
    if start is not None and today >= start + timedelta(days=FIRST_AFTER_DAYS):
        occasions.append(f"day-{FIRST_AFTER_DAYS}")
    if held >= EVERY_HELD:
        occasions.append(f"held-{held - held % EVERY_HELD}")
    return occasions


def ask_due(now: datetime) -> int:
    """Ask each partner of every running tandem about each occasion reached, once (the unique key keeps a
    second run, or a second worker, from asking again); answers how many people were asked."""
    today = now.date()
    running = list(db.session.scalars(select(Tandem).where(Tandem.status == Tandem.RUNNING).order_by(Tandem.id)))
    progress = meetings.progress_for(running, today)
    asked_before = {
        (tandem_id, user_id, occasion)
        for tandem_id, user_id, occasion in db.session.execute(
            select(PulseCheck.tandem_id, PulseCheck.user_id, PulseCheck.occasion)
            .join(Tandem, Tandem.id == PulseCheck.tandem_id).where(Tandem.status == Tandem.RUNNING)
        )
    }
    asked = 0
    for tandem in running:
        for occasion in due_occasions(tandem, progress[tandem.id].held, today):
            for person, role in ((tandem.mentor_user, "mentor"), (tandem.mentee, "mentee")):
                if person is None or (tandem.id, person.id, occasion) in asked_before:
                    continue
                check = PulseCheck(tandem_id=tandem.id, user_id=person.id, role=role, occasion=occasion, asked_at=now)
                db.session.add(check)
                db.session.flush()
                partner = meetings.partner_of(tandem, person)
                params = {"name": partner.name if partner else "", "title": tandem.goal.title if tandem.goal else ""}
                notifications.notify(person, KIND, "pulse_check", params,
                                     notifications.link_to("cohorts.pulse.answer", check_id=check.id),
                                     obj=("pulse_check", check.id))
                asked += 1
    try:
        db.session.commit()
    except IntegrityError:  # asked in the meantime by a run that did not hold the lease (a manual run)
        db.session.rollback()
        return 0
    return asked


def own_check(check_id: int, user: User) -> PulseCheck | None:
    """A pulse check addressed to this person; for anyone else (the partner included) it does not exist."""
    check = get_by_id(PulseCheck, check_id)
    return check if check is not None and check.user_id == user.id else None


def open_checks(user: User, tandem: Tandem | None = None) -> list[PulseCheck]:
    """The person's unanswered checks of running tandems, oldest first (for the tandem page)."""
    query = (select(PulseCheck).join(Tandem, Tandem.id == PulseCheck.tandem_id)
             .where(PulseCheck.user_id == user.id, PulseCheck.answered_at.is_(None), Tandem.status == Tandem.RUNNING)
             .order_by(PulseCheck.asked_at, PulseCheck.id))
    if tandem is not None:
        query = query.where(PulseCheck.tandem_id == tandem.id)
    return list(db.session.scalars(query))


def is_open(check: PulseCheck) -> bool:
    """Only a check of a running tandem takes an answer: after the end there is nothing left to ask about."""
    status = db.session.scalar(select(Tandem.status).where(Tandem.id == check.tandem_id))
    return status == Tandem.RUNNING


def _scale(value: Any, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value not in SCALE:
        raise PulseError("invalid", _("Choose from 1 to 5."), 422, name)
    return value


def submit(check: PulseCheck, user: User, usefulness: Any, collaboration: Any, comment: str | None,
           now: datetime) -> PulseCheck:
    """Store this person's answer; a second answer (or a double click) is refused."""
    if check.user_id != user.id:
        raise PulseError("not_found", _("No such pulse check."), 404)
    if not is_open(check):
        raise PulseError("tandem_ended", _("The tandem has ended."), 409)
    values = {"usefulness": _scale(usefulness, "usefulness"), "collaboration": _scale(collaboration, "collaboration")}
    text = (comment or "").strip()
    if len(text) > COMMENT_MAX:
        raise PulseError("too_long", _("At most %(n)d characters.", n=COMMENT_MAX), 422, "comment")
    # The conditional update is the "one answer" guard, also against two requests at once (and an end).
    running = select(Tandem.id).where(Tandem.id == check.tandem_id, Tandem.status == Tandem.RUNNING)
    claimed = db.session.execute(
        update(PulseCheck).where(PulseCheck.id == check.id, PulseCheck.answered_at.is_(None), running.exists())
        .values(answered_at=now, comment=text, **values).execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        db.session.rollback()
        if not is_open(check):
            raise PulseError("tandem_ended", _("The tandem has ended."), 409)
        raise PulseError("already_answered", _("You have already answered this pulse check. Thank you!"), 409)
    db.session.commit()
    db.session.refresh(check)
    return check


def latest_scores(tandem_ids: list[int]) -> dict[int, list[int]]:
    """Per tandem, the lower scale of each partner's latest answer (what pair health reads)."""
    latest: dict[tuple[int, int | None], PulseCheck] = {}
    if tandem_ids:
        for check in db.session.scalars(
            select(PulseCheck).where(PulseCheck.tandem_id.in_(tandem_ids), PulseCheck.answered_at.is_not(None))
            .order_by(PulseCheck.answered_at, PulseCheck.id)
        ):
            latest[(check.tandem_id, check.user_id)] = check
    scores: dict[int, list[int]] = {}
    for (tandem_id, _user), check in latest.items():
        scores.setdefault(tandem_id, []).append(min(check.usefulness or 0, check.collaboration or 0))
    return scores


def last_answered(tandem_ids: list[int]) -> dict[int, date]:
    """The day of each tandem's latest answer: answering counts as activity for pair health."""
    if not tandem_ids:
        return {}
    days: dict[int, date] = {}
    for tandem_id, answered_at in db.session.execute(
        select(PulseCheck.tandem_id, PulseCheck.answered_at)
        .where(PulseCheck.tandem_id.in_(tandem_ids), PulseCheck.answered_at.is_not(None))
    ):
        days[tandem_id] = max(days.get(tandem_id, date.min), answered_at.date())
    return days


@dataclass
class PulseResults:
    asked: int
    answered: int
    shown: bool
    usefulness_average: float | None = None
    usefulness_counts: dict[int, int] = field(default_factory=dict)
    collaboration_average: float | None = None
    comments: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "asked": self.asked, "answered": self.answered, "min_answers": MIN_ANSWERS, "shown": self.shown,
            "usefulness_average": self.usefulness_average,
            "usefulness_counts": {str(k): v for k, v in self.usefulness_counts.items()} if self.shown else None,
            "collaboration_average": self.collaboration_average, "comments": self.comments,
        }


def results(cohort: Cohort) -> PulseResults:
    """The cohort's answers in aggregate; below MIN_ANSWERS nothing but the counts leaves this function."""
    ids = [t.id for t in enrolment.cohort_tandems(cohort, PUBLISHED)]
    checks = list(db.session.scalars(select(PulseCheck).where(PulseCheck.tandem_id.in_(ids)))) if ids else []
    answers = [c for c in checks if c.answered_at is not None]
    if len(answers) < MIN_ANSWERS:
        return PulseResults(len(checks), len(answers), False)
    useful = [a.usefulness or 0 for a in answers]
    together = [a.collaboration or 0 for a in answers]
    return PulseResults(
        asked=len(checks), answered=len(answers), shown=True,
        usefulness_average=round(sum(useful) / len(useful), 2),
        usefulness_counts={score: useful.count(score) for score in SCALE},
        collaboration_average=round(sum(together) / len(together), 2),
        comments=sorted((a.comment for a in answers if a.comment), key=str.casefold),  # never in answer order
    )


def export_of(user: User) -> list[dict[str, Any]]:
    """The person's own pulse checks and answers, for their data export (never the partner's)."""
    return [
        {"tandem": check.tandem_id, "occasion": check.occasion, "asked_at": check.asked_at.isoformat(),
         "answered_at": check.answered_at.isoformat() if check.answered_at else None,
         "usefulness": check.usefulness, "collaboration": check.collaboration, "comment": check.comment}
        for check in db.session.scalars(select(PulseCheck).where(PulseCheck.user_id == user.id).order_by(PulseCheck.id))
    ]


def forget(user: User) -> None:
    """Account deletion: open checks go; answers stay for the figures, without the person or their comment.
    The caller commits."""
    for check in db.session.scalars(select(PulseCheck).where(PulseCheck.user_id == user.id)):
        if check.answered_at is None:
            db.session.delete(check)
        else:
            check.user_id, check.comment = None, ""
