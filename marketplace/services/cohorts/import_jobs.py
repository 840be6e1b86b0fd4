"""A confirmed browser import runs as a background job; the manager watches its progress page.

The confirm step only records an `ImportJob` and enqueues it (jobs.enqueue), so the request answers at
once. The worker validates the staged file again in full and writes every row in one transaction or
nothing (imports.import_participants); meanwhile it keeps rows done on the job row, from which the page
shows the percentage and an estimate of the time left.

A worker killed halfway (kill -9) leaves its job `running`: while it runs, a thread touches the job's
heartbeat, and the periodic sweep (resume_stale) queues a job whose heartbeat is older than
TANDEM_IMPORT_STALE_SECONDS again. That is safe because an import writes everything in one transaction or
nothing: the next run starts from the beginning.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import force_locale, format_timedelta
from flask_babel import gettext as _
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from ...extensions import db
from ...models import Cohort, ImportJob, User, as_utc, utcnow
from ...states import ImportStatus
from . import enrolment, upload

# A job not yet done or failed: what a heartbeat keeps alive and a stale one gives back to the queue.
UNFINISHED = (ImportStatus.QUEUED, ImportStatus.RUNNING)
PROGRESS_EVERY_SECONDS = 1.0  # at most one progress write a second: the encoder reports every batch
BEATS_PER_STALE_PERIOD = 4  # a job is stale after missing this many heartbeats in a row

log = logging.getLogger(__name__)


def start(cohort: Cohort, manager: User, token: str) -> ImportJob:
    """Record the import of a staged, previewed upload and queue it for a worker; commits."""
    from ... import jobs

    # A confirm clicked twice (or sent from two tabs) lands on the job the first one started.
    started = _job_of_upload(cohort, manager, token)
    if started is not None:
        return started
    # The preview counted the people; this refuses a token not this manager's for this cohort.
    rows = upload.staged_rows(token, cohort, manager)
    job = ImportJob(cohort_id=cohort.id, user_id=manager.id, token=token, status=ImportStatus.QUEUED, total_rows=rows,
                    rows_done=0, summary="", invited=[], problems=[], heartbeat_at=utcnow())
    db.session.add(job)
    try:
        db.session.commit()
    except IntegrityError:  # the same upload confirmed at the same moment: the job is the other request's
        db.session.rollback()
        started = _job_of_upload(cohort, manager, token)
        if started is None:
            raise
        return started
    jobs.enqueue("import_participants", job.id)
    return job


def _job_of_upload(cohort: Cohort, manager: User, token: str) -> ImportJob | None:
    return db.session.scalar(select(ImportJob).where(
        ImportJob.token == token, ImportJob.cohort_id == cohort.id, ImportJob.user_id == manager.id))


def _stale_seconds() -> float:
    return float(current_app.config["TANDEM_IMPORT_STALE_SECONDS"])


def _record_progress(job_id: int, rows_done: int) -> None:
    """Write rows done on a connection of its own: the import's session has no transaction open while it
    encodes, and must not get one."""
    with db.engine.begin() as connection:
        connection.execute(update(ImportJob).where(ImportJob.id == job_id)
                           .values(rows_done=rows_done, heartbeat_at=utcnow()))


@contextmanager
def _heartbeat(job_id: int, attempt: int) -> Iterator[None]:
    """Touch the job's heartbeat from a thread of its own while the import runs (encoding and writing hold
    the worker's thread); the thread dies with the process, so a killed worker's job goes stale."""
    engine, every, stop = db.engine, _stale_seconds() / BEATS_PER_STALE_PERIOD, threading.Event()

    def beat() -> None:
        while not stop.wait(every):
            try:
                with engine.begin() as connection:
                    connection.execute(update(ImportJob).where(ImportJob.id == job_id, ImportJob.attempts == attempt)
                                       .values(heartbeat_at=utcnow()))
            except SQLAlchemyError as problem:  # e.g. SQLite busy with the import's own write: the next beat
                log.warning("Import job %d: heartbeat skipped (%s).", job_id, problem)

    thread = threading.Thread(target=beat, name=f"import-job-{job_id}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def resume_stale(now: datetime) -> list[int]:
    """Queue again every import whose worker stopped beating (killed) and every queued one no worker took
    up within the stale period (its queue entry was lost); answers their ids. A job delivered twice still
    runs once (run claims it)."""
    cutoff = now - timedelta(seconds=_stale_seconds())
    beat = func.coalesce(ImportJob.heartbeat_at, ImportJob.started_at, ImportJob.created_at)
    stale = db.session.execute(
        select(ImportJob.id, ImportJob.attempts).where(ImportJob.status.in_(UNFINISHED), beat < cutoff)
    ).all()
    db.session.commit()
    requeued = []
    for job_id, attempts in stale:
        # The attempt number fences a run that came back to life meanwhile: only one sweep moves each job.
        moved = db.session.execute(
            update(ImportJob).where(ImportJob.id == job_id, ImportJob.attempts == attempts,
                                    ImportJob.status.in_(UNFINISHED),
                                    or_(ImportJob.heartbeat_at.is_(None), ImportJob.heartbeat_at < cutoff))
            .values(status=ImportStatus.QUEUED, heartbeat_at=now)
        ).rowcount
        db.session.commit()
        if moved:
            log.warning("Import job %d stopped beating (attempt %d); queued again.", job_id, attempts)
            requeued.append(job_id)
    from ... import jobs

    for job_id in requeued:
        jobs.enqueue("import_participants", job_id)
    return requeued


def _finish(job_id: int, status: str, **values: object) -> None:
    job = db.session.get(ImportJob, job_id)
    if job is None:  # the manager's account was deleted meanwhile
        return
    job.status, job.finished_at = status, utcnow()
    for name, value in values.items():
        setattr(job, name, value)
    db.session.commit()


def run(job_id: int) -> None:
    """The worker's part: import the staged file for real and record the outcome; a second run of a job
    that already started does nothing (a queue may deliver a task twice)."""
    job = db.session.get(ImportJob, job_id)
    if job is None or job.status != ImportStatus.QUEUED:
        return
    attempt = job.attempts + 1
    claimed = db.session.execute(
        update(ImportJob)
        .where(ImportJob.id == job_id, ImportJob.status == ImportStatus.QUEUED, ImportJob.attempts == job.attempts)
        .values(status=ImportStatus.RUNNING, started_at=utcnow(), heartbeat_at=utcnow(), attempts=attempt, rows_done=0)
    ).rowcount
    db.session.commit()
    if not claimed:
        return
    with _heartbeat(job_id, attempt):
        _import(job_id)


def _import(job_id: int) -> None:
    """Run the job in the language its upload was previewed in (else the manager's, emails.recipient_locale): the
    summary and the reasons it stores are what the progress page shows, and the plan compares with the preview's."""
    from .. import emails

    job = db.session.get(ImportJob, job_id)
    cohort, manager = db.session.get(Cohort, job.cohort_id), db.session.get(User, job.user_id)
    previewed = upload.language(job.token, cohort, manager) if cohort is not None and manager is not None else None
    with force_locale(previewed or (emails.recipient_locale(manager) if manager is not None else "en")):
        _import_staged(job, cohort, manager)


def _import_staged(job: ImportJob, cohort: Cohort | None, manager: User | None) -> None:
    job_id, token, total, last = job.id, job.token, job.total_rows, [0.0]

    def progress(done: int, of: int) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_EVERY_SECONDS and of:
            last[0] = now
            _record_progress(job_id, min(total, total * done // of))

    try:
        if cohort is None or manager is None:
            raise enrolment.CohortError("gone", _("The cohort or the manager no longer exists."))
        result = upload.run(token, cohort, manager, progress=progress)
    except enrolment.CohortError as problem:
        db.session.rollback()
        _finish(job_id, "failed", problems=[problem.message])
        return
    except Exception:
        db.session.rollback()
        _finish(job_id, "failed", problems=[_("The import stopped on an internal error. Nothing was written.")])
        raise
    if not result.ok:  # the data changed since the preview (e.g. a cohort renamed): nothing was written
        _finish(job_id, "failed", problems=[f"{_('row')} {p.row}: {p.message}" if p.row else p.message
                                            for p in result.errors])
    else:
        _finish(job_id, "done", rows_done=total, summary=result.summary(), invited=result.invited)
        upload.discard(token)  # after the job says done: a run resumed in between finds the file


@dataclass(frozen=True)
class Progress:
    """What the progress page shows."""

    job: ImportJob
    percent: int
    seconds_left: int | None  # None until there is a rate to go by

    @property
    def finished(self) -> bool:
        return self.job.status in (ImportStatus.DONE, ImportStatus.FAILED)

    @property
    def resumed(self) -> bool:
        """The worker of an earlier run stopped halfway; this run started from the beginning."""
        return self.job.attempts > 1

    @property
    def time_left(self) -> str | None:
        """"2 minutes" and the like, in the current language."""
        if self.seconds_left is None:
            return None
        return format_timedelta(timedelta(seconds=max(self.seconds_left, 1)), threshold=1.1)


def progress_of(job: ImportJob) -> Progress:
    """Percent done and an estimate from the rate so far (rows done per second since the start)."""
    total = max(job.total_rows, 1)
    done = job.total_rows if job.status == ImportStatus.DONE else job.rows_done
    seconds_left = None
    if job.status == ImportStatus.RUNNING and job.started_at is not None and 0 < done < total:
        elapsed = (utcnow() - as_utc(job.started_at)).total_seconds()
        seconds_left = int(elapsed * (total - done) / done)
    return Progress(job=job, percent=min(100, 100 * done // total), seconds_left=seconds_left)


def job_of(cohort: Cohort, job_id: int) -> ImportJob | None:
    job = db.session.get(ImportJob, job_id)
    return job if job is not None and job.cohort_id == cohort.id else None
