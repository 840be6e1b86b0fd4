"""Latency against N and memory against N (PNG, linked from bench/README.md), from the benches' JSON.

Reads bench/out/scaling.json (bench/scaling.py: 1k, 10k, 100k) and bench/out/million.json
(bench/million.py: 100k beside 1M in one run) and writes bench/latency_vs_n.png and bench/memory_vs_n.png;
from bench/out/import_memory.json (bench/bulk_import.py --memory-run) it redraws bench/import_memory.png.

    .venv/bin/python bench/plots.py [--scaling bench/out/scaling.json] [--million bench/out/million.json]
        [--import-memory bench/out/import_memory.json]
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


def import_memory_plot(m: dict, out: Path) -> None:
    """The job worker's resident memory over a --memory-run of bench/bulk_import.py, jobs marked."""
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    ax.plot([t / 60 for t, _, _ in m["samples"]], [rss for _, rss, _ in m["samples"]], "-", lw=1,
            label="job worker RSS (MiB), one sample a second")
    for job in m["jobs"]:
        begin = next(t for t, _, n in m["samples"] if n == job["job"]) / 60
        ax.axvline(begin, color="gray", lw=0.6, ls="--")
        people = job["people_total"]
        ax.annotate(f"{people / 1000:.0f}k" if people >= 1000 else str(people), (begin, 0), xytext=(2, 4),
                    textcoords="offset points", fontsize=7, color="gray")
    ax.set_xlabel("minutes (dashed: a job starts; label: people imported when it ends)")
    ax.set_ylabel("MiB")
    ax.set_ylim(bottom=0)
    ax.set_title(f"Import worker memory: {m['people']:,} people as {m['files']} background jobs")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="center right")
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scaling", default=str(BENCH / "out" / "scaling.json"))
    parser.add_argument("--million", default=str(BENCH / "out" / "million.json"))
    parser.add_argument("--import-memory", default=str(BENCH / "out" / "import_memory.json"))
    args = parser.parse_args(argv)
    scaling, million = load(Path(args.scaling)), load(Path(args.million))
    imported = load(Path(args.import_memory))
    if not scaling and not million and not imported:
        print("no figures yet: run bench/scaling.py and/or bench/million.py first", file=sys.stderr)
        return 1
    if scaling or million:
        latency_plot(scaling, million, BENCH / "latency_vs_n.png")
        memory_plot(scaling, million, BENCH / "memory_vs_n.png")
        print("wrote bench/latency_vs_n.png and bench/memory_vs_n.png")
    if imported:
        import_memory_plot(imported, BENCH / "import_memory.png")
        print("wrote bench/import_memory.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
