"""What the account pages change, each one unit of work that commits.

`accounts` (the rules of accounts, sessions and tokens) and `emails` (the messages) leave the commit to their
caller, so that a sign-up, its time zone and its confirmation mail are saved together; the functions here are
those callers for the web (auth/ and main/ views never commit). A refusal (AccountError) or a clash
(IntegrityError) leaves the commit undone; the view rolls back.
"""

from __future__ import annotations

from ..extensions import db
from ..models import OutgoingEmail, User, UserSession
from . import accounts, emails, timezones


def sign_up(email: str, name: str, password: str, company_name: str, locale: str | None,
            time_zone: str | None) -> tuple[User, OutgoingEmail | None]:
    """A new account (with its time zone when it is a valid one) and the mail that confirms its company."""
    user = accounts.create_user(email, name, password, company_name=company_name, locale=locale)
    if timezones.is_valid(time_zone):
        user.time_zone = time_zone
    confirmation = emails.send_company_confirmation(user)
    db.session.commit()
    return user, confirmation


def tell_account_exists(user: User) -> None:
    emails.send_account_exists(user)
    db.session.commit()


def begin_session(user: User) -> UserSession:
    login = accounts.begin_login_session(user)
    db.session.commit()
    return login


def end_session(user: User) -> None:
    accounts.end_login_session(user)
    db.session.commit()


def send_password_reset(user: User) -> None:
    emails.send_password_reset(user)
    db.session.commit()


def use_one_time_token(secret: str, purpose: str, new_password: str) -> User | None:
    """The link's new password is set (None when a parallel request used the link first)."""
    user = accounts.use_one_time_token(secret, purpose, new_password)
    if user is not None:
        db.session.commit()
    return user


def confirm_company(secret: str) -> User | None:
    user = accounts.confirm_company(secret)
    if user is not None:
        db.session.commit()
    return user


def resend_company_confirmation(user: User) -> OutgoingEmail | None:
    """A new confirmation link (the older one dies); None when nothing awaits confirmation."""
    sent = emails.send_company_confirmation(user)
    if sent is not None:
        db.session.commit()
    return sent


def save_settings(user: User, locale: str | None, time_zone: str | None) -> None:
    """The language of pages and e-mails; the time zone only when one is given."""
    user.locale = locale
    if time_zone:
        user.time_zone = time_zone
    db.session.commit()


def save_language(user: User, locale: str) -> None:
    """The language of pages and e-mails, as the language switch chose it."""
    user.locale = locale
    db.session.commit()


def change_password(user: User, password: str) -> None:
    """The new password; every session of the user ends (the caller starts a new one)."""
    accounts.set_password(user, password)
    db.session.commit()


def create_api_token(user: User, name: str) -> str:
    secret = accounts.create_api_token(user, name)
    db.session.commit()
    return secret


def revoke_api_token(user: User, token_id: int) -> bool:
    """False when the user has no such token."""
    if not accounts.revoke_api_token(user, token_id):
        return False
    db.session.commit()
    return True
