"""Every JSON shape of the API, one function per resource (openapi.yaml documents them).

The routes parse the request and call a service; what they answer is built here and nowhere else. Names
come in the request's language; a viewer is passed wherever what is shown depends on who asks.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from flask_babel import get_locale

from ..models import (
    AvailabilityWindow,
    Cohort,
    CohortParticipant,
    Goal,
    Meeting,
    MeetingProposal,
    MentorProfile,
    Milestone,
    Notification,
    Tandem,
    Topic,
    User,
    as_utc,
)
from ..services import goals, health, notifications, rematching, scheduling, tandems, timezones
from ..services.cohorts import assignment, enrolment, explanations
from ..services.matching.search import MentorMatch
from ..services.milestones import Progress


def current_locale() -> str:
    """The request's language, in which topic names are given."""
    return str(get_locale() or "en")


def _utc_z(moment: datetime | None) -> str | None:
    """An instant in UTC with a `Z`, as meetings and proposals give their times."""
    return timezones.to_utc(moment).isoformat().replace("+00:00", "Z") if moment is not None else None


def person_json(user: User | None, with_email: bool = False) -> dict[str, Any] | None:
    """A person as every resource names them; the e-mail only where the viewer may contact them."""
    if user is None:
        return None
    company = user.effective_company
    data: dict[str, Any] = {"id": user.id, "name": user.name, "company": company.name if company else None}
    if with_email:
        data["email"] = user.email
    return data


# --- mentors and search --------------------------------------------------------------------------


def mentor_json(profile: MentorProfile) -> dict[str, Any]:
    """What everyone signed in sees of a profile (its owner sees more: mentor_profile_json)."""
    company = profile.user.effective_company
    return {
        "id": profile.id,
        "name": profile.user.name,
        "company": company.name if company else None,
        "headline": profile.headline,
        "text": profile.teaching_text,
        "topics": [t.display_name(current_locale()) for t in profile.topics],
        "languages": profile.language_list,
        "capacity": profile.capacity,
        "city": profile.city,
    }


def mentor_page_json(profile: MentorProfile) -> dict[str, Any]:
    """GET /mentors/<id>: the profile with its meeting format and whether it takes requests."""
    return mentor_json(profile) | {"format": profile.meeting_format, "open": profile.is_open}


def mentor_profile_json(profile: MentorProfile) -> dict[str, Any]:
    """The profile as its owner reads it and writes it back with PUT (the same field names)."""
    return mentor_json(profile) | {
        "meetings_per_month": profile.meetings_per_month, "meeting_format": profile.meeting_format,
        "paused": not profile.is_open,
    }


def mentor_match_json(match: MentorMatch, locale: str) -> dict[str, Any]:
    """One mentor found by a search or suggested for a goal, with why; topics named in `locale`."""
    mentor = match.mentor
    return {
        "id": mentor.id,
        "name": mentor.name,
        "company": mentor.company_name,
        "headline": mentor.headline,
        "score": round(match.score, 4),
        "matched_topics": [t.display_name(locale) for t in match.matched_topics],
        "mentioned_topics": [t.display_name(locale) for t in match.mentioned_topics],
        "highlights": match.highlights,
        "shared_languages": match.shared_languages,
    }


def search_json(query: str, results: list[MentorMatch], topics_to_try: list[Topic] | None) -> dict[str, Any]:
    """A search's answer; `topics_to_try` (the taxonomy) only when it found nobody."""
    locale = current_locale()
    body: dict[str, Any] = {"query": query, "results": [mentor_match_json(m, locale) for m in results]}
    if topics_to_try is not None:
        body["topics_to_try"] = [{"slug": t.slug, "name": t.display_name(locale)} for t in topics_to_try]
    return body


def suggestions_json(goal: Goal, results: list[MentorMatch]) -> dict[str, Any]:
    locale = current_locale()
    return {"goal_id": goal.id, "results": [mentor_match_json(m, locale) for m in results]}


# --- goals and milestones ------------------------------------------------------------------------


def goal_json(goal: Goal, viewer: User) -> dict[str, Any]:
    """A goal in full; its settings (excluded companies, discoverable) only for those who may see them."""
    data: dict[str, Any] = {
        "id": goal.id,
        "title": goal.title,
        "description": goal.description,
        "status": goal.status,
        "topics": [t.display_name(current_locale()) for t in goal.topics],
        "languages": goal.language_list,
        "owner": person_json(goal.owner),
    }
    if goals.can_see_goal_settings(viewer, goal):
        data["discoverable"] = goal.discoverable
        data["excluded_companies"] = [c.name for c in goal.excluded_companies]
    return data


def goal_list_json(shown: Iterable[Goal], page: int, per_page: int, total: int, viewer: User) -> dict[str, Any]:
    """One page of the goals the caller may see."""
    return {
        "goals": [goal_json(goal, viewer) for goal in shown],
        "page": page,
        "per_page": per_page,
        "total": total,
        "next_page": page + 1 if page * per_page < total else None,
    }


def milestone_json(milestone: Milestone) -> dict[str, Any]:
    return {
        "id": milestone.id,
        "goal_id": milestone.goal_id,
        "title": milestone.title,
        "done": milestone.done,
        "done_at": _utc_z(milestone.done_at),
        "position": milestone.position,
    }


def milestone_list_json(milestones: Iterable[Milestone], progress: Progress) -> dict[str, Any]:
    """A goal's milestones in their order, with how many are reached."""
    return {"milestones": [milestone_json(m) for m in milestones], "done": progress.done, "total": progress.total}


# --- tandems, meetings, proposals, availability --------------------------------------------------


def tandem_json(tandem: Tandem, viewer: User) -> dict[str, Any]:
    """A tandem as `viewer` may see it: e-mails once accepted, the mentee's full name where allowed."""
    contact = tandems.can_see_contact(tandem, viewer)
    mentor = person_json(tandem.mentor_user, with_email=contact)
    if mentor is not None and tandem.mentor_profile_id is not None:
        mentor["profile_id"] = tandem.mentor_profile_id
    mentee = person_json(tandem.mentee, with_email=contact)
    if mentee is not None:
        mentee["name"] = tandems.mentee_name(tandem, viewer)
    return {
        "id": tandem.id,
        "status": tandem.status,
        "goal_id": tandem.goal_id,
        "mentor": mentor,
        "mentee": mentee,
        "starts_on": tandem.starts_on.isoformat() if tandem.starts_on else None,
        "ends_on": tandem.ends_on.isoformat() if tandem.ends_on else None,
        "ended_at": _utc_z(tandem.ended_at),  # when it ended (early or at its wrap-up); ends_on stays the plan
    }


def tandem_list_json(found: Iterable[Tandem], viewer: User) -> dict[str, Any]:
    return {"tandems": [tandem_json(t, viewer) for t in found]}


def meeting_json(meeting: Meeting) -> dict[str, Any]:
    """A meeting: its start in UTC ("Z"), its length, and `topic`, what the partners noted they covered."""
    return {
        "id": meeting.id,
        "tandem_id": meeting.tandem_id,
        "starts_at": _utc_z(meeting.starts_at),
        "duration_minutes": meeting.minutes,
        "video_url": meeting.video_url or None,
        "topic": meeting.topics_covered,
        "status": meeting.status,
        "sequence": meeting.sequence,
        "author_id": meeting.author_id,
    }


def meeting_list_json(found: Iterable[Meeting]) -> dict[str, Any]:
    return {"meetings": [meeting_json(meeting) for meeting in found]}


def proposal_json(proposal: MeetingProposal, viewer: User) -> dict[str, Any]:
    """A proposal with each time in UTC and in the caller's own zone."""
    return {
        "id": proposal.id,
        "tandem_id": proposal.tandem_id,
        "status": proposal.status,
        "proposer_id": proposal.proposer_id,
        "note": scheduling.visible_note(proposal, viewer),
        "meeting_id": proposal.meeting_id,
        "created_at": _utc_z(proposal.created_at),
        "answered_at": _utc_z(proposal.answered_at),
        "time_zone": timezones.name_of(viewer),
        "slots": [
            {
                "id": slot.id,
                "starts_at": _utc_z(slot.starts_at),
                "local_starts_at": timezones.local(slot.starts_at, viewer).isoformat(),
                "duration_minutes": slot.minutes,
                "video_url": slot.video_url or None,
                "topic": slot.topic,
                "status": slot.status,
            }
            for slot in proposal.slots
        ],
    }


def proposal_list_json(found: Iterable[MeetingProposal], viewer: User) -> dict[str, Any]:
    return {"proposals": [proposal_json(p, viewer) for p in found]}


def window_json(window: AvailabilityWindow) -> dict[str, Any]:
    return {"id": window.id, "weekday": scheduling.WEEKDAYS[window.weekday],
            "starts": scheduling.clock(window.starts_minute), "ends": scheduling.clock(window.ends_minute)}


def availability_json(user: User, windows: Iterable[AvailabilityWindow]) -> dict[str, Any]:
    """A person's weekly windows, in their time zone."""
    return {"time_zone": timezones.name_of(user), "windows": [window_json(w) for w in windows]}


# --- notifications -------------------------------------------------------------------------------


def notification_json(notification: Notification) -> dict[str, Any]:
    """One notification in the request's language, as the notifications page shows it."""
    return {
        "id": notification.id,
        "kind": notification.kind,
        "text": notifications.text(notification),
        "link": notification.link,
        "created_at": as_utc(notification.created_at).isoformat(),
        "read": notification.read_at is not None,
    }


def notification_list_json(items: Iterable[Notification], unread: int) -> dict[str, Any]:
    return {"notifications": [notification_json(n) for n in items], "unread": unread}


# --- cohorts -------------------------------------------------------------------------------------


def cohort_json(cohort: Cohort, viewer: User) -> dict[str, Any]:
    """A cohort; community managers see its counts, a participant their own participations instead."""
    data: dict[str, Any] = {
        "id": cohort.id,
        "name": cohort.name,
        "description": cohort.description,
        "starts_on": cohort.starts_on.isoformat(),
        "ends_on": cohort.ends_on.isoformat(),
        "meeting_target": cohort.meeting_target,
        "state": cohort.state,
        "enrolment_open": cohort.enrolment_open,
        "focus_topics": [t.slug for t in cohort.focus_topics],
    }
    if viewer.is_manager:
        counts = enrolment.counts(cohort)
        data["counts"] = {
            "mentors": counts.mentors, "mentees": counts.mentees, "applied": counts.applied,
            "waitlisted": counts.waitlisted, "rejected": counts.rejected, "drafts": counts.drafts,
            "tandems": counts.published,
        }
    else:
        data["my_participation"] = [
            {"role": p.role, "status": p.status, "goal_id": p.goal_id}
            for p in enrolment.participations(viewer, cohort)
        ]
    return data


def cohort_list_json(found: Iterable[Cohort], viewer: User) -> dict[str, Any]:
    return {"cohorts": [cohort_json(c, viewer) for c in found]}


def draft_json(tandem: Tandem, topic_names: dict[int, str] | None = None) -> dict[str, Any]:
    """A cohort tandem as the manager reviews it (a draft, or a pair confirmed on a freed slot), its reasons in
    the request's language (`topic_names`: those of many drafts, looked up at once)."""
    return {
        "id": tandem.id,
        "mentor": person_json(tandem.mentor_user),
        "mentee": person_json(tandem.mentee),
        "mentor_profile_id": tandem.mentor_profile_id,
        "goal_id": tandem.goal_id,
        "score": tandem.score,
        "reasons": explanations.reason_texts(tandem.reasons, topic_names),
        "locked": tandem.locked,
    }


def unmatched_json(unmatched: assignment.Unmatched) -> dict[str, Any]:
    return {"id": unmatched.user.id, "name": unmatched.user.name, "role": unmatched.role,
            "reason": unmatched.reason, "reason_code": unmatched.reason_code}


def match_result_json(result: assignment.MatchResult) -> dict[str, Any]:
    """A cohort run: the drafts, and who stayed unmatched and why."""
    names = explanations.topic_names(t.reasons for t in result.drafts)
    return {
        "tandems": [draft_json(t, names) for t in result.drafts],
        "unmatched": [unmatched_json(u) for u in result.unmatched],
    }


def published_json(count: int) -> dict[str, Any]:
    return {"published": count}


def cohort_health_json(rows: Iterable[health.TandemHealth]) -> dict[str, Any]:
    """Each running tandem's pair health with the reasons' codes (never a pulse score)."""
    return {"tandems": [{"id": row.tandem.id, "health": row.health, "reasons": row.reason_codes} for row in rows]}


def application_json(participant: CohortParticipant) -> dict[str, Any]:
    return {
        "id": participant.id,
        "cohort_id": participant.cohort_id,
        "person": person_json(participant.user),
        "role": participant.role,
        "status": participant.status,
        "goal_id": participant.goal_id,
        "created_at": as_utc(participant.created_at).isoformat(),
    }


def application_list_json(found: Iterable[CohortParticipant]) -> dict[str, Any]:
    return {"applications": [application_json(p) for p in found]}


def freed_slot_json(slot: rematching.FreedSlot) -> dict[str, Any]:
    """A slot freed by an early end, with the best waiting mentee proposed for it (or none)."""
    proposal = slot.proposal
    return {
        "mentor": person_json(slot.mentor.user),
        "mentor_id": slot.mentor.id,
        "free": slot.free,
        "proposal": None if proposal is None else {
            "participant_id": proposal.participant.id,
            "mentee": person_json(proposal.participant.user),
            "status": proposal.participant.status,
            "goal_id": proposal.goal.id,
            "score": proposal.score,
            "reasons": explanations.reason_texts(proposal.reasons),
        },
    }


def freed_slot_list_json(slots: Iterable[rematching.FreedSlot]) -> dict[str, Any]:
    return {"slots": [freed_slot_json(slot) for slot in slots]}


def rematched_json(tandem: Tandem) -> dict[str, Any]:
    """The running tandem a freed slot became: the review shape with its status."""
    return {**draft_json(tandem), "status": tandem.status}
