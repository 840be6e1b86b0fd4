"""A person's own data: download it as JSON, or delete the account for good.

Deleting keeps the programme's figures honest: tandems stay for cohort reports, anonymised (the
person's side becomes empty), while profile, goals (with their milestones), vectors, index entries, notes and
tokens go. A running tandem ends for either side: a mentee's leaves the mentor's slot free for someone else, a
mentor's leaves the mentee's goal open again, with the next best mentors.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import or_, select

from ..extensions import begin_serialised_write, db
from ..models import (
    ApiToken,
    CohortParticipant,
    Goal,
    ImportJob,
    Meeting,
    MeetingProposal,
    MentorProfile,
    Notification,
    NotificationSetting,
    OneTimeToken,
    OutgoingEmail,
    Reminder,
    Tandem,
    User,
    UserSession,
    as_utc,
)
from ..states import TandemStatus
from . import meetings, notifications, outbox, preferences, pulse, rematching, scheduling, tandems, throttle, timezones
from .matching import vectors


def _iso(value: date | datetime | None) -> str | None:
    """A day as YYYY-MM-DD, a moment in UTC with its offset (SQLite hands back naive datetimes)."""
    if value is None:
        return None
    return as_utc(value).isoformat() if isinstance(value, datetime) else value.isoformat()


def export_user_data(user: User) -> dict[str, Any]:
    """Everything Tandem holds about this person, in a form they can read and take elsewhere."""
    tandems = db.session.scalars(
        select(Tandem).where(or_(Tandem.mentee_user_id == user.id, Tandem.mentor_user_id == user.id))
    ).all()
    return {
        "account": _account(user),
        "mentor_profile": _mentor_profile(user.mentor_profile),
        "goals": _goals(user),
        "tandems": [_tandem(user, t) for t in tandems if t.status != TandemStatus.DRAFT],
        "meetings_i_logged": _meetings_logged(user),
        "availability_windows": _availability_windows(user),
        "meeting_proposals": _meeting_proposals(user, tandems),
        "pulse_checks": pulse.export_of(user),
        "cohorts": [
            {"cohort": p.cohort.name, "role": p.role, "status": p.status}
            for p in db.session.scalars(select(CohortParticipant).where(CohortParticipant.user_id == user.id))
        ],
        "signed_in_devices": [
            {"signed_in_at": _iso(s.created_at), "last_seen_at": _iso(s.last_seen_at)}
            for s in db.session.scalars(
                select(UserSession).where(UserSession.user_id == user.id).order_by(UserSession.created_at)
            )
        ],
        "failed_login_attempts_counted": throttle.account_failures(user.email),
        "notifications": [
            {"message": notifications.text(n), "created_at": _iso(n.created_at)}
            for n in db.session.scalars(select(Notification).where(Notification.user_id == user.id))
        ],
        "notification_settings": preferences.settings_of(user),
        **_system_records(user),
    }


def _account(user: User) -> dict[str, Any]:
    return {
        "email": user.email,
        "name": user.name,
        "company": user.company.name if user.company else None,
        "verified_company": user.verified_company.name if user.verified_company else None,
        "community_manager": user.is_manager,
        "language": user.locale,
        "time_zone": user.time_zone,
        "created_at": _iso(user.created_at),
    }


def _topics_and_languages(entity: MentorProfile | Goal) -> dict[str, Any]:
    """What a profile and a goal both name: topics (their English names) and language codes."""
    return {"topics": [t.name_en for t in entity.topics], "languages": entity.language_list}


def _mentor_profile(profile: MentorProfile | None) -> dict[str, Any] | None:
    if profile is None:
        return None
    return {
        "headline": profile.headline,
        "what_i_can_teach": profile.teaching_text,
        **_topics_and_languages(profile),
        "capacity": profile.capacity,
        "meetings_per_month": profile.meetings_per_month,
        "format": profile.meeting_format,
        "city": profile.city,
        "open": profile.is_open,
        "paused_for_inactivity_at": _iso(profile.auto_paused_at),
        "back_at": _iso(profile.back_at),
        "excluded_companies": [c.name for c in profile.excluded_companies],
    }


def _goals(user: User) -> list[dict[str, Any]]:
    return [
        {
            "title": goal.title,
            "description": goal.description,
            **_topics_and_languages(goal),
            "status": goal.status,
            "let_mentors_find_it": goal.discoverable,
            "excluded_companies": [c.name for c in goal.excluded_companies],
            "created_at": _iso(goal.created_at),
            "milestones": [{"title": m.title, "reached_at": _iso(m.done_at)} for m in goal.milestones],
        }
        for goal in user.goals
    ]


def _tandem(user: User, tandem: Tandem) -> dict[str, Any]:
    """One of the person's tandems, seen from their side: their role and the partner's name."""
    is_mentee = tandem.mentee_user_id == user.id
    return {
        "role": "mentee" if is_mentee else "mentor",
        "partner": tandems.partner_name(tandem, user) or None,  # a mentor not accepted knows the first name only
        "goal": tandem.goal.title if tandem.goal else None,
        "status": tandem.status,
        "starts_on": _iso(tandem.starts_on),
        "ends_on": _iso(tandem.ends_on),
        "request_message": tandem.request_message,
        "response_message": tandem.response_message,
    }


def _meetings_logged(user: User) -> list[dict[str, Any]]:
    return [
        {
            "starts_at": _iso(m.starts_at),
            "duration_minutes": m.minutes,
            "status": m.status,
            "video_url": m.video_url,
            "topic": m.topics_covered,
            "my_private_note": m.private_note,
        }
        for m in db.session.scalars(select(Meeting).where(Meeting.author_id == user.id))
    ]


def _availability_windows(user: User) -> list[dict[str, Any]]:
    return [
        {"weekday": scheduling.WEEKDAYS[w.weekday], "starts": scheduling.clock(w.starts_minute),
         "ends": scheduling.clock(w.ends_minute), "time_zone": timezones.name_of(user)}
        for w in scheduling.windows_of(user)
    ]


def _meeting_proposals(user: User, tandems: Sequence[Tandem]) -> list[dict[str, Any]]:
    """Proposals the person made, and every proposal in their tandems (those they answered among them)."""
    return [
        {"tandem": p.tandem_id, "proposed_by_me": p.proposer_id == user.id, "status": p.status,
         "answered_by_me": p.responder_id == user.id, "note": p.note,
         "created_at": _iso(p.created_at), "answered_at": _iso(p.answered_at),
         "times": [{"starts_at": _iso(slot.starts_at), "duration_minutes": slot.minutes,
                    "video_url": slot.video_url, "topic": slot.topic, "status": slot.status}
                   for slot in p.slots]}
        for p in db.session.scalars(
            select(MeetingProposal).where(or_(MeetingProposal.proposer_id == user.id,
                                              MeetingProposal.tandem_id.in_([t.id for t in tandems])))
            .order_by(MeetingProposal.id)
        )
    ]


def _system_records(user: User) -> dict[str, Any]:
    """What Tandem's machinery keeps about the person: imports they ran, reminders sent, e-mails written."""
    return {
        "imports": [
            {"cohort": job.cohort_id, "status": job.status, "rows": job.total_rows, "summary": job.summary,
             "created_at": _iso(job.created_at)}
            for job in db.session.scalars(select(ImportJob).where(ImportJob.user_id == user.id).order_by(ImportJob.id))
        ],
        "reminders": [
            {"kind": r.kind, "about": f"{r.object_type} {r.object_id}", "occasion": r.occasion,
             "created_at": _iso(r.created_at)}
            for r in db.session.scalars(select(Reminder).where(Reminder.user_id == user.id).order_by(Reminder.id))
        ],
        "emails": [
            {"subject": m.subject, "body": _exported_body(m), "kind": m.kind, "language": m.language,
             "status": m.status, "created_at": _iso(m.created_at), "sent_at": _iso(m.sent_at)}
            for m in db.session.scalars(select(OutgoingEmail).where(_emails_of(user)).order_by(OutgoingEmail.id))
        ],
    }


def _exported_body(message: OutgoingEmail) -> str:
    """A mail's text as exported: a mail holding a one-time sign-in or password link is named, not copied."""
    if message.kind in outbox.ONE_TIME_LINK_KINDS:
        return _("(This e-mail held a personal one-time link; the export leaves its text out.)")
    return message.body


def _emails_of(user: User):
    """Messages to this person: by account, and by address for those written before accounts were linked."""
    return or_(OutgoingEmail.recipient_user_id == user.id, OutgoingEmail.recipient == user.email)


def delete_account(user: User) -> None:
    """Remove the person and what is theirs, in one transaction; tandems stay, anonymised. Their vectors
    also leave the saved index files, not only this process's index: a file on disk keeps nothing of them.

    A running tandem of theirs ends as an early end does, whichever side they were on, and their pending
    requests and offers end too: the remaining partner is told (services/rematching.py)."""
    try:
        begin_serialised_write()
        theirs = _lock_rows_of(user)
        scheduling.forget_user(user)  # before the tandems lose the person's side, by which it finds them
        for tandem in theirs:
            _leave_tandem(tandem, user)
        # After the partners' next suggestions were searched: a search catches the index up with this
        # transaction's changes, and must not take in the removals while the profile is still there.
        vectors.drop_user_vectors(user)
        _delete_what_is_theirs(user)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    vectors.save_caught_up_indexes()


def _lock_rows_of(user: User) -> list[Tandem]:
    """Lock their profile, the goals they own or mentor a running tandem on, then their tandems (answered):
    the order an acceptance or an early end locks rows in (mentor, goal, tandems, then the index's change
    counter), so deleting while a partner accepts or ends cannot deadlock."""
    db.session.scalars(select(MentorProfile.id).where(MentorProfile.user_id == user.id).with_for_update()).all()
    mentored = select(Tandem.goal_id).where(Tandem.mentor_user_id == user.id, Tandem.status == Tandem.RUNNING)
    db.session.scalars(select(Goal.id).where(or_(Goal.owner_id == user.id, Goal.id.in_(mentored)))
                       .order_by(Goal.id).with_for_update()).all()
    return list(db.session.scalars(
        select(Tandem).where(or_(Tandem.mentee_user_id == user.id, Tandem.mentor_user_id == user.id))
        .order_by(Tandem.id).with_for_update()
    ))


def _leave_tandem(tandem: Tandem, user: User) -> None:
    """Drafts and pending requests or offers go (the other side is told of the latter); any other tandem stays
    without the person's side and their words, and a running one ends for the remaining partner."""
    if tandem.status == Tandem.DRAFT:
        db.session.delete(tandem)
        return
    if tandem.status in Tandem.PENDING_STATUSES:
        rematching.pending_partner_left(tandem, user)
        db.session.delete(tandem)
        return
    was_running = tandem.status == Tandem.RUNNING
    tandem.request_message = ""
    tandem.response_message = ""
    tandem.end_reason = ""
    if was_running:  # while the person's side still says who left
        rematching.partner_left(tandem, user)
    if tandem.mentee_user_id == user.id:
        tandem.mentee_user_id = None
        tandem.goal_id = None
    else:
        tandem.mentor_user_id = None
        tandem.mentor_profile_id = None
    if was_running:  # after the person's side is gone: only the remaining partner gets the cancellation
        db.session.flush()
        db.session.expire(tandem, ["mentee", "mentor_user"])
        meetings.cancel_upcoming(tandem)


def _delete_what_is_theirs(user: User) -> None:
    """Their notes' authorship, pulse answers, tokens, notifications, settings, enrolments, sessions, reminders,
    imports and mail, then the account itself."""
    for meeting in db.session.scalars(select(Meeting).where(Meeting.author_id == user.id)):
        meeting.author_id = None
        meeting.private_note = ""
        meeting.video_url = ""  # often the author's personal meeting room
    pulse.forget(user)
    for model in (ApiToken, OneTimeToken, Notification, NotificationSetting, CohortParticipant, UserSession,
                  Reminder, ImportJob):
        for row in db.session.scalars(select(model).where(model.user_id == user.id)):
            db.session.delete(row)
    for message in db.session.scalars(select(OutgoingEmail).where(_emails_of(user))):
        db.session.delete(message)
    throttle.clear_account(user.email)  # the failed-login count is keyed by the address
    db.session.delete(user)
