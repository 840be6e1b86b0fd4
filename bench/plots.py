"""Latency against N and memory against N (PNG, linked from bench/README.md), from the benches' JSON.

Reads bench/out/scaling.json (bench/scaling.py: 1k, 10k, 100k) and bench/out/million.json
(bench/million.py: 100k beside 1M in one run) and writes bench/latency_vs_n.png and bench/memory_vs_n.png.

    .venv/bin/python bench/plots.py [--scaling bench/out/scaling.json] [--million bench/out/million.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

BENCH = Path(__file__).resolve().parent
DIMENSION_BYTES = 512 * 4  # one float32 USE vector


def load(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def _save(fig, ax, ylabel: str, title: str, out: Path) -> None:
    """Both figures' frame: log-log against N, a grid and a small legend; written to `out` and closed."""
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("mentors (N)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def latency_plot(scaling: dict | None, million: dict | None, out: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    if scaling:
        sizes = [r["n"] for r in scaling["sizes"]]
        ax.plot(sizes, [r["app_p95"] for r in scaling["sizes"]], "o-", label="app search p95 (scaling.py)")
        ax.plot(sizes, [r["app_p50"] for r in scaling["sizes"]], "o--", label="app search p50 (scaling.py)")
        ax.plot(sizes, [r["raw_p95"] for r in scaling["sizes"]], "s-", label="raw encode + FAISS p95")
        ax.plot(sizes, [r["faiss_p95"] for r in scaling["sizes"]], "^-", label="FAISS alone p95")
    if million:
        s = million["search"]
        ax.plot([million["base"], million["mentors"]], [s["base"]["p95"], s["big"]["p95"]], "D-", color="black",
                label=f"app search p95, {million['base'] // 1000}k vs 1M side by side (million.py)")
        if "faiss_big" in s:
            ax.plot([million["base"], million["mentors"]], [s["faiss_base"]["p95"], s["faiss_big"]["p95"]], "v--",
                    color="gray", label="FAISS p95, k=50, 100k float32 vs 1M SQ8 (million.py)")
    _save(fig, ax, "ms (in-process, one thread)", "Search latency against N", out)


def memory_plot(scaling: dict | None, million: dict | None, out: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    points = {}
    if scaling:
        points.update({r["n"]: r["mem_mb"] for r in scaling["sizes"]})
    if million:
        points[million["mentors"]] = million["start"]["index_rss_mb"]
    sizes = sorted(points)
    ax.plot(sizes, [points[n] for n in sizes], "o-", label="index resident per worker (fresh process, MiB)")
    ax.plot(sizes, [n * DIMENSION_BYTES / 2**20 for n in sizes], "k:", label="raw float32 vectors (MiB)")
    ax.axhline(1024, color="red", alpha=0.5, label="target at 1M: 1 GiB per worker")
    if million and million.get("gunicorn"):
        workers = million["gunicorn"]["workers"]
        ax.plot([million["mentors"]], [sum(w["pss"] for w in workers) / len(workers)], "D", color="purple",
                label="gunicorn worker PSS at 1M (index + model + Python)")
    _save(fig, ax, "MiB", "Index memory against N (IVF with 8-bit codes from 200,000)", out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scaling", default=str(BENCH / "out" / "scaling.json"))
    parser.add_argument("--million", default=str(BENCH / "out" / "million.json"))
    args = parser.parse_args(argv)
    scaling, million = load(Path(args.scaling)), load(Path(args.million))
    if not scaling and not million:
        print("no figures yet: run bench/scaling.py and/or bench/million.py first", file=sys.stderr)
        return 1
    latency_plot(scaling, million, BENCH / "latency_vs_n.png")
    memory_plot(scaling, million, BENCH / "memory_vs_n.png")
    print("wrote bench/latency_vs_n.png and bench/memory_vs_n.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
