"""Notifications: in-app (with an unread count in the header) and, through the outbox, by e-mail.

`notify` is the one call for an event that concerns someone. A notification stores a message key and
its parameters, never rendered text, so each reader sees it in their own language at reading time; the
e-mail is written in the recipient's language (emails.recipient_locale), not the sender's.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import current_app
from flask_babel import force_locale, format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select

from ..extensions import db
from ..models import Notification, OutgoingEmail, User, get_by_id, utcnow
from ..states import EmailStatus
from . import emails, outbox, preferences, timezones

# Message key -> English source text with %(name)s placeholders (translated in the catalogue).
MESSAGES = {
    "request_received": _l("%(name)s asks you to mentor them on “%(title)s”."),
    "request_accepted": _l("%(name)s accepted your tandem request for “%(title)s”."),
    "request_declined": _l("%(name)s declined your request."),
    "request_withdrawn": _l("A tandem request to you was withdrawn."),
    "request_withdrawn_matched": _l("The request for “%(title)s” was withdrawn: the goal found a mentor."),
    "request_withdrawn_cohort": _l(
        "The request for “%(title)s” was withdrawn: the goal found a mentor in a cohort."
    ),
    "offer_received": _l("%(name)s offers to mentor you on “%(title)s”. Accept the offer to start the tandem."),
    "offer_accepted": _l("%(name)s accepted your offer to help with “%(title)s”."),
    "offer_declined": _l("%(name)s declined your offer to help with “%(title)s”."),
    "offer_withdrawn": _l("%(name)s withdrew the offer to help with “%(title)s”."),
    "offer_closed_matched": _l("Your offer to help with “%(title)s” is closed: the goal found a mentor."),
    "tandem_started": _l("Your tandem with %(name)s on “%(title)s” has started."),
    "tandem_ended": _l("%(name)s ended your tandem: %(reason)s"),
    "cohort_published_mentee": _l(
        "Your tandem in “%(cohort)s” is ready: %(name)s will mentor you on “%(title)s”. Open the kick-off checklist."
    ),
    "cohort_published_mentor": _l(
        "Your tandem in “%(cohort)s” is ready: you mentor %(name)s on “%(title)s”. Open the kick-off checklist."
    ),
    "cohort_application_mentor": _l("%(name)s applied to “%(cohort)s” as mentor."),
    "cohort_application_mentee": _l("%(name)s applied to “%(cohort)s” as mentee."),
    "cohort_accepted": _l("You are in! Your application to “%(cohort)s” was accepted."),
    "cohort_waitlisted": _l("Your application to “%(cohort)s” is on the waiting list."),
    "cohort_rejected": _l("Your application to “%(cohort)s” was not accepted this time."),
    "survey_open": _l(
        "“%(cohort)s” has ended. Tell us how it went: the survey takes two minutes and is anonymous."
    ),
    # Kept for notifications written before meetings had a time.
    "meeting_planned": _l("%(name)s planned a meeting on %(date)s. Add it to your calendar."),
    "meeting_invite": _l("Your meeting with %(name)s: %(when)s. The invite for your calendar is attached."),
    "meeting_moved": _l("Your meeting with %(name)s moved to %(when)s. The updated invite is attached."),
    "meeting_cancelled": _l("Your meeting with %(name)s on %(when)s was cancelled."),
    "meeting_reminder": _l("Reminder: your meeting with %(name)s is coming up, %(when)s."),
    "meeting_outcome": _l(
        "Did your meeting with %(name)s on %(when)s take place? Tell us on your tandem page: held, missed or moved."
    ),
    "proposal_received": _l("%(name)s proposes times to meet: %(slots)s. Pick one on your tandem page."),
    "proposal_picked": _l(
        "%(name)s picked %(when)s from the times you proposed. The invite for your calendar is attached."
    ),
    "proposal_declined": _l("%(name)s asks for other times to meet. Propose new ones on your tandem page."),
    "proposal_declined_note": _l(
        "%(name)s asks for other times to meet: “%(note)s” Propose new ones on your tandem page."
    ),
    "proposal_withdrawn": _l("%(name)s withdrew the times they proposed to meet."),
    "tandem_ended_next": _l(
        "%(name)s ended your tandem on “%(title)s” (“%(reason)s”). Your goal is open again. "
        "Mentors who could help you next: %(suggestions)s."
    ),
    "tandem_ended_none": _l(
        "%(name)s ended your tandem on “%(title)s” (“%(reason)s”). Your goal is open again: open it to find a "
        "new mentor."
    ),
    "tandem_ended_own_next": _l(
        "Your tandem on “%(title)s” has ended and your goal is open again. Mentors who could help you next: "
        "%(suggestions)s."
    ),
    "tandem_ended_own_none": _l(
        "Your tandem on “%(title)s” has ended and your goal is open again: open it to find a new mentor."
    ),
    "tandem_ended_account_deleted": _l(
        "Your tandem on “%(title)s” has ended: your mentee deleted their account. Your slot is free again."
    ),
    "tandem_ended_mentor_deleted_next": _l(
        "Your tandem on “%(title)s” has ended: your mentor deleted their account. Your goal is open again. "
        "Mentors who could help you next: %(suggestions)s."
    ),
    "tandem_ended_mentor_deleted_none": _l(
        "Your tandem on “%(title)s” has ended: your mentor deleted their account. Your goal is open again: open "
        "it to find a new mentor."
    ),
    "request_ended_account_deleted": _l(
        "Your request for “%(title)s” has ended: the mentor deleted their account. Mentors who could help you "
        "next: %(suggestions)s."
    ),
    "request_ended_account_deleted_none": _l(
        "Your request for “%(title)s” has ended: the mentor deleted their account. Open the goal for new "
        "suggestions."
    ),
    "offer_ended_account_deleted": _l(
        "The offer to help with “%(title)s” has ended: the mentor deleted their account."
    ),
    "request_ended_profile_deleted": _l(
        "Your request for “%(title)s” has ended: the mentor removed their mentor profile. Mentors who could help "
        "you next: %(suggestions)s."
    ),
    "request_ended_profile_deleted_none": _l(
        "Your request for “%(title)s” has ended: the mentor removed their mentor profile. Open the goal for new "
        "suggestions."
    ),
    "offer_ended_profile_deleted": _l(
        "The offer to help with “%(title)s” has ended: the mentor removed their mentor profile."
    ),
    "offer_ended_goal_deleted": _l(
        "Your offer to help with “%(title)s” has ended: its owner deleted the goal."
    ),
    "offer_ended_owner_deleted": _l(
        "Your offer to help with “%(title)s” has ended: the goal's owner deleted their account."
    ),
    "request_declined_next": _l(
        "%(name)s declined your request for “%(title)s”. Mentors who could help you next: %(suggestions)s."
    ),
    "cohort_slot_freed": _l(
        "A tandem in “%(cohort)s” ended early, so %(name)s has a free slot. The cohort page proposes a mentee "
        "from the waiting list: confirm it to pair them."
    ),
    "cohort_mentor_left": _l(
        "A tandem in “%(cohort)s” ended: the mentor deleted their account. %(name)s waits for a new mentor; the "
        "cohort page proposes waiting mentees for freed slots."
    ),
    "request_cancelled": _l("The tandem request for “%(title)s” was cancelled: %(reason)s"),
    "draft_removed": _l("A draft pair in “%(cohort)s” was removed: %(reason)s"),
    "running_tandem_rule_broken": _l(
        "The running tandem of %(mentee)s with %(mentor)s on “%(title)s” now breaks a hard rule: %(reason)s It "
        "was not ended: decide with the two whether to end it."
    ),
    "request_reminder": _l(
        "%(name)s is waiting for your answer on “%(title)s”. Without an answer the request expires on %(date)s."
    ),
    "request_expired": _l(
        "Your request to %(name)s for “%(title)s” expired without an answer. "
        "Mentors who could help you next: %(suggestions)s."
    ),
    "request_expired_none": _l(
        "Your request to %(name)s for “%(title)s” expired without an answer. Open the goal for new suggestions."
    ),
    "request_expired_mentor": _l("The request from %(name)s for “%(title)s” expired without an answer."),
    "mentor_paused_inactive": _l(
        "%(count)d requests in a row expired without an answer, so your mentor profile is paused: it is not "
        "shown in search and suggestions. Back? One click on the link and it is open again."
    ),
    "no_meeting_nudge": _l(
        "No meeting of your tandem with %(name)s on “%(title)s” was logged in the last %(days)d days. "
        "Plan the next one, or log the one you had."
    ),
    "manager_nudge": _l(
        "%(manager)s, your community manager, asks how your tandem with %(name)s on “%(title)s” is going. "
        "Plan your next meeting; if something is in the way, let your community manager know."
    ),
    "pulse_check": _l(
        "How is your tandem with %(name)s on “%(title)s” going? Two quick questions: %(name)s never sees "
        "your answers."
    ),
    "survey_soon": _l("“%(cohort)s” ends on %(date)s. A two-minute survey follows: please look out for it."),
    "merge_tandems_inside_company": _l(
        "%(old)s was merged into %(new)s. These running tandems are now inside one company (%(n)d): "
        "%(tandems)s. They were not ended: decide with the people whether to end them."
    ),
}


def link_to(endpoint: str, **values: object) -> str:
    """A site-relative link for a notification, in a request or not (CLI imports, background work)."""
    root = current_app.config["APPLICATION_ROOT"]
    return current_app.url_map.bind("localhost", script_name=root).build(endpoint, values)


def render(key: str | None, params: dict[str, Any], fallback: str = "", reader: User | None = None) -> str:
    """A message in the current language; a `date` parameter (ISO) is formatted the reader's way, a `when`
    (an ISO instant) and `slots` (a list of them) also in the reader's time zone."""
    template = MESSAGES.get(key or "")
    if template is None:
        return fallback
    values = dict(params)
    if "name" in values and values["name"] is None:  # a partner who deleted their account
        values["name"] = _("(former member)")
    if isinstance(values.get("date"), str):
        values["date"] = format_date(date.fromisoformat(values["date"]))
    if isinstance(values.get("when"), str):
        values["when"] = timezones.format_instant(datetime.fromisoformat(values["when"]), reader)
    if isinstance(values.get("slots"), list):  # proposed times (ISO instants), each in the reader's zone
        values["slots"] = "; ".join(timezones.format_instant(datetime.fromisoformat(moment), reader)
                                    for moment in values["slots"])
    if "reason_code" in values:  # a hard rule's reason, in the reader's language
        from .matching import rules

        values["reason"] = str(rules.REASONS.get(values["reason_code"], values["reason_code"]))
    return str(template) % values


def text(notification: Notification) -> str:
    """What the reader sees, in the page's language (rows from before message keys keep their text)."""
    return render(notification.message_key, notification.params or {}, notification.message,
                  db.session.get(User, notification.user_id))


def notify(
    user: User | int,
    kind: str,
    key: str,
    params: dict[str, Any] | None = None,
    link: str | None = None,
    *,
    obj: tuple[str, int] | None = None,
    occasion: str = "",
    contact: User | None = None,
    email: bool = True,
    ics: str | None = None,
) -> Notification | None:
    """Tell a person about an event: an in-app notification and, per their settings, an e-mail.

    Both are added to the current transaction (the caller commits, so they exist exactly when the change
    does). `kind` is what the person's settings choose by; `obj` and `occasion` make the e-mail's key (a
    second reminder about one object is a new occasion); `contact` adds a partner's name and address; `ics`
    attaches a calendar invite to the e-mail.
    """
    if key not in MESSAGES:
        raise KeyError(f"no notification message {key!r}: add it to MESSAGES")
    recipient = user if isinstance(user, User) else db.session.get(User, user)
    if recipient is None:
        return None
    params = {name: value.isoformat() if isinstance(value, date) else value for name, value in (params or {}).items()}
    with force_locale("en"):
        english = render(key, params, reader=recipient)
    notification = Notification(user_id=recipient.id, kind=kind, message_key=key, params=params, message=english,
                                link=link)
    db.session.add(notification)
    if email:
        queue_email(recipient, kind, key, params, link, obj=obj, occasion=occasion,
                    contact=contact, ics=ics)
    return notification


def absolute_link(link: str | None) -> str:
    base = current_app.config["TANDEM_BASE_URL"].rstrip("/")
    return base + (link or "/")


def queue_email(
    recipient: User,
    kind: str,
    key: str,
    params: dict[str, Any],
    link: str | None,
    *,
    obj: tuple[str, int] | None = None,
    occasion: str = "",
    contact: User | None = None,
    ics: str | None = None,
) -> OutgoingEmail | None:
    """The e-mail of one event, in the recipient's language, unless they turned the kind off."""
    chosen = preferences.mode(recipient, kind)
    if chosen == preferences.OFF:
        return None
    language = emails.recipient_locale(recipient)
    with force_locale(language):
        message = render(key, params, reader=recipient)
        page = absolute_link(link)
        settings = emails.absolute_url("preferences.settings")
        context = {
            "greeting": _("Hello %(name)s,", name=recipient.first_name), "message": message, "link": page,
            "contact": contact, "settings_link": settings, "language": language,
        }
        html = emails.render_email("emails/notification.html", **context)
        body = plain_text(context)
    # The e-mail's key names the event: two events of one settings kind about one object (an offer, then its
    # withdrawal) are two e-mails, while the same event queued twice stays one.
    return outbox.queue(
        recipient.email, message, body, html=html, kind=kind, obj=obj, recipient_user=recipient,
        occasion=occasion or key, language=language, ics=ics,
        status=EmailStatus.HELD if chosen == preferences.DIGEST else EmailStatus.PENDING,
    )


def plain_text(context: dict[str, Any]) -> str:
    """The text part: the same content as the HTML template, for clients that show no HTML."""
    lines = [context["greeting"], "", context["message"], "", _("Open it in Tandem:"), context["link"]]
    contact = context.get("contact")
    if contact is not None:
        lines += ["", _("Your partner's contact: %(name)s <%(email)s>", name=contact.name, email=contact.email)]
    lines += ["", "-- ", _("Tandem, cross-company reverse mentoring."),
              _("Choose which e-mails you get: %(link)s", link=context["settings_link"])]
    return "\n".join(lines) + "\n"


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


def mark_read_by_link(user: User, links: tuple[str, ...]) -> None:
    """Mark read the person's unread notifications that link to one of these pages (the page is open now),
    to a part of it too ("/goals/2#next-suggestions": the browser never sends the fragment). A read first,
    so the common case (nothing unread there) writes nothing."""
    to_page = or_(Notification.link.in_(links), *(Notification.link.startswith(f"{link}#", autoescape=True)
                                                  for link in links))
    unread = list(
        db.session.scalars(
            select(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None), to_page)
        )
    )
    if unread:
        for notification in unread:
            notification.read_at = utcnow()
        db.session.commit()


def mark_all_read(user: User) -> None:
    for notification in db.session.scalars(
        select(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    ):
        notification.read_at = utcnow()
    db.session.commit()


def mark_read(user: User, notification_id: int) -> Notification | None:
    """Mark one of `user`'s notifications read (again is harmless) and commit; None when it is not theirs."""
    notification = get_by_id(Notification, notification_id)
    if notification is None or notification.user_id != user.id:
        return None
    if notification.read_at is None:
        notification.read_at = utcnow()
        db.session.commit()
    return notification
