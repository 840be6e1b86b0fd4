"""Mentor profiles: saving, pausing and deleting the one #OpenToMentor profile a person has, and the list
of open ones.

Every rule about profiles lives here, so pages, the API and the CSV import behave alike. Functions that
change data refresh the stored vector and commit (services commit their own unit of work). The fields it
shares with goals are in `fields`, topics in `topics`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import false, select, update
from sqlalchemy.orm import selectinload

from ..extensions import begin_serialised_write, db
from ..models import MentorProfile, Tandem, Topic, User, utcnow
from . import companies, paging, tandems, topics
from .errors import ProfileConflict
from .fields import (
    COMPANY_MAX,
    TEXT_MAX,
    TEXT_MIN,
    FieldChecker,
    default_languages,
    parse_languages,
    store_checked,
)
from .matching import vectors

HEADLINE_MAX = 160
CITY_MAX = 120
CAPACITY_MIN, CAPACITY_MAX = 1, 10
MEETINGS_MIN, MEETINGS_MAX = 1, 8
MEETING_FORMATS = {"remote": _l("Remote"), "onsite": _l("On site"), "hybrid": _l("Hybrid")}


def mentor_profile_defaults(user: User, interface_language: str) -> dict[str, Any]:
    """What a new profile holds where the person gives nothing (the form's defaults), keyed as
    `save_mentor_profile` takes them; headline and teaching text have none."""
    return {
        "topics": [], "languages": default_languages(user, interface_language), "capacity": CAPACITY_MIN,
        "meetings_per_month": MEETINGS_MIN, "meeting_format": "remote", "city": None, "is_open": True,
    }


def save_mentor_profile(user: User, data: Mapping[str, Any]) -> MentorProfile:
    """Create or update the user's one #OpenToMentor profile and refresh its vector; commits.

    `data` may hold headline, teaching_text, topics (slugs, names or free tags), languages (codes,
    list or comma-separated), capacity, meetings_per_month, meeting_format, city, company and is_open
    (False pauses it); absent keys stay as they are. The company is ignored when a verified company is
    set. Raises ProfileError.
    """
    profile = user.mentor_profile
    check = FieldChecker(data, creating=profile is None)
    check.text("headline", required=True, max_len=HEADLINE_MAX, line=True)
    check.text("teaching_text", required=True, min_len=TEXT_MIN, max_len=TEXT_MAX)
    check.text("city", required=False, max_len=CITY_MAX, line=True)
    check.text("company", required=False, max_len=COMPANY_MAX, line=True)
    check.number("capacity", CAPACITY_MIN, CAPACITY_MAX)
    check.number("meetings_per_month", MEETINGS_MIN, MEETINGS_MAX)
    check.choice("meeting_format", MEETING_FORMATS)
    check.parsed("languages", parse_languages, required=True)
    check.parsed("topics", topics.plan_topics)
    if check.wants("is_open"):
        check.cleaned["is_open"] = bool(data["is_open"])
    cleaned = check.done()

    if profile is None:
        profile = MentorProfile(user=user, is_open=True)
        db.session.add(profile)
    store_checked(profile, cleaned, ("headline", "teaching_text", "city", "capacity", "meetings_per_month",
                                     "meeting_format", "is_open"))
    if "topics" in cleaned:
        topics.set_topics(profile, cleaned["topics"])
    if "company" in cleaned and user.verified_company_id is None:
        before = user.company_id
        user.company = companies.get_or_create_company(cleaned["company"] or "")
        db.session.flush()
        if user.company_id != before:
            from . import tandems

            tandems.recheck_open_pairings([before, user.company_id])
    vectors.refresh_mentor(profile)
    db.session.commit()
    return profile


def set_mentor_open(profile: MentorProfile, is_open: bool) -> None:
    """Pause or reopen a profile; a paused mentor leaves the search index but keeps the profile. Reopening
    (also by the "I'm back" link) ends a pause for inactivity: expiries count afresh from now."""
    profile.is_open = is_open
    if is_open:
        profile.auto_paused_at = None
        profile.back_at = utcnow()
    vectors.refresh_mentor(profile)
    db.session.commit()


def delete_mentor_profile(profile: MentorProfile) -> None:
    """Remove a profile for good; tandems keep their history without it (as the foreign key says).

    Refused (ProfileConflict) while a tandem with this mentor runs: end it first."""
    begin_serialised_write()
    db.session.refresh(profile, with_for_update=True)  # the row an acceptance locks first
    running = select(Tandem.id).where(Tandem.mentor_profile_id == profile.id, Tandem.status == Tandem.RUNNING).limit(1)
    if db.session.scalar(running) is not None:
        db.session.rollback()
        message = _("A tandem with you as mentor is running: end it before deleting your profile.")
        raise ProfileConflict("tandem_running", message)
    tandems.end_pending_with(select(Tandem).where(Tandem.mentor_profile_id == profile.id), "profile")
    vectors.forget(vectors.MENTOR, profile.id)
    # SQLite does not enforce ON DELETE SET NULL unless asked to; do it here for both databases.
    db.session.execute(update(Tandem).where(Tandem.mentor_profile_id == profile.id).values(mentor_profile_id=None))
    db.session.delete(profile)
    db.session.commit()


def open_mentors_page(topic_slug: str, page: int, per_page: int) -> tuple[Pagination, Topic | None]:
    """One page of the open profiles, last updated first, with the topic `topic_slug` names (if any): with
    a slug, only the profiles on that topic, and none for a slug no topic has (never silently everyone)."""
    query = (
        select(MentorProfile)
        .where(MentorProfile.is_open.is_(True))
        .order_by(MentorProfile.updated_at.desc(), MentorProfile.id.desc())
        .options(
            selectinload(MentorProfile.topics),
            selectinload(MentorProfile.user).selectinload(User.company),
            selectinload(MentorProfile.user).selectinload(User.verified_company),
        )
    )
    topic = None
    if topic_slug:
        topic = topics.by_slug(topic_slug)
        query = query.where(MentorProfile.topics.any(Topic.id == topic.id)) if topic else query.where(false())
    return paging.page_of(query, page, per_page), topic
