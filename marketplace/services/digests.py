"""The daily digests: held e-mails gathered into one message per person, and new goals for mentors.

Each digest is an outbox row keyed by (kind, person, day), written in the same transaction that marks
its parts digested, so a digest job that runs twice in a day (or is killed halfway) sends each once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from sqlalchemy import select

from ..extensions import db
from ..models import NotificationSetting, OutgoingEmail, User, as_utc, utcnow
from ..states import EmailStatus
from . import emails, goals, outbox, preferences


def _digest_mail(user: User, kind: str, day: str, intro: str, items: list[dict[str, Any]], link: str,
                 link_label: str, language: str) -> OutgoingEmail:
    """Queue one digest e-mail (text and HTML) in the caller's transaction."""
    settings = emails.absolute_url("preferences.settings")
    greeting = _("Hello %(name)s,", name=user.first_name)
    html = emails.render_email("emails/digest.html", greeting=greeting, intro=intro, items=items, link=link,
                           link_label=link_label, settings_link=settings, language=language)
    lines = [greeting, "", intro, ""]
    lines += [f"- {item['text']}" + (f"\n  {item['link']}" if item.get("link") else "") for item in items]
    lines += ["", f"{link_label}: {link}", "", "-- ", _("Tandem, cross-company reverse mentoring."),
              _("Choose which e-mails you get: %(link)s", link=settings)]
    return outbox.queue(user.email, intro[:255], "\n".join(lines) + "\n", html=html, kind=kind, obj=("user", user.id),
                        recipient_user=user, occasion=day, language=language)


def _already_sent(kind: str, user_id: int, day: str) -> bool:
    return db.session.scalar(
        select(OutgoingEmail.id).where(OutgoingEmail.kind == kind, OutgoingEmail.recipient_user_id == user_id,
                                       OutgoingEmail.occasion == day).limit(1)
    ) is not None


def send_held(now: datetime | None = None) -> int:
    """One digest per person with held e-mails; returns how many digests were queued."""
    now = now or utcnow()
    day = now.date().isoformat()
    user_ids = list(db.session.scalars(
        select(OutgoingEmail.recipient_user_id).where(OutgoingEmail.status == EmailStatus.HELD).distinct()
    ))
    queued = 0
    for user_id in user_ids:
        user = db.session.get(User, user_id) if user_id is not None else None
        held = list(db.session.scalars(
            select(OutgoingEmail).where(
                OutgoingEmail.status == EmailStatus.HELD, OutgoingEmail.recipient_user_id == user_id
            )
            .order_by(OutgoingEmail.created_at, OutgoingEmail.id).with_for_update()
        ))
        if user is None or not held or _already_sent(preferences.DIGEST_KIND, user_id, day):
            db.session.rollback()  # today's digest went out: these wait for tomorrow's
            continue
        language = emails.recipient_locale(user)
        with force_locale(language):
            intro = ngettext("Your Tandem digest: %(num)d update", "Your Tandem digest: %(num)d updates", len(held))
            _digest_mail(user, preferences.DIGEST_KIND, day, intro, [{"text": row.subject} for row in held],
                         emails.absolute_url("main.notifications"), _("All your notifications"), language)
        for row in held:
            row.status, row.sent_at = EmailStatus.DIGESTED, now
        db.session.commit()
        queued += 1
    return queued


def send_new_goals(now: datetime | None = None, k: int = 10) -> int:
    """Mentors who opted in hear of open goals from the last day they could help with (DESIGN.md: title,
    topics, the owner's first name and company only); returns how many e-mails were queued."""
    from .matching import search

    now = now or utcnow()
    day = now.date().isoformat()
    since = now - timedelta(days=1)
    queued = 0
    for user_id in list(db.session.scalars(
        select(NotificationSetting.user_id).where(
            NotificationSetting.kind == preferences.NEW_GOALS, NotificationSetting.mode == preferences.DIGEST
        )
    )):
        user = db.session.get(User, user_id)
        profile = user.mentor_profile if user is not None else None
        if profile is None or not profile.is_open or _already_sent(preferences.NEW_GOALS, user_id, day):
            continue
        fresh = [match.goal for match in search.goals_for_mentor(profile, k=k)
                 if as_utc(match.goal.created_at) >= since]
        summaries = [s for s in (goals.discoverable_goal_summary(goal) for goal in fresh) if s is not None]
        if not summaries:
            continue
        language = emails.recipient_locale(user)
        with force_locale(language):
            items = [
                {"text": _("“%(title)s” (%(name)s, %(company)s)", title=s.title, name=s.owner_first_name,
                           company=s.owner_company or "—")}
                for s in summaries
            ]
            intro = ngettext("%(num)d new goal you could help with", "%(num)d new goals you could help with",
                             len(items))
            _digest_mail(user, preferences.NEW_GOALS, day, intro, items, emails.absolute_url("mentors.my_profile"),
                         _("See them on your profile"), language)
        db.session.commit()
        queued += 1
    return queued
