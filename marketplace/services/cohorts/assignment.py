"""Cohort matching: one globally optimal assignment of mentees to mentor slots, never greedy.

The score matrix is the ranking score of suggestions (matching.blend_scores: the cosine of the stored vectors, the
goal's moved towards its nearest taxonomy topic as suggestions_for_goal moves it (matching.expand_vectors), blended
with topic overlap, the goal's topics as suggestions_for_goal reads them), so a cohort's pairs and a person's
suggestions agree. The feedback of a list (matching.with_feedback: scores pulled towards the list's best match)
is left out, as the exposure order is: it is relative to the other entries of a list, and the assignment
maximises the total of the very scores the drafts show. A pair below the relevance floor (matching.weak_pair)
is flagged as weak. Forbidden
pairs come from rules.allowed_mask; a mentor with free capacity c becomes c columns ("slots"); scipy's
linear_sum_assignment then maximises first the number of valid pairs and then their total score. Locked
drafts stay and use up their slot.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import numpy as np
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from scipy.optimize import linear_sum_assignment
from sqlalchemy import delete, select, update
from sqlalchemy.orm import selectinload

from ...extensions import begin_serialised_write, db
from ...models import Cohort, CohortParticipant, Goal, MentorProfile, Tandem, User
from ...states import PAIRING, PLANNING, PUBLISHED, GoalStatus, ParticipantStatus, TandemStatus
from ..matching import rules, taxonomy, vectors
from ..matching.search import blend_scores, expand_vectors
from . import enrolment
from .enrolment import CohortError
from .explanations import Reason, explain

UNMATCHED_REASONS = {
    "no_goal": _l("Brings no open learning goal."),
    "running_tandem": _l("Already in a running tandem (cohort %(cohort)s)."),
    "running_tandem_outside": _l("Already in a running tandem (outside any cohort)."),
    "no_profile": _l("Has no mentor profile."),
    "mentor_paused": _l("The mentor profile is paused."),
    "mentor_full": _l("No free capacity left."),
    "no_valid_partner": _l("No valid partner: every possible pair breaks a hard rule."),
    "partners_taken": _l("All valid partners are taken (capacity)."),
    "mentees_taken": _l("Every mentee they could take already has a mentor."),
    "no_mentees": _l("No mentee of this cohort has an open learning goal to pair with."),
    "not_paired": _l("Not paired yet, though a valid partner is free: add the pair or run matching again."),
}


# --- the engine: plain arrays in, assignment out (no database, benchmarked in bench/) -------------


def score_matrix(
    goal_vectors: np.ndarray,
    mentor_vectors: np.ndarray,
    goal_topics: np.ndarray,
    mentor_topics: np.ndarray,
) -> np.ndarray:
    """Scores (mentees x mentors) in [0, 1], equal to matching.blend_score (suggestions) for every pair.

    Vectors are L2-normalised float32 rows, so one matmul gives every cosine. Topic matrices are
    boolean (people x topics); overlap is the share of the goal's topics the mentor covers.
    """
    similarity = np.asarray(goal_vectors, dtype=np.float32) @ np.asarray(mentor_vectors, dtype=np.float32).T
    goal_t = np.asarray(goal_topics, dtype=np.float32)
    mentor_t = np.asarray(mentor_topics, dtype=np.float32)
    counts = goal_t.sum(axis=1)
    if goal_t.shape[1]:
        shared = goal_t @ mentor_t.T
        overlap = np.divide(shared, counts[:, None], out=np.zeros_like(shared), where=counts[:, None] > 0)
    else:
        overlap = np.zeros_like(similarity)
    return blend_scores(similarity, overlap)


def assign(scores: np.ndarray, allowed: np.ndarray, free_slots: np.ndarray) -> list[tuple[int, int]]:
    """The (mentee row, mentor column) pairs of a maximum assignment: most valid pairs, then highest total score.

    A mentor with free capacity c is expanded to c identical columns. Forbidden cells cost more
    than any set of scores can gain, so the solver uses one only when no valid cell is left, and
    those are dropped. People with no valid partner at all leave the problem before it is solved.
    """
    free = np.minimum(np.asarray(free_slots, dtype=np.int64).clip(min=0), scores.shape[0])
    rows = np.flatnonzero(allowed.any(axis=1))
    columns = np.flatnonzero(allowed.any(axis=0) & (free > 0))
    if not len(rows) or not len(columns):
        return []
    slots = np.repeat(columns, free[columns])
    sub_allowed = allowed[np.ix_(rows, slots)]
    forbidden_cost = float(len(rows) + 1)  # > the most a full set of scores in [0, 1] can change
    cost = np.where(sub_allowed, -scores[np.ix_(rows, slots)].astype(np.float64), forbidden_cost)
    picked_rows, picked_slots = linear_sum_assignment(cost)
    keep = sub_allowed[picked_rows, picked_slots]
    return [(int(r), int(c)) for r, c in zip(rows[picked_rows[keep]], slots[picked_slots[keep]], strict=True)]


# --- topics and vectors (the explanations: explanations.py) ---------------------------------------


def goal_topic_ids(goal: Goal, detect: taxonomy.TopicDetector) -> set[int]:
    """The goal's topics plus those its words name, as in suggestions_for_goal."""
    named = detect(f"{goal.title}\n{goal.description}", typos=taxonomy.TYPOS_IN_QUERIES)
    return {t.id for t in goal.topics} | {m.topic_id for m in named}


def mentor_topic_ids(profile: MentorProfile, detect: taxonomy.TopicDetector) -> set[int]:
    return {t.id for t in profile.topics} | {m.topic_id for m in detect(vectors.mentor_text(profile))}


def topic_matrix(sets: Sequence[set[int]], position: dict[int, int]) -> np.ndarray:
    matrix = np.zeros((len(sets), len(position)), dtype=bool)
    for row, ids in enumerate(sets):
        matrix[row, [position[i] for i in ids]] = True
    return matrix


def ensure_vectors(goals: Sequence[Goal], profiles: Sequence[MentorProfile]) -> None:
    """Embed the texts whose stored vector is missing or from another encoder, before any matmul."""
    config = vectors.encoder().config
    stale_goals = [g.id for g in goals if g.vector is None or g.vector_config != config]
    stale_mentors = [p.id for p in profiles if p.vector is None or p.vector_config != config]
    if stale_goals:
        vectors.embed_stale(vectors.GOAL, ids=stale_goals)
    if stale_mentors:
        vectors.embed_stale(vectors.MENTOR, ids=stale_mentors)


def stack(entities: Sequence[Goal | MentorProfile]) -> np.ndarray:
    if not entities:
        return np.zeros((0, 1), dtype=np.float32)
    return np.frombuffer(b"".join(e.vector for e in entities), dtype=np.float32).reshape(len(entities), -1)


def pair_score(goal: Goal, profile: MentorProfile) -> tuple[float, list[Reason]]:
    """Score and reasons (to store; `explanations.reason_texts` words them) of one pair, computed exactly as in
    a full cohort run."""
    ensure_vectors([goal], [profile])
    detect = taxonomy.TopicDetector()
    g_ids, m_ids = goal_topic_ids(goal, detect), mentor_topic_ids(profile, detect)
    position = {topic_id: i for i, topic_id in enumerate(sorted(g_ids | m_ids))}
    score = score_matrix(expand_vectors(stack([goal]), detect), stack([profile]), topic_matrix([g_ids], position),
                         topic_matrix([m_ids], position))[0, 0]
    return round(float(score), 4), explain(goal, profile, g_ids, m_ids, float(score), detect)


# --- a cohort run --------------------------------------------------------------------------------


@dataclass
class Unmatched:
    user: User
    role: str
    reason_code: str
    params: dict[str, str] = field(default_factory=dict)

    @property
    def reason(self) -> str:
        text = str(UNMATCHED_REASONS[self.reason_code])
        return text % self.params if self.params else text


@dataclass
class MatchResult:
    drafts: list[Tandem] = field(default_factory=list)
    unmatched: list[Unmatched] = field(default_factory=list)
    new_drafts: int = 0


def no_goal(participant: CohortParticipant) -> Unmatched:
    """Why a mentee's goal cannot be matched: none, or closed, or (named) in a tandem that still runs."""
    goal = participant.goal
    running = None if goal is None else db.session.scalar(
        select(Tandem).where(Tandem.goal_id == goal.id, Tandem.status == TandemStatus.ACTIVE).limit(1))
    if running is None:
        return Unmatched(participant.user, "mentee", "no_goal")
    if running.cohort is None:
        return Unmatched(participant.user, "mentee", "running_tandem_outside")
    return Unmatched(participant.user, "mentee", "running_tandem", {"cohort": running.cohort.name})


def lock_cohort(cohort_id: int) -> Cohort | None:
    """Lock the cohort row so two managers cannot match or publish at once: the second waits, then sees the result.

    The no-op UPDATE takes the write lock first on SQLite too (where FOR UPDATE is ignored), so
    everything read afterwards is what the other transaction committed.
    """
    db.session.execute(update(Cohort).where(Cohort.id == cohort_id).values(state=Cohort.state))
    return db.session.scalar(
        select(Cohort).where(Cohort.id == cohort_id).with_for_update().execution_options(populate_existing=True)
    )


def lock_cohort_in(cohort_id: int, states: Collection[str], refusal: str) -> Cohort:
    """Begin a serialised write and lock the cohort (`lock_cohort`), which must be in one of `states`: else
    CohortError, not_found (404) when it is gone, wrong_state with `refusal` when it has moved on."""
    begin_serialised_write()
    cohort = lock_cohort(cohort_id)
    if cohort is None:
        raise CohortError("not_found", _("No such cohort."), 404)
    if cohort.state not in states:
        raise CohortError("wrong_state", refusal)
    return cohort


def accepted(cohort: Cohort, role: str) -> list[CohortParticipant]:
    query = (
        select(CohortParticipant)
        .where(CohortParticipant.cohort_id == cohort.id, CohortParticipant.role == role,
               CohortParticipant.status == ParticipantStatus.ACCEPTED)
        .order_by(CohortParticipant.id)
    )
    if role == "mentee":
        query = query.options(
            selectinload(CohortParticipant.goal).selectinload(Goal.topics),
            selectinload(CohortParticipant.goal).selectinload(Goal.excluded_companies),
            selectinload(CohortParticipant.user).selectinload(User.company),
        )
    else:
        query = query.options(
            selectinload(CohortParticipant.user).selectinload(User.mentor_profile).selectinload(MentorProfile.topics),
            selectinload(CohortParticipant.user).selectinload(User.mentor_profile)
            .selectinload(MentorProfile.excluded_companies),
            selectinload(CohortParticipant.user).selectinload(User.company),
        )
    return list(db.session.scalars(query))


def run(cohort: Cohort) -> MatchResult:
    """Compute draft tandems for every accepted participant; unlocked drafts are replaced, locked ones kept.

    From planning or enrolment this first closes enrolment (start_matching), which refuses when
    nobody is accepted yet.
    """
    try:
        cohort = lock_cohort(cohort.id) or cohort
        if cohort.state in PLANNING:
            enrolment.start_matching(cohort, commit=False)
        if cohort.state not in PAIRING:
            raise CohortError("wrong_state", _("Matching is only possible before the cohort closes."))
        result = _run(cohort)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return result


@dataclass
class Pool:
    """The accepted people of a cohort as the assignment and the review's "unmatched" list both see them."""

    goals: list[Goal]  # the mentees' goals that are open or already paired in this cohort
    profiles: list[MentorProfile]
    without: list[Unmatched]  # accepted people who cannot take part: no usable goal, no mentor profile
    mentor_facts: list[rules.MentorFacts]  # the cohort's drafts already take their slots
    allowed: np.ndarray  # goals x profiles: True where no hard rule but capacity forbids the pair
    open_rows: np.ndarray  # goals with no draft or running tandem in this cohort yet
    paired_mentor_users: set[int]  # mentors with a draft or a published tandem in this cohort


def load_pool(cohort: Cohort) -> Pool:
    """Collect the cohort's people, subtract its drafts from the mentors' capacity and build the rule mask."""
    drafts = enrolment.cohort_tandems(cohort, (TandemStatus.DRAFT,))
    published = enrolment.cohort_tandems(cohort, PUBLISHED)
    paired = [*drafts, *(t for t in published if t.status == TandemStatus.ACTIVE)]
    paired_goals = {t.goal_id for t in paired}
    paired_mentees = {t.mentee_user_id for t in paired}
    without: list[Unmatched] = []
    goals: list[Goal] = []
    for participant in accepted(cohort, "mentee"):
        goal = participant.goal
        if goal is None or (goal.status != GoalStatus.OPEN and goal.id not in paired_goals):
            without.append(no_goal(participant))
        else:
            goals.append(goal)
    profiles: list[MentorProfile] = []
    for participant in accepted(cohort, "mentor"):
        if participant.user.mentor_profile is None:
            without.append(Unmatched(participant.user, "mentor", "no_profile"))
        else:
            profiles.append(participant.user.mentor_profile)
    mentor_facts = rules.mentor_facts(profiles)
    mentee_facts = [rules.mentee_facts(goal) for goal in goals]
    context = rules.rule_context({f.user_id for f in mentee_facts} | {f.user_id for f in mentor_facts})
    # Pairs that already exist would count as "already paired": judge the rules without them.
    context.existing_pairs -= {(t.mentor_user_id, t.mentee_user_id) for t in published}
    return Pool(
        goals=goals, profiles=profiles, without=without, mentor_facts=mentor_facts,
        allowed=rules.allowed_mask(mentee_facts, mentor_facts, context, check_capacity=False),
        open_rows=np.array([g.id not in paired_goals and g.owner_id not in paired_mentees for g in goals], dtype=bool),
        paired_mentor_users={t.mentor_user_id for t in [*drafts, *published]},
    )


def classify_unmatched(pool: Pool, pairs: Sequence[tuple[int, int]] = ()) -> list[Unmatched]:
    """Who of the pool has no partner, and why; `pairs` are (goal row, profile column) just proposed."""
    open_rows = pool.open_rows.copy()
    free = np.array([f.free_capacity for f in pool.mentor_facts], dtype=np.int64)
    for row, col in pairs:
        open_rows[row] = False
        free[col] -= 1
    matched_cols = {col for _, col in pairs}
    free_cols = (free > 0) & np.array([f.is_open for f in pool.mentor_facts], dtype=bool)
    result = list(pool.without)
    for row, goal in enumerate(pool.goals):
        if not open_rows[row]:
            continue
        if (pool.allowed[row] & free_cols).any():
            code = "not_paired"
        else:
            code = "partners_taken" if pool.allowed[row].any() else "no_valid_partner"
        result.append(Unmatched(goal.owner, "mentee", code))
    for col, profile in enumerate(pool.profiles):
        if col in matched_cols or profile.user_id in pool.paired_mentor_users:
            continue
        if not profile.is_open:
            code = "mentor_paused"
        elif free[col] <= 0:
            code = "mentor_full"
        elif (pool.allowed[:, col] & open_rows).any():
            code = "not_paired"
        elif not len(pool.goals):
            code = "no_mentees"
        else:
            code = "mentees_taken" if pool.allowed[:, col].any() else "no_valid_partner"
        result.append(Unmatched(profile.user, "mentor", code))
    return result


def _run(cohort: Cohort) -> MatchResult:
    """Replace the unlocked drafts by a maximum assignment of the pool's open goals to the mentors' free slots."""
    db.session.execute(
        delete(Tandem).where(
            Tandem.cohort_id == cohort.id, Tandem.status == TandemStatus.DRAFT, Tandem.locked.is_(False)
        )
    )
    db.session.expire_all()
    pool = load_pool(cohort)
    rows = np.flatnonzero(pool.open_rows)
    goals, profiles = [pool.goals[row] for row in rows], pool.profiles
    pairs: list[tuple[int, int]] = []
    if goals and profiles:
        ensure_vectors(goals, profiles)
        detect = taxonomy.TopicDetector()
        goal_ids_by_row = [goal_topic_ids(goal, detect) for goal in goals]
        mentor_ids_by_col = [mentor_topic_ids(profile, detect) for profile in profiles]
        position = {t: i for i, t in enumerate(sorted(set().union(*goal_ids_by_row, *mentor_ids_by_col)))}
        scores = score_matrix(expand_vectors(stack(goals), detect), stack(profiles),
                              topic_matrix(goal_ids_by_row, position), topic_matrix(mentor_ids_by_col, position))
        free = np.array([f.free_capacity for f in pool.mentor_facts], dtype=np.int64)
        for row, col in assign(scores, pool.allowed[rows], free):
            goal, profile, score = goals[row], profiles[col], float(scores[row, col])
            db.session.add(Tandem(
                goal=goal, mentor=profile, mentee_user_id=goal.owner_id, mentor_user_id=profile.user_id,
                cohort_id=cohort.id, status=TandemStatus.DRAFT, locked=False, score=round(score, 4),
                reasons=explain(goal, profile, goal_ids_by_row[row], mentor_ids_by_col[col], score, detect),
            ))
            pairs.append((int(rows[row]), col))
    db.session.flush()
    return MatchResult(
        drafts=enrolment.cohort_tandems(cohort, (TandemStatus.DRAFT,)),
        unmatched=classify_unmatched(pool, pairs),
        new_drafts=len(pairs),
    )


def unmatched(cohort: Cohort) -> list[Unmatched]:
    """Who has no draft or tandem in this cohort right now, and why: the review page's list.

    Recomputed from the current drafts, so it stays right after swaps, removals and additions.
    """
    return classify_unmatched(load_pool(cohort))
