"""In-app notifications: everything a person must act on, with an unread count in the header."""

from __future__ import annotations

from flask import current_app, has_request_context, url_for
from flask_babel import force_locale
from sqlalchemy import func, select

from ..extensions import db
from ..models import Notification, User, utcnow
from .emails import recipient_locale


def link_to(endpoint: str, **values: object) -> str:
    """A site-relative link for a notification, in a request or not (CLI imports, background work)."""
    if has_request_context():
        return url_for(endpoint, **values)
    return current_app.url_map.bind("localhost").build(endpoint, values)


def notify(user: User | int, kind: str, message: str, link: str | None = None) -> Notification:
    """Queue a notification in the current transaction; the caller commits.

    Pass `message` as lazy_gettext(...) so it is written in the recipient's language, not the sender's.
    """
    user_id = user if isinstance(user, int) else user.id
    recipient = user if isinstance(user, User) else db.session.get(User, user_id)
    if recipient is not None:
        with force_locale(recipient_locale(recipient)):
            message = str(message)
    notification = Notification(user_id=user_id, kind=kind, message=str(message), link=link)
    db.session.add(notification)
    return notification


def unread_count(user: User) -> int:
    return db.session.scalar(
        select(func.count(Notification.id)).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    ) or 0


def recent(user: User, limit: int = 50) -> list[Notification]:
    return list(
        db.session.scalars(
            select(Notification)
            .where(Notification.user_id == user.id)
            .order_by(Notification.created_at.desc(), Notification.id.desc())
            .limit(limit)
        )
    )


def mark_all_read(user: User) -> None:
    for notification in db.session.scalars(
        select(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    ):
        notification.read_at = utcnow()
    db.session.commit()
