"""Accounts: passwords, sessions, API tokens and one-time links (password reset, invitation)."""

from __future__ import annotations

import hashlib
import logging
import secrets
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Connection, Select, bindparam, delete, func, select, update
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import begin_serialised_write, db
from ..input_checks import has_visible_text, single_line
from ..models import ApiToken, OneTimeToken, User, UserSession, as_utc, utcnow
from . import companies, throttle
from .errors import AccountError, EmailTaken

log = logging.getLogger(__name__)
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
NAME_MAX = 120
# "Last used" is shown to the nearest minute; writing it on every API request would put a commit
# (a disk flush on PostgreSQL) into the cheapest read.
TOKEN_LAST_USED_RESOLUTION = timedelta(minutes=1)
# "Last seen" of a signed-in device, for the same reason written at most this often.
SESSION_LAST_SEEN_RESOLUTION = timedelta(minutes=5)
# The purpose of one-time links that prove a mailbox to verify its domain's company.
COMPANY_CONFIRMATION = "company"
# The links that set a password: once a password is set by any way, every such link still out is void.
PASSWORD_LINKS = ("reset", "invite")
COMMON_PASSWORDS_FILE = Path(__file__).resolve().parent.parent / "data" / "common_passwords.txt"


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    if not COMMON_PASSWORDS_FILE.exists():
        return frozenset()
    return frozenset(line.strip().lower() for line in COMMON_PASSWORDS_FILE.read_text().splitlines() if line.strip())


def password_problem(password: str) -> str | None:
    """Why a password is refused, or None when it is acceptable."""
    from flask_babel import gettext as _

    if len(password) < MIN_PASSWORD_LENGTH:
        return _("Use at least %(n)d characters.", n=MIN_PASSWORD_LENGTH)
    if len(password) > MAX_PASSWORD_LENGTH:
        return _("Use at most %(n)d characters.", n=MAX_PASSWORD_LENGTH)
    lowered = password.lower()
    if lowered in _common_passwords() or len(set(lowered)) <= 2:
        return _("This password is too common; choose another.")
    return None


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


@lru_cache(maxsize=1)
def _dummy_password_hash() -> str:
    """A hash with the same scrypt parameters as real ones, made once: checking against it costs what
    checking a real password costs (hashing it anew on every unknown address doubled the work)."""
    return hash_password(secrets.token_urlsafe(16))


def normalise_email(email: str) -> str:
    """One spelling per address: Unicode NFKC (a full-width look-alike is the same address), then lower case."""
    return unicodedata.normalize("NFKC", email).strip().lower()


def clean_email(email: str) -> str:
    """The one e-mail check (forms, imports, demo seed, CLI): the normalised address, or AccountError.

    Syntax only, no DNS; the special-use `.test` domain is allowed (demo and pilot data use it).
    """
    from flask_babel import gettext as _

    address = normalise_email(email or "")
    try:
        validate_email(address, check_deliverability=False, test_environment=True)
    except EmailNotValidError:
        raise AccountError.on_field("email", _("Enter a valid e-mail address.")) from None
    return address


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == normalise_email(email)))


def create_user(
    email: str,
    name: str,
    password: str | None,
    company_name: str | None = None,
    is_manager: bool = False,
    locale: str | None = None,
) -> User:
    """A new account; refuses a taken e-mail address or a weak password. The caller commits."""
    from flask_babel import gettext as _

    email = clean_email(email)
    # The password first: a weak one is refused alike whether the address is taken or not.
    if password is not None:
        problem = password_problem(password)
        if problem:
            raise AccountError.on_field("password", problem)
    name = single_line(name or "")
    if not has_visible_text(name):
        raise AccountError.on_field("name", _("Please fill in this field."))
    existing = find_user_by_email(email)
    if existing is not None:
        raise EmailTaken(_("An account with this e-mail address already exists."), existing)
    user = User(
        email=email,
        name=name,
        password_hash=hash_password(password) if password else None,
        is_manager=is_manager,
        locale=locale,
    )
    db.session.add(user)
    companies.assign_company(user, company_name)
    companies.refresh_domain_company(user)
    db.session.flush()
    return user


def authenticate(email: str, password: str) -> User | None:
    """The account when the password fits; throttling is the caller's (see `login`)."""
    user = find_user_by_email(email)
    if user is None or not user.password_hash:
        # One scrypt check, as for a real account, so timing does not tell which e-mails exist.
        check_password_hash(_dummy_password_hash(), password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


def check_password(user: User, password: str) -> bool:
    """Whether `password` is the user's current one (e.g. before changing it)."""
    return bool(user.password_hash) and check_password_hash(user.password_hash, password)


def login(email: str, password: str, ip_address: str | None) -> User | None:
    """Password login behind the database throttles; raises `throttle.TooManyAttempts` while one holds.

    `ip_address` None leaves the per-IP count to Flask-Limiter (Redis). Commits the count it changes.
    """
    throttle.admit(email, ip_address)
    user = authenticate(email, password)
    if user is None:
        throttle.failed(ip_address)
    else:
        throttle.clear_account(email)
    db.session.commit()
    return user


def set_password(user: User, password: str) -> None:
    """Set a new password, end every session of this user (the caller starts a new one) and void every reset or
    invitation link still out; the caller commits."""
    problem = password_problem(password)
    if problem:
        raise AccountError.on_field("password", problem)
    user.password_hash = hash_password(password)
    end_all_login_sessions(user)
    # A reset or invitation link still in a mailbox (or on the managers' outbox page) must not set it again.
    db.session.execute(
        update(OneTimeToken)
        .where(OneTimeToken.user_id == user.id, OneTimeToken.purpose.in_(PASSWORD_LINKS),
               OneTimeToken.used_at.is_(None))
        .values(used_at=utcnow())
    )


def begin_login_session(user: User) -> UserSession:
    """A server-side record for a new sign-in; its id goes into the cookies through `User.get_id`."""
    record = UserSession(id=secrets.token_urlsafe(32), user_id=user.id)
    db.session.add(record)
    db.session.flush()
    user.login_session_id = record.id
    return record


def end_login_session(user: User) -> None:
    """Log out this device: every copy of its session or remember cookie stops working; the caller commits."""
    if user.login_session_id:
        db.session.execute(delete(UserSession).where(UserSession.id == user.login_session_id))
    user.login_session_id = None


def end_all_login_sessions(user: User) -> None:
    """Log out every device of this user; the caller commits."""
    db.session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    user.login_session_id = None


def load_user_from_session(session_id: str) -> User | None:
    """Flask-Login user loader: `<user id>:<session id>`, refused once that session record is gone."""
    user_id, _, record_id = session_id.partition(":")
    if not user_id.isdigit() or not record_id:
        return None
    record = db.session.get(UserSession, record_id)
    if record is None or record.user_id != int(user_id):
        return None
    user = db.session.get(User, record.user_id)
    if user is None:
        return None
    user.login_session_id = record.id
    now = utcnow()
    if now - as_utc(record.last_seen_at) >= SESSION_LAST_SEEN_RESOLUTION:
        _stamp_last_seen(record.id, now)
    return user


def _stamp_last_seen(record_id: str, now: datetime) -> None:
    """Only a convenience for the person's export: a busy database must not fail the request."""
    try:
        db.session.execute(update(UserSession).where(UserSession.id == record_id).values(last_seen_at=now))
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_token(user: User, name: str = "API token") -> str:
    """A new token for the user; only its hash is stored, so the plain value is shown once."""
    secret = "tdm_" + secrets.token_urlsafe(32)
    db.session.add(ApiToken(user=user, name=name[:80] or "API token", token_hash=_digest(secret), prefix=secret[:10]))
    db.session.flush()
    return secret


def revoke_api_token(user: User, token_id: int) -> bool:
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id or token.revoked_at is not None:
        return False
    token.revoked_at = utcnow()
    return True


def active_tokens(user: User) -> list[ApiToken]:
    return list(
        db.session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
            .order_by(ApiToken.created_at.desc())
        )
    )


def load_user_from_bearer_token(req: Any) -> User | None:
    """The API's `Authorization: Bearer TOKEN`; `req` is the request (anything with `headers`)."""
    header = req.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    token = db.session.scalar(_token_statement(), {"digest": _digest(secret.strip())})
    if token is None or token.revoked_at is not None:
        return None
    now = utcnow()
    if token.last_used_at is None or now - as_utc(token.last_used_at) >= TOKEN_LAST_USED_RESOLUTION:
        _stamp_last_used(token, now)
    return token.user


@cache
def _token_statement() -> Select:
    """A token by its digest, with its user (every API request reads both), built once per process."""
    return select(ApiToken).where(ApiToken.token_hash == bindparam("digest")).options(joinedload(ApiToken.user))


def _stamp_last_used(token: ApiToken, now) -> None:
    """Write "last used" in its own short transaction, skipped when the database is busy.

    It is bookkeeping done while serving a read: during a long import on SQLite it used to wait for the
    writer and then fail the read with "database is locked". Skipping a stamp costs a minute of precision.
    """
    try:
        with db.engine.connect() as connection, _without_waiting_for_locks(connection):
            connection.execute(update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now))
            connection.commit()
    except OperationalError as problem:
        log.info("Skipped the last-used stamp of API token %s: the database is busy (%s)", token.id, problem.orig)
        return
    set_committed_value(token, "last_used_at", now)  # already stored: the request's session must not write it


@contextmanager
def _without_waiting_for_locks(connection: Connection) -> Iterator[None]:
    """Make a write on `connection` fail at once instead of waiting for another transaction's lock."""
    if connection.dialect.name == "sqlite":
        previous = int(connection.exec_driver_sql("PRAGMA busy_timeout").scalar() or 0)
        connection.exec_driver_sql("PRAGMA busy_timeout = 0")
        try:
            yield
        finally:
            connection.exec_driver_sql(f"PRAGMA busy_timeout = {previous}")
    else:
        connection.exec_driver_sql("SET LOCAL lock_timeout = '100ms'")  # this transaction only
        yield


def issue_one_time_token(user: User, purpose: str, lifetime: timedelta) -> str:
    """A link secret for password reset or invitation; older unused ones of that purpose die."""
    for old in db.session.scalars(
        select(OneTimeToken).where(
            OneTimeToken.user_id == user.id, OneTimeToken.purpose == purpose, OneTimeToken.used_at.is_(None)
        )
    ):
        old.used_at = utcnow()
    secret = secrets.token_urlsafe(32)
    db.session.add(
        OneTimeToken(user=user, purpose=purpose, token_hash=_digest(secret), expires_at=utcnow() + lifetime)
    )
    db.session.flush()
    return secret


def find_one_time_token(secret: str, purpose: str) -> OneTimeToken | None:
    """The token when it exists, fits the purpose, is unused and not expired."""
    token = db.session.scalar(select(OneTimeToken).where(OneTimeToken.token_hash == _digest(secret)))
    if token is None or token.purpose != purpose or token.used_at is not None:
        return None
    if as_utc(token.expires_at) < utcnow():
        return None
    return token


def has_live_link(user: User, purpose: str) -> bool:
    """Whether a link of this purpose was sent to the user and still works (unused, not expired)."""
    return db.session.scalar(
        select(func.count(OneTimeToken.id)).where(
            OneTimeToken.user_id == user.id, OneTimeToken.purpose == purpose, OneTimeToken.used_at.is_(None),
            OneTimeToken.expires_at > utcnow(),
        )
    ) > 0


def revoke_all_api_tokens(user: User) -> None:
    """After a password reset: whoever knew the old password may have made tokens; the caller commits."""
    db.session.execute(
        update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)).values(revoked_at=utcnow())
    )


def use_one_time_token(secret: str, purpose: str, new_password: str) -> User | None:
    """Set the password through a reset or invitation link; a reset also revokes every API token. None when
    the link is not (or no longer) valid: of two uses at once only one claims it (a conditional UPDATE under
    the row lock; SQLite: the write lock), the other answers None and sets nothing."""
    begin_serialised_write()
    token = find_one_time_token(secret, purpose)
    if token is None:
        return None
    claimed = db.session.execute(
        update(OneTimeToken).where(OneTimeToken.id == token.id, OneTimeToken.used_at.is_(None))
        .values(used_at=utcnow())
    ).rowcount
    if claimed != 1:
        db.session.rollback()
        return None
    try:
        set_password(token.user, new_password)
    except AccountError:  # a refused password does not spend the link: the person can try another
        db.session.rollback()
        raise
    if purpose == "reset":
        revoke_all_api_tokens(token.user)
        # The owner proved the mailbox: strangers' guesses no longer hold the account back.
        throttle.clear_account(token.user.email)
    return token.user


def confirm_company(secret: str) -> User | None:
    """Open a company-confirmation link: the mailbox is proven, so its domain's company becomes verified.

    Answers the user, or None for an unknown, used or expired link; the caller commits.
    """
    token = find_one_time_token(secret, COMPANY_CONFIRMATION)
    if token is None:
        return None
    token.used_at = utcnow()
    company = companies.unconfirmed_domain_company(token.user)
    if company is not None:
        companies.set_verified_company(token.user, company)
    return token.user
