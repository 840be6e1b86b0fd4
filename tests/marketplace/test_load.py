"""bench/load_test.py in a short setting: mixed API reads and writes through a real gunicorn on PostgreSQL
leave no 5xx and no lost write. Runs once in CI (the PostgreSQL pass), on its own database next to the
suite's, since the suite empties its own database between tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

pytestmark = [pytest.mark.once, pytest.mark.postgres_only]

ROOT = Path(__file__).resolve().parents[2]
# The benchmark's 4 gunicorn workers, for 10 s instead of 60 (each worker loads the models itself, so
# start-up is most of this test's minute or two).
SHORT = ["--duration", "10", "--max-requests", "1000", "--people", "40", "--clients", "4", "--workers", "4"]


def test_a_short_mixed_load_loses_no_write_and_never_fails(database_url: str, tmp_path: Path) -> None:
    url = make_url(database_url)
    if not url.get_backend_name().startswith("postgres"):
        pytest.skip("needs PostgreSQL: several gunicorn workers write at once")
    server = url.set(drivername="postgresql")
    load_url = server.set(database=f"{url.database}_load").render_as_string(hide_password=False)
    admin_url = server.set(database="postgres").render_as_string(hide_password=False)
    out = tmp_path / "load.json"
    command = [sys.executable, "bench/load_test.py", "--database-url", load_url, "--json", str(out), *SHORT]
    proc = subprocess.Popen(command, cwd=ROOT, env={**os.environ, "BENCH_PG_ADMIN_URL": admin_url},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        output, _ = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)  # lets the script stop gunicorn and drop its database
        output, _ = proc.communicate(timeout=60)
        pytest.fail(f"the load test did not finish in 300 s:\n{output[-4000:]}")

    assert out.exists(), output[-4000:]
    result = json.loads(out.read_text())
    assert result["failures"] == 0, output[-4000:]
    assert result["lost_writes"] == [], output[-4000:]
    assert result["broken_rules"] == [], output[-4000:]
    assert result["endpoints"]["all"]["requests"] >= 40, output[-4000:]
    assert result["acknowledged_writes"] >= 5, output[-4000:]
    assert proc.returncode == 0, output[-4000:]
