"""The job worker: one run per period across workers, and exactly one delivery across a kill -9."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from marketplace import jobs
from marketplace.extensions import db
from marketplace.models import OutgoingEmail
from marketplace.services import outbox
from tests.smtp_support import start_server

PROJECT_ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = "redis://127.0.0.1:6379/6"


def _worker(database_url: str, tmp_path: Path, log_name: str, **env: str) -> tuple[subprocess.Popen, Path]:
    """A real `flask --app wsgi worker` process on the test database, its log in a file."""
    environment = os.environ | {
        "DATABASE_URL": database_url, "SECRET_KEY": "test-secret-key", "TANDEM_JOB_INTERVAL_SECONDS": "1",
        "TANDEM_JOB_STORE": str(tmp_path / "jobs.sqlite3"), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
    } | env
    log = tmp_path / log_name
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "flask"), "--app", "wsgi", "worker"], cwd=PROJECT_ROOT, env=environment,
        stdout=log.open("w"), stderr=subprocess.STDOUT,
    )
    return process, log


def _wait_for(condition, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def _stop(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=20)


def test_of_two_workers_on_one_database_only_one_runs_a_period(make_app):
    first, second = make_app(), make_app()
    now = datetime(2026, 12, 1, 9, 0, 0, tzinfo=UTC)
    with first.app_context():
        assert jobs.run_periodic("send_mail", now) is True
    with second.app_context():
        assert jobs.run_periodic("send_mail", now + timedelta(seconds=5)) is False  # same 30 s period
        assert jobs.run_periodic("send_mail", now + timedelta(seconds=31)) is True
    with first.app_context():
        assert jobs.run_periodic("daily_digest", now.replace(hour=6)) is False  # before TANDEM_DIGEST_HOUR
        assert jobs.run_periodic("daily_digest", now) is True
    with second.app_context():
        assert jobs.run_periodic("daily_digest", now + timedelta(hours=5)) is False  # once a day
        assert jobs.run_periodic("daily_digest", now + timedelta(days=1)) is True
        db.session.remove()


def test_two_worker_processes_sharing_redis_run_each_period_once_and_stop_cleanly(make_app, database_url,
                                                                                   tmp_path):
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url(REDIS_URL).flushdb()  # db 6 is this suite's: no queue left from an earlier run
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    make_app()  # an empty database
    workers = [_worker(database_url, tmp_path, f"worker-{n}.log", REDIS_URL=REDIS_URL) for n in (1, 2)]
    runs = re.compile(r"Periodic job send_mail runs for period (\d+) \(pid (\d+)\)")

    def periods() -> list[tuple[str, str]]:
        return [m.groups() for _, log in workers for m in runs.finditer(log.read_text())]

    try:
        assert _wait_for(lambda: len(periods()) >= 5, 60), [log.read_text()[-2000:] for _, log in workers]
    finally:
        codes = [_stop(process) for process, _ in workers]
    assert codes == [0, 0]  # SIGTERM: a clean shutdown
    numbers = [period for period, _ in periods()]
    assert len(numbers) == len(set(numbers)), "a period ran twice"
    for _, log in workers:
        assert "Consumer exiting" in log.read_text()


def test_a_worker_killed_between_sending_and_marking_sent_delivers_each_message_once(make_app, database_url,
                                                                                      tmp_path):
    handler, controller, port = start_server()
    app = make_app()
    try:
        with app.app_context():
            for n in range(3):
                outbox.queue(f"person{n}@example.com", f"Message {n}", "Hello")
            db.session.commit()
        mail = {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(port), "TANDEM_MAIL_CLAIM_TIMEOUT_SECONDS": "1"}
        crashing, log = _worker(database_url, tmp_path, "crash.log", **mail, TANDEM_TEST_CRASH_AFTER_SMTP="1")
        assert crashing.wait(timeout=60) == -signal.SIGKILL, log.read_text()[-2000:]
        assert len(handler.messages) == 1  # SMTP has the first message; the row never heard of it

        restarted, log = _worker(database_url, tmp_path, "restart.log", **mail)
        try:
            assert _wait_for(lambda: len(handler.messages) >= 3, 60), log.read_text()[-2000:]
            time.sleep(3)  # a few more periods: nothing may come twice
        finally:
            assert _stop(restarted) == 0
        subjects = sorted(str(m["Subject"]) for m in handler.messages)
        assert subjects == ["Message 0", "Message 1", "Message 2"]
        assert len({m["Message-ID"] for m in handler.messages}) == 3
        with app.app_context():
            statuses = sorted(m.status for m in db.session.scalars(select(OutgoingEmail)))
            assert statuses == ["sent", "sent", "uncertain"]
            db.session.remove()
    finally:
        controller.stop()


def test_with_a_worker_running_a_request_mails_the_mentor_in_their_language(make_app, database_url, tmp_path):
    from marketplace.services import tandems
    from tests.builders import make_goal, make_mentor, make_user

    handler, controller, port = start_server()
    app = make_app()
    worker, log = _worker(database_url, tmp_path, "worker.log", MAIL_SERVER="127.0.0.1", MAIL_PORT=str(port))
    try:
        with app.app_context():
            mentor = make_mentor(user=make_user(name="Mia Mentor", company="Young AG"), languages="de")
            goal = make_goal(owner=make_user(name="Gerd Brenner", company="Old AG"), title="KI verstehen")
            goal.owner.locale = "en"
            tandems.request_tandem(goal, mentor, goal.owner)
            db.session.remove()
        assert _wait_for(lambda: len(handler.messages) == 1, 60), log.read_text()[-2000:]
        assert handler.messages[0]["Content-Language"] == "de"
        assert "bittet Sie um ein Mentoring" in str(handler.messages[0]["Subject"])
    finally:
        assert _stop(worker) == 0
        controller.stop()


def test_with_a_worker_running_an_unanswered_request_expires_on_its_own_and_the_mentee_hears(
    make_app, database_url, tmp_path
):
    from marketplace.models import Tandem
    from marketplace.services import tandems
    from tests.builders import make_goal, make_mentor, make_user

    handler, controller, port = start_server()
    app = make_app()
    # 0.005 hours: reminded after 9 s, expired after 18 s (room for a busy machine before the half-time).
    worker, log = _worker(database_url, tmp_path, "worker.log", MAIL_SERVER="127.0.0.1", MAIL_PORT=str(port),
                          TANDEM_REQUEST_EXPIRY_HOURS="0.005")
    try:
        with app.app_context():
            mentor = make_mentor(user=make_user(name="Mia Mentor", email="mia@example.com", company="Young AG"))
            make_mentor(user=make_user(name="Otto Other", company="Other AG"))
            goal = make_goal(owner=make_user(name="Gerd Brenner", email="gerd@example.com", company="Old AG"))
            tandem_id = tandems.request_tandem(goal, mentor, goal.owner).id
            db.session.remove()

        def to(address: str) -> list:
            return [m for m, rcpt in zip(handler.messages, handler.recipients, strict=True) if address in rcpt]

        assert _wait_for(lambda: len(to("mia@example.com")) == 2, 60), log.read_text()[-3000:]  # request, half-time
        assert "waiting for your answer" in str(to("mia@example.com")[1]["Subject"])
        assert not to("gerd@example.com")  # not expired yet
        assert _wait_for(lambda: len(to("gerd@example.com")) == 1, 180), log.read_text()[-3000:]  # loads the encoder
        expired = to("gerd@example.com")[0]
        assert "expired without an answer" in str(expired["Subject"])
        assert "Otto Other" in expired.get_body(("plain",)).get_content()
        with app.app_context():
            assert db.session.get(Tandem, tandem_id).status == "expired"
            db.session.remove()
    finally:
        assert _stop(worker) == 0
        controller.stop()


def _import_people(count: int) -> list[list[str]]:
    return [[f"person{n}@import.example", f"Person {n}", "mentor" if n % 2 else "mentee", f"Company {n % 7} AG",
             f"Topic number {n} explained", f"Everything about subject {n}, from the first step to the last.",
             "social-media", "de;en", "2" if n % 2 else "", ""] for n in range(count)]


def test_an_import_whose_worker_is_killed_halfway_is_resumed_and_imports_everyone_once(make_app, database_url,
                                                                                      tmp_path):
    from marketplace.models import Cohort, ImportJob, User
    from marketplace.services.cohorts import enrolment
    from tests.builders import make_user, sign_in
    from tests.marketplace.test_cohorts import _staged_upload, make_cohort

    uploads, store = tmp_path / "uploads", tmp_path / "jobs.sqlite3"
    app = make_app(TANDEM_UPLOAD_DIR=str(uploads), TANDEM_JOBS_IMMEDIATE=False, TANDEM_JOB_STORE=str(store))
    people = _import_people(300)
    with app.app_context():
        manager, cohort = make_user(is_manager=True), make_cohort(state="enrolling")
        client = sign_in(app.test_client(), manager)
        answer = client.post(f"/cohorts/{cohort.id}/import/confirm",
                             data={"token": _staged_upload(client, cohort, people)})
        progress_page, cohort_id = answer.headers["Location"], cohort.id
        db.session.remove()

    def job() -> ImportJob:
        with app.app_context():
            found = db.session.scalars(select(ImportJob)).one()
            db.session.expunge(found)
            db.session.remove()
            return found

    env = {"TANDEM_UPLOAD_DIR": str(uploads), "TANDEM_IMPORT_STALE_SECONDS": "2"}  # a beat every 0.5 s
    first, log = _worker(database_url, tmp_path, "killed.log", **env)
    try:
        # Running, and its heartbeat thread has beaten once since the claim: the worker is inside the import.
        assert _wait_for(lambda: (j := job()).status == "running" and j.heartbeat_at > j.started_at, 60), \
            log.read_text()[-2000:]
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=20)
    killed = job()
    assert (killed.status, killed.attempts) == ("running", 1)  # nothing else would ever move it on
    with app.app_context():
        assert enrolment.participants(db.session.get(Cohort, cohort_id)) == []  # all or nothing
        db.session.remove()

    restarted, log = _worker(database_url, tmp_path, "restarted.log", **env)
    try:
        assert _wait_for(lambda: job().status in ("done", "failed"), 240), log.read_text()[-3000:]
    finally:
        assert _stop(restarted) == 0
    resumed = job()
    assert (resumed.status, resumed.attempts, resumed.problems) == ("done", 2, [])
    assert "queued again" in log.read_text()
    with app.app_context():
        assert len(enrolment.participants(db.session.get(Cohort, cohort_id))) == 300
        emails = list(db.session.scalars(select(User.email).where(User.email.like("%@import.example"))))
        assert sorted(emails) == sorted(row[0] for row in people)  # each person once
        mailed = db.session.scalars(select(OutgoingEmail.recipient).where(OutgoingEmail.recipient.in_(emails)))
        assert sorted(mailed) == sorted(emails)  # one invitation each, not one a run
        manager = db.session.get(User, killed.user_id)
        page = sign_in(app.test_client(), manager).get(progress_page).get_data(as_text=True)
        assert "Import done" in page and "started again from the beginning" in page
        db.session.remove()
