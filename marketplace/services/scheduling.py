"""Finding a time: weekly availability windows, and proposals of up to three times the partner picks from.

A person says when they are usually free ("Tuesday 18:00-20:00"), in their own time zone. One partner of
a running tandem proposes up to three times, each held to the rules of a planned meeting
(meetings.check_planned); the proposal form offers first the next times inside both partners' windows.
The other partner picks one, which becomes a planned meeting with invites to both (meetings.add), or
declines them all and asks for others. Each public function that changes something commits its own unit
of work; picking, declining and withdrawing close an open proposal with one conditional UPDATE, so of two
answers at once exactly one wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from babel import dates
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..extensions import begin_serialised_write, db
from ..models import AvailabilityWindow, Meeting, MeetingProposal, ProposalSlot, Tandem, User, as_utc, get_by_id
from . import meetings, notifications, tandems, timezones

MAX_SLOTS = 3
MAX_WINDOWS = 21
NOTE_MAX = 500
DAY_MINUTES = 24 * 60
HORIZON = timedelta(days=21)  # how far ahead the form looks for times inside the windows
LEAD = timedelta(hours=2)  # a suggested time leaves the partner a moment to answer
STEP_MINUTES = 30  # suggested times start on the hour or the half hour
SUGGESTIONS = 6
SHOWN_PROPOSALS = 5
# The API's names of the days, Monday (0) first.
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class SchedulingError(meetings.MeetingError):
    """A refused window or proposal, shaped like a refused meeting; `slot` is the index of the time it concerns."""

    def __init__(self, code: str, message: str, status: int = 400, field: str | None = None,
                 slot: int | None = None):
        super().__init__(code, message, status, {field: message} if field else None)
        self.slot = slot


# --- availability windows ---------------------------------------------------------------------------


def windows_of(user: User) -> list[AvailabilityWindow]:
    """The person's windows, Monday first, each day's earliest first."""
    return list(db.session.scalars(
        select(AvailabilityWindow).where(AvailabilityWindow.user_id == user.id)
        .order_by(AvailabilityWindow.weekday, AvailabilityWindow.starts_minute, AvailabilityWindow.id)
    ))


def parse_clock(value: object, field: str, end: bool = False) -> int:
    """"18:30" as minutes after midnight; "24:00" (or "00:00" as an end) is midnight at the day's end."""
    parts = value.split(":") if isinstance(value, str) else []
    if len(parts) == 2 and all(part.isascii() and part.isdigit() and len(part) == 2 for part in parts):
        minutes = int(parts[0]) * 60 + int(parts[1])
        if int(parts[1]) < 60 and minutes <= DAY_MINUTES:
            return DAY_MINUTES if end and minutes == 0 else minutes
    raise SchedulingError("invalid_time", _("A time of day as HH:MM, e.g. 18:00."), 422, field)


def clock(minutes: int) -> str:
    """Minutes after midnight as HH:MM (midnight at the end as 24:00)."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def day_names() -> list[str]:
    """Monday to Sunday in the current language."""
    names = dates.get_day_names("wide", locale=str(get_locale() or "en"))
    return [names[day] for day in range(7)]


def window_label(window: AvailabilityWindow) -> str:
    """"Tuesday 18:00–20:00" in the current language."""
    return f"{day_names()[window.weekday]} {clock(window.starts_minute)}–{clock(window.ends_minute)}"


def _check_window(weekday: object, starts: int, ends: int, others: list[AvailabilityWindow]) -> None:
    if not isinstance(weekday, int) or isinstance(weekday, bool) or not 0 <= weekday <= 6:
        raise SchedulingError("weekday", _("A day of the week."), 422, "weekday")
    if not 0 <= starts < ends <= DAY_MINUTES:
        raise SchedulingError("window_order", _("The window ends after it starts, on the same day."), 422, "ends")
    for other in others:
        if other.weekday == weekday and starts < other.ends_minute and other.starts_minute < ends:
            raise SchedulingError("window_overlap", _("This overlaps your window %(window)s.",
                                                      window=window_label(other)), 422, "starts")


def _lock_windows(user: User) -> None:
    """Serialise the person's window changes, so two at once both see the other's windows: the user row
    locked on PostgreSQL, the write lock on SQLite (which ignores FOR UPDATE)."""
    begin_serialised_write()
    db.session.execute(select(User.id).where(User.id == user.id).with_for_update())


def add_window(user: User, weekday: int, starts_minute: int, ends_minute: int) -> AvailabilityWindow:
    """A new weekly window (at most 21, none overlapping another on the same day); commits."""
    _lock_windows(user)
    existing = windows_of(user)
    try:
        if len(existing) >= MAX_WINDOWS:
            raise SchedulingError("too_many_windows", _("At most %(n)d windows.", n=MAX_WINDOWS), 422, "weekday")
        _check_window(weekday, starts_minute, ends_minute, existing)
    except SchedulingError:
        db.session.rollback()  # the lock goes at once
        raise
    window = AvailabilityWindow(user_id=user.id, weekday=weekday, starts_minute=starts_minute,
                                ends_minute=ends_minute)
    db.session.add(window)
    db.session.commit()
    return window


def replace_windows(user: User, windows: list[tuple[int, int, int]]) -> list[AvailabilityWindow]:
    """All of the person's windows at once, as (weekday, starts_minute, ends_minute); commits.

    A refused window leaves the stored ones as they were; its error's `slot` is its index.
    """
    if len(windows) > MAX_WINDOWS:
        raise SchedulingError("too_many_windows", _("At most %(n)d windows.", n=MAX_WINDOWS), 422, "windows")
    kept: list[AvailabilityWindow] = []
    for index, (weekday, starts, ends) in enumerate(windows):
        try:
            _check_window(weekday, starts, ends, kept)
        except SchedulingError as problem:
            problem.slot = index
            raise
        kept.append(AvailabilityWindow(user_id=user.id, weekday=weekday, starts_minute=starts, ends_minute=ends))
    _lock_windows(user)
    for window in windows_of(user):
        db.session.delete(window)
    db.session.add_all(kept)
    db.session.commit()
    return windows_of(user)


def delete_window(user: User, window_id: int) -> bool:
    """Remove one of the person's windows; False when it is not theirs. Commits."""
    _lock_windows(user)
    window = get_by_id(AvailabilityWindow, window_id)
    if window is None or window.user_id != user.id:
        db.session.rollback()
        return False
    db.session.delete(window)
    db.session.commit()
    return True


# --- times inside both partners' windows ---------------------------------------------------------------


def _occurrences(user: User, first: datetime, last: datetime) -> list[tuple[datetime, datetime]]:
    """The person's windows as concrete UTC intervals touching [first, last], each day in their own zone
    (so a window keeps its local hours across a daylight-saving change)."""
    windows = windows_of(user)
    if not windows:
        return []
    zone = timezones.zone_of(user)
    day, end_day = first.astimezone(zone).date(), last.astimezone(zone).date()
    found = []
    while day <= end_day:
        for window in windows:
            if window.weekday != day.weekday():
                continue
            start = datetime.combine(day, time(window.starts_minute // 60, window.starts_minute % 60), zone)
            end_day_of = day + timedelta(days=window.ends_minute // DAY_MINUTES)
            minutes = window.ends_minute % DAY_MINUTES
            end = datetime.combine(end_day_of, time(minutes // 60, minutes % 60), zone)
            found.append((start.astimezone(UTC), end.astimezone(UTC)))
        day += timedelta(days=1)
    return sorted(found)


def _overlaps(ours: list[tuple[datetime, datetime]], theirs: list[tuple[datetime, datetime]]):
    return sorted((max(a, c), min(b, d)) for a, b in ours for c, d in theirs if max(a, c) < min(b, d))


def _round_up(moment: datetime) -> datetime:
    """The next full or half hour (UTC minutes), or the moment itself when it is one."""
    whole = moment.replace(second=0, microsecond=0)
    if whole < moment:
        whole += timedelta(minutes=1)
    return whole + timedelta(minutes=-whole.minute % STEP_MINUTES)


@dataclass
class Suggestions:
    """The next times to offer: `source` says where they come from ("both", "yours"; "none" without windows of
    the proposer's, "no_fit" when none of them leaves a time in the weeks looked at, which start on `since`)."""

    source: str
    starts: list[datetime]
    since: date | None = None


def suggestions(tandem: Tandem, proposer: User, minutes: int = 60, at: datetime | None = None) -> Suggestions:
    """The next times (one per window) inside both partners' windows, else inside the proposer's own, that a
    planned meeting of this tandem may take, in the three weeks from now or from the tandem's first day when
    that is later; an empty list when the proposer has no windows or none fits."""
    current = at or meetings.now()
    earliest = current + LEAD
    first_day = meetings.period(tandem)[0]
    if first_day is not None:  # a tandem that starts weeks ahead: look at its first weeks
        earliest = max(earliest, datetime.combine(first_day, time.min, timezones.zone_of(proposer)).astimezone(UTC))
    last = earliest + HORIZON
    mine = _occurrences(proposer, earliest, last)
    partner = meetings.partner_of(tandem, proposer)
    theirs = _occurrences(partner, earliest, last) if partner is not None else []
    planned = _planned_starts(tandem)
    for source, intervals in (("both", _overlaps(mine, theirs)), ("yours", mine)):
        starts = []
        for start, end in intervals:
            moment = _round_up(max(start, earliest))
            if moment + timedelta(minutes=minutes) > end or (starts and starts[-1] == moment) or moment in planned:
                continue
            try:
                meetings.check_planned(tandem, proposer, moment, minutes)
            except meetings.MeetingError:
                continue
            starts.append(moment)
            if len(starts) == SUGGESTIONS:
                break
        if starts:
            return Suggestions(source, starts)
    if mine:
        return Suggestions("no_fit", [], timezones.local(earliest, proposer).date())
    return Suggestions("none", [])


# --- proposals -----------------------------------------------------------------------------------------


@dataclass
class SlotInput:
    """One time to propose, as typed: an aware start, and what the meeting would be."""

    starts_at: datetime | None
    duration_minutes: int | None = 60
    video_url: str = ""
    topic: str = ""


def _page_link(tandem: Tandem) -> str:
    return notifications.link_to("cohorts.meetings.tandem", tandem_id=tandem.id)


def _check_running_partner(tandem: Tandem, user: User) -> None:
    if not tandems.can_view(tandem, user):
        raise SchedulingError("not_partner", _("Only the two partners can propose and pick times."), 403)
    if tandem.status != Tandem.RUNNING:
        raise SchedulingError("not_active", _("Times can only be proposed while the tandem is running."), 409)


def _open_proposal_error() -> SchedulingError:
    return SchedulingError("proposal_open", _("Times proposed earlier still wait for an answer: pick one, ask "
                                              "for others or withdraw them first."), 409)


def _planned_starts(tandem: Tandem) -> set[datetime]:
    """The start instants (UTC) of the tandem's planned meetings."""
    return {as_utc(start) for start in db.session.scalars(
        select(Meeting.starts_at).where(Meeting.tandem_id == tandem.id, Meeting.status == Meeting.PLANNED))}


def propose(tandem: Tandem, proposer: User, slots: list[SlotInput]) -> MeetingProposal:
    """Propose one to three times (each by the rules of a planned meeting); the partner is told, in their
    language and time zone. One open proposal per tandem. Commits."""
    _check_running_partner(tandem, proposer)
    if not 1 <= len(slots) <= MAX_SLOTS:
        raise SchedulingError("slot_count", _("Propose one to three times."), 422, "slots")
    rows, seen, planned = [], set(), _planned_starts(tandem)
    for index, slot in enumerate(slots):
        try:
            moment, url = meetings.check_planned(tandem, proposer, slot.starts_at, slot.duration_minutes,
                                                 slot.video_url, slot.topic)
        except meetings.MeetingError as problem:
            raise SchedulingError(problem.code, problem.message, problem.status, problem.field, index) from None
        if moment in seen:
            raise SchedulingError("same_time", _("You proposed this time twice."), 422, "starts_at", index)
        if moment in planned:
            raise SchedulingError("meeting_at_time", _("A meeting of your tandem is already planned at this time."),
                                  422, "starts_at", index)
        seen.add(moment)
        rows.append(ProposalSlot(starts_at=moment, minutes=slot.duration_minutes, video_url=url,
                                 topic=(slot.topic or "").strip(), status=ProposalSlot.OPEN))
    if current_proposal(tandem) is not None:
        raise _open_proposal_error()
    proposal = MeetingProposal(tandem=tandem, proposer_id=proposer.id, status=MeetingProposal.OPEN, note="",
                               slots=sorted(rows, key=lambda row: row.starts_at), created_at=meetings.now())
    db.session.add(proposal)
    try:
        db.session.flush()  # the partial unique index refuses a second open proposal made at the same moment
    except IntegrityError:
        db.session.rollback()
        raise _open_proposal_error() from None
    partner = meetings.partner_of(tandem, proposer)
    if partner is not None:
        notifications.notify(partner, "meeting_proposal", "proposal_received",
                             {"name": proposer.name, "slots": [as_utc(row.starts_at).isoformat() for row in
                                                               proposal.slots]},
                             _page_link(tandem), obj=("proposal", proposal.id))
    db.session.commit()
    return proposal


def current_proposal(tandem: Tandem) -> MeetingProposal | None:
    """The tandem's open proposal, if one waits for an answer."""
    return db.session.scalar(select(MeetingProposal).where(MeetingProposal.tandem_id == tandem.id,
                                                           MeetingProposal.status == MeetingProposal.OPEN))


def get(tandem: Tandem, proposal_id: int, user: User) -> MeetingProposal:
    """A proposal of this tandem the user may see (the partners; managers for cohort tandems), else 404."""
    proposal = get_by_id(MeetingProposal, proposal_id)
    if proposal is None or proposal.tandem_id != tandem.id or not meetings.can_see(tandem, user):
        raise SchedulingError("not_found", _("No such proposal."), 404)
    return proposal


def _answer_error(proposal: MeetingProposal) -> SchedulingError:
    db.session.refresh(proposal)
    message = {
        MeetingProposal.PICKED: _("A time was already picked: the meeting is planned."),
        MeetingProposal.DECLINED: _("These times were already declined."),
        MeetingProposal.WITHDRAWN: _("These times were withdrawn."),
    }.get(proposal.status, _("These times were already answered."))
    return SchedulingError("already_answered", message, 409)


def _close(proposal: MeetingProposal, status: str, user: User) -> None:
    """Move an open proposal to `status` (its slots lapse), or refuse with 409 when another answer came first.

    One UPDATE that only matches while the proposal is open: on PostgreSQL a second one waits for the first's
    commit and then matches nothing; on SQLite the write lock serialises them.
    """
    begin_serialised_write()
    closed = db.session.execute(
        update(MeetingProposal)
        .where(MeetingProposal.id == proposal.id, MeetingProposal.status == MeetingProposal.OPEN)
        .values(status=status, responder_id=user.id, answered_at=meetings.now())
        .execution_options(synchronize_session=False)
    ).rowcount
    if closed != 1:
        db.session.rollback()
        raise _answer_error(proposal)
    db.session.execute(update(ProposalSlot).where(ProposalSlot.proposal_id == proposal.id)
                       .values(status=ProposalSlot.LAPSED).execution_options(synchronize_session=False))
    db.session.refresh(proposal)
    for slot in proposal.slots:
        db.session.refresh(slot)


def pick(tandem: Tandem, proposal_id: int, user: User, slot_id: int | None) -> Meeting:
    """The partner picks one time: it becomes a planned meeting (the proposer its author and the invite's
    organiser) with invites to both, and the other times lapse. Picking twice yields one meeting. Commits."""
    _check_running_partner(tandem, user)
    proposal = get(tandem, proposal_id, user)
    if proposal.proposer_id == user.id:
        raise SchedulingError("own_proposal", _("Your partner picks one of the times you proposed."), 403)
    slot = next((row for row in proposal.slots if slot_id is not None and row.id == slot_id), None)
    if slot is None:
        raise SchedulingError("slot", _("Pick one of the proposed times."), 422, "slot")
    if proposal.proposer is None:
        raise SchedulingError("proposer_gone", _("The partner who proposed these times has left."), 409)
    _close(proposal, MeetingProposal.PICKED, user)
    try:
        meeting = meetings.add(tandem, proposal.proposer, as_utc(slot.starts_at), slot.minutes,
                               video_url=slot.video_url, topic=slot.topic, actor=user, partner_key="proposal_picked")
    except meetings.MeetingError as problem:
        db.session.rollback()  # the proposal stays open: the partner can pick another time or ask for others
        raise SchedulingError(problem.code, problem.message, problem.status, "slot") from None
    slot.status = ProposalSlot.PICKED
    proposal.meeting_id = meeting.id
    db.session.commit()
    return meeting


def decline(tandem: Tandem, proposal_id: int, user: User, note: str = "") -> MeetingProposal:
    """The partner declines every time and asks for others, with an optional short note. Commits."""
    _check_running_partner(tandem, user)
    proposal = get(tandem, proposal_id, user)
    if proposal.proposer_id == user.id:
        raise SchedulingError("own_proposal", _("Withdraw your own proposal instead."), 403)
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise SchedulingError("too_long", _("At most %(n)d characters.", n=NOTE_MAX), 422, "note")
    _close(proposal, MeetingProposal.DECLINED, user)
    proposal.note = note
    if proposal.proposer is not None:
        # On one line: the message is also the e-mail's subject.
        params = {"name": user.name, "note": " ".join(note.split())} if note else {"name": user.name}
        notifications.notify(proposal.proposer, "meeting_proposal",
                             "proposal_declined_note" if note else "proposal_declined", params, _page_link(tandem),
                             obj=("proposal", proposal.id))
    db.session.commit()
    return proposal


def withdraw(tandem: Tandem, proposal_id: int, user: User) -> MeetingProposal:
    """The proposer takes the times back before one is picked; the partner is told. Commits."""
    _check_running_partner(tandem, user)
    proposal = get(tandem, proposal_id, user)
    if proposal.proposer_id != user.id:
        raise SchedulingError("not_proposer", _("Only the partner who proposed these times can withdraw them."), 403)
    _close(proposal, MeetingProposal.WITHDRAWN, user)
    partner = meetings.partner_of(tandem, user)
    if partner is not None:
        notifications.notify(partner, "meeting_proposal", "proposal_withdrawn", {"name": user.name},
                             _page_link(tandem), obj=("proposal", proposal.id))
    db.session.commit()
    return proposal


def proposals_of(tandem: Tandem, limit: int | None = None) -> list[MeetingProposal]:
    """The tandem's proposals, newest first."""
    query = (select(MeetingProposal).where(MeetingProposal.tandem_id == tandem.id)
             .order_by(MeetingProposal.created_at.desc(), MeetingProposal.id.desc()))
    return list(db.session.scalars(query.limit(limit) if limit else query))


def visible_note(proposal: MeetingProposal, viewer: User) -> str | None:
    """The note asking for other times is between the partners: a community manager does not read it."""
    return proposal.note if proposal.tandem.involves(viewer) else None


@dataclass
class SlotView:
    slot: ProposalSlot
    when: str  # the start in the viewer's zone (named once on the page) and language
    passed: bool


@dataclass
class ProposalView:
    proposal: MeetingProposal
    mine: bool
    slots: list[SlotView]

    @property
    def can_answer(self) -> bool:
        return not self.mine and self.proposal.status == MeetingProposal.OPEN


def proposal_views(tandem: Tandem, viewer: User) -> list[ProposalView]:
    """The open proposal (if any) and the latest answered ones, each time in the viewer's zone."""
    current = meetings.now()
    return [
        ProposalView(proposal, proposal.proposer_id == viewer.id, [
            SlotView(slot, timezones.format_instant(slot.starts_at, viewer, with_zone=False),
                     as_utc(slot.starts_at) <= current)
            for slot in proposal.slots
        ])
        for proposal in proposals_of(tandem, SHOWN_PROPOSALS)
    ]


def forget_user(user: User) -> None:
    """Account deletion: the person's windows and the proposals they made go, their notes on others' proposals
    are cleared, and an open proposal to them is withdrawn. The caller commits."""
    for window in db.session.scalars(select(AvailabilityWindow).where(AvailabilityWindow.user_id == user.id)):
        db.session.delete(window)
    for proposal in db.session.scalars(select(MeetingProposal).where(MeetingProposal.proposer_id == user.id)):
        db.session.delete(proposal)
    involved = select(Tandem.id).where((Tandem.mentee_user_id == user.id) | (Tandem.mentor_user_id == user.id))
    for proposal in db.session.scalars(select(MeetingProposal).where(MeetingProposal.tandem_id.in_(involved))):
        if proposal.responder_id == user.id:
            proposal.note = ""
            proposal.responder_id = None
        if proposal.status == MeetingProposal.OPEN:
            proposal.status = MeetingProposal.WITHDRAWN
            for slot in proposal.slots:
                slot.status = ProposalSlot.LAPSED
