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
from sqlalchemy import case, delete, select
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


def check(email: str, ip_address: str | None) -> None:
    """Raise TooManyAttempts while the address's IP or the account must wait."""
    moment = now()
    if ip_address:
        for key, window, limit in _ip_keys(ip_address):
            row = db.session.get(LoginThrottle, key, populate_existing=True)
            if row is not None and row.failures >= limit:
                ends = as_utc(row.window_started_at) + window
                if ends > moment:
                    raise TooManyAttempts(_seconds(ends - moment), "ip")
    row = db.session.get(LoginThrottle, account_key(email), populate_existing=True)
    if row is not None and row.blocked_until is not None and as_utc(row.blocked_until) > moment:
        raise TooManyAttempts(_seconds(as_utc(row.blocked_until) - moment), "account")


def _count_failure(key: str, window: timedelta, moment: datetime) -> int:
    """Add one failure to the row's current window in one atomic upsert (no lost count between workers)."""
    insert = postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert
    expired = LoginThrottle.window_started_at <= moment - window
    statement = (
        insert(LoginThrottle)
        .values(key=key, failures=1, window_started_at=moment, last_failed_at=moment)
        .on_conflict_do_update(
            index_elements=[LoginThrottle.key],
            set_={
                "failures": case((expired, 1), else_=LoginThrottle.failures + 1),
                "window_started_at": case((expired, moment), else_=LoginThrottle.window_started_at),
                "last_failed_at": moment,
            },
        )
        .returning(LoginThrottle.failures)
    )
    return db.session.execute(statement).scalar_one()


def record_failure(email: str, ip_address: str | None) -> None:
    """Count a failed attempt for the account and, without Redis, the IP address; the caller commits."""
    moment = now()
    # Every window is at most a day long: older rows count nothing, and IP addresses are kept no longer.
    db.session.execute(delete(LoginThrottle).where(LoginThrottle.last_failed_at < moment - ACCOUNT_WINDOW))
    if ip_address:
        for key, window, _limit in _ip_keys(ip_address):
            _count_failure(key, window, moment)
    key = account_key(email)
    failures = _count_failure(key, ACCOUNT_WINDOW, moment)
    wait = account_wait(failures)
    if wait:
        row = db.session.get(LoginThrottle, key, populate_existing=True)
        row.blocked_until = moment + wait


def clear_account(email: str) -> None:
    """Forget the account's failures: the right password, a password reset, a deleted account; the caller commits."""
    db.session.execute(delete(LoginThrottle).where(LoginThrottle.key == account_key(email)))


def account_failures(email: str) -> int:
    """Failed attempts counted against an account now, for the person's data export."""
    row = db.session.scalar(select(LoginThrottle).where(LoginThrottle.key == account_key(email)))
    return row.failures if row is not None else 0
