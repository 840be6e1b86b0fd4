"""The hard rules of a tandem, written once: a single-pair form and a vectorised mask for score matrices.

never the same company (the verified one where known, and the one owning the e-mail domain whether
confirmed or not: both count for every company rule), never a company either side excludes, never
competitors (a link works both ways), only open mentors with free capacity, at least one shared
language, never the same person, never a pair that already has an open or running tandem.

This module is the only code that decides whether a mentor may pair with a goal (or a searcher):
search, suggestions, "goals I could help with", requests, acceptance and every cohort step ask it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache

import numpy as np
from flask_babel import lazy_gettext as _l
from sqlalchemy import Column, ColumnElement, ScalarSelect, Select, String, any_, bindparam, cast, func, or_, select
from sqlalchemy.dialects import postgresql

from ...extensions import db
from ...models import Goal, MentorProfile, Tandem, User, mentor_excluded_companies, split_languages
from .. import companies

# Order matters: the first broken rule is the reason shown.
REASONS = {
    "same_person": _l("Mentor and mentee are the same person."),
    "same_company": _l("Mentor and mentee work for the same company."),
    "excluded_by_mentee": _l("The goal excludes the mentor's company."),
    "excluded_by_mentor": _l("The mentor excludes the mentee's company."),
    "competitors": _l("Their companies are competitors."),
    "mentor_paused": _l("The mentor is not taking mentees right now."),
    "mentor_full": _l("The mentor has no free capacity."),
    "no_shared_language": _l("They share no language."),
    "already_paired": _l("They already have an open request, an open offer or a running tandem."),
}

# The reasons that are about the mentor, as the mentor reads them (offering help on a goal).
REASONS_TO_THE_MENTOR = {
    "excluded_by_mentor": _l("Your profile excludes this person's company."),
    "mentor_paused": _l("Your profile is paused: reopen it to take on mentees."),
    "mentor_full": _l("You have no free place for another mentee."),
}

PAIRING_STATUSES = (*Tandem.PENDING_STATUSES, Tandem.RUNNING)


@dataclass(frozen=True)
class MentorFacts:
    id: int
    user_id: int
    company_id: int | None
    excluded_company_ids: frozenset[int]
    languages: frozenset[str]
    is_open: bool
    free_capacity: int
    domain_company_id: int | None = None  # the company owning the e-mail domain, confirmed or not

    @property
    def company_ids(self) -> frozenset[int]:
        return _companies(self)


@dataclass(frozen=True)
class MenteeFacts:
    """A goal's owner, or someone searching (goal_id None); languages None means "any language"."""

    goal_id: int | None
    user_id: int
    company_id: int | None
    excluded_company_ids: frozenset[int]
    languages: frozenset[str] | None
    domain_company_id: int | None = None

    @property
    def company_ids(self) -> frozenset[int]:
        return _companies(self)


def _companies(person: MentorFacts | MenteeFacts) -> frozenset[int]:
    """Every company a person counts as working at for the company rules."""
    return frozenset(c for c in (person.company_id, person.domain_company_id) if c is not None)


@dataclass
class RuleContext:
    """Facts shared by all pairs: competitor links (both directions) and pairs that already exist."""

    competitor_pairs: Collection[tuple[int, int]] = field(default_factory=set)
    existing_pairs: set[tuple[int, int]] = field(default_factory=set)  # (mentor user id, mentee user id)


def pair_violations(
    mentor: MentorFacts, mentee: MenteeFacts, context: RuleContext, check_capacity: bool = True
) -> list[str]:
    """Every rule this pair breaks, as reason codes (keys of REASONS), in REASONS order."""
    broken = []
    if mentor.user_id == mentee.user_id:
        broken.append("same_person")
    mentor_companies, mentee_companies = mentor.company_ids, mentee.company_ids
    if mentor_companies & mentee_companies:
        broken.append("same_company")
    if mentor_companies & mentee.excluded_company_ids:
        broken.append("excluded_by_mentee")
    if mentee_companies & mentor.excluded_company_ids:
        broken.append("excluded_by_mentor")
    if any(
        (a, b) in context.competitor_pairs or (b, a) in context.competitor_pairs
        for a in mentor_companies
        for b in mentee_companies
    ):
        broken.append("competitors")
    if not mentor.is_open:
        broken.append("mentor_paused")
    if check_capacity and mentor.free_capacity <= 0:
        broken.append("mentor_full")
    if mentee.languages is not None and not mentor.languages & mentee.languages:
        broken.append("no_shared_language")
    if (mentor.user_id, mentee.user_id) in context.existing_pairs:
        broken.append("already_paired")
    return broken


# Long on purpose: one vectorised pass that follows pair_violations rule by rule, so the two read side by side.
def allowed_mask(
    mentees: Sequence[MenteeFacts],
    mentors: Sequence[MentorFacts],
    context: RuleContext,
    check_capacity: bool = True,
) -> np.ndarray:
    """Boolean matrix (mentees x mentors): True where no hard rule forbids the pair.

    Same rules as pair_violations, computed with array operations so a 3,000 x 3,000 cohort
    takes milliseconds instead of nine million Python calls.
    """
    n_mentees, n_mentors = len(mentees), len(mentors)
    if n_mentees == 0 or n_mentors == 0:
        return np.zeros((n_mentees, n_mentors), dtype=bool)

    company_ids = sorted(
        {c for p in [*mentees, *mentors] for c in p.company_ids}
        | {c for p in [*mentees, *mentors] for c in p.excluded_company_ids}
    )
    position = {company: i for i, company in enumerate(company_ids)}
    unknown = len(company_ids)  # a column no one excludes and no one competes with
    size = unknown + 1

    def company_index(people: Iterable, column: str) -> np.ndarray:
        """Each person's company of one kind (stated/verified or domain) as a matrix column."""
        return np.array([position.get(getattr(p, column), unknown) for p in people])

    def exclusion_matrix(people: Sequence) -> np.ndarray:
        matrix = np.zeros((len(people), size), dtype=bool)
        for row, person in enumerate(people):
            for company in person.excluded_company_ids:
                matrix[row, position[company]] = True
        return matrix

    competitor_matrix = np.zeros((size, size), dtype=bool)
    for a, b in context.competitor_pairs:
        if a in position and b in position:
            competitor_matrix[position[a], position[b]] = True
            competitor_matrix[position[b], position[a]] = True
    mentee_exclusions, mentor_exclusions = exclusion_matrix(mentees), exclusion_matrix(mentors)

    # A person counts as working at both their stated/verified company and their domain's company:
    # a company rule holds when it holds for any of the four combinations.
    same_company = np.zeros((n_mentees, n_mentors), dtype=bool)
    excluded_by_mentee = np.zeros_like(same_company)
    excluded_by_mentor = np.zeros_like(same_company)
    competitors = np.zeros_like(same_company)
    for mentee_column in ("company_id", "domain_company_id"):
        mentee_company = company_index(mentees, mentee_column)
        excluded_by_mentor |= mentor_exclusions[:, mentee_company].T
        for mentor_column in ("company_id", "domain_company_id"):
            mentor_company = company_index(mentors, mentor_column)
            same_company |= (mentee_company[:, None] == mentor_company[None, :]) & (mentee_company[:, None] != unknown)
            competitors |= competitor_matrix[np.ix_(mentee_company, mentor_company)]
    for mentor_column in ("company_id", "domain_company_id"):
        excluded_by_mentee |= mentee_exclusions[:, company_index(mentors, mentor_column)]

    languages = sorted({code for p in [*mentees, *mentors] for code in (p.languages or ())})
    language_position = {code: i for i, code in enumerate(languages)}

    def language_matrix(people: Sequence) -> np.ndarray:
        matrix = np.zeros((len(people), max(len(languages), 1)), dtype=np.float32)
        for row, person in enumerate(people):
            for code in person.languages or ():
                matrix[row, language_position[code]] = 1.0
        return matrix

    shared_language = (language_matrix(mentees) @ language_matrix(mentors).T) > 0
    shared_language |= np.array([p.languages is None for p in mentees])[:, None]

    mentor_ok = np.array([m.is_open and (m.free_capacity > 0 or not check_capacity) for m in mentors])
    mentee_user = np.array([p.user_id for p in mentees])
    mentor_user = np.array([m.user_id for m in mentors])
    same_person = mentee_user[:, None] == mentor_user[None, :]

    allowed = (
        ~same_person & ~same_company & ~excluded_by_mentee & ~excluded_by_mentor & ~competitors & shared_language
    )
    allowed &= mentor_ok[None, :]
    if context.existing_pairs:
        mentee_rows: dict[int, list[int]] = {}
        for row, person in enumerate(mentees):
            mentee_rows.setdefault(person.user_id, []).append(row)
        mentor_cols: dict[int, list[int]] = {}
        for col, mentor in enumerate(mentors):
            mentor_cols.setdefault(mentor.user_id, []).append(col)
        for mentor_user_id, mentee_user_id in context.existing_pairs:
            for row in mentee_rows.get(mentee_user_id, ()):
                for col in mentor_cols.get(mentor_user_id, ()):
                    allowed[row, col] = False
    return allowed


def reason_text(code: str, to_the_mentor: bool = False) -> str:
    """Why a pair is not allowed, for a mentee or manager; `to_the_mentor`: in the words the mentor reads."""
    return str((REASONS_TO_THE_MENTOR if to_the_mentor else {}).get(code, REASONS[code]))


# --- loading facts from the database -------------------------------------------------------------


def mentor_facts(profiles: Sequence[MentorProfile], ignoring: Collection[int] = ()) -> list[MentorFacts]:
    """Facts of stored profiles (pending changes are flushed first, by the session's autoflush)."""
    facts = mentor_facts_by_id([p.id for p in profiles], ignoring)
    return [facts[p.id] for p in profiles]


def slots_taken(mentor_id_column, ignoring: Collection[int] = ()):
    """SQL count of the slots a mentor's tandems take: running ones plus cohort drafts waiting to be
    published, leaving out the tandems in `ignoring` (the request or drafts being decided right now).

    The one definition of a mentor's used capacity; free capacity is `capacity - slots_taken`.
    """
    query = select(func.count(Tandem.id)).where(
        Tandem.mentor_profile_id == mentor_id_column, Tandem.status.in_(Tandem.SLOT_STATUSES)
    )
    if ignoring:
        query = query.where(Tandem.id.not_in(list(ignoring)))
    return query.correlate(MentorProfile).scalar_subquery()


def linked_ids(link_column: Column) -> ScalarSelect:
    """The ids in `link_column` of a mentor's rows in its link table (one with a `mentor_id`), as one
    comma-separated column of a select over MentorProfile (`ids_of` reads it): no row fan-out, no second query."""
    return (
        select(func.aggregate_strings(cast(link_column, String), ","))
        .where(link_column.table.c.mentor_id == MentorProfile.id)
        .correlate(MentorProfile)
        .scalar_subquery()
    )


def one_of(column: Column, name: str, dialect: str) -> ColumnElement[bool]:
    """`column` is one of the list given at execution as parameter `name`: on PostgreSQL `= ANY` of one array
    parameter, which it binds and plans in ~0.6 ms less than 50 separate ones (a ranking's candidates,
    bench/README.md "Reference data kept"); elsewhere an expanding IN. For statements built once per dialect."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=postgresql.ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True))


def ids_of(linked: str | None) -> frozenset[int]:
    """The ids of a `linked_ids` column's value (None when the mentor has no such rows)."""
    return frozenset(int(i) for i in linked.split(",")) if linked else frozenset()


def mentor_facts_columns(ignoring: Collection[int] = ()) -> list:
    """The columns MentorFacts is read from (`facts_of_row`), for a select over MentorProfile joined with its
    User: a ranking selects them beside its own columns, so its candidates' facts cost no query of their own.
    Tandems in `ignoring` take no slot (see slots_taken)."""
    return [
        MentorProfile.id.label("facts_id"),
        MentorProfile.user_id.label("facts_user_id"),
        func.coalesce(User.verified_company_id, User.company_id).label("facts_company_id"),
        User.domain_company_id.label("facts_domain_company_id"),
        MentorProfile.languages.label("facts_languages"),
        MentorProfile.is_open.label("facts_is_open"),
        (MentorProfile.capacity - slots_taken(MentorProfile.id, ignoring)).label("facts_free_capacity"),
        linked_ids(mentor_excluded_companies.c.company_id).label("facts_excluded"),
    ]


def facts_of_row(row) -> MentorFacts:
    """A mentor's facts from a row holding `mentor_facts_columns`."""
    return MentorFacts(
        id=row.facts_id,
        user_id=row.facts_user_id,
        company_id=row.facts_company_id,
        excluded_company_ids=ids_of(row.facts_excluded),
        languages=frozenset(split_languages(row.facts_languages)),
        is_open=row.facts_is_open,
        free_capacity=row.facts_free_capacity,
        domain_company_id=row.facts_domain_company_id,
    )


def mentor_facts_by_id(mentor_ids: Iterable[int], ignoring: Collection[int] = ()) -> dict[int, MentorFacts]:
    """Facts of the given mentor profiles, read as plain rows in one query: no ORM objects, so a caller can
    judge many mentors and load full profiles only for those it shows."""
    ids = list(mentor_ids)
    if not ids:
        return {}
    rows = db.session.execute(
        select(*mentor_facts_columns(ignoring))
        .join(User, User.id == MentorProfile.user_id)
        .where(MentorProfile.id.in_(ids))
    )
    return {row.facts_id: facts_of_row(row) for row in rows}


def mentee_facts(goal: Goal) -> MenteeFacts:
    return MenteeFacts(
        goal_id=goal.id,
        user_id=goal.owner_id,
        company_id=goal.owner.effective_company_id,
        excluded_company_ids=frozenset(c.id for c in goal.excluded_companies),
        languages=frozenset(goal.language_list),
        domain_company_id=goal.owner.domain_company_id,
    )


def searcher_facts(viewer: User, excluded_company_ids: Iterable[int] = (), language: str | None = None) -> MenteeFacts:
    """Someone searching mentors, as the rules see them: their company, the companies they filter out,
    and the language asked for (any language when none)."""
    return MenteeFacts(
        goal_id=None,
        user_id=viewer.id,
        company_id=viewer.effective_company_id,
        excluded_company_ids=frozenset(excluded_company_ids),
        languages=frozenset({language}) if language else None,
        domain_company_id=viewer.domain_company_id,
    )


def rule_context(
    user_ids: Iterable[int] | None = None, ignoring: Collection[int] = (), with_pairs: bool = True,
    competitor_pairs: Collection[tuple[int, int]] | None = None,
) -> RuleContext:
    """Competitor links, and the pairs already requested or running (for these users, or everyone),
    leaving out the tandems in `ignoring`. A search has no pairs to judge (with_pairs False): it shows
    whom one could ask, and the request step refuses a pair that already exists. `competitor_pairs`: the
    links as already read (reference.matching_state), else they are read here."""
    existing: set[tuple[int, int]] = set()
    if with_pairs:
        parameters = {"ids": list(user_ids)} if user_ids is not None else {}
        if ignoring:
            parameters["ignoring"] = list(ignoring)
        query = _existing_pairs_statement(user_ids is not None, bool(ignoring))
        existing = {(a, b) for a, b in db.session.execute(query, parameters) if a is not None and b is not None}
    pairs = companies.all_competitor_pairs() if competitor_pairs is None else competitor_pairs
    return RuleContext(competitor_pairs=pairs, existing_pairs=existing)


@cache
def _existing_pairs_statement(for_users: bool, ignoring: bool) -> Select:
    """The pairs requested or running (among the tandems of the users `ids` when `for_users`, leaving out the
    tandems `ignoring` when `ignoring`): built once per variant, as every pair check reads it."""
    query = select(Tandem.mentor_user_id, Tandem.mentee_user_id).where(Tandem.status.in_(PAIRING_STATUSES))
    if for_users:
        ids = bindparam("ids", expanding=True)
        query = query.where(or_(Tandem.mentee_user_id.in_(ids), Tandem.mentor_user_id.in_(ids)))
    if ignoring:
        query = query.where(Tandem.id.not_in(bindparam("ignoring", expanding=True)))
    return query


def check_pair(
    profile: MentorProfile, goal: Goal, check_capacity: bool = True, deciding: Tandem | None = None
) -> list[str]:
    """Reason codes that forbid this mentor for this goal (empty when the pair is allowed).

    `deciding` is the request or cohort draft being accepted, published or re-checked: it neither counts
    as an existing pair nor takes a slot. A pause stops new requests, not the answer to one already
    pending, so for a request or an offer being answered "mentor_paused" is no reason.
    """
    ignoring = (deciding.id,) if deciding is not None and deciding.id is not None else ()
    context = rule_context([goal.owner_id, profile.user_id], ignoring)
    broken = pair_violations(mentor_facts([profile], ignoring)[0], mentee_facts(goal), context, check_capacity)
    if deciding is not None and deciding.status in Tandem.PENDING_STATUSES:
        broken = [code for code in broken if code != "mentor_paused"]
    return broken
