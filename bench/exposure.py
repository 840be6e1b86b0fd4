#!/usr/bin/env python
"""Fair exposure (issue 16 point 4): does exposure follow capacity, and what does it cost in nDCG@5?

Synthetic market (no database, no model): 1,000 goals arrive one by one; 300 mentors with capacities 1-3.
Goal topics are skewed (a Zipf law over 20 topics) and a few mentors are "hubs" close to every goal, as in
the labelled set where one mentor appears in 12 of 41 top-5 lists. Scores are matching.blend_scores of the
cosines (synthetic vectors scaled to the range USE gives: best ~0.5, typical ~0.1) and the topic overlap.
Each goal sees its top 3 among the mentors with a free place (the rules hide full ones) ranked by
score (with the feedback towards the best of them by that key, matching.with_feedback) -
matching.exposure_penalty(free places, pending requests), as the app ranks, and sends a request to its first; a mentor
answers a request ANSWER_AFTER goals later, accepting while a place is free; a tandem frees its place
TANDEM_LENGTH goals after it began.

Reported, before (EXPOSURE_WEIGHT 0) and for each weight:
* top-10 % share: share of all top-3 slots taken by the 30 most shown mentors;
* free & unasked: share of goals whose top 3 holds a mentor with a free place and no pending request;
* possible: share of goals for which any mentor with a free place and no pending request exists (the ceiling
  of the previous figure);
* refused: share of requests declined because the mentor was full by the time they answered;
* labelled-set cost: nDCG@5 on bench/data/ranking_eval.json (app scores from bench/ranking_eval.py, warm
  vector cache) re-ranked under STATES market states, each labelled mentor given the free places and pending
  requests of a random open mentor of a snapshot of the market before (every 50 goals), minus nDCG@5 without
  the penalty; tune and held-out split. The weight is the largest losing <= 0.01 on tune.

Usage::

    .venv/bin/python bench/exposure.py [--weights W ...] [--seed N] [--no-labelled]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

GOALS, MENTORS, TOPICS, DIM = 1_000, 300, 20, 64
ANSWER_AFTER = 30  # goals arriving between a request and its answer
TANDEM_LENGTH = 300  # goals arriving while an accepted tandem runs; then its place is free again
TOP = 3
STATES = 20  # random market states over the labelled set
WEIGHTS = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3)
MAX_NDCG_LOSS = 0.01


def synthetic_market(seed: int):
    """Goal and mentor vectors (unit rows), topic sets and capacities."""
    rng = np.random.default_rng(seed)
    centroids = rng.normal(size=(TOPICS, DIM))
    generic = rng.normal(size=DIM)
    popularity = 1 / np.arange(1, TOPICS + 1) ** 1.1
    goal_topic = rng.choice(TOPICS, size=GOALS, p=popularity / popularity.sum())
    mentor_topic = rng.integers(0, TOPICS, size=MENTORS)
    hubness = np.where(rng.random(MENTORS) < 0.05, 1.5, 0.0)  # 5 % of mentors close to everyone

    def unit(rows: np.ndarray) -> np.ndarray:
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    goals = unit(centroids[goal_topic] + 0.6 * generic + rng.normal(scale=2.2, size=(GOALS, DIM)))
    mentors = unit(centroids[mentor_topic] + hubness[:, None] * generic + rng.normal(scale=2.2, size=(MENTORS, DIM)))
    capacity = rng.integers(1, 4, size=MENTORS)
    overlap = (goal_topic[:, None] == mentor_topic[None, :]).astype(np.float32)
    return goals @ mentors.T, overlap, capacity, mentors


def simulate(similarity: np.ndarray, overlap: np.ndarray, capacity: np.ndarray, weight: float,
             mentor_vectors: np.ndarray) -> dict:
    """Goals arrive in order, see their top 3, request the first; mentors answer ANSWER_AFTER goals later."""
    from marketplace.services.matching import search

    search.EXPOSURE_WEIGHT = weight
    scores = search.blend_scores(similarity, overlap)
    active = np.zeros(len(capacity), dtype=int)
    pending = np.zeros(len(capacity), dtype=int)
    answers: dict[int, list[int]] = {}
    endings: dict[int, list[int]] = {}
    shown = np.zeros(len(capacity), dtype=int)
    free_unasked = possible = refused = requests = 0
    snapshots = []  # (free places, pending requests) of the mentors with a free place, every 50 goals
    for g in range(len(scores)):
        for mentor in endings.pop(g, []):
            active[mentor] -= 1
        for mentor in answers.pop(g, []):
            pending[mentor] -= 1
            if active[mentor] < capacity[mentor]:
                active[mentor] += 1
                endings.setdefault(g + TANDEM_LENGTH, []).append(mentor)
            else:
                refused += 1
        free = capacity - active
        possible += bool(((free > 0) & (pending == 0)).any())
        if g % 50 == 49:
            snapshots.append(np.stack([free[free > 0], pending[free > 0]], axis=1))
        penalty = np.array([search.exposure_penalty(int(f), int(p)) for f, p in zip(free, pending, strict=True)])
        best = np.where(free > 0, scores[g] - penalty, -np.inf).argmax()
        moved = search.with_feedback(scores[g], mentor_vectors, [best])[0]
        key = np.where(free > 0, moved - penalty, -np.inf)
        top = [m for m in np.argsort(-key, kind="stable")[:TOP] if np.isfinite(key[m])]
        if not top:
            continue
        shown[top] += 1
        free_unasked += any(pending[m] == 0 for m in top)
        pending[top[0]] += 1
        requests += 1
        answers.setdefault(g + ANSWER_AFTER, []).append(top[0])
    most = np.sort(shown)[::-1][: len(capacity) // 10]
    return {"top10_share": most.sum() / shown.sum(), "free_unasked": free_unasked / len(scores),
            "possible": possible / len(scores), "refused": refused / max(requests, 1), "snapshots": snapshots}


def costs_on(scores, queries, weights: Sequence[float], seed: int, snapshots: Sequence[np.ndarray]) -> dict:
    """nDCG@5 lost on the labelled set per weight, per split, from app scores (query id -> mentor id -> score):
    mean over STATES market states, each giving every labelled mentor the (free places, pending requests) of a
    random open mentor of a synthetic-market snapshot."""
    import ranking_eval as ev

    from marketplace.services.matching import search

    ids = sorted({m for by_mentor in scores.values() for m in by_mentor})
    rng = np.random.default_rng(seed)
    states = []
    for _ in range(STATES):
        snapshot = snapshots[rng.integers(len(snapshots))]
        drawn = snapshot[rng.integers(len(snapshot), size=len(ids))]
        states.append((dict(zip(ids, drawn[:, 0], strict=True)), dict(zip(ids, drawn[:, 1], strict=True))))

    def ndcg(split: str, weight: float) -> float:
        search.EXPOSURE_WEIGHT = weight
        values = []
        for free, pending in states:
            for q in ev.select_split(queries, split):
                by = scores[q.id]
                key = {m: by[m] - search.exposure_penalty(int(free[m]), int(pending[m])) for m in by}
                values.append(ev.ndcg_at_k(sorted(by, key=lambda m: (-key[m], m))[: ev.K], q.labels))
        return float(np.mean([v for v in values if v is not None]))

    shipped = search.EXPOSURE_WEIGHT
    base = {split: ndcg(split, 0.0) for split in ev.SPLITS}
    costs = {w: {split: ndcg(split, w) - base[split] for split in ev.SPLITS} | {"base": base} for w in weights}
    search.EXPOSURE_WEIGHT = shipped
    return costs


def report(scores=None, queries=None, weights: Sequence[float] = (), seed: int = 16) -> str:
    """The table: synthetic-market figures per weight (before = 0, the shipped weight) and, with app scores
    of the labelled set, the nDCG@5 each weight costs there."""
    from marketplace.services.matching import search

    shipped = search.EXPOSURE_WEIGHT
    weights = sorted(set(weights) | {0.0, shipped})
    similarity, overlap, capacity, mentor_vectors = synthetic_market(seed)
    figures = {w: simulate(similarity, overlap, capacity, w, mentor_vectors) for w in weights}
    search.EXPOSURE_WEIGHT = shipped
    costs = costs_on(scores, queries, weights, seed, figures[0.0]["snapshots"]) if scores is not None else {}
    lines = [f"Exposure on a synthetic market: {GOALS} goals, {MENTORS} mentors (capacity 1-3, {capacity.sum()} "
             f"places), top {TOP}, answers after {ANSWER_AFTER} goals, tandems end after {TANDEM_LENGTH}",
             f"{'EXPOSURE_WEIGHT':>16}{'top-10 % share':>16}{'free & unasked':>16}{'possible':>10}{'refused':>9}"
             f"{'d nDCG@5 tune':>15}{'d nDCG@5 held-out':>19}"]
    for weight in weights:
        f, cost = figures[weight], costs.get(weight, {})
        tag = "  (before)" if weight == 0 else "  (shipped)" if weight == shipped else ""
        lines.append(f"{weight:>16.2f}{f['top10_share']:>16.3f}{f['free_unasked']:>16.3f}{f['possible']:>10.3f}"
                     f"{f['refused']:>9.3f}{cost.get('tune', float('nan')):>+15.4f}"
                     f"{cost.get('heldout', float('nan')):>+19.4f}{tag}")
    if costs:
        fine = [w for w in weights if costs[w]["tune"] >= -MAX_NDCG_LOSS]
        lines.append(f"labelled set without penalty: nDCG@5 tune {costs[0.0]['base']['tune']:.3f}, held-out "
                     f"{costs[0.0]['base']['heldout']:.3f}; largest weight losing <= {MAX_NDCG_LOSS} on tune: "
                     f"{max(fine):g}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    sys.path.insert(0, str(ROOT / "bench"))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", nargs="+", type=float, default=list(WEIGHTS))
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--no-labelled", action="store_true", help="skip the labelled-set cost (needs the app)")
    args = parser.parse_args(argv)
    scores = queries = None
    if not args.no_labelled:
        import ranking_eval as ev

        mentors, queries = ev.load_eval()
        build, save, _ = ev.make_cached_encoder_factory(ev.CACHE_DIR)
        variant = ev.app_variant()
        scores = ev.run_app("use", [variant], mentors, queries, build).scores[variant]
        save()
    print(report(scores, queries, args.weights, args.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
