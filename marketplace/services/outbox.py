"""The outbox: messages are rows written with the change that causes them; a job sends them.

States of a row: `pending` (due at `next_attempt_at`) -> `sending` (claimed by one worker, handed to
SMTP) -> `sent`; without MAIL_SERVER the job writes the message to the log instead and marks it `logged`
(it stays on the managers' outbox page). A refused or failed SMTP attempt goes back to `pending` with
exponential back-off, so a mail server that is down delays mail and never loses it. `held` rows wait for
the reader's daily digest and become `digested` when it is written. A `sending` row whose worker died
(kill -9) is never sent again: it becomes `uncertain` (see README, "Background jobs", for why
at-most-once wins over a duplicate there).
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
from datetime import datetime, timedelta
from email.mime.text import MIMEText
from email.utils import parseaddr

from flask import current_app
from flask_mailman import EmailMultiAlternatives
from sqlalchemy import select, update

from ..extensions import db, mail
from ..input_checks import single_line
from ..models import OutgoingEmail, User, as_utc, utcnow
from ..states import EmailStatus

log = logging.getLogger(__name__)

DEFAULT_SMTP_TIMEOUT = 10  # seconds; a hanging mail server must not hold a worker for long
MAX_BACKOFF = timedelta(hours=6)
# Mails holding a personal sign-in link: whoever reads the body can take over the account, so neither the
# outbox page nor the log shows it (an invitation may be shown: managers hand invitations on).
PERSONAL_LINK_KINDS = frozenset({"password_reset", "email_confirmation"})
# Mails holding any one-time link that signs in or sets a password: a data export leaves their bodies out, or a
# stolen session could read a fresh reset link there and set a new password without the old one.
ONE_TIME_LINK_KINDS = PERSONAL_LINK_KINDS | {"invitation"}
# Test-only: the kill test makes the worker SIGKILL itself right after SMTP accepted the first message.
CRASH_AFTER_SMTP_ENV = "TANDEM_TEST_CRASH_AFTER_SMTP"


SUBJECT_LIMIT = 255  # the column's length


def subject_line(text: str) -> str:
    """A subject as a mail header can carry it: one line (a header may not hold a line break, and a message
    whose subject has one can never be sent), at most SUBJECT_LIMIT characters, ending in "…" when cut."""
    line = single_line(text)  # also without control characters or an unclosed right-to-left override
    return line if len(line) <= SUBJECT_LIMIT else line[: SUBJECT_LIMIT - 1].rstrip() + "…"


def queue(
    to: str,
    subject: str,
    body: str,
    *,
    html: str | None = None,
    kind: str | None = None,
    obj: tuple[str, int] | None = None,
    recipient_user: User | None = None,
    occasion: str = "",
    language: str = "en",
    status: str = EmailStatus.PENDING,
    ics: str | None = None,
) -> OutgoingEmail:
    """Add a message to the outbox in the caller's transaction (the caller commits).

    With `kind`, `obj` and `recipient_user` the message has a key: queueing the same key again returns the
    existing row instead of a second message. `ics` is a calendar invite, attached when sent.
    """
    subject = subject_line(subject)
    object_type, object_id = obj if obj else (None, None)
    if kind and obj and recipient_user is not None:
        existing = db.session.scalar(
            select(OutgoingEmail).where(
                OutgoingEmail.kind == kind, OutgoingEmail.object_type == object_type,
                OutgoingEmail.object_id == object_id, OutgoingEmail.recipient_user_id == recipient_user.id,
                OutgoingEmail.occasion == occasion,
            )
        )
        if existing is not None:
            return existing
    message = OutgoingEmail(
        recipient=to, subject=subject, body=body, html_body=html, kind=kind, object_type=object_type,
        object_id=object_id, recipient_user_id=recipient_user.id if recipient_user is not None else None,
        occasion=occasion, language=language, status=status, attempts=0, next_attempt_at=utcnow(), ics=ics,
    )
    db.session.add(message)
    db.session.flush()
    return message


def _log_due(now: datetime, limit: int) -> int:
    """No mail server (development, small pilots): the job writes each due message to the log, once, and
    marks it `logged`; it stays on the outbox page. Personal sign-in links stay out of the log."""
    logged = 0
    for _ in range(limit):
        message = _claim_one(now)
        if message is None:
            break
        if message.kind in PERSONAL_LINK_KINDS:
            log.info("E-mail not sent (no MAIL_SERVER), kept in the outbox. To: %s Subject: %s",
                     message.recipient, message.subject)
        else:
            log.info("E-mail not sent (no MAIL_SERVER), kept in the outbox. To: %s Subject: %s\n%s",
                     message.recipient, message.subject, message.body)
        message.status, message.claim_token = EmailStatus.LOGGED, None
        db.session.commit()
        logged += 1
    return logged


def backoff(attempts: int) -> timedelta:
    """Wait before the next try: base, 2x base, 4x base ... at most six hours."""
    base = float(current_app.config["TANDEM_MAIL_RETRY_SECONDS"])
    return min(timedelta(seconds=base * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def _due(now: datetime):
    return (OutgoingEmail.status == EmailStatus.PENDING) & (OutgoingEmail.next_attempt_at <= now)


def _claim_one(now: datetime) -> OutgoingEmail | None:
    """Mark one due row `sending` for this worker and commit, so no other worker takes it.

    PostgreSQL skips rows another worker holds (FOR UPDATE SKIP LOCKED); SQLite runs the one UPDATE
    under its database write lock (SQLAlchemy leaves FOR UPDATE out there), which serialises claims.
    """
    token = secrets.token_hex(16)
    candidate = (
        select(OutgoingEmail.id).where(_due(now)).order_by(OutgoingEmail.next_attempt_at, OutgoingEmail.id)
        .limit(1).with_for_update(skip_locked=True).scalar_subquery()
    )
    claimed = db.session.execute(
        update(OutgoingEmail)
        .where(OutgoingEmail.id == candidate, OutgoingEmail.status == EmailStatus.PENDING)
        .values(status=EmailStatus.SENDING, claim_token=token, claimed_at=now, attempts=OutgoingEmail.attempts + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if not claimed:
        return None
    return db.session.scalar(select(OutgoingEmail).where(OutgoingEmail.claim_token == token))


def _defer(message: OutgoingEmail, error: Exception, now: datetime, count_attempt: bool = False) -> None:
    """Back to `pending`, later; the error stays on the row for the outbox page."""
    if count_attempt:
        message.attempts += 1
    message.status = EmailStatus.PENDING
    message.claim_token = None
    message.next_attempt_at = now + backoff(message.attempts)
    message.last_error = f"{type(error).__name__}: {error}"[:2000]
    log.warning("Sending e-mail %s to %s failed (%s); next try at %s.", message.id, message.recipient,
                message.last_error, message.next_attempt_at)


def message_id(message: OutgoingEmail) -> str:
    """Stable per row, so a receiving server can tell a copy from a new message."""
    domain = parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])[1].rpartition("@")[2] or "tandem.invalid"
    return f"<outbox.{message.id}.{int(as_utc(message.created_at).timestamp())}@{domain}>"


def build(message: OutgoingEmail, connection=None) -> EmailMultiAlternatives:
    """The MIME message of a row: text and HTML parts, Content-Language, unsubscribe headers for non-essential kinds."""
    from . import preferences

    headers = {"Message-ID": message_id(message), "Content-Language": message.language}
    headers.update(preferences.unsubscribe_headers(message))
    email = EmailMultiAlternatives(
        # subject_line again: rows queued before subjects were made one line would fail on every attempt.
        subject=subject_line(message.subject), body=message.body, to=[message.recipient], headers=headers,
        connection=connection,
    )
    if message.html_body:
        email.attach_alternative(message.html_body, "text/html")
    if message.ics:
        email.attach(_invite_attachment(message.ics))
    return email


def _invite_attachment(ics: str) -> MIMEText:
    """text/calendar with the invite's METHOD as a parameter, as calendar clients expect (RFC 6047)."""
    method = next((line.partition(":")[2] for line in ics.splitlines() if line.startswith("METHOD:")), "PUBLISH")
    part = MIMEText(ics, "calendar", "utf-8")
    part.set_param("method", method)
    part.add_header("Content-Disposition", "attachment", filename="invite.ics")
    return part


def recover_stale(now: datetime) -> int:
    """`sending` rows of a worker that died: SMTP may have them already, so they are not sent again."""
    timeout = timedelta(seconds=float(current_app.config["TANDEM_MAIL_CLAIM_TIMEOUT_SECONDS"]))
    stale = list(db.session.scalars(
        select(OutgoingEmail).where(
            OutgoingEmail.status == EmailStatus.SENDING, OutgoingEmail.claimed_at < now - timeout
        )
    ))
    for message in stale:
        message.status = EmailStatus.UNCERTAIN
        message.last_error = "The worker stopped after handing the message to SMTP; not sent again."
        log.warning("E-mail %s to %s was handed to SMTP by a worker that died; marked uncertain, not resent.",
                    message.id, message.recipient)
    db.session.commit()
    return len(stale)


def send_due(now: datetime | None = None, limit: int = 200) -> int:
    """Send every due message (at most `limit`), one claimed row at a time; returns how many were sent."""
    now = now or utcnow()
    config = current_app.config
    if not config.get("MAIL_SERVER"):
        _log_due(now, limit)  # nothing leaves without a mail server: rows stay on the managers' outbox page
        return 0
    recover_stale(now)
    if db.session.scalar(select(OutgoingEmail.id).where(_due(now)).limit(1)) is None:
        return 0
    connection = mail.get_connection(timeout=config.get("MAIL_TIMEOUT") or DEFAULT_SMTP_TIMEOUT)
    try:
        connection.open()
    except Exception as error:  # SMTP, DNS and socket errors alike: every due row waits and is tried again
        for message in db.session.scalars(select(OutgoingEmail).where(_due(now)).limit(limit)):
            _defer(message, error, now, count_attempt=True)
        db.session.commit()
        return 0
    sent = 0
    try:
        for _ in range(limit):
            message = _claim_one(now)
            if message is None:
                break
            try:
                delivered = build(message, connection).send()
            except Exception as error:
                _defer(message, error, now)
                db.session.commit()
                connection.close()  # a broken connection is reopened for the next row
                continue
            if os.environ.get(CRASH_AFTER_SMTP_ENV) == "1":
                os.kill(os.getpid(), signal.SIGKILL)
            if not delivered:
                _defer(message, RuntimeError("the server refused the message"), now)
            else:
                message.status, message.sent_at, message.last_error = EmailStatus.SENT, utcnow(), None
                sent += 1
            db.session.commit()
    finally:
        connection.close()
    return sent
