"""Mentor profiles and learning goals: saving, pausing and deleting them, their topics, and who may see a goal.

Every rule about these two things lives here, so pages, the API and the CSV import behave alike.
Functions that change data refresh the stored vector and commit.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, exists, or_, select, update

from ..extensions import begin_serialised_write, db
from ..models import CohortParticipant, Goal, MentorProfile, Tandem, Topic, User, utcnow
from . import companies
from .matching import vectors

HEADLINE_MAX = 160
TITLE_MAX = 160
TEXT_MIN = 20
TEXT_MAX = 5000
CITY_MAX = 120
COMPANY_MAX = 200
TOPIC_MAX_LENGTH = 60
MAX_TOPICS = 10
MAX_EXCLUDED_COMPANIES = 25
CAPACITY_MIN, CAPACITY_MAX = 1, 10
MEETINGS_MIN, MEETINGS_MAX = 1, 8

MEETING_FORMATS = {"remote": _l("Remote"), "onsite": _l("On site"), "hybrid": _l("Hybrid")}
GOAL_STATUSES = {"open": _l("Open"), "matched": _l("Matched"), "closed": _l("Closed")}
# ISO 639-1 codes people in Tandem's region commonly work in; the order is the display order.
LANGUAGES = {
    "de": _l("German"),
    "en": _l("English"),
    "fr": _l("French"),
    "es": _l("Spanish"),
    "it": _l("Italian"),
    "nl": _l("Dutch"),
    "pl": _l("Polish"),
    "tr": _l("Turkish"),
    "pt": _l("Portuguese"),
    "sv": _l("Swedish"),
    "da": _l("Danish"),
    "ar": _l("Arabic"),
    "ru": _l("Russian"),
    "uk": _l("Ukrainian"),
    "el": _l("Greek"),
    "cs": _l("Czech"),
}
LANGUAGE_CODES = frozenset(LANGUAGES)


class ProfileError(ValueError):
    """Input broke a rule; `errors` maps field names to messages that are safe to show."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors.items()))
        self.errors = errors


class ProfileConflict(ProfileError):
    """The change is refused because of the object's state (a running tandem), not because of a field."""


# --- small parsers -------------------------------------------------------------------------------


def split_entries(value: str | Iterable[str] | None, separators: str) -> list[str]:
    """Entries of a list or of a text split on `separators`, whitespace collapsed, blanks dropped."""
    if value is None:
        return []
    parts = re.split(f"[{re.escape(separators)}]", value) if isinstance(value, str) else list(value)
    return [cleaned for part in parts if (cleaned := " ".join(str(part).split()))]


def split_free_tags(text: str | None) -> list[str]:
    """Free tags typed into one input: commas, semicolons or new lines separate them."""
    return split_entries(text, ",;\n")


def parse_languages(value: str | Iterable[str] | None) -> list[str]:
    """Known ISO 639-1 codes in display order; at least one, because matching needs a shared language."""
    codes = [code.lower() for code in split_entries(value, ",;\n ")]
    unknown = sorted({code for code in codes if code not in LANGUAGE_CODES})
    if unknown:
        raise ProfileError({"languages": _("Unknown language code: %(codes)s", codes=", ".join(unknown))})
    if not codes:
        raise ProfileError({"languages": _("Choose at least one language.")})
    return [code for code in LANGUAGES if code in codes]


def default_languages(user: User) -> list[str]:
    """The languages a new mentor profile starts with: the person's interface language, else English."""
    return [user.locale] if user.locale in LANGUAGES else ["en"]


def default_goal_languages(owner: User, interface_language: str) -> list[str]:
    """Languages ticked on a new goal: the interface language the person uses, plus the languages of their
    other goals and of their mentor profile (so a German speaker is not offered English-only mentors)."""
    codes = {interface_language}
    for goal in owner.goals:
        codes.update(goal.language_list)
    if owner.mentor_profile is not None:
        codes.update(owner.mentor_profile.language_list)
    return [code for code in LANGUAGES if code in codes] or ["en"]


def language_name(code: str) -> str:
    """The language's name in the UI language; unknown codes (from old data) show as they are."""
    return str(LANGUAGES.get(code, code))


def parse_company_names(value: str | Iterable[str] | None) -> list[str]:
    """Company names, one per line or comma-separated, each company once however it is spelled."""
    names: list[str] = []
    seen: set[str] = set()
    for name in split_entries(value, ",\n"):
        key = companies.company_key(name)
        if key and key not in seen:
            seen.add(key)
            names.append(name)
    if any(len(name) > COMPANY_MAX for name in names):
        message = _("A company name can have at most %(n)d characters.", n=COMPANY_MAX)
        raise ProfileError({"excluded_companies": message})
    if len(names) > MAX_EXCLUDED_COMPANIES:
        raise ProfileError(
            {"excluded_companies": _("Exclude at most %(n)d companies.", n=MAX_EXCLUDED_COMPANIES)}
        )
    return names


# --- topics --------------------------------------------------------------------------------------


def slugify(text: str) -> str:
    """A URL-safe key for a free tag, so "AI Ethics" and "ai  ethics" end up as one topic."""
    folded = text.casefold().replace("+", " plus ").replace("#", " sharp ")
    for umlaut, spelled in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        folded = folded.replace(umlaut, spelled)
    folded = "".join(c for c in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(c))
    return re.sub(r"[\W_]+", "-", folded).strip("-")[:80].strip("-")


def taxonomy_topics() -> list[Topic]:
    """The seed taxonomy (no free tags), for pick lists."""
    return list(db.session.scalars(select(Topic).where(Topic.is_free_tag.is_(False)).order_by(Topic.name_en)))


def _plan_topics(entries: str | Iterable[str] | None) -> list[Topic | tuple[str, str]]:
    """Existing topics, or (slug, text) for free tags still to create; checks the limits, writes nothing."""
    texts = split_entries(entries, ",;\n")
    too_long = [text for text in texts if len(text) > TOPIC_MAX_LENGTH]
    if too_long:
        raise ProfileError({"topics": _("A topic can have at most %(n)d characters.", n=TOPIC_MAX_LENGTH)})
    # The taxonomy is small; comparing in Python folds case the same way on SQLite and PostgreSQL.
    taxonomy = taxonomy_topics()
    by_key: dict[str, Topic] = {}
    for topic in taxonomy:
        for synonym in topic.synonyms or []:
            by_key.setdefault(synonym.casefold(), topic)
    for topic in taxonomy:
        by_key[topic.name_de.casefold()] = topic
        by_key[topic.name_en.casefold()] = topic
        by_key[topic.slug.casefold()] = topic
    plan: list[Topic | tuple[str, str]] = []
    seen: set[str] = set()
    for text in texts:
        topic = by_key.get(text.casefold())
        slug = topic.slug if topic else slugify(text)
        if not slug or slug in seen:
            continue
        if topic is None:
            topic = db.session.scalar(select(Topic).where(Topic.slug == slug))
        seen.add(slug)
        plan.append(topic if topic is not None else (slug, text))
    if len(plan) > MAX_TOPICS:
        raise ProfileError({"topics": _("Choose at most %(n)d topics.", n=MAX_TOPICS)})
    return plan


def _materialise(plan: list[Topic | tuple[str, str]]) -> list[Topic]:
    topics: list[Topic] = []
    for entry in plan:
        if isinstance(entry, Topic):
            topics.append(entry)
            continue
        slug, text = entry
        topic = Topic(slug=slug, name_en=text, name_de=text, synonyms=[], is_free_tag=True)
        db.session.add(topic)
        topics.append(topic)
    db.session.flush()
    return topics


def resolve_topics(slugs_and_free_tags: list[str]) -> list[Topic]:
    """Taxonomy topics by slug or English/German name (any case); anything else becomes a free tag.

    At most MAX_TOPICS topics of at most TOPIC_MAX_LENGTH characters each; raises ProfileError.
    """
    return _materialise(_plan_topics(slugs_and_free_tags))


def planned_topics(slugs_and_free_tags: list[str]) -> list[Topic]:
    """What `resolve_topics` would answer, without writing: free tags still to create come as unsaved topics."""
    return [
        entry if isinstance(entry, Topic) else Topic(slug=entry[0], name_en=entry[1], name_de=entry[1])
        for entry in _plan_topics(slugs_and_free_tags)
    ]


def _set_topics(entity: MentorProfile | Goal, plan: list[Topic | tuple[str, str]]) -> None:
    topics = _materialise(plan)
    if {t.id for t in topics} != {t.id for t in entity.topics}:
        entity.topics = topics
    db.session.flush()
    # Reload in the database's order, so the embedded text (and its hash) does not depend on form order.
    db.session.expire(entity, ["topics"])


# --- field checks --------------------------------------------------------------------------------


class _Checker:
    """Collects every field's problem at once, so a form can show them all side by side."""

    def __init__(self, data: Mapping[str, Any], creating: bool):
        self.data = data
        self.creating = creating
        self.errors: dict[str, str] = {}
        self.cleaned: dict[str, Any] = {}

    def wants(self, key: str) -> bool:
        return key in self.data

    def text(self, key: str, *, required: bool, max_len: int, min_len: int = 0) -> None:
        if not self.wants(key):
            if self.creating and required:
                self.errors[key] = _("Please fill in this field.")
            return
        value = str(self.data[key] or "").strip()
        if required and not value:
            self.errors[key] = _("Please fill in this field.")
        elif value and len(value) < min_len:
            self.errors[key] = _("Use at least %(n)d characters.", n=min_len)
        elif len(value) > max_len:
            self.errors[key] = _("Use at most %(n)d characters.", n=max_len)
        else:
            self.cleaned[key] = value or None

    def number(self, key: str, low: int, high: int) -> None:
        if not self.wants(key):
            return
        try:
            value = int(self.data[key])
        except (TypeError, ValueError):
            value = None
        if value is None or not low <= value <= high:
            self.errors[key] = _("Enter a whole number from %(low)d to %(high)d.", low=low, high=high)
        else:
            self.cleaned[key] = value

    def choice(self, key: str, allowed: Mapping[str, Any]) -> None:
        if not self.wants(key):
            return
        if self.data[key] not in allowed:
            self.errors[key] = _("Choose one of the offered options.")
        else:
            self.cleaned[key] = self.data[key]

    def parsed(self, key: str, parser, *, required: bool = False) -> None:
        if not self.wants(key):
            if self.creating and required:
                self.capture(lambda: parser(None), key)
            return
        self.capture(lambda: parser(self.data[key]), key)

    def capture(self, compute, key: str) -> None:
        try:
            self.cleaned[key] = compute()
        except ProfileError as problem:
            self.errors.update(problem.errors)

    def done(self) -> dict[str, Any]:
        if self.errors:
            raise ProfileError(self.errors)
        return self.cleaned


# --- mentor profiles -----------------------------------------------------------------------------


def mentor_profile_defaults(user: User) -> dict[str, Any]:
    """What a new profile holds where the person gives nothing (the form's defaults), keyed as
    `save_mentor_profile` takes them; headline and teaching text have none."""
    return {
        "topics": [], "languages": default_languages(user), "capacity": CAPACITY_MIN,
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
    check = _Checker(data, creating=profile is None)
    check.text("headline", required=True, max_len=HEADLINE_MAX)
    check.text("teaching_text", required=True, min_len=TEXT_MIN, max_len=TEXT_MAX)
    check.text("city", required=False, max_len=CITY_MAX)
    check.text("company", required=False, max_len=COMPANY_MAX)
    check.number("capacity", CAPACITY_MIN, CAPACITY_MAX)
    check.number("meetings_per_month", MEETINGS_MIN, MEETINGS_MAX)
    check.choice("meeting_format", MEETING_FORMATS)
    check.parsed("languages", parse_languages, required=True)
    check.parsed("topics", _plan_topics)
    if check.wants("is_open"):
        check.cleaned["is_open"] = bool(data["is_open"])
    cleaned = check.done()

    if profile is None:
        profile = MentorProfile(user=user, is_open=True)
        db.session.add(profile)
    for key in ("headline", "teaching_text", "city", "capacity", "meetings_per_month", "meeting_format", "is_open"):
        if key in cleaned:
            setattr(profile, key, cleaned[key])
    if "languages" in cleaned:
        profile.languages = ",".join(cleaned["languages"])
    if "company" in cleaned and user.verified_company_id is None:
        before = user.company_id
        user.company = companies.get_or_create_company(cleaned["company"] or "")
        db.session.flush()
        if user.company_id != before:
            from . import tandems

            tandems.recheck_open_pairings([before, user.company_id])
    if "topics" in cleaned:
        _set_topics(profile, cleaned["topics"])
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
    running = select(Tandem.id).where(Tandem.mentor_id == profile.id, Tandem.status == Tandem.RUNNING).limit(1)
    if db.session.scalar(running) is not None:
        db.session.rollback()
        message = _("A tandem with you as mentor is running: end it before deleting your profile.")
        raise ProfileConflict({"tandem": message})
    vectors.forget(vectors.MENTOR, profile.id)
    # SQLite does not enforce ON DELETE SET NULL unless asked to; do it here for both databases.
    db.session.execute(update(Tandem).where(Tandem.mentor_id == profile.id).values(mentor_id=None))
    db.session.delete(profile)
    db.session.commit()


# --- goals ---------------------------------------------------------------------------------------


def save_goal(owner: User, data: Mapping[str, Any], goal: Goal | None = None) -> Goal:
    """Create a goal for `owner`, or update `goal`, and refresh its vector; commits.

    `data` may hold title, description, topics, languages, excluded_companies (names, a list or
    one per line / comma-separated) and discoverable; absent keys stay as they are. Raises
    ProfileError, or PermissionError when `goal` belongs to someone else.
    """
    if goal is not None and goal.owner_id != owner.id:
        raise PermissionError("only the owner may edit a goal")
    check = _Checker(data, creating=goal is None)
    check.text("title", required=True, max_len=TITLE_MAX)
    check.text("description", required=True, min_len=TEXT_MIN, max_len=TEXT_MAX)
    check.parsed("languages", parse_languages, required=True)
    check.parsed("topics", _plan_topics)
    check.parsed("excluded_companies", parse_company_names)
    if check.wants("discoverable"):
        check.cleaned["discoverable"] = bool(data["discoverable"])
    cleaned = check.done()

    if goal is None:
        goal = Goal(owner=owner, status="open", discoverable=True)
        db.session.add(goal)
    for key in ("title", "description", "discoverable"):
        if key in cleaned:
            setattr(goal, key, cleaned[key])
    if "languages" in cleaned:
        goal.languages = ",".join(cleaned["languages"])
    if "excluded_companies" in cleaned:
        excluded = {}
        for name in cleaned["excluded_companies"]:
            company = companies.get_or_create_company(name)
            if company is not None:
                excluded[company.id] = company
        goal.excluded_companies = list(excluded.values())
    if "topics" in cleaned:
        _set_topics(goal, cleaned["topics"])
    vectors.refresh_goal(goal)
    db.session.commit()
    return goal


def set_goal_status(goal: Goal, status: str) -> None:
    """Open, matched or closed; only open goals are offered to mentors."""
    if status not in GOAL_STATUSES:
        raise ProfileError({"status": _("Choose one of the offered options.")})
    begin_serialised_write()
    db.session.refresh(goal, with_for_update=True)  # after an acceptance on it commits (mentor, goal order)
    if status in ("open", "closed") and goal.status != status and _has_running_tandem(goal):
        # A running tandem keeps its goal matched: neither offered again nor closed under it.
        db.session.rollback()
        refusals = {
            "open": _("A tandem is running on this goal: end it before opening the goal again."),
            "closed": _("A tandem is running on this goal: end the tandem first, then close the goal."),
        }
        raise ProfileError({"status": refusals[status]})
    goal.status = status
    vectors.refresh_goal(goal)
    db.session.commit()


def delete_goal(goal: Goal) -> None:
    """Remove a goal for good; tandems and cohort places keep their history without it.

    Refused (ProfileConflict) while a tandem runs on it: end it first."""
    begin_serialised_write()
    # The goal's row lock first, as an acceptance takes it (mentor, goal, tandems, then the index's change
    # counter); taking the counter first could deadlock with an acceptance on this goal.
    db.session.refresh(goal, with_for_update=True)
    if _has_running_tandem(goal):
        db.session.rollback()
        raise ProfileConflict({"tandem": _("A tandem is running on this goal: end it before deleting the goal.")})
    vectors.forget(vectors.GOAL, goal.id)
    db.session.execute(update(Tandem).where(Tandem.goal_id == goal.id).values(goal_id=None))
    db.session.execute(update(CohortParticipant).where(CohortParticipant.goal_id == goal.id).values(goal_id=None))
    db.session.delete(goal)
    db.session.commit()


# --- who may see a goal --------------------------------------------------------------------------


def _signed_in(user: Any) -> bool:
    return user is not None and bool(getattr(user, "is_authenticated", False))


def _has_running_tandem(goal: Goal) -> bool:
    return db.session.scalar(
        select(Tandem.id).where(Tandem.goal_id == goal.id, Tandem.status == Tandem.RUNNING).limit(1)
    ) is not None


def _mentor_on_goal(user: User):
    """SQL condition: `user` is the mentor of a pending request or a running, ended or completed tandem
    on the goal; not of a declined, withdrawn, cancelled or expired one, nor of an unpublished draft."""
    conditions = [Tandem.mentor_user_id == user.id]
    profile = user.mentor_profile
    if profile is not None:
        conditions.append(Tandem.mentor_id == profile.id)
    return or_(*conditions) & Tandem.status.in_(Tandem.GOAL_VISIBLE_STATUSES)


def can_view_goal(user: User | Any, goal: Goal) -> bool:
    """The goal in full: its owner, community managers, and a mentor with a pending request or a running,
    ended or completed tandem on it (DESIGN.md, "Who may see what"); pages and the API ask this."""
    if not _signed_in(user):
        return False
    if goal.owner_id == user.id or user.is_manager:
        return True
    query = select(Tandem.id).where(Tandem.goal_id == goal.id, _mentor_on_goal(user)).limit(1)
    return db.session.scalar(query) is not None


def can_see_suggestions(user: User | Any, goal: Goal) -> bool:
    """A goal's suggested mentors: its owner and community managers only, never a mentor on it."""
    return _signed_in(user) and (goal.owner_id == user.id or bool(user.is_manager))


def can_edit_goal(user: User | Any, goal: Goal) -> bool:
    """Only the owner changes, closes or deletes a goal."""
    return _signed_in(user) and goal.owner_id == user.id


def visible_goals_query(user: User) -> Select:
    """Every goal `user` may see in full, as a query (the API's goal list); agrees with can_view_goal."""
    query = select(Goal).order_by(Goal.created_at.desc(), Goal.id.desc())
    if user.is_manager:
        return query
    on_goal = exists().where(Tandem.goal_id == Goal.id, _mentor_on_goal(user))
    return query.where(or_(Goal.owner_id == user.id, on_goal))


@dataclass(frozen=True)
class GoalSummary:
    """What a mentor may see of someone else's goal before any tandem: nothing more than this."""

    id: int
    title: str
    topics: tuple[Topic, ...]
    owner_first_name: str
    owner_company: str | None


def is_discoverable(goal: Goal) -> bool:
    """The owner let suitable mentors find it, and it still looks for one."""
    return bool(goal.discoverable) and goal.status == "open"


def discoverable_goal_summary(goal: Goal) -> GoalSummary | None:
    """Title, topics, owner's first name and company, for "goals I could help with"; None when hidden."""
    if not is_discoverable(goal):
        return None
    company = goal.owner.effective_company
    return GoalSummary(
        id=goal.id,
        title=goal.title,
        topics=tuple(goal.topics),
        owner_first_name=goal.owner.first_name,
        owner_company=company.name if company else None,
    )
