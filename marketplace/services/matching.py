"""Search and suggestions: FAISS candidates, the hard rules, a hybrid score and an explanation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import defer, joinedload, selectinload

from embeddings import highlight_phrases

from ..extensions import db
from ..models import Goal, MentorProfile, Topic, User, mentor_topics, split_languages
from . import rules, taxonomy, vectors

MAX_K = 50
# Share of the score that comes from shared taxonomy topics; the rest is cosine similarity.
# Chosen on bench/data/ranking_eval.json (bench/README.md, "Ranking quality"): with the default encoder and
# query expansion, 0.1-0.3 is a plateau (nDCG@5 within 0.001) and 0.2 its middle; without the term (0)
# nDCG@5 is 0.007 lower (95 % CI [0.001, 0.014]).
TOPIC_WEIGHT = 0.2
# Embed searches (and goals, for suggestions) as expand_query(text, detected topics). Measured on the 90
# queries of bench/data/ranking_eval.json: recall@5 +0.018 (95 % CI [+0.001, +0.037]), nDCG@5 +0.009
# ([-0.008, +0.027]), same-cross language gap -0.012 ([-0.026, 0.000]); on the 50 tuning queries nDCG@5
# +0.019 ([+0.002, +0.041]). Names and every synonym instead of the names: nDCG@5 -0.018.
EXPAND_QUERIES = True


class MatchingError(ValueError):
    """Bad search input; the message is shown to the user."""


@dataclass
class MentorMatch:
    profile: MentorProfile
    score: float
    similarity: float
    matched_topics: list[Topic] = field(default_factory=list)
    highlights: list[str] = field(default_factory=list)
    shared_languages: list[str] = field(default_factory=list)

    def as_json(self, locale: str = "en") -> dict:
        user = self.profile.user
        company = user.effective_company
        return {
            "id": self.profile.id,
            "name": user.name,
            "company": company.name if company else None,
            "headline": self.profile.headline,
            "score": round(self.score, 4),
            "matched_topics": [t.display_name(locale) for t in self.matched_topics],
            "highlights": self.highlights,
            "shared_languages": self.shared_languages,
        }


@dataclass
class GoalMatch:
    goal: Goal
    score: float
    matched_topics: list[Topic] = field(default_factory=list)
    shared_languages: list[str] = field(default_factory=list)


def blend_score(similarity: float, topic_overlap: float) -> float:
    """Hybrid score in [0, 1]: cosine similarity plus the share of the query's topics the mentor covers."""
    return float(np.clip((1 - TOPIC_WEIGHT) * similarity + TOPIC_WEIGHT * topic_overlap, 0.0, 1.0))


def expand_query(text: str, topic_ids: set[int]) -> str:
    """`text` plus a line naming the given taxonomy topics in English and German.

    The line has the form that ends every mentor's embedded text (vectors.mentor_text), so a German
    query carries English words for the English-only MiniLM part of a blended encoder, and the reverse.
    """
    if not topic_ids:
        return text
    topics = db.session.scalars(select(Topic).where(Topic.id.in_(sorted(topic_ids))))
    return f"{text}\n{vectors.topic_names(topics)}"


def _topic_overlap(query_topic_ids: set[int], candidate_topic_ids: set[int]) -> float:
    if not query_topic_ids:
        return 0.0
    return len(query_topic_ids & candidate_topic_ids) / len(query_topic_ids)


def _load_profiles(ids: Sequence[int]) -> dict[int, MentorProfile]:
    if not ids:
        return {}
    # Users and their companies joined in (many-to-one); collections by selectin. Measured faster than
    # selectin for all (two fewer round trips) and than joining the collections too (row fan-out).
    profiles = db.session.scalars(
        select(MentorProfile)
        .where(MentorProfile.id.in_(list(ids)))
        .options(
            defer(MentorProfile.vector),  # 1.5 KB a row that ranking never reads (the index holds it)
            selectinload(MentorProfile.topics),
            joinedload(MentorProfile.user).joinedload(User.company),
            joinedload(MentorProfile.user).joinedload(User.verified_company),
        )
    )
    return {p.id: p for p in profiles}


@dataclass(frozen=True)
class Candidate:
    """A mentor as ranking sees it, read as plain rows. A request judges and scores ~50 of these and
    loads full profiles (user, companies, topics) only for the k it shows: building 50 ORM profiles
    was the largest share of a suggestions request (bench/search_latency.py)."""

    facts: rules.MentorFacts
    similarity: float
    meeting_format: str
    languages: list[str]
    topic_ids: frozenset[int]
    text: str  # what the mentor's vector embeds (vectors.mentor_text)


def _load_candidates(hits: Sequence[tuple[int, float]]) -> list[Candidate]:
    ids = [entity_id for entity_id, _ in hits]
    facts = rules.mentor_facts_by_id(ids)
    topics: dict[int, list] = {}  # rows with id, name_en and name_de: what vectors.topic_names reads
    for row in db.session.execute(
        select(mentor_topics.c.mentor_id, Topic.id, Topic.name_en, Topic.name_de)
        .join(Topic, Topic.id == mentor_topics.c.topic_id)
        .where(mentor_topics.c.mentor_id.in_(ids))
    ):
        topics.setdefault(row.mentor_id, []).append(row)
    texts = {
        row.id: row
        for row in db.session.execute(
            select(
                MentorProfile.id,
                MentorProfile.headline,
                MentorProfile.teaching_text,
                MentorProfile.meeting_format,
                MentorProfile.languages,
            ).where(MentorProfile.id.in_(ids))
        )
    }
    return [
        Candidate(
            facts=facts[mentor_id],
            similarity=similarity,
            meeting_format=texts[mentor_id].meeting_format,
            languages=split_languages(texts[mentor_id].languages),
            topic_ids=frozenset(t.id for t in topics.get(mentor_id, ())),
            text=vectors.mentor_text_of(
                texts[mentor_id].headline, texts[mentor_id].teaching_text, topics.get(mentor_id, ())
            ),
        )
        for mentor_id, similarity in hits
        if mentor_id in facts  # a profile deleted since the index last caught up
    ]


def _candidates(query_vector: np.ndarray, k: int, accept: Callable[[Candidate], bool]) -> list[Candidate]:
    """Over-fetch from FAISS and widen until `k` candidates pass `accept` or the index is exhausted."""
    index = vectors.live_index(vectors.MENTOR).current()
    total = len(index)
    if total == 0:
        return []
    fetch = min(total, max(k * 5, 50))
    while True:
        passing = [c for c in _load_candidates(index.search_one(query_vector, fetch)) if accept(c)]
        if len(passing) >= k or fetch >= total:
            return passing
        fetch = min(total, fetch * 4)


@dataclass
class _Scored:
    candidate: Candidate
    score: float
    extra_topic_ids: set[int]


def _score(
    candidate: Candidate, query_topic_ids: set[int], detect: taxonomy.TopicDetector
) -> _Scored:
    """Hybrid score; shared topics and phrase highlights wait until the top k are known."""
    # Only the query's topics that the mentor did not tag can change the score or the explanation.
    untagged = query_topic_ids - candidate.topic_ids
    mentioned = {m.topic_id for m in detect(candidate.text, untagged)} if untagged else set()
    covered = candidate.topic_ids | mentioned
    return _Scored(
        candidate=candidate,
        score=blend_score(candidate.similarity, _topic_overlap(query_topic_ids, covered)),
        extra_topic_ids=(query_topic_ids & mentioned) - candidate.topic_ids,
    )


def _rank(
    candidates: list[Candidate],
    k: int,
    query_text: str,
    query_topic_ids: set[int],
    languages: set[str],
    detect: taxonomy.TopicDetector,
) -> list[MentorMatch]:
    """The k best by score, as full matches: profiles loaded, shared topics and matching phrases named."""
    scored = sorted(
        (_score(c, query_topic_ids, detect) for c in candidates), key=lambda s: (-s.score, s.candidate.facts.id)
    )[:k]
    profiles = _load_profiles([s.candidate.facts.id for s in scored])
    extra_ids = set().union(*(s.extra_topic_ids for s in scored)) if scored else set()
    extra_topics = (
        {t.id: t for t in db.session.scalars(select(Topic).where(Topic.id.in_(extra_ids)))} if extra_ids else {}
    )
    matches = []
    for s in scored:
        profile = profiles[s.candidate.facts.id]
        matches.append(
            MentorMatch(
                profile=profile,
                score=s.score,
                similarity=s.candidate.similarity,
                matched_topics=[t for t in profile.topics if t.id in query_topic_ids]
                + [extra_topics[i] for i in sorted(s.extra_topic_ids)],
                highlights=highlight_phrases(query_text, f"{profile.headline}. {profile.teaching_text}", max_phrases=3),
                shared_languages=sorted(set(s.candidate.languages) & languages) if languages else s.candidate.languages,
            )
        )
    return matches


def search_mentors(
    query: str,
    viewer: User,
    k: int = 10,
    language: str | None = None,
    meeting_format: str | None = None,
    exclude_company_ids: Sequence[int] = (),
) -> list[MentorMatch]:
    """Mentors for a free-text topic in any language, best first, never from the viewer's company."""
    query = (query or "").strip()
    if not query:
        raise MatchingError(_("Please enter what you would like to learn."))
    if len(query) > 500:
        raise MatchingError(_("Please keep the search under 500 characters."))
    k = max(1, min(int(k), MAX_K))
    detect = taxonomy.TopicDetector()  # one taxonomy read for the query and every candidate
    query_topic_ids = {m.topic_id for m in detect(query)}
    embedded = expand_query(query, query_topic_ids) if EXPAND_QUERIES else query
    query_vector = vectors.encoder().encode([embedded])[0]
    searcher = rules.searcher_facts(viewer, exclude_company_ids, language)
    context = rules.rule_context(with_pairs=False)

    def accept(candidate: Candidate) -> bool:
        return not rules.pair_violations(candidate.facts, searcher, context) and (
            meeting_format is None or candidate.meeting_format in (meeting_format, "hybrid")
        )

    languages = {language} if language else set()
    return _rank(_candidates(query_vector, k, accept), k, query, query_topic_ids, languages, detect)


def suggestions_for_goal(goal: Goal, k: int = 5) -> list[MentorMatch]:
    """Mentors for a goal, best first, with every hard rule applied."""
    k = max(1, min(int(k), MAX_K))
    if goal.vector is None:
        vectors.refresh_goal(goal)
        db.session.commit()
    detect = taxonomy.TopicDetector()  # one taxonomy read for the goal and every candidate
    tagged_ids = {t.id for t in goal.topics}
    named_ids = {m.topic_id for m in detect(f"{goal.title}\n{goal.description}")}
    goal_topic_ids = tagged_ids | named_ids
    query_vector = vectors.from_blob(goal.vector)  # embedded as a search is (vectors.goal_text)
    mentee = rules.mentee_facts(goal)
    context = rules.rule_context([goal.owner_id])

    def accept(candidate: Candidate) -> bool:
        return not rules.pair_violations(candidate.facts, mentee, context)

    text = f"{goal.title}. {goal.description}"
    candidates = _candidates(query_vector, k, accept)
    return _rank(candidates, k, text, goal_topic_ids, set(goal.language_list), detect)


def goals_for_mentor(profile: MentorProfile, k: int = 10) -> list[GoalMatch]:
    """Open goals whose owners let mentors find them, that this mentor could take on, best first."""
    if profile.vector is None:
        return []
    index = vectors.live_index(vectors.GOAL).current()
    total = len(index)
    if total == 0:
        return []
    mentor = rules.mentor_facts([profile])[0]
    context = rules.rule_context([profile.user_id])
    profile_topic_ids = {t.id for t in profile.topics}
    fetch = min(total, max(k * 5, 50))
    while True:
        hits = index.search_one(vectors.from_blob(profile.vector), fetch)
        goals = {
            g.id: g
            for g in db.session.scalars(
                select(Goal).where(Goal.id.in_([i for i, _ in hits])).options(selectinload(Goal.topics))
            )
        }
        results = []
        for goal_id, similarity in hits:
            goal = goals.get(goal_id)
            if goal is None or goal.status != "open" or not goal.discoverable:
                continue
            # Capacity is the mentor's own business here: show the goal, the request step enforces it.
            if rules.pair_violations(mentor, rules.mentee_facts(goal), context, check_capacity=False):
                continue
            goal_topics = {t.id for t in goal.topics}
            results.append(
                GoalMatch(
                    goal=goal,
                    score=blend_score(similarity, _topic_overlap(goal_topics, profile_topic_ids)),
                    matched_topics=[t for t in goal.topics if t.id in profile_topic_ids],
                    shared_languages=sorted(set(goal.language_list) & set(profile.language_list)),
                )
            )
        if len(results) >= k or fetch >= total:
            results.sort(key=lambda m: (-m.score, m.goal.id))
            return results[:k]
        fetch = min(total, fetch * 4)
