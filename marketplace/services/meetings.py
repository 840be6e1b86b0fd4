"""Meetings of a tandem: logged or planned by either partner, progress toward the target, calendar files.

A private note belongs to its author alone: every read goes through `visible_note`, never the column.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from flask_babel import format_date
from flask_babel import gettext as _
from sqlalchemy import func, select

from ..extensions import db
from ..models import Cohort, Meeting, Tandem, User, get_by_id
from . import notifications, tandems

BEHIND_AFTER_DAYS = 30
DEFAULT_TARGET = 6
MINUTES_MIN, MINUTES_MAX = 5, 600
TOPICS_MAX, NOTE_MAX = 2000, 5000


class MeetingError(Exception):
    """A refused meeting change; `field` names the form field it concerns, if any."""

    def __init__(self, code: str, message: str, status: int = 400, field: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.field = field


def _today() -> date:
    return date.today()


def _check_partner(tandem: Tandem, user: User) -> None:
    if not tandems.can_view(tandem, user):
        raise MeetingError("not_partner", _("Only the two partners can log meetings of a tandem."), 403)
    if tandem.status != "active":
        raise MeetingError("not_active", _("Meetings can only be logged while the tandem is running."), 409)


def log_meeting(
    tandem: Tandem,
    author: User,
    held_on: date | None,
    minutes: int | None,
    topics_covered: str = "",
    private_note: str = "",
    planned: bool = False,
) -> Meeting:
    """Record a meeting that took place, or plan one; the partner is told about a planned one."""
    _check_partner(tandem, author)
    if held_on is None:
        raise MeetingError("date_required", _("Please give the date."), field="held_on")
    if planned and held_on < _today():
        raise MeetingError("date_past", _("A planned meeting lies today or later."), field="held_on")
    if not planned and held_on > _today():
        raise MeetingError("date_future", _("A held meeting cannot lie in the future: plan it instead."),
                           field="held_on")
    if minutes is None or not MINUTES_MIN <= minutes <= MINUTES_MAX:
        raise MeetingError("minutes", _("Between %(low)d and %(high)d minutes.", low=MINUTES_MIN, high=MINUTES_MAX),
                           field="minutes")
    if len(topics_covered or "") > TOPICS_MAX:
        raise MeetingError("too_long", _("At most %(n)d characters.", n=TOPICS_MAX), field="topics_covered")
    if len(private_note or "") > NOTE_MAX:
        raise MeetingError("too_long", _("At most %(n)d characters.", n=NOTE_MAX), field="private_note")
    meeting = Meeting(
        tandem=tandem, author_id=author.id, held_on=held_on, minutes=minutes,
        topics_covered=(topics_covered or "").strip(), private_note=(private_note or "").strip(), planned=planned,
    )
    db.session.add(meeting)
    db.session.flush()
    partner_id = tandem.mentee_user_id if author.id == tandem.mentor_user_id else tandem.mentor_user_id
    if planned and partner_id:
        notifications.notify(
            partner_id, "meeting_planned", "meeting_planned", {"name": author.name, "date": held_on},
            notifications.link_to("cohorts.meetings.tandem", tandem_id=tandem.id), obj=("meeting", meeting.id),
        )
    db.session.commit()
    return meeting


def _own_meeting(tandem: Tandem, meeting_id: int, user: User) -> Meeting:
    meeting = get_by_id(Meeting, meeting_id)
    if meeting is None or meeting.tandem_id != tandem.id or not tandems.can_view(tandem, user):
        raise MeetingError("not_found", _("No such meeting."), 404)
    return meeting


def own_meeting(tandem: Tandem, meeting_id: int, user: User) -> Meeting | None:
    """A meeting its viewer logged on this tandem (the only one who may delete it), else None."""
    meeting = get_by_id(Meeting, meeting_id)
    if meeting is None or meeting.tandem_id != tandem.id or meeting.author_id != user.id:
        return None
    return meeting


def mark_held(tandem: Tandem, meeting_id: int, user: User) -> Meeting:
    """A planned meeting took place: from now on it counts toward the target."""
    _check_partner(tandem, user)
    meeting = _own_meeting(tandem, meeting_id, user)
    if not meeting.planned:
        raise MeetingError("already_held", _("This meeting is already logged as held."), 409)
    if meeting.held_on > _today():
        raise MeetingError("date_future", _("This meeting lies in the future."), 409)
    meeting.planned = False
    db.session.commit()
    return meeting


def delete_meeting(tandem: Tandem, meeting_id: int, user: User) -> None:
    meeting = _own_meeting(tandem, meeting_id, user)
    if meeting.author_id != user.id:
        raise MeetingError("not_author", _("Only the person who logged a meeting can delete it."), 403)
    db.session.delete(meeting)
    db.session.commit()


def visible_note(meeting: Meeting, viewer: User) -> str | None:
    """The private note for its author; nobody else, not even the partner or a manager, ever gets it."""
    return meeting.private_note if meeting.author_id == viewer.id else None


@dataclass
class MeetingView:
    meeting: Meeting
    note: str | None
    mine: bool


def meetings_for(tandem: Tandem, viewer: User) -> list[MeetingView]:
    meetings = db.session.scalars(
        select(Meeting).where(Meeting.tandem_id == tandem.id).order_by(Meeting.held_on.desc(), Meeting.id.desc())
    )
    return [MeetingView(m, visible_note(m, viewer), m.author_id == viewer.id) for m in meetings]


# --- progress ------------------------------------------------------------------------------------


@dataclass
class Progress:
    """How far a tandem has come: meetings held (one per day, whoever logged it) against the target."""

    tandem: Tandem
    held: int
    target: int
    last_meeting_on: date | None
    next_planned_on: date | None
    today: date

    @property
    def days_left(self) -> int | None:
        return (self.tandem.ends_on - self.today).days if self.tandem.ends_on else None

    @property
    def days_since_meeting(self) -> int | None:
        reference = self.last_meeting_on or self.tandem.starts_on
        return (self.today - reference).days if reference else None

    @property
    def behind(self) -> bool:
        """Running, started a while ago, and no meeting in the last 30 days."""
        if self.tandem.status != "active" or self.tandem.starts_on is None or self.tandem.starts_on > self.today:
            return False
        since = self.days_since_meeting
        return since is not None and since > BEHIND_AFTER_DAYS

    @property
    def percent(self) -> int:
        return min(100, round(100 * self.held / self.target)) if self.target else 100


def _target(tandem: Tandem) -> int:
    return tandem.cohort.meeting_target if tandem.cohort else DEFAULT_TARGET


def progress_for(tandems: list[Tandem], today: date | None = None) -> dict[int, Progress]:
    """Progress of many tandems with two queries; a meeting logged by both partners counts once."""
    today = today or _today()
    ids = [t.id for t in tandems]
    held: dict[int, tuple[int, date | None]] = {}
    planned: dict[int, date | None] = {}
    if ids:
        for tandem_id, count, last in db.session.execute(
            select(Meeting.tandem_id, func.count(func.distinct(Meeting.held_on)), func.max(Meeting.held_on))
            .where(Meeting.tandem_id.in_(ids), Meeting.planned.is_(False))
            .group_by(Meeting.tandem_id)
        ):
            held[tandem_id] = (count, last)
        for tandem_id, first in db.session.execute(
            select(Meeting.tandem_id, func.min(Meeting.held_on))
            .where(Meeting.tandem_id.in_(ids), Meeting.planned.is_(True), Meeting.held_on >= today)
            .group_by(Meeting.tandem_id)
        ):
            planned[tandem_id] = first
    return {
        t.id: Progress(t, held.get(t.id, (0, None))[0], _target(t), held.get(t.id, (0, None))[1], planned.get(t.id),
                       today)
        for t in tandems
    }


def progress(tandem: Tandem, today: date | None = None) -> Progress:
    return progress_for([tandem], today)[tandem.id]


def below_target(tandems: list[Tandem], today: date | None = None) -> int:
    """How many of these tandems have held fewer meetings than their target (what closing or ending cuts short)."""
    return sum(1 for row in progress_for(tandems, today).values() if row.held < row.target)


def cohort_progress(cohort: Cohort, only_behind: bool = False, today: date | None = None) -> list[Progress]:
    """Every published tandem of the cohort with its progress, those behind first."""
    tandems = list(
        db.session.scalars(
            select(Tandem).where(Tandem.cohort_id == cohort.id, Tandem.status.in_(("active", "ended", "completed")))
            .order_by(Tandem.id)
        )
    )
    rows = list(progress_for(tandems, today).values())
    if only_behind:
        rows = [row for row in rows if row.behind]
    rows.sort(key=lambda row: (not row.behind, row.last_meeting_on or date.min, row.tandem.id))
    return rows


# --- the kick-off checklist ----------------------------------------------------------------------


@dataclass
class ChecklistItem:
    label: str
    done: bool | None  # None: nothing in Tandem can tell, the partners tick it off between them


def kickoff_checklist(tandem: Tandem, progress_row: Progress | None = None) -> list[ChecklistItem]:
    """What a new tandem does first; ticks where the meetings logged so far tell."""
    row = progress_row or progress(tandem)
    has_any = row.held > 0 or row.next_planned_on is not None
    end = format_date(tandem.ends_on) if tandem.ends_on else "–"
    return [
        ChecklistItem(_("Get in touch: your partner's e-mail address is on your tandem page."), True),
        ChecklistItem(_("Plan the first meeting and add it to your calendars (.ics download)."), has_any),
        ChecklistItem(_("At the first meeting, share what each of you wants to learn and agree on discretion."),
                      row.held > 0 or None),
        ChecklistItem(_("Agree on a rhythm: about %(n)d meetings before %(end)s.", n=row.target, end=end), None),
        ChecklistItem(_("Log each meeting here, so your progress shows."), row.held > 0),
    ]


# --- calendar files (RFC 5545, written by hand: no extra dependency) -----------------------------


def _escape(text: str) -> str:
    """TEXT values: backslash, semicolon, comma and new lines are escaped (RFC 5545, 3.3.11)."""
    return (
        text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\r\n", "\\n").replace("\n", "\\n")
    )


def _fold(line: str) -> str:
    """Content lines longer than 75 octets are folded with CRLF + space (RFC 5545, 3.1), never inside a character."""
    parts: list[str] = []
    current = b""
    limit = 75
    for char in line:
        encoded = char.encode("utf-8")
        if len(current) + len(encoded) > limit:
            parts.append(current.decode("utf-8"))
            current = b""
            limit = 74  # continuation lines start with a space
        current += encoded
    parts.append(current.decode("utf-8"))
    return "\r\n ".join(parts)


def ics_calendar(tandem: Tandem, meetings: list[Meeting], host: str = "tandem.example") -> str:
    """An iCalendar file with the tandem's planned meetings as all-day events (no private notes in it)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    mentor = tandem.mentor_user.name if tandem.mentor_user else _("(former member)")
    mentee = tandem.mentee.name if tandem.mentee else _("(former member)")
    goal = tandem.goal.title if tandem.goal else ""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Tandem//Reverse mentoring//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
    ]
    for meeting in meetings:
        summary = _("Tandem meeting: %(mentor)s and %(mentee)s", mentor=mentor, mentee=mentee)
        description = "\n".join(
            part for part in (
                _("Goal: %(title)s", title=goal) if goal else "",
                _("Planned length: %(n)d minutes", n=meeting.minutes),
                meeting.topics_covered,
            ) if part
        )
        lines += [
            "BEGIN:VEVENT",
            f"UID:meeting-{meeting.id}-tandem-{tandem.id}@{host}",
            f"DTSTAMP:{stamp}",
            f"DTSTART;VALUE=DATE:{meeting.held_on.strftime('%Y%m%d')}",
            f"DTEND;VALUE=DATE:{(meeting.held_on + timedelta(days=1)).strftime('%Y%m%d')}",
            f"SUMMARY:{_escape(summary)}",
            f"DESCRIPTION:{_escape(description)}",
            "TRANSP:TRANSPARENT",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(_fold(line) + "\r\n" for line in lines)


def planned_meetings(tandem: Tandem) -> list[Meeting]:
    return list(
        db.session.scalars(
            select(Meeting).where(Meeting.tandem_id == tandem.id, Meeting.planned.is_(True)).order_by(Meeting.held_on)
        )
    )
