"""Run every benchmark in turn and print their tables (what `make bench` does).

Order matters only for speed: recall.py embeds the 20,000 real profiles once (cached in bench/cache/),
and the 100k database built by search_latency.py is reused by startup.py and scaling.py.
Cohort matching (bench/cohort_matching.py), ranking quality (bench/ranking_eval.py) and the load test
(bench/load_test.py) are their own benchmarks, run here too. Each script is bounded to well under ten
minutes on the 2-core machine.

    .venv/bin/python bench/run_all.py [--only recall search_latency ...] [--skip ranking_eval]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SCRIPTS = [
    ("bulk_import", ["bulk_import.py"]),
    ("recall", ["recall.py"]),
    ("search_latency", ["search_latency.py"]),
    ("startup", ["startup.py"]),
    ("scaling", ["scaling.py"]),
    ("cohort_matching", ["cohort_matching.py"]),
    ("ranking_eval", ["ranking_eval.py"]),
    ("load_test", ["load_test.py"]),  # issue 6: 60 s of mixed reads and writes, gunicorn 4 workers, PostgreSQL
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None, help="names to run, e.g. recall search_latency")
    parser.add_argument("--skip", nargs="*", default=[])
    args = parser.parse_args(argv)
    failed = []
    timings = []
    for name, command in SCRIPTS:
        if (args.only and name not in args.only) or name in args.skip:
            continue
        script = BENCH / command[0]
        if not script.exists():
            print(f"\n(skipping {name}: {script.name} is not there)")
            continue
        print(f"\n# {name}: {sys.executable} bench/{' '.join(command)}", flush=True)
        started = time.perf_counter()
        code = subprocess.call([sys.executable, str(script), *command[1:]], cwd=BENCH.parent)
        elapsed = time.perf_counter() - started
        timings.append((name, elapsed, code))
        if code != 0:
            failed.append(name)
    print("\n# run_all summary\n")
    print("| benchmark | seconds | exit |\n|---|---|---|")
    for name, elapsed, code in timings:
        print(f"| {name} | {elapsed:.0f} | {code} |")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
