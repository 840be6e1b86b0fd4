"""Pair health: which running tandems of a cohort need a community manager, and why; the manager's nudge.

`assess` is the one home of the rule. A tandem is `on_track`, `needs_check_in` or `at_risk` by its worst
reason: behind the meeting plan for the time elapsed (the target spread evenly over the tandem's period),
no activity (a meeting planned, logged or held, a pulse answer) for TANDEM_HEALTH_QUIET_WEEKS, meetings
missed, or a low pulse answer. The API gives the reasons' codes; pages render them with `reason_text`.
A low pulse answer is one reason of one weight whatever the score: neither its text nor the tandem's level
may tell a manager what a partner answered (the report shows answers only in aggregate, from five on).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..extensions import begin_serialised_write, db
from ..models import Cohort, Meeting, Reminder, Tandem, User
from . import meetings, notifications, pulse, reminders
from .errors import NudgeError

ON_TRACK, NEEDS_CHECK_IN, AT_RISK = "on_track", "needs_check_in", "at_risk"
# Worst first: the order of the progress page.
RANK = {AT_RISK: 0, NEEDS_CHECK_IN: 1, ON_TRACK: 2}
LABELS = {ON_TRACK: _l("On track"), NEEDS_CHECK_IN: _l("Needs check-in"), AT_RISK: _l("At risk")}
BEHIND_PLAN, NO_ACTIVITY, MISSED_MEETINGS, LOW_PULSE = "behind_plan", "no_activity", "missed_meetings", "low_pulse"
REASON_CODES = (BEHIND_PLAN, NO_ACTIVITY, MISSED_MEETINGS, LOW_PULSE)
NUDGE = "tandem_nudge"


def quiet_weeks() -> int:
    """Weeks without any activity after which a tandem needs a check-in (twice as many: at risk)."""
    return int(current_app.config["TANDEM_HEALTH_QUIET_WEEKS"])


@dataclass(frozen=True)
class Reason:
    code: str
    severity: str
    # What the text names: meetings expected and held, weeks quiet, meetings missed (never a pulse score).
    values: dict[str, int] = field(default_factory=dict)


@dataclass
class Signals:
    """What the rule reads of one tandem, gathered for many tandems at once by `cohort_health`."""

    held: int
    target: int
    missed: int
    last_activity: date | None
    pulse_scores: list[int]


def expected_meetings(tandem: Tandem, target: int, today: date) -> float:
    """Meetings the plan expects by today: the target spread evenly over the tandem's period."""
    first, last = meetings.period(tandem)
    if first is None or last is None or today <= first:
        return 0.0
    total = max((last - first).days, 1)
    return target * min((today - first).days, total) / total


def assess(tandem: Tandem, signals: Signals, today: date) -> tuple[str, list[Reason]]:
    """The health of one running tandem and its reasons, worst first. The only place the rule lives."""
    reasons = []
    expected = expected_meetings(tandem, signals.target, today)
    gap = expected - signals.held
    if gap >= 1:
        reasons.append(Reason(BEHIND_PLAN, AT_RISK if gap >= 2 else NEEDS_CHECK_IN,
                              {"held": signals.held, "expected": int(expected)}))
    start = meetings.period(tandem)[0]
    if start is not None and start <= today:
        since = max(filter(None, (signals.last_activity, start)))
        weeks, limit = (today - since).days // 7, quiet_weeks()
        if weeks >= limit:
            reasons.append(Reason(NO_ACTIVITY, AT_RISK if weeks >= 2 * limit else NEEDS_CHECK_IN, {"weeks": weeks}))
    if signals.missed:
        reasons.append(Reason(MISSED_MEETINGS, AT_RISK if signals.missed >= 2 else NEEDS_CHECK_IN,
                              {"missed": signals.missed}))
    if any(score <= pulse.LOW for score in signals.pulse_scores):
        reasons.append(Reason(LOW_PULSE, NEEDS_CHECK_IN))
    reasons.sort(key=lambda reason: RANK[reason.severity])
    return (reasons[0].severity if reasons else ON_TRACK), reasons


def reason_text(reason: Reason) -> str:
    """A reason as a manager reads it, in the interface language."""
    values = reason.values
    if reason.code == BEHIND_PLAN:
        return ngettext("behind the plan: %(num)d meeting held, about %(expected)d expected by now",
                        "behind the plan: %(num)d meetings held, about %(expected)d expected by now",
                        values["held"], expected=values["expected"])
    if reason.code == NO_ACTIVITY:
        return ngettext("no activity for %(num)d week", "no activity for %(num)d weeks", values["weeks"])
    if reason.code == MISSED_MEETINGS:
        return ngettext("%(num)d meeting missed", "%(num)d meetings missed", values["missed"])
    return _("a low pulse answer")


def health_label(health: str) -> str:
    return str(LABELS.get(health, health))


@dataclass
class TandemHealth:
    tandem: Tandem
    health: str
    reasons: list[Reason]
    nudges: int  # how many times a manager nudged the pair
    last_nudge_at: datetime | None

    @property
    def reason_codes(self) -> list[str]:
        return [reason.code for reason in self.reasons]


def _signals(tandems: list[Tandem], today: date) -> dict[int, Signals]:
    ids = [t.id for t in tandems]
    progress = meetings.progress_for(tandems, today)
    missed: dict[int, int] = {}
    logged: dict[int, date] = {}
    if ids:
        missed = dict(db.session.execute(
            select(Meeting.tandem_id, func.count(Meeting.id))
            .where(Meeting.tandem_id.in_(ids), Meeting.status == Meeting.MISSED).group_by(Meeting.tandem_id)
        ).all())
        for tandem_id, created_at in db.session.execute(
            select(Meeting.tandem_id, func.max(Meeting.created_at)).where(Meeting.tandem_id.in_(ids))
            .group_by(Meeting.tandem_id)
        ):
            logged[tandem_id] = created_at.date()
    answered = pulse.last_answered(ids)
    scores = pulse.latest_scores(ids)
    signals = {}
    for tandem in tandems:
        row = progress[tandem.id]
        activity = [day for day in (row.last_meeting_on, logged.get(tandem.id), answered.get(tandem.id)) if day]
        signals[tandem.id] = Signals(row.held, row.target, missed.get(tandem.id, 0),
                                     min(max(activity), today) if activity else None, scores.get(tandem.id, []))
    return signals


def nudges_of(tandem_ids: list[int]) -> dict[int, tuple[int, datetime]]:
    """Per tandem: how many nudges went, and when the last one went."""
    if not tandem_ids:
        return {}
    return {
        tandem_id: (count, last)
        for tandem_id, count, last in db.session.execute(
            select(Reminder.object_id, func.count(func.distinct(Reminder.occasion)), func.max(Reminder.created_at))
            .where(Reminder.kind == NUDGE, Reminder.object_type == "tandem", Reminder.object_id.in_(tandem_ids))
            .group_by(Reminder.object_id)
        )
    }


def running_tandems(cohort: Cohort) -> list[Tandem]:
    """Every running tandem of the cohort, also those whose cohort has not started yet."""
    return list(db.session.scalars(
        select(Tandem).where(Tandem.cohort_id == cohort.id, Tandem.status == Tandem.RUNNING).order_by(Tandem.id)
    ))


def cohort_health(cohort: Cohort, today: date | None = None) -> list[TandemHealth]:
    """Every running tandem of the cohort with its health, those at risk first, then by number of reasons."""
    today = today or meetings.now().date()
    tandems = running_tandems(cohort)
    signals = _signals(tandems, today)
    nudged = nudges_of([t.id for t in tandems])
    rows = []
    for tandem in tandems:
        health, reasons = assess(tandem, signals[tandem.id], today)
        count, last = nudged.get(tandem.id, (0, None))
        rows.append(TandemHealth(tandem, health, reasons, count, last))
    rows.sort(key=lambda row: (RANK[row.health], -len(row.reasons), row.tandem.id))
    return rows


def nudge(cohort: Cohort, tandem: Tandem | None, manager: User, seen: int) -> bool:
    """E-mail both partners that their community manager asks how it goes; commits.

    `seen` is the number of nudges the manager's page showed: the nudge after it is one occasion, so a
    double click (or two managers on one page) sends one message, and a nudge after the page showed it is
    a new one. False when this nudge had gone already.
    """
    if tandem is None or tandem.cohort_id != cohort.id or tandem.status != Tandem.RUNNING:
        raise NudgeError("not_found", _("No such running tandem in this cohort."), 404)
    occasion = f"nudge-{max(seen, 0) + 1}"
    link = notifications.link_to("cohorts.meetings.tandem", tandem_id=tandem.id)
    people = [(person, meetings.partner_of(tandem, person)) for person in (tandem.mentor_user, tandem.mentee)
              if person is not None]
    title, tandem_id = tandem.goal.title if tandem.goal else "", tandem.id
    begin_serialised_write()  # on SQLite clicks at once queue here; on PostgreSQL the unique index decides
    sent = False
    try:
        for person, partner in people:
            params = {"manager": manager.name, "name": partner.name if partner else "", "title": title}
            sent |= reminders.once(person.id, NUDGE, "manager_nudge", params, link, obj=("tandem", tandem_id),
                                   occasion=occasion)
        db.session.commit()
    except IntegrityError:  # the same nudge, flushed or committed by another click a moment ago
        db.session.rollback()
        return False
    return sent
