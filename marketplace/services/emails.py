"""E-mail texts and the recipient's language; the outbox (services/outbox.py) stores and sends them.

Without MAIL_SERVER (development, small pilots) messages go to the log and stay in the
`outgoing_email` table for the managers' outbox page, so an invitation is never silently lost.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from ..extensions import db
from ..models import Goal, OutgoingEmail, User
from . import accounts, companies, outbox


def send_email(to: str, subject: str, body: str, **fields) -> OutgoingEmail:
    """Put a message in the outbox; the caller's commit makes it durable and a job sends it.

    Keyword fields (html, kind, obj, recipient_user, occasion, language) are those of outbox.queue. Sending
    never happens here, so a mail server that is down cannot fail the request.
    """
    return outbox.queue(to, subject, body, **fields)


def render_email(template: str, **context: object) -> str:
    """An e-mail's HTML part (autoescaped) or text body (`.txt`, as written), without the page context (no
    current user: jobs have none)."""
    return current_app.jinja_env.get_template(template).render(**context)


def absolute_url(endpoint: str, **values: object) -> str:
    """A link for an e-mail, built from TANDEM_BASE_URL so it also works from the CLI (no request)."""
    base = urlsplit(current_app.config["TANDEM_BASE_URL"])
    adapter = current_app.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme or "https")
    return adapter.build(endpoint, values, force_external=True)


def recipient_locale(user: User) -> str:
    """The language to write to this person in: their account setting, else the first interface language of
    their mentor profile's languages, else of their newest goal's, else English. Never the sender's."""
    languages = current_app.config.get("LANGUAGES", ["en", "de"])
    if user.locale in languages:
        return user.locale
    lists = []
    if user.mentor_profile is not None:
        lists.append(user.mentor_profile.language_list)
    newest_goal = db.session.scalar(
        select(Goal).where(Goal.owner_id == user.id).order_by(Goal.created_at.desc(), Goal.id.desc()).limit(1)
    )
    if newest_goal is not None:
        lists.append(newest_goal.language_list)
    for codes in lists:
        for code in codes:
            if code in languages:
                return code
    return "en"


def _mail_to(user: User, kind: str, subject: Callable[[], str], *, obj: tuple[str, int] | None = None,
             occasion: str = "", **context: object) -> OutgoingEmail:
    """Queue the account mail `kind` to `user` in the recipient's language: `subject()` and the text of
    `templates/emails/<kind>.txt` with `context` (and `name`), plus the same text as an HTML part; `obj` and
    `occasion` go to the outbox (its key). The caller commits. The shape every account mail shares (reset,
    account exists, invitation, company confirmation); their texts are templates, as prose."""
    language = recipient_locale(user)
    with force_locale(language):
        body = render_email(f"emails/{kind}.txt", name=user.first_name, **context)
        # The same text as HTML, its links made clickable (urlize escapes everything else).
        html = render_email("emails/account.html", paragraphs=body.strip().split("\n\n"), language=language)
        title = subject()
    return send_email(user.email, title, body, html=html, kind=kind, recipient_user=user, language=language,
                      obj=obj, occasion=occasion)


def _one_time_link(user: User, purpose: str, lifetime: timedelta, endpoint: str) -> str:
    """A new one-time token for `purpose` (older ones die) as the absolute link to `endpoint` that spends it."""
    return absolute_url(endpoint, token=accounts.issue_one_time_token(user, purpose, lifetime))


def send_password_reset(user: User) -> OutgoingEmail:
    """Issue a reset link (older ones die) and mail it; the caller commits."""
    hours = current_app.config["PASSWORD_RESET_HOURS"]
    link = _one_time_link(user, "reset", timedelta(hours=hours), "auth.reset_password")
    return _mail_to(user, "password_reset", lambda: _("Reset your Tandem password"), link=link, hours=hours)


def send_account_exists(user: User) -> OutgoingEmail:
    """Someone signed up with this account's address: tell its owner (the page does not say it), with links to
    log in and to reset the password. At most one such message a day per account; the caller commits."""
    return _mail_to(user, "account_exists", lambda: _("You already have a Tandem account"), email=user.email,
                    login=absolute_url("auth.login"), reset=absolute_url("auth.forgot_password"),
                    obj=("user", user.id), occasion=date.today().isoformat())


def send_invitation(user: User) -> OutgoingEmail:
    """Invite an imported person to set a password (older invitation links die); the caller commits."""
    days = current_app.config["INVITATION_DAYS"]
    link = _one_time_link(user, "invite", timedelta(days=days), "auth.accept_invitation")
    return _mail_to(user, "invitation", lambda: _("You are invited to Tandem"), link=link, days=days)


def send_company_confirmation(user: User) -> OutgoingEmail | None:
    """Mail a link that verifies the company of the user's e-mail domain, when there is one to verify.

    Older confirmation links die; answers None when nothing awaits confirmation. The caller commits.
    """
    company = companies.unconfirmed_domain_company(user)
    if company is None:
        return None
    hours = current_app.config["COMPANY_CONFIRMATION_HOURS"]
    link = _one_time_link(user, accounts.COMPANY_CONFIRMATION, timedelta(hours=hours), "auth.confirm_company")
    return _mail_to(user, "email_confirmation",
                    lambda: _("Confirm that you work at %(company)s", company=company.name),
                    email=user.email, company=company.name, link=link, hours=hours)
