"""Failed-login throttles kept in the database, so every worker process counts the same failures.

Per account: after `ACCOUNT_FREE_FAILURES` failures each further attempt must wait, the wait doubling
with each failure up to `ACCOUNT_MAX_WAIT`. The wait is a refusal with `Retry-After`, never a sleep
(a sleeping thread is one a stranger could stall), and never a lock-out: it always ends, a success or a
password reset clears it, and attempts refused while it holds are not counted.

Per IP address (only without Redis; with `REDIS_URL` Flask-Limiter counts there): failures in fixed
windows, the same limits as the login route's `LOGIN_LIMIT`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import case, delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from ..extensions import db
from ..models import LoginThrottle, as_utc, utcnow

ACCOUNT_FREE_FAILURES = 5
ACCOUNT_FIRST_WAIT = timedelta(seconds=30)
ACCOUNT_MAX_WAIT = timedelta(minutes=15)
# Failures older than this are forgotten, so a few typos a month never add up to a wait.
ACCOUNT_WINDOW = timedelta(days=1)
# (window, failures allowed in it) per IP address: "10 per minute; 50 per hour".
IP_LIMITS = ((timedelta(minutes=1), 10), (timedelta(hours=1), 50))


@dataclass
class TooManyAttempts(Exception):
    """A login attempt refused for now; `retry_after` is in whole seconds, `scope` "account" or "ip"."""

    retry_after: int
    scope: str


def now() -> datetime:
    """The throttles' clock; tests set `TANDEM_CLOCK` (a callable) to move time without waiting."""
    clock = current_app.config.get("TANDEM_CLOCK")
    return as_utc(clock()) if clock else utcnow()


def account_key(email: str) -> str:
    """The row of an account, known or not (refusing only known ones would tell which exist)."""
    from .accounts import normalise_email

    return f"account:{normalise_email(email)}"[:300]


def _ip_keys(ip_address: str) -> list[tuple[str, timedelta, int]]:
    return [(f"ip:{int(window.total_seconds())}:{ip_address}", window, limit) for window, limit in IP_LIMITS]


def account_wait(failures: int) -> timedelta:
    """The wait after `failures` failed attempts in a row: none, then doubling, capped."""
    if failures < ACCOUNT_FREE_FAILURES:
        return timedelta(0)
    return min(ACCOUNT_FIRST_WAIT * 2 ** min(failures - ACCOUNT_FREE_FAILURES, 20), ACCOUNT_MAX_WAIT)


def _seconds(delta: timedelta) -> int:
    return max(1, math.ceil(delta.total_seconds()))


def _upsert_failure(key: str, window: timedelta, moment: datetime):
    """Add one failure to the row's current window in one atomic statement (no lost count between workers)."""
    insert = postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert
    expired = LoginThrottle.window_started_at <= moment - window
    return insert(LoginThrottle).values(key=key, failures=1, window_started_at=moment, last_failed_at=moment), {
        "failures": case((expired, 1), else_=LoginThrottle.failures + 1),
        "window_started_at": case((expired, moment), else_=LoginThrottle.window_started_at),
        "last_failed_at": moment,
    }


def _blocked_until_after(failures, moment: datetime):
    """SQL for `moment + account_wait(failures)`, None below the threshold (the wait as a CASE over the count)."""
    steps = range(ACCOUNT_FREE_FAILURES, ACCOUNT_FREE_FAILURES + 21)
    capped = next(n for n in steps if account_wait(n) == ACCOUNT_MAX_WAIT)
    branches = [(failures == n, moment + account_wait(n)) for n in range(ACCOUNT_FREE_FAILURES, capped)]
    return case(*branches, (failures >= capped, moment + ACCOUNT_MAX_WAIT), else_=None)


def admit(email: str, ip_address: str | None) -> None:
    """Let one login attempt through, or raise TooManyAttempts; commits.

    The attempt is counted against the account as a failure before the password is checked, in the same
    statement that checks the wait, so parallel guesses cannot all slip through before the first is
    counted (`clear_account` forgets it on success). A refused attempt is not counted.
    """
    moment = now()
    # Every window is at most a day long: older rows count nothing, and IP addresses are kept no longer.
    db.session.execute(delete(LoginThrottle).where(LoginThrottle.last_failed_at < moment - ACCOUNT_WINDOW))
    if ip_address:
        for key, window, limit in _ip_keys(ip_address):
            row = db.session.get(LoginThrottle, key, populate_existing=True)
            if row is not None and row.failures >= limit:
                ends = as_utc(row.window_started_at) + window
                if ends > moment:
                    db.session.commit()
                    raise TooManyAttempts(_seconds(ends - moment), "ip")
    key = account_key(email)
    statement, counted = _upsert_failure(key, ACCOUNT_WINDOW, moment)
    counted["blocked_until"] = _blocked_until_after(counted["failures"], moment)
    free = or_(LoginThrottle.blocked_until.is_(None), LoginThrottle.blocked_until <= moment)
    statement = statement.on_conflict_do_update(index_elements=[LoginThrottle.key], set_=counted, where=free)
    admitted = db.session.execute(statement.returning(LoginThrottle.failures)).first()
    if admitted is None:
        blocked_until = as_utc(db.session.get(LoginThrottle, key, populate_existing=True).blocked_until)
        db.session.commit()
        raise TooManyAttempts(_seconds(blocked_until - moment), "account")
    db.session.commit()


def failed(ip_address: str | None) -> None:
    """The password was wrong: the account's count stays; without Redis the IP address counts it too."""
    if not ip_address:
        return
    moment = now()
    for key, window, _limit in _ip_keys(ip_address):
        statement, counted = _upsert_failure(key, window, moment)
        db.session.execute(statement.on_conflict_do_update(index_elements=[LoginThrottle.key], set_=counted))


def clear_account(email: str) -> None:
    """Forget the account's failures: the right password, a password reset, a deleted account; the caller commits."""
    db.session.execute(delete(LoginThrottle).where(LoginThrottle.key == account_key(email)))


def account_failures(email: str) -> int:
    """Failed attempts counted against an account now, for the person's data export."""
    row = db.session.scalar(select(LoginThrottle).where(LoginThrottle.key == account_key(email)))
    return row.failures if row is not None else 0
