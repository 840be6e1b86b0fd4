"""Milestones: the steps of a goal, so progress means more than a count of meetings.

The goal's owner adds, renames, orders and removes them; the owner and the mentor of a running tandem on
the goal tick them; community managers read those of goals in a cohort. Each change commits itself, under the
goal's lock (`_locked`): a goal never has more than MAX_PER_GOAL milestones, their positions are always 0..n-1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import exists, func, select

from ..extensions import begin_serialised_write, db
from ..input_checks import has_visible_text, single_line
from ..models import CohortParticipant, Goal, Milestone, Tandem, User, get_by_id, utcnow
from .errors import MilestoneError

TITLE_MAX = 200  # the column's length (models.Milestone.title)
MAX_PER_GOAL = 50


# --- who may do what ----------------------------------------------------------------------------------


def _is_running_mentor(goal: Goal, user: User) -> bool:
    return db.session.scalar(
        select(Tandem.id).where(Tandem.goal_id == goal.id, Tandem.status == Tandem.RUNNING,
                                Tandem.mentor_user_id == user.id).limit(1)
    ) is not None


def _in_a_cohort(goal: Goal) -> bool:
    return bool(db.session.scalar(select(
        exists().where(CohortParticipant.goal_id == goal.id)
        | exists().where(Tandem.goal_id == goal.id, Tandem.cohort_id.is_not(None), Tandem.status != Tandem.DRAFT)
    )))


def can_edit(goal: Goal, user: User) -> bool:
    """Adding, renaming, ordering and removing: the goal's owner only."""
    return bool(user.is_authenticated and goal.owner_id == user.id)


def can_tick(goal: Goal, user: User) -> bool:
    """Ticking: the owner, and the mentor while their tandem on the goal runs."""
    return can_edit(goal, user) or bool(user.is_authenticated and _is_running_mentor(goal, user))


def can_read(goal: Goal | None, user: User) -> bool:
    """Those who tick, and community managers for goals in a cohort (read only); nobody else."""
    if goal is None or not user.is_authenticated:
        return False
    return can_tick(goal, user) or bool(user.is_manager and _in_a_cohort(goal))


# --- reading ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    done: int
    total: int

    @property
    def share(self) -> float | None:
        return round(self.done / self.total, 4) if self.total else None


def progress(goal: Goal) -> Progress:
    return Progress(sum(1 for m in goal.milestones if m.done), len(goal.milestones))


def progress_of_goals(goal_ids: list[int]) -> Progress:
    """Milestones reached over several goals at once (the cohort report), in one query."""
    if not goal_ids:
        return Progress(0, 0)
    total, done = db.session.execute(
        select(func.count(Milestone.id), func.count(Milestone.done_at)).where(Milestone.goal_id.in_(goal_ids))
    ).one()
    return Progress(done or 0, total or 0)


def goals_with_milestones(goal_ids: list[int | None]) -> int:
    """How many of these goals have at least one milestone."""
    ids = [goal_id for goal_id in goal_ids if goal_id is not None]
    if not ids:
        return 0
    return db.session.scalar(
        select(func.count(func.distinct(Milestone.goal_id))).where(Milestone.goal_id.in_(ids))
    ) or 0


def get(goal: Goal, milestone_id: int) -> Milestone:
    milestone = get_by_id(Milestone, milestone_id)
    if milestone is None or milestone.goal_id != goal.id:
        raise MilestoneError("not_found", _("No such milestone."), 404)
    return milestone


# --- changing -----------------------------------------------------------------------------------------


def clean_title(value: Any) -> str:
    """The title as stored, or a MilestoneError naming the field."""
    if value is not None and not isinstance(value, str):
        message = _("Must be text.")
        raise MilestoneError("invalid_fields", message, fields={"title": message})
    if value is None or not has_visible_text(value):
        raise MilestoneError("invalid_fields", _("Please name the milestone."), fields={"title": _("Required.")})
    title = single_line(value)
    if len(title) > TITLE_MAX:
        message = _("At most %(n)d characters.", n=TITLE_MAX)
        raise MilestoneError("invalid_fields", message, fields={"title": message})
    return title


def _refuse_unless(allowed: bool, message: str) -> None:
    if not allowed:
        raise MilestoneError("forbidden", message, 403)


def _locked(goal: Goal, milestone: Milestone | None = None) -> list[Milestone]:
    """Lock the goal's row, then read its milestones as last committed, in order; a MilestoneError (404) when
    the goal or `milestone` is gone meanwhile.

    Every change takes this lock before it reads, so changes at once run one after another and each counts and
    numbers what the one before committed: without it 20 adds at once to 45 milestones left 53, and moves at
    once duplicate positions. SQLite ignores FOR UPDATE: begin_serialised_write holds its write lock instead.
    Lock order: the goal, then its milestones, as an acceptance or a deletion of the goal takes them.
    """
    goal_id = goal.id  # read before begin_serialised_write's commit expires the goal
    begin_serialised_write()
    if db.session.scalar(select(Goal.id).where(Goal.id == goal_id).with_for_update()) is None:
        db.session.rollback()
        raise MilestoneError("not_found", _("No such goal."), 404)
    ordered = list(db.session.scalars(
        select(Milestone).where(Milestone.goal_id == goal_id).order_by(Milestone.position, Milestone.id)
        .execution_options(populate_existing=True)
    ))
    if milestone is not None and milestone not in ordered:
        db.session.rollback()
        raise MilestoneError("not_found", _("No such milestone."), 404)
    return ordered


def _renumber(ordered: list[Milestone]) -> None:
    """Positions 0..n-1 in this order (only the changed ones are written)."""
    for index, item in enumerate(ordered):
        item.position = index


def add(goal: Goal, user: User, title: Any) -> Milestone:
    """A new milestone at the end of the goal's list."""
    _refuse_unless(can_edit(goal, user), _("Only the goal's owner can add milestones."))
    clean = clean_title(title)
    ordered = _locked(goal)
    if len(ordered) >= MAX_PER_GOAL:
        db.session.rollback()
        raise MilestoneError("too_many", _("A goal can have at most %(n)d milestones.", n=MAX_PER_GOAL), 409)
    _renumber(ordered)  # closes gaps that removals left before they renumbered
    milestone = Milestone(goal=goal, title=clean, position=len(ordered))
    db.session.add(milestone)
    db.session.commit()
    return milestone


def update(goal: Goal, milestone: Milestone, user: User, changes: dict[str, Any]) -> Milestone:
    """Change `title`, `position` (owner) or `done` (owner or running mentor); every field is checked first."""
    if "done" in changes and not isinstance(changes["done"], bool):
        message = _("Must be true or false.")
        raise MilestoneError("invalid_fields", message, fields={"done": message})
    position = changes.get("position")
    if "position" in changes and (not isinstance(position, int) or isinstance(position, bool) or position < 0):
        message = _("A whole number from 0.")
        raise MilestoneError("invalid_fields", message, fields={"position": message})
    if "title" in changes or "position" in changes:
        _refuse_unless(can_edit(goal, user), _("Only the goal's owner can change milestones."))
    if "done" in changes:
        _refuse_unless(can_tick(goal, user), _("Only the partners of a running tandem can tick milestones."))
    title = clean_title(changes["title"]) if "title" in changes else None
    ordered = _locked(goal, milestone)
    if title is not None:
        milestone.title = title
    if "done" in changes and changes["done"] != milestone.done:
        milestone.done_at = utcnow() if changes["done"] else None
    if "position" in changes:  # 0 is first, beyond the end is last
        ordered.remove(milestone)
        ordered.insert(min(position, len(ordered)), milestone)
    _renumber(ordered)
    db.session.commit()
    return milestone


def move_by(goal: Goal, milestone: Milestone, user: User, step: int) -> Milestone:
    """Move the milestone `step` places (-1: up, 1: down) from where it stands when the lock is held: the page's
    arrows, which a position read before the lock could send one place off when two moves cross."""
    _refuse_unless(can_edit(goal, user), _("Only the goal's owner can change milestones."))
    ordered = _locked(goal, milestone)
    target = max(ordered.index(milestone) + step, 0)
    ordered.remove(milestone)
    ordered.insert(min(target, len(ordered)), milestone)
    _renumber(ordered)
    db.session.commit()
    return milestone


def remove(goal: Goal, milestone: Milestone, user: User) -> None:
    """Delete the milestone; those after it move up one."""
    _refuse_unless(can_edit(goal, user), _("Only the goal's owner can remove milestones."))
    ordered = _locked(goal, milestone)
    ordered.remove(milestone)
    db.session.delete(milestone)
    _renumber(ordered)
    db.session.commit()
