"""Outgoing e-mail: every message is stored, and sent by SMTP only when a mail server is configured.

Without MAIL_SERVER (development, small pilots) messages go to the log and stay in the
`outgoing_email` table for the managers' outbox page, so an invitation is never silently lost.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import urlsplit

from flask import current_app, has_request_context
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_mailman import EmailMessage

from ..extensions import db, mail
from ..models import OutgoingEmail, User
from . import accounts, companies

log = logging.getLogger(__name__)

DEFAULT_SMTP_TIMEOUT = 10  # seconds; a hanging mail server must not hang the request for long


def send_email(to: str, subject: str, body: str) -> OutgoingEmail:
    """Store the message, then deliver it by SMTP when a server is set; the caller commits.

    A delivery failure is logged and leaves `delivered` False instead of failing the request.
    """
    message = OutgoingEmail(recipient=to, subject=subject, body=body, delivered=False)
    db.session.add(message)
    db.session.flush()
    config = current_app.config
    if not config.get("MAIL_SERVER"):
        log.info("E-mail not sent (no MAIL_SERVER), kept in the outbox. To: %s Subject: %s\n%s", to, subject, body)
        return message
    try:
        connection = mail.get_connection(timeout=config.get("MAIL_TIMEOUT") or DEFAULT_SMTP_TIMEOUT)
        sent = EmailMessage(subject=subject, body=body, to=[to], connection=connection).send()
    except Exception:  # SMTP, DNS and socket errors alike: the outbox still has the message
        log.exception("Sending e-mail to %s failed (subject %r); it stays in the outbox.", to, subject)
        return message
    message.delivered = bool(sent)
    return message


def absolute_url(endpoint: str, **values: object) -> str:
    """A link for an e-mail, built from TANDEM_BASE_URL so it also works from the CLI (no request)."""
    base = urlsplit(current_app.config["TANDEM_BASE_URL"])
    adapter = current_app.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme or "https")
    return adapter.build(endpoint, values, force_external=True)


def recipient_locale(user: User) -> str:
    """Write in the recipient's language: their setting, else the current page's, else the default."""
    if user.locale in current_app.config.get("LANGUAGES", ["en", "de"]):
        return user.locale
    if has_request_context():
        return str(get_locale() or "en")
    return current_app.config.get("BABEL_DEFAULT_LOCALE", "en")


def send_password_reset(user: User) -> OutgoingEmail:
    """Issue a reset link (older ones die) and mail it; the caller commits."""
    hours = current_app.config["PASSWORD_RESET_HOURS"]
    token = accounts.issue_one_time_token(user, "reset", timedelta(hours=hours))
    link = absolute_url("auth.reset_password", token=token)
    with force_locale(recipient_locale(user)):
        subject = _("Reset your Tandem password")
        body = _(
            "Hello %(name)s,\n\n"
            "someone (hopefully you) asked to reset the password of your Tandem account.\n"
            "Choose a new password here:\n\n%(link)s\n\n"
            "The link works once and expires in %(hours)d hours. "
            "If you did not ask for it, ignore this message: your password stays as it is.\n",
            name=user.first_name,
            link=link,
            hours=hours,
        )
    return send_email(user.email, subject, body)


def send_invitation(user: User) -> OutgoingEmail:
    """Invite an imported person to set a password (older invitation links die); the caller commits."""
    days = current_app.config["INVITATION_DAYS"]
    token = accounts.issue_one_time_token(user, "invite", timedelta(days=days))
    link = absolute_url("auth.accept_invitation", token=token)
    with force_locale(recipient_locale(user)):
        subject = _("You are invited to Tandem")
        body = _(
            "Hello %(name)s,\n\n"
            "you have been invited to Tandem, the cross-company reverse-mentoring programme.\n"
            "Set your password to sign in:\n\n%(link)s\n\n"
            "The link works once and expires in %(days)d days.\n",
            name=user.first_name,
            link=link,
            days=days,
        )
    return send_email(user.email, subject, body)


def send_company_confirmation(user: User) -> OutgoingEmail | None:
    """Mail a link that verifies the company of the user's e-mail domain, when there is one to verify.

    Older confirmation links die; answers None when nothing awaits confirmation. The caller commits.
    """
    company = companies.unconfirmed_domain_company(user)
    if company is None:
        return None
    hours = current_app.config["COMPANY_CONFIRMATION_HOURS"]
    token = accounts.issue_one_time_token(user, accounts.COMPANY_CONFIRMATION, timedelta(hours=hours))
    link = absolute_url("auth.confirm_company", token=token)
    with force_locale(recipient_locale(user)):
        subject = _("Confirm that you work at %(company)s", company=company.name)
        body = _(
            "Hello %(name)s,\n\n"
            "your Tandem account uses the address %(email)s, which belongs to %(company)s.\n"
            "Open this link to confirm it; until then your company counts as self-declared:\n\n%(link)s\n\n"
            "The link works once and expires in %(hours)d hours. "
            "If you did not create a Tandem account, ignore this message.\n",
            name=user.first_name,
            email=user.email,
            company=company.name,
            link=link,
            hours=hours,
        )
    return send_email(user.email, subject, body)
