"""Meetings of a tandem: planned, held or missed, at an instant each partner sees in their own time zone.

Either partner plans, moves or logs a meeting; both get an RFC 5545 invite by e-mail (and on the page),
a reminder the day before, and, once a planned meeting's end has passed, the question whether it took
place. A private note belongs to its author alone: every read goes through `visible_note`, never the column.
Each public function that changes something commits its own unit of work.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import force_locale, format_date
from flask_babel import gettext as _
from icalendar import Calendar, Event, vCalAddress
from sqlalchemy import func, select
from sqlalchemy.orm.exc import ObjectDeletedError

from ..extensions import begin_serialised_write, db
from ..models import Cohort, Meeting, Tandem, User, as_utc, get_by_id
from ..states import STARTED, TandemStatus
from . import notifications, tandems, throttle, timezones
from .errors import MeetingError

BEHIND_AFTER_DAYS = 30
DEFAULT_TARGET = 6
MINUTES_MIN, MINUTES_MAX = 5, 600
TOPICS_MAX, NOTE_MAX, URL_MAX = 2000, 5000, 500
REMIND_BEFORE = timedelta(days=1)
# RFC 3986's characters of a URI, without the quote a page or calendar could be tricked by; % only as %XX.
URL_CHARACTERS = re.compile(r"(?:[A-Za-z0-9\-._~:/?#\[\]@!$&()*+,;=]|%[0-9A-Fa-f]{2})+")
EDITABLE = ("starts_at", "duration_minutes", "video_url", "topic", "status", "private_note")


def now() -> datetime:
    """The app's clock: tests set `TANDEM_CLOCK`, as for the login throttle."""
    return throttle.now()


def _today() -> date:
    return now().date()


def can_see(tandem: Tandem | None, user: User) -> bool:
    """The partners see their meetings; community managers those of cohort tandems (never private notes)."""
    if tandems.can_view(tandem, user):
        return True
    return bool(tandem is not None and user.is_manager and tandem.cohort_id and tandem.status != Tandem.DRAFT)


def _check_partner(tandem: Tandem, user: User) -> None:
    if not tandems.can_view(tandem, user):
        raise MeetingError("not_partner", _("Only the two partners can log meetings of a tandem."), 403)
    if tandem.status != TandemStatus.ACTIVE:
        raise MeetingError("not_active", _("Meetings can only be logged while the tandem is running."), 409)


def partner_of(tandem: Tandem, user: User) -> User | None:
    return tandem.mentee if user.id == tandem.mentor_user_id else tandem.mentor_user


def period(tandem: Tandem) -> tuple[date | None, date | None]:
    """The days a meeting of this tandem may lie on: its own period, a cohort tandem's not before the cohort."""
    first, last = tandem.starts_on, tandem.ends_on
    if tandem.cohort is not None:
        first = max(filter(None, (first, tandem.cohort.starts_on)), default=None)
        last = min(filter(None, (last, tandem.cohort.ends_on)), default=None)
    return first, last


def _http_with_host(url: str) -> bool:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a malformed port raises ValueError, as a malformed host does in urlsplit
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def clean_video_url(value: str | None) -> str:
    """An http(s) link with a host, or nothing: a calendar turns anything else into a trap (javascript:, file:)."""
    url = (value or "").strip()
    if not url:
        return ""
    if not _http_with_host(url) or len(url) > URL_MAX:
        raise MeetingError.on_field("video_url", _("A video-call link starts with https:// or http://."), "video_url")
    if not URL_CHARACTERS.fullmatch(url):
        message = _("A video-call link is one web address: no spaces, quotes or angle brackets.")
        raise MeetingError.on_field("video_url", message, "video_url")
    return url


def _check_time(tandem: Tandem, author: User, starts_at: datetime, status: str) -> datetime:
    """The start instant in UTC, inside the tandem's period; held or missed not in the future, planned not past."""
    first, last = period(tandem)

    def outside_period() -> MeetingError:
        message = _("Meetings of this tandem lie between %(first)s and %(last)s.",
                    first=format_date(first) if first else "–", last=format_date(last) if last else "–")
        return MeetingError.on_field("starts_at", message, "outside_period")

    # A zone is never a day away from UTC: a day outside the period by more than a day needs no conversion (which
    # overflows near the calendar's end, 9999-12-31, in a zone ahead of UTC) and no offset check (a zone's offset
    # of the year 1 runs in seconds: Berlin's was +00:53:28).
    rough = starts_at.date()
    if (first and rough < first - timedelta(days=2)) or (last and rough > last + timedelta(days=2)):
        raise outside_period()
    offset = starts_at.utcoffset() if starts_at.tzinfo is not None else None
    if offset is None or offset.total_seconds() % 60:  # no zone has an offset of seconds
        message = _("Give the time with its offset from UTC, e.g. 2027-03-02T18:00:00+01:00.")
        raise MeetingError.on_field("starts_at", message, "starts_at")
    if timezones.skipped(starts_at):
        message = _("%(time)s does not exist on that day in %(zone)s: the clocks jump forward. Please choose another "
                    "time.", time=starts_at.strftime("%H:%M"), zone=starts_at.tzinfo)
        raise MeetingError.on_field("starts_at", message, "time_skipped")
    try:
        moment = timezones.to_utc(starts_at)
        day = timezones.local(moment, author).date()
    except OverflowError:
        day = None
    if day is None or (first and day < first) or (last and day > last):
        raise outside_period()
    current = now()
    if status != Meeting.PLANNED and moment > current:
        message = _("A held or missed meeting lies between %(first)s and now: plan a later one instead.",
                    first=format_date(first) if first else "–")
        raise MeetingError.on_field("starts_at", message, "date_future")
    if status == Meeting.PLANNED and moment < current:
        message = _("A planned meeting lies between now and %(last)s.", last=format_date(last) if last else "–")
        raise MeetingError.on_field("starts_at", message, "date_past")
    return moment.replace(second=0, microsecond=0)  # meetings start on a minute, as calendars show them


def _refuse_twin(tandem: Tandem, moment: datetime, moving: int | None = None) -> None:
    """One meeting per start minute in a tandem (a double click, both partners logging one meeting, a move or a
    picked time onto another meeting). Under the tandem's row lock (SQLite: the caller's write lock), so two
    such writes at once see each other."""
    db.session.execute(select(Tandem.id).where(Tandem.id == tandem.id).with_for_update())
    # `moment` is on a minute (_check_time); the window also catches rows stored with seconds before that.
    twin = select(Meeting.id).where(Meeting.tandem_id == tandem.id, Meeting.starts_at >= moment,
                                    Meeting.starts_at < moment + timedelta(minutes=1))
    if moving is not None:
        twin = twin.where(Meeting.id != moving)
    if db.session.scalar(twin.limit(1)) is not None:
        raise MeetingError.on_field("starts_at", _("There is already a meeting at this time."), "duplicate", 409)


def _check_fields(values: dict) -> None:
    minutes = values.get("duration_minutes")
    if "duration_minutes" in values and (not isinstance(minutes, int) or isinstance(minutes, bool)
                                         or not MINUTES_MIN <= minutes <= MINUTES_MAX):
        message = _("Between %(low)d and %(high)d minutes.", low=MINUTES_MIN, high=MINUTES_MAX)
        raise MeetingError.on_field("duration_minutes", message, "minutes")
    if values.get("status", Meeting.PLANNED) not in Meeting.STATUSES:
        raise MeetingError.on_field("status", _("One of planned, held or missed."), "status")
    for name, limit in (("topic", TOPICS_MAX), ("private_note", NOTE_MAX)):
        if len(values.get(name) or "") > limit:
            raise MeetingError.on_field(name, _("At most %(n)d characters.", n=limit), "too_long")


def _place(meeting: Meeting, moment: datetime) -> None:
    meeting.starts_at = moment
    meeting.held_on = moment.astimezone(UTC).date()


def create(
    tandem: Tandem, author: User, starts_at: datetime | None, duration_minutes: int | None = 60, **fields: Any
) -> Meeting:
    """Plan a meeting (both partners get the invite) or log one that took place or was missed; commits.

    `fields` are `add`'s keywords: status, video_url, topic, private_note. A second meeting in the same minute
    is refused (`_refuse_twin`); on SQLite the write lock taken here serialises two creates at once.
    """
    begin_serialised_write()
    meeting = add(tandem, author, starts_at, duration_minutes, **fields)
    db.session.commit()
    return meeting


def check_planned(tandem: Tandem, author: User, starts_at: datetime | None, duration_minutes: int | None,
                  video_url: str = "", topic: str = "") -> tuple[datetime, str]:
    """The rules of a planned meeting by `author` (the same for a proposed time): its start in UTC and its link."""
    return _checked(tandem, author, starts_at, duration_minutes, Meeting.PLANNED, video_url, topic, "")


def _checked(tandem: Tandem, author: User, starts_at: datetime | None, duration_minutes: int | None, status: str,
             video_url: str, topic: str, private_note: str) -> tuple[datetime, str]:
    _check_partner(tandem, author)
    if starts_at is None:
        raise MeetingError.on_field("starts_at", _("Please give the date and time."), "starts_at")
    _check_fields({"duration_minutes": duration_minutes, "status": status, "topic": topic,
                   "private_note": private_note})
    url = clean_video_url(video_url)
    return _check_time(tandem, author, starts_at, status), url


def add(
    tandem: Tandem,
    author: User,
    starts_at: datetime | None,
    duration_minutes: int | None = 60,
    *,
    status: str = Meeting.PLANNED,
    video_url: str = "",
    topic: str = "",
    private_note: str = "",
    actor: User | None = None,
    partner_key: str | None = None,
) -> Meeting:
    """`create` without the commit, for a unit of work that does more (a picked proposal): the caller commits.

    `actor` (default: the author) is the one who acted: the other partner is notified, with `partner_key`'s
    message when given.
    """
    moment, url = _checked(tandem, author, starts_at, duration_minutes, status, video_url, topic, private_note)
    _refuse_twin(tandem, moment)
    meeting = Meeting(tandem=tandem, author_id=author.id, minutes=duration_minutes, video_url=url, status=status,
                      topics_covered=(topic or "").strip(), private_note=(private_note or "").strip(), sequence=0)
    _place(meeting, moment)
    db.session.add(meeting)
    db.session.flush()
    if meeting.planned:
        _send_invites(meeting, actor or author, "meeting_invite", partner_key=partner_key)
    return meeting


def get(tandem: Tandem, meeting_id: int, user: User) -> Meeting:
    """A meeting of this tandem the user may see, else MeetingError 404."""
    meeting = get_by_id(Meeting, meeting_id)
    if meeting is None or meeting.tandem_id != tandem.id or not can_see(tandem, user):
        raise MeetingError("not_found", _("No such meeting."), 404)
    return meeting


def _locked(tandem: Tandem, meeting_id: int, user: User) -> Meeting:
    """`get` under the meeting's row lock (SQLite: the write lock): of two changes at once the second reads what
    the first committed, so each raises the invite's SEQUENCE to a number of its own and no change is lost."""
    begin_serialised_write()
    meeting = get(tandem, meeting_id, user)
    try:
        db.session.refresh(meeting, with_for_update=True)
    except ObjectDeletedError:  # the other change deleted it
        db.session.rollback()
        raise MeetingError("not_found", _("No such meeting."), 404) from None
    return meeting


def own_meeting(tandem: Tandem, meeting_id: int, user: User) -> Meeting | None:
    """A meeting its viewer logged on this running tandem (the only one who may delete it), else None."""
    meeting = get_by_id(Meeting, meeting_id)
    if (meeting is None or meeting.tandem_id != tandem.id or meeting.author_id != user.id
            or tandem.status != TandemStatus.ACTIVE):
        return None
    return meeting


def update(tandem: Tandem, meeting_id: int, user: User, changes: dict, as_outcome: bool = False) -> Meeting:
    """Change a meeting (either partner; the private note only its author). Moving it is a new `starts_at`.

    A change the calendars must show (time, length, link, topic) raises the invite's SEQUENCE and mails the
    new invite to both; a planned meeting recorded as held or missed needs its start to have passed.
    `as_outcome`: the answer to "did it take place?", refused (409) unless the meeting still waits for one when
    the lock is held: the partner may have answered meanwhile, or the page was old.
    """
    _check_partner(tandem, user)
    meeting = _locked(tandem, meeting_id, user)
    if as_outcome and not needs_outcome(meeting):
        db.session.rollback()
        raise MeetingError("already_answered", _("This meeting no longer waits for an answer: it was answered "
                                                 "meanwhile or is not over yet. Its state is shown below."), 409)
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        name = sorted(unknown)[0]
        raise MeetingError.on_field(name, _("This field cannot be changed."), "unknown_field")
    if "private_note" in changes and meeting.author_id != user.id:
        message = _("Only the author of a private note can change it.")
        raise MeetingError.on_field("private_note", message, "not_author", 403)
    _check_fields(changes)
    status = changes.get("status", meeting.status)
    if "starts_at" in changes:
        if changes["starts_at"] is None:
            raise MeetingError.on_field("starts_at", _("Please give the date and time."), "starts_at")
        moment = _check_time(tandem, user, changes["starts_at"], status)
        if moment != as_utc(meeting.starts_at):
            _refuse_twin(tandem, moment, moving=meeting.id)
    else:
        moment = as_utc(meeting.starts_at)
        if status != meeting.status:
            _check_time(tandem, user, moment, status)
    url = clean_video_url(changes["video_url"]) if "video_url" in changes else meeting.video_url
    before = (as_utc(meeting.starts_at), meeting.minutes, meeting.video_url, meeting.topics_covered, meeting.status)
    _place(meeting, moment)
    meeting.minutes = changes.get("duration_minutes", meeting.minutes)
    meeting.video_url = url
    meeting.status = status
    if "topic" in changes:
        meeting.topics_covered = (changes["topic"] or "").strip()
    if "private_note" in changes:
        meeting.private_note = (changes["private_note"] or "").strip()
    after = (as_utc(meeting.starts_at), meeting.minutes, meeting.video_url, meeting.topics_covered, meeting.status)
    if after != before:
        meeting.sequence += 1
        if meeting.planned:
            _send_invites(meeting, user, "meeting_moved" if after[0] != before[0] else "meeting_invite")
    db.session.commit()
    return meeting


def record_outcome(tandem: Tandem, meeting_id: int, user: User, outcome: str,
                   new_start: datetime | None = None) -> Meeting:
    """The answer to "did it take place?": `held`, `missed`, or `moved` to `new_start` (planned again)."""
    if outcome == "moved":
        return update(tandem, meeting_id, user, {"starts_at": new_start, "status": Meeting.PLANNED}, as_outcome=True)
    if outcome not in (Meeting.HELD, Meeting.MISSED):
        raise MeetingError.on_field("status", _("One of planned, held or missed."), "status")
    return update(tandem, meeting_id, user, {"status": outcome}, as_outcome=True)


def delete_meeting(tandem: Tandem, meeting_id: int, user: User) -> None:
    """Only its author deletes a meeting, while the tandem runs (an ended tandem's record stays as the report
    counted it); a planned one's invite is cancelled in both calendars."""
    _check_partner(tandem, user)
    meeting = _locked(tandem, meeting_id, user)
    if meeting.author_id != user.id:
        raise MeetingError("not_author", _("Only the person who logged a meeting can delete it."), 403)
    if meeting.planned:
        meeting.sequence += 1
        _send_invites(meeting, user, "meeting_cancelled", method="CANCEL")
    db.session.delete(meeting)
    db.session.commit()


def cancel_upcoming(tandem: Tandem, actor: User | None = None) -> int:
    """In the transaction of whatever stops a running tandem (an early end, its cohort closing, a partner's
    account deletion): its planned meetings still ahead are cancelled as a deletion cancels one, METHOD:CANCEL
    to each remaining partner (`actor`, who stopped it, gets only the e-mail). The caller commits; answers how
    many were cancelled."""
    upcoming = list(db.session.scalars(select(Meeting).where(
        Meeting.tandem_id == tandem.id, Meeting.status == Meeting.PLANNED, Meeting.starts_at > now())))
    for meeting in upcoming:
        meeting.sequence += 1
        _send_invites(meeting, actor, "meeting_cancelled", method="CANCEL")
        db.session.delete(meeting)
    return len(upcoming)


def visible_note(meeting: Meeting, viewer: User) -> str | None:
    """The private note for its author; nobody else, not even the partner or a manager, ever gets it."""
    return meeting.private_note if meeting.author_id == viewer.id else None


def needs_outcome(meeting: Meeting, at: datetime | None = None) -> bool:
    """A planned meeting whose end has passed: the partners are asked whether it took place."""
    return meeting.planned and ends_at(meeting) <= (at or now())


def ends_at(meeting: Meeting) -> datetime:
    return as_utc(meeting.starts_at) + timedelta(minutes=meeting.minutes)


@dataclass
class MeetingView:
    meeting: Meeting
    note: str | None
    mine: bool
    when: str  # the start, in the viewer's zone (named once on the page) and language
    ask_outcome: bool


def meetings_for(tandem: Tandem, viewer: User) -> list[MeetingView]:
    """The tandem's meetings, newest first, each in the viewer's time zone."""
    meetings = db.session.scalars(
        select(Meeting).where(Meeting.tandem_id == tandem.id).order_by(Meeting.starts_at.desc(), Meeting.id.desc())
    )
    current = now()
    return [
        MeetingView(m, visible_note(m, viewer), m.author_id == viewer.id,
                    timezones.format_instant(m.starts_at, viewer, with_zone=False), needs_outcome(m, current))
        for m in meetings
    ]


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
        tandem = self.tandem
        if tandem.status != TandemStatus.ACTIVE or tandem.starts_on is None or tandem.starts_on > self.today:
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
            .where(Meeting.tandem_id.in_(ids), Meeting.status == Meeting.HELD)
            .group_by(Meeting.tandem_id)
        ):
            held[tandem_id] = (count, last)
        for tandem_id, first in db.session.execute(
            select(Meeting.tandem_id, func.min(Meeting.held_on))
            .where(Meeting.tandem_id.in_(ids), Meeting.status == Meeting.PLANNED, Meeting.held_on >= today)
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
            select(Tandem).where(Tandem.cohort_id == cohort.id, Tandem.status.in_(STARTED))
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


# --- invites (RFC 5545, written by the icalendar library) -----------------------------------------


def uid(meeting: Meeting) -> str:
    """Stable for the meeting's life, so every update and the cancellation replace the same calendar entry."""
    host = urlsplit(current_app.config["TANDEM_BASE_URL"]).hostname or "tandem.invalid"
    return f"meeting-{meeting.id}-tandem-{meeting.tandem_id}@{host}"


def _address(user: User, role: str | None = None) -> vCalAddress:
    address = vCalAddress(f"mailto:{user.email}")
    address.params["CN"] = user.name
    if role:
        address.params.update({"ROLE": role, "PARTSTAT": "NEEDS-ACTION", "RSVP": "FALSE", "CUTYPE": "INDIVIDUAL"})
    return address


def invite(meeting: Meeting, method: str = "REQUEST") -> str:
    """The meeting as an iCalendar request (or cancellation): UTC times, organiser, both partners, video link.

    No private note is ever in it.
    """
    tandem = meeting.tandem
    mentor = tandem.mentor_user.name if tandem.mentor_user else _("(former member)")
    mentee = tandem.mentee.name if tandem.mentee else _("(former member)")
    calendar = Calendar()
    calendar.add("prodid", "-//Tandem//Reverse mentoring//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    event = Event()
    event.add("uid", uid(meeting))
    event.add("dtstamp", now().astimezone(UTC))
    event.add("dtstart", as_utc(meeting.starts_at))
    event.add("dtend", ends_at(meeting))
    event.add("sequence", meeting.sequence)
    event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    event.add("summary", _("Tandem meeting: %(mentor)s and %(mentee)s", mentor=mentor, mentee=mentee))
    description = [_("Goal: %(title)s", title=tandem.goal.title) if tandem.goal else "", meeting.topics_covered]
    if meeting.video_url:
        description.append(_("Video call: %(url)s", url=meeting.video_url))
        event.add("location", meeting.video_url)
        event.add("url", meeting.video_url)
    event.add("description", "\n".join(part for part in description if part))
    partners = [user for user in (tandem.mentor_user, tandem.mentee) if user is not None]
    organizer = meeting.author if meeting.author is not None and meeting.author in partners else None
    organizer = organizer or (partners[0] if partners else None)
    if organizer is not None:
        event.add("organizer", _address(organizer))
    for partner in partners:
        event.add("attendee", _address(partner, "REQ-PARTICIPANT"))
    calendar.add_component(event)
    return calendar.to_ical().decode("utf-8")


def _when(meeting: Meeting) -> str:
    return as_utc(meeting.starts_at).isoformat()


def _send_invites(meeting: Meeting, actor: User | None, key: str, method: str = "REQUEST",
                  partner_key: str | None = None) -> None:
    """The invite (or cancellation) to both partners: any but the actor is also told in the app (with
    `partner_key`'s message when given)."""
    from . import emails

    link = notifications.link_to("cohorts.meetings.tandem", tandem_id=meeting.tandem_id)
    for person in (meeting.tandem.mentor_user, meeting.tandem.mentee):
        if person is None:
            continue
        other = partner_of(meeting.tandem, person)
        with force_locale(emails.recipient_locale(person)):  # the file's words in the recipient's language
            file = invite(meeting, method)
        params = {"name": other.name if other else None, "when": _when(meeting)}
        fields = {"obj": ("meeting", meeting.id), "occasion": f"{method.lower()}-{meeting.sequence}", "ics": file}
        if actor is not None and person.id == actor.id:
            notifications.queue_email(person, "meeting_planned", key, params, link, **fields)
        else:
            notifications.notify(person, "meeting_planned", partner_key or key, params, link, **fields)


# --- periodic jobs: reminders the day before, "did it take place?" after the end ---------------------


def _both(meeting: Meeting, kind: str, key: str, occasion: str) -> None:
    link = notifications.link_to("cohorts.meetings.tandem", tandem_id=meeting.tandem_id)
    for person in (meeting.tandem.mentor_user, meeting.tandem.mentee):
        if person is None:
            continue
        other = partner_of(meeting.tandem, person)
        notifications.notify(person, kind, key, {"name": other.name if other else None, "when": _when(meeting)}, link,
                             obj=("meeting", meeting.id), occasion=occasion)


def _planned_running(*where) -> list[Meeting]:
    return list(db.session.scalars(
        select(Meeting).join(Tandem, Tandem.id == Meeting.tandem_id)
        .where(Meeting.status == Meeting.PLANNED, Tandem.status == TandemStatus.ACTIVE, *where).order_by(Meeting.id)
    ))


def _not_done_for_this_start(column):
    """A meeting moved since the reminder or question went out is a new occasion."""
    return column.is_(None) | (column != Meeting.starts_at)


def send_reminders(at: datetime | None = None) -> int:
    """Each partner of a planned meeting starting within a day is reminded once per start time (a moved
    meeting gets a new reminder); returns how many meetings were reminded of."""
    current = at or now()
    due = _planned_running(Meeting.starts_at > current, Meeting.starts_at <= current + REMIND_BEFORE,
                           _not_done_for_this_start(Meeting.reminded_for))
    for meeting in due:
        _both(meeting, "meeting_reminder", "meeting_reminder", f"remind-{_when(meeting)}")
        meeting.reminded_for = meeting.starts_at
    db.session.commit()
    return len(due)


def ask_outcomes(at: datetime | None = None) -> int:
    """Both partners of a planned meeting whose end has passed are asked once (per start time) whether it
    took place; returns how many meetings they were asked about."""
    current = at or now()
    candidates = _planned_running(Meeting.starts_at <= current, _not_done_for_this_start(Meeting.outcome_asked_for))
    asked = [meeting for meeting in candidates if needs_outcome(meeting, current)]
    for meeting in asked:
        _both(meeting, "meeting_outcome", "meeting_outcome", f"outcome-{_when(meeting)}")
        meeting.outcome_asked_for = meeting.starts_at
    db.session.commit()
    return len(asked)
