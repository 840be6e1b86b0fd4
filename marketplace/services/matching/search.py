"""Search and suggestions: FAISS candidates, the hard rules, a hybrid score and an explanation."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
from flask_babel import gettext as _
from sqlalchemy import Integer, Select, bindparam, func, inspect, select
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.util import identity_key

from embeddings import highlight_phrases, normalize_rows, term_coverage

from ...extensions import db
from ...input_checks import has_visible_text
from ...models import Company, Goal, MentorProfile, Tandem, Topic, User, mentor_topics, split_languages
from ...states import GoalStatus, TandemStatus
from ..errors import MatchingError
from . import reference, rules, taxonomy, vectors

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
# Semantic topic expansion: a query's vector (a search's, a goal's stored one) moved towards its nearest taxonomy
# topic's vector (its names and descriptions, vectors.topic_text) by this weight before FAISS and the score
# (expand_vectors); the floor judges the similarity without it. Chosen on the tune split of
# bench/data/ranking_eval.json (0.1-0.2 within 0.004, names and synonyms instead of descriptions lower); held-out
# nDCG@5 +0.017 (95 % CI [+0.004, +0.032]), goals +0.014 ([+0.002, +0.030]), short queries +0.020
# ([-0.000, +0.042]) (bench/README.md, "Semantic topic expansion"). It reaches paraphrases naming no taxonomy word.
TOPIC_EXPANSION = 0.15
# Mentors whose relevance (_Scored.relevance: the score without the topic expansion plus lexical evidence, with the
# best match's feedback, lend_relevance) is below this are not shown, and a cohort pair below it (`relevance`, no
# list, no feedback) is flagged as weak. Without the expansion because every query has a nearest topic: moved
# towards it (weight 0.2, the synonyms' text), "lorem ipsum dolor" reached 0.209 and every nonsense search found
# someone at any floor leaving three mentors to each short query (at most 0.14). Calibrated on the tune split of
# bench/data/ranking_eval.json (bench/README.md, "The floor's feedback"): the highest value at which every labelled
# short query still shows at least three mentors (0.11 before the feedback); every nonsense search of the bench
# ("xqzv blorf", "a", "🚀🚀🚀", ...; at most 0.107) stays below it.
RELEVANCE_FLOOR = 0.12
# No padding below the best: past the first ALWAYS_SHOWN of a list, a match whose relevance is below this share of
# the best relevance of the list's first PADDING_WINDOW is not shown, and the next that passes takes its place
# (is_padding, _without_padding). Calibrated on the tune split of bench/data/ranking_eval.json (bench/README.md, "The
# floor's feedback"): the highest share at which the tune split's nDCG@5 does not fall and at most 1 % of the
# relevant mentors the top 10 showed are hidden (0.35 before the feedback). Mentors labelled unrelated that the lists
# show, without the relative floor -> with it: 805 -> 607 (tune), 463 -> 326 (held-out).
RELATIVE_FLOOR = 0.4
# The first of a list are shown whatever the relative floor says (the absolute floor still applies): a search that
# finds one strong mentor also shows the next two, so that a reader can compare.
ALWAYS_SHOWN = 3
# The best relevance a list is judged against is that of its first this many by rank, whatever k (_without_padding).
PADDING_WINDOW = 10
# Weight of the query words found in the mentor's text in `relevance`. The vector score alone cannot tell a
# search that names nothing from a real paraphrase (USE: "lorem ipsum dolor" reaches 0.107, the third mentor
# of "getting found on Google" 0.093); nonsense shares no word with anyone. Only the floor reads it: ranking
# by it lost held-out nDCG@5 (-0.004 at 0.1) on the labelled set.
LEXICAL_EVIDENCE = 0.2
# How far a crowded mentor moves down: the ranking key is the score minus EXPOSURE_WEIGHT times the share of
# the mentor's free places already asked for by pending requests (exposure_penalty). bench/exposure.py
# (synthetic market, 1,000 goals, 300 mentors): top-3 share of the 10 % most shown 0.325 -> 0.270, goals whose
# top 3 holds a free, unasked mentor 0.954 -> 0.987, refused requests 20 % -> 8 %; the largest weight losing
# at most 0.01 nDCG@5 on the tune split (-0.006; held-out -0.007) under the market's states.
EXPOSURE_WEIGHT = 0.1
# Pseudo-relevance feedback, "more like the best match": each shown mentor's score becomes a mix of its own and of
# the best shown mentor's score times how alike the two mentors' vectors are (with_feedback), the best by the
# ranking key (a crowded one is not the anchor, or exposure would stop following capacity). The best match keeps
# its own score and no score rises above the best own one, so a weak list stays weak: "Match" never claims more
# than the query's best match. A mentor's vector compared with another mentor's is a like-for-like comparison
# that a short query's vector cannot give. Chosen on the tune split of bench/data/ranking_eval.json: shares
# 0.7-0.9 are a plateau (nDCG@5 0.848-0.850, 0.831 without), 0.8 its middle. Held-out nDCG@5 +0.023 (95 % CI
# [+0.003, +0.045]), short queries +0.036 ([+0.007, +0.069]), goals +0.004 ([-0.018, +0.027]) (bench/README.md,
# "Pseudo-relevance feedback"). The floor's relevance gets the same feedback from the best match that reaches the
# floor on its own (lend_relevance), so nonsense, whose best match does not, still finds nobody.
FEEDBACK_SHARE = 0.8


@dataclass(frozen=True)
class MentorCard:
    """What a shown match names of its mentor (the search results and the API), read with the candidates:
    loading the k shown profiles with their users and companies was a query and ~1.3 ms of a search."""

    id: int
    user_id: int
    name: str
    company_name: str | None
    city: str | None
    headline: str


@dataclass
class MentorMatch:
    mentor: MentorCard
    score: float
    similarity: float
    relevance: float = 0.0  # what the floor judged (matching.relevance)
    matched_topics: list[Topic] = field(default_factory=list)  # query topics the mentor chose on the profile
    highlights: list[str] = field(default_factory=list)
    shared_languages: list[str] = field(default_factory=list)
    mentioned_topics: list[Topic] = field(default_factory=list)  # query topics only named in the mentor's text


class Matches(list[MentorMatch]):
    """A ranking's matches, best first, and whether the relevance floors left out mentors who fit every rule
    (`left_out`): a page that shows fewer than asked then says that weaker matches were left out, and says nothing
    when the market simply holds no more."""

    left_out: bool = False


@dataclass
class GoalMatch:
    goal: Goal
    score: float
    matched_topics: list[Topic] = field(default_factory=list)
    shared_languages: list[str] = field(default_factory=list)


def _blend(similarity, topic_overlap):
    """The blend itself, for floats and for arrays alike (the one formula of blend_score and blend_scores)."""
    return (1 - TOPIC_WEIGHT) * similarity + TOPIC_WEIGHT * topic_overlap


def blend_scores(similarity: np.ndarray, topic_overlap: np.ndarray) -> np.ndarray:
    """The ranking score of many pairs at once (a cohort's matrix): what blend_score is for one pair."""
    return np.clip(_blend(np.asarray(similarity), np.asarray(topic_overlap)), 0.0, 1.0)


def blend_score(similarity: float, topic_overlap: float) -> float:
    """Hybrid score in [0, 1]: cosine similarity plus the share of the query's topics the mentor covers.

    The one ranking score of suggestions, searches and cohort matching (blend_scores); relevance adds
    lexical evidence for the floor only, with_feedback pulls a search's or suggestion list's scores towards its
    best match (cohorts keep this one) and exposure_penalty changes the order of suggestions only."""
    return min(1.0, max(0.0, float(_blend(similarity, topic_overlap))))  # plain floats: ~50 a request


def with_feedback(scores: np.ndarray, mentor_vectors: np.ndarray, best: np.ndarray) -> np.ndarray:
    """Each row of `scores` (a query's scores of the mentors whose unit vectors are `mentor_vectors`) with the
    feedback of its `best` mentor: (1 - FEEDBACK_SHARE) x own score + FEEDBACK_SHARE x the best's score x the
    cosine of the two mentors' vectors (at least 0). The best keeps its score; one (rows x d) @ (d x mentors)
    product."""
    scores = np.atleast_2d(np.asarray(scores, dtype=np.float32))
    if FEEDBACK_SHARE <= 0 or not scores.size:
        return scores
    mentor_vectors = np.asarray(mentor_vectors, dtype=np.float32)
    best = np.asarray(best, dtype=np.int64)
    likeness = np.clip(mentor_vectors[best] @ mentor_vectors.T, 0.0, 1.0)
    likeness[np.arange(len(best)), best] = 1.0  # exactly, whatever the stored vector's rounding
    anchor = scores[np.arange(len(best)), best][:, None]
    return np.clip((1 - FEEDBACK_SHARE) * scores + FEEDBACK_SHARE * anchor * likeness, 0.0, 1.0)


def relevance(score: float, query: str, document: str) -> float:
    """What the relevance floor judges: the ranking score (without the topic expansion) plus LEXICAL_EVIDENCE
    times the share of the query's words that `document` (a mentor's headline and text, or a goal's title and
    description) has."""
    return score + LEXICAL_EVIDENCE * term_coverage(query, document)


def below_floor(relevance_value: float) -> bool:
    """The relevance floor's one rule: a pair whose `relevance` is below RELEVANCE_FLOOR is not shown in a
    search or suggestions, and is a "weak match" in a cohort (its explanation and the manager's badge)."""
    return relevance_value < RELEVANCE_FLOOR


def is_padding(position: int, relevance_value: float, best_relevance: float, share: float | None = None) -> bool:
    """The relative floor's one rule: the match at `position` (0-based, in rank order) of a list whose best
    relevance is `best_relevance` only pads the list and is not shown (ALWAYS_SHOWN; `share` of the best, by
    default RELATIVE_FLOOR: bench/ranking_eval.py calibrates it)."""
    share = RELATIVE_FLOOR if share is None else share
    return position >= ALWAYS_SHOWN and relevance_value < share * best_relevance


def goal_words(goal: Goal) -> str:
    """A goal's own words, as the floor's lexical evidence and the highlights read them."""
    return f"{goal.title}. {goal.description}"


def mentor_words(profile: MentorProfile) -> str:
    """A mentor's own words (headline and teaching text), as the floor's lexical evidence reads them."""
    return f"{profile.headline}. {profile.teaching_text}"


def unexpanded_score(score: float, goal: Goal, profile: MentorProfile, detect: taxonomy.TopicDetector) -> float:
    """A goal-mentor pair's ranking `score` without the goal's topic expansion: what the floor judges. The blend
    is linear in the similarity, so the expansion's share is taken back out, from the two stored vectors."""
    if not TOPIC_EXPANSION or goal.vector is None or profile.vector is None:
        return score
    goal_vector, mentor_vector = vectors.from_blob(goal.vector), vectors.from_blob(profile.vector)
    if goal_vector.shape != mentor_vector.shape:  # another encoder's: no score to correct
        return score
    moved = expand_vectors(goal_vector, detect)[0]
    return score - (1 - TOPIC_WEIGHT) * float((moved - goal_vector) @ mentor_vector)


def weak_pair(score: float, goal: Goal, profile: MentorProfile, detect: taxonomy.TopicDetector | None = None) -> bool:
    """Whether a goal-mentor pair scoring `score` is below the relevance floor (what a suggestion would hide).
    `detect`: a TopicDetector to reuse over many pairs (one taxonomy read)."""
    if TOPIC_EXPANSION:
        score = unexpanded_score(score, goal, profile, detect or taxonomy.TopicDetector())
    return below_floor(relevance(score, goal_words(goal), mentor_words(profile)))


def exposure_penalty(free_capacity: int, pending_requests: int) -> float:
    """What the ranking key loses for a mentor whose free places are already asked for: EXPOSURE_WEIGHT
    times pending requests per free place (at most 1). A mentor with three free places and one request
    loses a third of what a mentor with one place and one request loses, so exposure follows capacity."""
    if pending_requests <= 0:
        return 0.0
    return EXPOSURE_WEIGHT * min(1.0, pending_requests / max(free_capacity, 1))


def expand_query(text: str, topic_ids: set[int], detect: taxonomy.TopicDetector | None = None) -> str:
    """`text` plus a line naming the given taxonomy topics in English and German (from `detect`'s rows when
    given: one query less per search).

    The line has the form that ends every mentor's embedded text (vectors.mentor_text), so a German
    query carries English words for the English-only MiniLM part of a blended encoder, and the reverse.
    """
    if not topic_ids:
        return text
    if detect is not None and topic_ids <= detect.topics.keys():
        topics = [detect.topics[i] for i in topic_ids]
    else:
        topics = list(db.session.scalars(select(Topic).where(Topic.id.in_(sorted(topic_ids)))))
    return f"{text}\n{vectors.topic_names(topics)}"


def expand_vectors(query_vectors: np.ndarray, detect: taxonomy.TopicDetector) -> np.ndarray:
    """Each query vector moved towards its nearest taxonomy topic (by cosine): plus TOPIC_EXPANSION times that
    topic's vector, scaled back to length 1 so that a similarity stays a cosine the floor can judge.

    The mentor side needs nothing: FAISS's inner product of the moved query with a mentor's stored vector is
    the mentor's cosine plus TOPIC_EXPANSION times its cosine to that topic (over the moved vector's length).
    One (n x 512) @ (512 x 19) product; the topic vectors are encoded once per worker (vectors.topic_vectors)."""
    matrix = np.atleast_2d(np.asarray(query_vectors, dtype=np.float32))
    if TOPIC_EXPANSION <= 0 or not len(matrix):
        return matrix
    topics = vectors.topic_vectors(detect)
    if not len(topics):
        return matrix
    return normalize_rows(matrix + TOPIC_EXPANSION * topics[(matrix @ topics.T).argmax(axis=1)])


def _topic_overlap(query_topic_ids: set[int], candidate_topic_ids: set[int]) -> float:
    if not query_topic_ids:
        return 0.0
    return len(query_topic_ids & candidate_topic_ids) / len(query_topic_ids)


def _topics_by_id(ids: Collection[int], detect: taxonomy.TopicDetector | None = None) -> dict[int, Topic]:
    """Topics by id, from the session when already loaded (a goal's tags), else built from `detect`'s taxonomy
    rows, else in one query. Those built from rows are transient (in no session): for naming, as a match's
    topics are, never to be linked to a profile or goal."""
    found = {}
    for topic_id in ids:
        topic = db.session.identity_map.get(identity_key(Topic, topic_id))
        if topic is not None:
            found[topic_id] = topic
        elif detect is not None and topic_id in detect.topics:
            row = detect.topics[topic_id]
            found[topic_id] = Topic(id=row.id, slug=row.slug, name_en=row.name_en, name_de=row.name_de,
                                    synonyms=row.synonyms, is_free_tag=False)
    missing = [i for i in ids if i not in found]
    if missing:
        found.update((t.id, t) for t in db.session.scalars(select(Topic).where(Topic.id.in_(missing))))
    return found


@dataclass(frozen=True)
class Candidate:
    """A mentor as ranking sees it, read as plain rows, with what a match shows of it (`card`): a request
    judges and scores ~50 of these and builds no ORM profile at all (50 of them were the largest share of a
    suggestions request, the k shown a query and ~1.3 ms of a search: bench/search_latency.py)."""

    facts: rules.MentorFacts
    similarity: float  # to the query's vector moved towards its topic (expand_vectors): what ranks
    plain_similarity: float  # to the query's own vector: what the floor judges
    meeting_format: str
    languages: list[str]
    topic_ids: frozenset[int]
    text: str  # what the mentor's vector embeds (vectors.mentor_text)
    own_words: str  # headline and teaching text: what lexical evidence and the highlights read
    card: MentorCard  # what a match shows of the mentor
    vector: np.ndarray  # the mentor's vector as the index holds it (with_feedback)
    pending_requests: int = 0  # requests waiting for the mentor's answer (exposure_penalty)
    paired_with_mentee: bool = False  # a pair requested or running with the ranking's mentee (suggestions)


def _load_candidates(
    hits: Sequence[tuple[int, float, float, np.ndarray]], detect: taxonomy.TopicDetector,
    mentee_user_id: int | None = None,
) -> list[Candidate]:
    """The hits as candidates, read in ONE query: the hard-rule facts, what ranking reads, the topic ids and
    whether each is already paired with `mentee_user_id` (each round trip under load cost several ms). The
    topics' names come from `detect`'s labels; only a free tag's are read, in a second query: joining the topics
    in (~3 rows a mentor) made PostgreSQL hash all of mentor_topic for the 50 hits."""
    ids = [entity_id for entity_id, *_ in hits]
    if not ids:
        return []
    statement = _candidates_statement(db.engine.dialect.name)
    rows = {row.facts_id: row for row in db.session.execute(statement, {"ids": ids, "mentee": mentee_user_id})}
    own_ids = {row_id: rules.ids_of(row.topic_ids) for row_id, row in rows.items()}
    free_tag_ids = set().union(*own_ids.values()) - detect.labels.keys()
    labels = detect.labels | {i: taxonomy.topic_label(t) for i, t in _topics_by_id(sorted(free_tag_ids)).items()}
    candidates = []
    for mentor_id, similarity, plain_similarity, vector in hits:
        row = rows.get(mentor_id)
        if row is None:  # a profile deleted since the index last caught up
            continue
        own_labels = [labels[i] for i in own_ids[mentor_id]]
        candidates.append(Candidate(
            facts=rules.facts_of_row(row),
            similarity=similarity,
            plain_similarity=plain_similarity,
            meeting_format=row.meeting_format,
            languages=split_languages(row.facts_languages),
            topic_ids=own_ids[mentor_id],
            text=vectors.mentor_text_of_labels(row.headline, row.teaching_text, own_labels),
            own_words=f"{row.headline}. {row.teaching_text}",  # as mentor_words
            card=MentorCard(id=mentor_id, user_id=row.facts_user_id, name=row.name, company_name=row.company_name,
                            city=row.city, headline=row.headline),
            vector=vector,
            pending_requests=row.pending,
            paired_with_mentee=row.paired,
        ))
    return candidates


@cache
def _candidates_statement(dialect: str) -> Select:
    """The candidates' query, built once per database kind with the ids as one parameter (`rules.one_of`):
    building it, and SQLAlchemy's cache key for a new statement object, cost ~0.8 ms a request (bench/README.md,
    "Prepared statements kept")."""
    pending = (
        select(func.count(Tandem.id))
        .where(Tandem.mentor_profile_id == MentorProfile.id, Tandem.status == TandemStatus.REQUESTED)
        .correlate(MentorProfile)
        .scalar_subquery()
    )
    # The pair rule's fact for a suggestion's mentee (rules.PAIRING_STATUSES), here rather than in a statement of
    # its own: a round trip less. False for a search (mentee NULL), which judges no pairs.
    paired = (
        select(Tandem.id)
        .where(Tandem.mentor_user_id == MentorProfile.user_id,
               Tandem.mentee_user_id == bindparam("mentee", type_=Integer),
               Tandem.status.in_(rules.PAIRING_STATUSES))
        .correlate(MentorProfile)
        .exists()
    )
    company_name = (  # the company a profile shows: the verified one, else the one given (User.effective_company)
        select(Company.name)
        .where(Company.id == func.coalesce(User.verified_company_id, User.company_id))
        .correlate(User)
        .scalar_subquery()
    )
    return (
        select(
            *rules.mentor_facts_columns(),
            MentorProfile.headline,
            MentorProfile.teaching_text,
            MentorProfile.meeting_format,
            MentorProfile.city,
            User.name,
            company_name.label("company_name"),
            pending.label("pending"),
            paired.label("paired"),
            rules.linked_ids(mentor_topics.c.topic_id).label("topic_ids"),
        )
        .join(User, User.id == MentorProfile.user_id)
        .where(rules.one_of(MentorProfile.id, "ids", dialect))
    )


def _candidates(
    query_vector: np.ndarray, plain_vector: np.ndarray, k: int, accept: Callable[[Candidate], bool],
    state: reference.MatchingState, mentee_user_id: int | None = None,
) -> list[Candidate]:
    """Over-fetch from FAISS by `query_vector` (moved towards its topic) and widen until `k` candidates pass
    `accept` or the index is exhausted. Each hit's vector comes from the index (VectorIndex.vectors_of: ~10 us
    for 50): its cosine to `plain_vector` (the query's own) and the feedback read it, so the mentor side stores
    nothing."""
    index = vectors.live_index(vectors.MENTOR).current(state.index_version)
    total = len(index)
    if total == 0:
        return []
    fetch = min(total, max(k * 5, 50))
    while True:
        hits, held = index.search_one_with_vectors(query_vector, fetch)
        plain = [score for _, score in hits] if plain_vector is query_vector else (held @ plain_vector).tolist()
        found = [(i, score, p, v) for (i, score), p, v in zip(hits, plain, held, strict=True)]
        passing = [c for c in _load_candidates(found, state.detect, mentee_user_id) if accept(c)]
        if len(passing) >= k or fetch >= total:
            return passing
        fetch = min(total, fetch * 4)


@dataclass
class _Scored:
    candidate: Candidate
    score: float  # without exposure, with the feedback once the list is known: what the user sees
    plain_score: float  # the score without the topic expansion (the query's own similarity): what the floor reads
    mentioned_topic_ids: set[int]  # the query's topics named in the mentor's text but not chosen
    lent: float = 0.0  # the best match's relevance times how alike the two mentors are (lend_relevance)
    _own: float | None = field(default=None, repr=False)

    def own_relevance(self, query_text: str) -> float:
        """What the floor judges of the mentor alone (`relevance` of the plain score), read once: the lexical
        evidence costs per mentor."""
        if self._own is None:
            self._own = relevance(self.plain_score, query_text, self.candidate.own_words)
        return self._own

    def stands_alone(self, query_text: str) -> bool:
        """At or above the floor on the mentor's own evidence. The lexical evidence only adds, so a score at the
        floor needs no reading of the mentor's words: most candidates of a real query pass on their score alone."""
        return not below_floor(self.plain_score) or not below_floor(self.own_relevance(query_text))

    def relevance(self, query_text: str) -> float:
        """What the floors judge: the mentor's own relevance with the best match's feedback, as the score has it
        (with_feedback: (1 - FEEDBACK_SHARE) x own + FEEDBACK_SHARE x lent), never below the own relevance."""
        own = self.own_relevance(query_text)
        return own + FEEDBACK_SHARE * max(0.0, self.lent - own)

    def relevant(self, query_text: str) -> bool:
        """At or above the floor, on the mentor's own evidence or with the best match's."""
        return self.stands_alone(query_text) or not below_floor(self.relevance(query_text))

    @property
    def key(self) -> tuple[float, int]:
        """Rank order: the score less the exposure penalty, ties by id."""
        c = self.candidate
        return (-(self.score - exposure_penalty(c.facts.free_capacity, c.pending_requests)), c.facts.id)


def _score(candidate: Candidate, query_topic_ids: set[int], detect: taxonomy.TopicDetector) -> _Scored:
    """Hybrid score; shared topics and phrase highlights wait until the top k are known."""
    # Only the query's topics that the mentor did not tag can change the score or the explanation.
    untagged = query_topic_ids - candidate.topic_ids
    mentioned = {m.topic_id for m in detect(candidate.text, untagged)} if untagged else set()
    overlap = _topic_overlap(query_topic_ids, candidate.topic_ids | mentioned)
    return _Scored(
        candidate=candidate,
        score=blend_score(candidate.similarity, overlap),
        plain_score=blend_score(candidate.plain_similarity, overlap),
        mentioned_topic_ids=(query_topic_ids & mentioned) - candidate.topic_ids,
    )


def _highlights(query_text: str, query_topic_ids: set[int], own: str, detect: taxonomy.TopicDetector) -> list[str]:
    """Up to three phrases of the mentor's own words `own` (mentor_words), in their language: first where the text
    names one of the query's topics (so a German search shows "generative AI" in an English profile), then the
    query's words."""
    phrases = [m.phrase for m in detect(own, query_topic_ids)] if query_topic_ids else []
    for phrase in highlight_phrases(query_text, own, max_phrases=3):
        if not any(phrase.casefold() in p.casefold() or p.casefold() in phrase.casefold() for p in phrases):
            phrases.append(phrase)
    return list(dict.fromkeys(phrases))[:3]


def lend_relevance(scored: list[_Scored], query_text: str) -> None:
    """The floor's pseudo-relevance feedback: the best match that stands on its own evidence (stands_alone; the best
    by the ranking key, as with_feedback's) lends each mentor its own relevance times the cosine of the two mentors'
    vectors, so a mentor much like a good match passes the floor, as its score rises with it. A paraphrase in
    another language ("getting found on Google" of a German SEO profile) is far from the mentor's own words but
    near the best match's profile. A search whose best match does not reach the floor lends nothing: nonsense
    still finds nobody, and no relevance rises above the best one."""
    alone = [s for s in scored if s.stands_alone(query_text)]
    if not alone or FEEDBACK_SHARE <= 0:
        return
    anchor = min(alone, key=lambda s: s.key)
    likeness = np.clip(np.stack([s.candidate.vector for s in scored]) @ anchor.candidate.vector, 0.0, 1.0)
    anchor_relevance = anchor.own_relevance(query_text)
    for s, alike in zip(scored, likeness.tolist(), strict=True):
        s.lent = anchor_relevance * (1.0 if s is anchor else alike)


def _without_padding(ranked: list[_Scored], k: int, query_text: str) -> list[tuple[_Scored, float]]:
    """The first k of `ranked` (in rank order) that do not pad the list (is_padding), each with its relevance. The
    best relevance is that of the first PADDING_WINDOW, whatever k, and one left out makes room for the next that
    passes: a list is as long as asked while good matches remain, and a shorter list is the start of a longer one.
    Only what is walked through reads the mentor's words (_Scored.own_relevance reads them once)."""
    best = max((s.relevance(query_text) for s in ranked[:PADDING_WINDOW]), default=0.0)
    shown = []
    for position, candidate in enumerate(ranked):
        if len(shown) == k:
            break
        if not is_padding(position, relevance := candidate.relevance(query_text), best):
            shown.append((candidate, relevance))
    return shown


def _rank(
    candidates: list[Candidate],
    k: int,
    query_text: str,
    query_topic_ids: set[int],
    languages: set[str],
    detect: taxonomy.TopicDetector,
) -> Matches:
    """The k best at or above the relevance floor and not padding (is_padding), as full matches: shared topics
    (chosen on the profile), topics the text only mentions and matching phrases named. Fewer than k, or none, when
    fewer are relevant enough: nobody is shown to fill the list."""
    every = [_score(c, query_topic_ids, detect) for c in candidates]
    lend_relevance(every, query_text)
    scored = [s for s in every if s.relevant(query_text)]
    if scored:
        best = min(range(len(scored)), key=lambda i: scored[i].key)  # the best available: exposure counts
        moved = with_feedback(np.array([s.score for s in scored]), np.stack([s.candidate.vector for s in scored]),
                              np.array([best]))[0]
        for s, score in zip(scored, moved.tolist(), strict=True):
            s.score = score
    shown = _without_padding(sorted(scored, key=lambda s: s.key), k, query_text)
    left_out = len(shown) < min(k, len(candidates))
    scored = [s for s, _ in shown]
    named_ids = set().union(*(s.mentioned_topic_ids | (s.candidate.topic_ids & query_topic_ids) for s in scored))
    named = _topics_by_id(named_ids, detect)
    matches = Matches()
    matches.left_out = left_out
    for s, relevance_value in shown:
        matched = sorted((named[i] for i in s.candidate.topic_ids & query_topic_ids), key=lambda t: t.name_en)
        matches.append(
            MentorMatch(
                mentor=s.candidate.card,
                score=s.score,
                relevance=relevance_value,
                similarity=s.candidate.similarity,
                matched_topics=matched,  # in the order of a profile's topics (by English name)
                mentioned_topics=[named[i] for i in sorted(s.mentioned_topic_ids)],
                highlights=_highlights(query_text, query_topic_ids, s.candidate.own_words, detect),
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
) -> Matches:
    """Mentors for a free-text topic in any language, best first, never from the viewer's company. The query is
    read in Unicode NFKC: full-width "ＫＩ" (an East Asian keyboard's) is "KI"."""
    query = unicodedata.normalize("NFKC", query or "").strip()
    if not has_visible_text(query):
        raise MatchingError.on_field("q", _("Please enter what you would like to learn."), "invalid_query", 400)
    if len(query) > 500:
        raise MatchingError.on_field("q", _("Please keep the search under 500 characters."), "invalid_query", 400)
    k = max(1, min(int(k), MAX_K))
    state = reference.matching_state()
    detect = state.detect
    query_topic_ids = {m.topic_id for m in detect(query, typos=taxonomy.TYPOS_IN_QUERIES)}
    embedded = expand_query(query, query_topic_ids, detect) if EXPAND_QUERIES else query
    plain_vector = vectors.encoder().encode([embedded])[0]
    query_vector = expand_vectors(plain_vector, detect)[0] if TOPIC_EXPANSION else plain_vector
    searcher = rules.searcher_facts(viewer, exclude_company_ids, language)
    context = rules.rule_context(with_pairs=False, competitor_pairs=state.competitor_pairs)

    def accept(candidate: Candidate) -> bool:
        return not rules.pair_violations(candidate.facts, searcher, context) and (
            meeting_format is None or candidate.meeting_format in (meeting_format, "hybrid")
        )

    languages = {language} if language else set()
    candidates = _candidates(query_vector, plain_vector, k, accept, state)
    return _rank(candidates, k, query, query_topic_ids, languages, detect)


# What ranking reads of a goal besides its row: its owner, tags and excluded companies. A view that loads the
# goal with these (access.get_or_404's options) spares suggestions_for_goal a second query.
GOAL_FACTS = ("owner", "topics", "excluded_companies")


@cache
def goal_facts_options() -> tuple[Any, ...]:
    """Built once: loader options are immutable, and building them (and their cache key) each request costs."""
    return tuple(joinedload(getattr(Goal, name)) for name in GOAL_FACTS)


def _load_goal_facts(goal: Goal) -> None:
    """Load what ranking reads of a goal in one query, not three lazy loads: a suggestion's round trips, not its
    computing, were most of its time."""
    unloaded = inspect(goal).unloaded
    if set(GOAL_FACTS) & unloaded:
        db.session.scalars(
            select(Goal).where(Goal.id == goal.id).options(
                *(joinedload(getattr(Goal, name)) for name in GOAL_FACTS if name in unloaded)
            )
        ).unique().all()


def suggestions_for_goal(goal: Goal, k: int = 5, leave_out: Collection[int] = ()) -> Matches:
    """Mentors for a goal, best first, with every hard rule applied (and none of the `leave_out` profiles)."""
    k = max(1, min(int(k), MAX_K))
    if goal.vector is None:
        vectors.refresh_goal(goal)
        db.session.commit()
    _load_goal_facts(goal)
    state = reference.matching_state()
    detect = state.detect
    tagged_ids = {t.id for t in goal.topics}
    named_ids = {m.topic_id for m in detect(f"{goal.title}\n{goal.description}", typos=taxonomy.TYPOS_IN_QUERIES)}
    goal_topic_ids = tagged_ids | named_ids
    plain_vector = vectors.from_blob(goal.vector)  # embedded as a search is (vectors.goal_text)
    query_vector = expand_vectors(plain_vector, detect)[0] if TOPIC_EXPANSION else plain_vector
    mentee = rules.mentee_facts(goal)

    def accept(candidate: Candidate) -> bool:
        existing = {(candidate.facts.user_id, goal.owner_id)} if candidate.paired_with_mentee else set()
        context = rules.RuleContext(competitor_pairs=state.competitor_pairs, existing_pairs=existing)
        return candidate.facts.id not in leave_out and not rules.pair_violations(candidate.facts, mentee, context)

    text = goal_words(goal)
    candidates = _candidates(query_vector, plain_vector, k, accept, state, goal.owner_id)
    return _rank(candidates, k, text, goal_topic_ids, set(goal.language_list), detect)


# A request that ended without a tandem; its mentor, one with a request pending and one whose tandem on the
# goal ended early are no next suggestion.
ENDED_REQUEST_STATUSES = (TandemStatus.DECLINED, TandemStatus.WITHDRAWN, TandemStatus.EXPIRED)
NOT_NEXT_STATUSES = (*ENDED_REQUEST_STATUSES, TandemStatus.REQUESTED, TandemStatus.ENDED)


def next_suggestions(goal: Goal, k: int = 5) -> Matches:
    """The goal's suggestions after a request or tandem ended: mentors who declined, withdrew, let a request on
    this goal expire or ended a tandem on it early are left out, and so are those with a pending one. The one
    place for "who next"."""
    left_out = set(db.session.scalars(
        select(Tandem.mentor_profile_id).where(Tandem.goal_id == goal.id, Tandem.status.in_(NOT_NEXT_STATUSES),
                                               Tandem.mentor_profile_id.is_not(None))
    ))
    return suggestions_for_goal(goal, k, leave_out=left_out)


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
            if goal is None or goal.status != GoalStatus.OPEN or not goal.discoverable:
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
