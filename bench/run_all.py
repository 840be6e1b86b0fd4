"""Run every benchmark in turn, print their tables, then every target beside its raw baseline (what `make bench` does).

Order matters only for speed: recall.py embeds the real profiles once (cached in bench/cache/), and the 100k
database built by search_latency.py is reused by throughput.py, startup.py and scaling.py. Cohort matching,
ranking quality and the load test are their own benchmarks, run here too. The million-mentor bench (bench/million.py) is
cached and separate: `--million` adds it (its databases are built once, then reused). plots.py redraws the
latency and memory plots from the JSON the scaling benches wrote.

Each script reports its targets through `bench._common.report_targets` (a JSON file per script, named in
TANDEM_BENCH_TARGETS); a script that does not yet report them has the table rows it printed with "met" or
"not met" collected instead. The summary at the end is one table of every target.

    .venv/bin/python bench/run_all.py [--only recall search_latency ...] [--skip ranking_eval] [--million]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
TARGETS_DIR = BENCH / "out" / "targets"
SCRIPTS = [
    ("bulk_import", ["bulk_import.py"]),
    ("recall", ["recall.py"]),
    ("search_latency", ["search_latency.py"]),
    ("throughput", ["throughput.py"]),  # mixed reads at 1, 2 and 4 workers, app against raw, on the 100k database
    ("startup", ["startup.py"]),
    ("scaling", ["scaling.py"]),
    ("cohort_matching", ["cohort_matching.py"]),
    ("ranking_eval", ["ranking_eval.py"]),
    ("load_test", ["load_test.py"]),  # issue 6: 60 s of mixed reads and writes, gunicorn 4 workers, PostgreSQL
    ("million", ["million.py"]),  # only with --million
    ("plots", ["plots.py"]),
]
_MET = re.compile(r"\b(not met|met)\b", re.IGNORECASE)


def run(name: str, command: list[str]) -> tuple[int, str]:
    """Run one script, echoing its output; answers (exit code, output)."""
    env = dict(os.environ, TANDEM_BENCH_TARGETS=str(TARGETS_DIR / f"{name}.json"))
    proc = subprocess.Popen([sys.executable, str(BENCH / command[0]), *command[1:]], cwd=BENCH.parent, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        sys.stdout.write(line)
        lines.append(line)
    return proc.wait(), "".join(lines)


def targets_of(name: str, output: str) -> list[list[str]]:
    """Rows of the summary: the script's reported targets, else its printed table rows naming met / not met."""
    path = TARGETS_DIR / f"{name}.json"
    if path.exists():
        return [[name, t["target"], str(t["measured"]), str(t.get("baseline", "-")), str(t["goal"]),
                 "met" if t["met"] else "**not met**"] for t in json.loads(path.read_text())]
    rows = []
    for line in output.splitlines():
        if line.startswith("|") and _MET.search(line) and not set(line) <= set("|-: "):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            verdicts = {v.lower() for v in _MET.findall(line)}
            rows.append([name, " / ".join(cells)[:200], "(table row as printed)", "-", "-",
                         "**not met**" if "not met" in verdicts else "met"])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None, help="names to run, e.g. recall search_latency")
    parser.add_argument("--skip", nargs="*", default=[])
    parser.add_argument("--million", action="store_true", help="also the cached million-mentor bench")
    args = parser.parse_args(argv)
    failed, timings, summary = [], [], []
    for name, command in SCRIPTS:
        if (args.only and name not in args.only) or name in args.skip:
            continue
        if name == "million" and not (args.million or (args.only and name in args.only)):
            continue
        script = BENCH / command[0]
        if not script.exists():
            print(f"\n(skipping {name}: {script.name} is not there)")
            continue
        (TARGETS_DIR / f"{name}.json").unlink(missing_ok=True)
        print(f"\n# {name}: {sys.executable} bench/{' '.join(command)}", flush=True)
        started = time.perf_counter()
        code, output = run(name, command)
        timings.append((name, time.perf_counter() - started, code))
        summary += targets_of(name, output)
        if code != 0:
            failed.append(name)
    print("\n# run_all summary\n")
    print("| benchmark | seconds | exit |\n|---|---|---|")
    for name, elapsed, code in timings:
        print(f"| {name} | {elapsed:.0f} | {code} |")
    print("\n# Targets (issue 17; each beside its raw baseline, measured side by side in one run)\n")
    print("| benchmark | target | measured (app) | raw baseline | goal | verdict |\n|---|---|---|---|---|---|")
    for row in summary:
        print("| " + " | ".join(row) + " |")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
