"""Learning goals: saving, re-opening, closing and deleting them, and who may see a goal.

Every rule about goals lives here, so pages, the API and the CSV import behave alike. Functions that
change data refresh the stored vector and commit (services commit their own unit of work).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Select, exists, func, or_, select, update

from ..extensions import begin_serialised_write, db
from ..models import CohortParticipant, Goal, Tandem, Topic, User, utcnow
from ..states import GoalStatus
from . import companies, topics
from .errors import ProfileConflict, ProfileError
from .fields import (
    COMPANY_MAX,
    TEXT_MAX,
    TEXT_MIN,
    FieldChecker,
    default_languages,
    parse_languages,
    split_entries,
    store_checked,
)
from .matching import vectors

TITLE_MAX = 160
MAX_EXCLUDED_COMPANIES = 25


def default_goal_languages(owner: User, interface_language: str) -> list[str]:
    """Languages ticked on a new goal: those a new mentor profile starts with (fields.default_languages), plus
    those of the person's mentor profile (so a German speaker is not offered English-only mentors)."""
    profile = owner.mentor_profile
    return default_languages(owner, interface_language, profile.language_list if profile is not None else ())


def parse_company_names(value: str | Iterable[str] | None) -> list[str]:
    """Company names, one per line or comma-separated, each company once however it is spelled."""
    names = [name for name in companies.one_per_company(split_entries(value, ",\n")) if companies.company_key(name)]
    if any(len(name) > COMPANY_MAX for name in names):
        message = _("A company name can have at most %(n)d characters.", n=COMPANY_MAX)
        raise ProfileError.invalid({"excluded_companies": message})
    if len(names) > MAX_EXCLUDED_COMPANIES:
        message = _("Exclude at most %(n)d companies.", n=MAX_EXCLUDED_COMPANIES)
        raise ProfileError.invalid({"excluded_companies": message})
    return names



def save_goal(owner: User, data: Mapping[str, Any], goal: Goal | None = None) -> Goal:
    """Create a goal for `owner`, or update `goal`, and refresh its vector; commits.

    `data` may hold title, description, topics, languages, excluded_companies (names, a list or
    one per line / comma-separated) and discoverable; absent keys stay as they are. Raises
    ProfileError, or PermissionError when `goal` belongs to someone else.
    """
    if goal is not None and goal.owner_id != owner.id:
        raise PermissionError("only the owner may edit a goal")
    check = FieldChecker(data, creating=goal is None)
    check.text("title", required=True, max_len=TITLE_MAX, line=True)
    check.text("description", required=True, min_len=TEXT_MIN, max_len=TEXT_MAX)
    check.parsed("languages", parse_languages, required=True)
    check.parsed("topics", topics.plan_topics)
    check.parsed("excluded_companies", parse_company_names)
    if check.wants("discoverable"):
        check.cleaned["discoverable"] = bool(data["discoverable"])
    cleaned = check.done()

    if goal is None:
        twin = _just_saved_twin(owner, cleaned)
        if twin is not None:
            return twin
        goal = Goal(owner=owner, status=GoalStatus.OPEN, discoverable=True)
        db.session.add(goal)
    store_checked(goal, cleaned, ("title", "description", "discoverable"))
    if "topics" in cleaned:
        topics.set_topics(goal, cleaned["topics"])
    if "excluded_companies" in cleaned:
        excluded = {}
        for name in cleaned["excluded_companies"]:
            company = companies.get_or_create_company(name)
            if company is not None:
                excluded[company.id] = company
        goal.excluded_companies = list(excluded.values())
    vectors.refresh_goal(goal)
    db.session.commit()
    return goal


# A new goal the same in every field as an open one the owner saved this recently is that goal sent twice (a
# double click, a reloaded form) and is not saved again. Any field that differs (another language, hidden from
# mentors, a company left out) makes it a goal of its own.
TWIN_WINDOW = timedelta(minutes=10)


def _just_saved_twin(owner: User, cleaned: Mapping[str, Any]) -> Goal | None:
    """The owner's open goal saved within TWIN_WINDOW that `cleaned` (a new goal's checked fields) would repeat
    exactly, if any. Serialised per owner (the database's write lock on SQLite, the owner's row on PostgreSQL),
    so parallel submissions of one form make one goal."""
    begin_serialised_write()
    db.session.scalar(select(User.id).where(User.id == owner.id).with_for_update())
    recent = db.session.scalars(
        select(Goal).where(Goal.owner_id == owner.id, Goal.status == GoalStatus.OPEN, Goal.title == cleaned["title"],
                           Goal.description == cleaned["description"], Goal.created_at >= utcnow() - TWIN_WINDOW)
        .order_by(Goal.id)
    )
    wanted = (
        set(cleaned["languages"]),
        {t.slug if isinstance(t, Topic) else t[0] for t in cleaned.get("topics", [])},
        {companies.company_key(name) for name in cleaned.get("excluded_companies", [])},
        cleaned.get("discoverable", True),
    )
    return next((goal for goal in recent if (
        set(goal.language_list), {t.slug for t in goal.topics},
        {companies.company_key(c.name) for c in goal.excluded_companies}, goal.discoverable) == wanted), None)


def set_goal_status(goal: Goal, status: str) -> None:
    """Open, matched or closed; only open goals are offered to mentors."""
    if status not in Goal.STATUSES:
        raise ProfileError.invalid({"status": _("Choose one of the offered options.")})
    begin_serialised_write()
    db.session.refresh(goal, with_for_update=True)  # after an acceptance on it commits (mentor, goal order)
    if status in (GoalStatus.OPEN, GoalStatus.CLOSED) and goal.status != status and _has_running_tandem(goal):
        # A running tandem keeps its goal matched: neither offered again nor closed under it.
        db.session.rollback()
        refusals = {
            "open": _("A tandem is running on this goal: end it before opening the goal again."),
            "closed": _("A tandem is running on this goal: end the tandem first, then close the goal."),
        }
        raise ProfileError.invalid({"status": refusals[status]})
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
        raise ProfileConflict("tandem_running", _("A tandem is running on this goal: end it before deleting the goal."))
    from . import tandems  # which imports this module

    tandems.end_pending_with(select(Tandem).where(Tandem.goal_id == goal.id), "goal")
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
        conditions.append(Tandem.mentor_profile_id == profile.id)
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


def can_see_goal_settings(user: User | Any, goal: Goal) -> bool:
    """The goal's own settings, its excluded companies and whether mentors may find it: its owner and community
    managers (pages and the API); a mentor on the goal sees it in full (can_view_goal) without them."""
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


def visible_goals_page(user: User, page: int, per_page: int) -> tuple[list[Goal], int]:
    """One page of visible_goals_query (newest first), and how many there are in all (the API's goal list)."""
    query = visible_goals_query(user)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    shown = db.session.scalars(query.order_by(Goal.id).limit(per_page).offset((page - 1) * per_page))
    return list(shown), total


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
    return bool(goal.discoverable) and goal.status == GoalStatus.OPEN


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
