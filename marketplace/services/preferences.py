"""What e-mail a person wants, per kind: instantly, in a daily digest, or not at all; one-click unsubscribe.

Essential mail (password reset, invitation, e-mail confirmation, "an account already exists") has no
setting: it always goes and carries no unsubscribe link.
"""

from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select

from ..extensions import db
from ..models import NotificationSetting, OutgoingEmail, User, as_utc

INSTANTLY, DIGEST, OFF = "instantly", "digest", "off"
MODE_LABELS = {INSTANTLY: _l("Instantly"), DIGEST: _l("Daily digest"), OFF: _l("Off")}

# Kinds a person can set, in the order of the settings page; every one defaults to instantly.
KINDS = {
    "request_received": _l("Someone asks me for a tandem"),
    "request_accepted": _l("My tandem request was accepted"),
    "request_declined": _l("My tandem request was declined"),
    "request_withdrawn": _l("A request to me was withdrawn"),
    "offer_received": _l("A mentor offers help on my goal"),
    "offer_answered": _l("My offer of help is answered"),
    "request_expired": _l("A tandem request expired without an answer"),
    "mentor_paused": _l("My mentor profile was paused because requests expired"),
    "tandem_reminder": _l("Reminders during a tandem (no meeting lately)"),
    "tandem_nudge": _l("My community manager asks how my tandem goes"),
    "pulse_check": _l("Pulse checks: how is my tandem going?"),
    "tandem_started": _l("A tandem of mine starts"),
    "tandem_ended": _l("A tandem of mine is ended early"),
    "meeting_planned": _l("Meeting invites (planned, moved, cancelled)"),
    "meeting_proposal": _l("Proposed times to meet, and the answers to mine"),
    "meeting_reminder": _l("A reminder the day before a meeting"),
    "meeting_outcome": _l("The question whether a meeting took place"),
    "cohort_enrolment": _l("My cohort application is decided"),
    "cohort_application": _l("Someone applies to a cohort (community managers)"),
    "cohort_slot_freed": _l("A slot in a cohort is free again (community managers)"),
    "survey_open": _l("A cohort's survey opens"),
}
# Opt-in kinds: off until the person chooses the digest.
NEW_GOALS = "new_goals"
OPT_IN = {NEW_GOALS: _l("New open goals I could help with (mentors, daily digest)")}
DIGEST_KIND = "digest"
ESSENTIAL = ("password_reset", "invitation", "email_confirmation", "account_exists")


def modes_for(kind: str) -> tuple[str, ...]:
    return (DIGEST, OFF) if kind in OPT_IN else (INSTANTLY, DIGEST, OFF)


def default_mode(kind: str) -> str:
    return OFF if kind in OPT_IN else INSTANTLY


def settings_of(user: User) -> dict[str, str]:
    """Every settable kind with this person's mode (defaults filled in)."""
    rows = db.session.scalars(select(NotificationSetting).where(NotificationSetting.user_id == user.id))
    stored = {row.kind: row.mode for row in rows}
    return {kind: stored.get(kind, default_mode(kind)) for kind in (*KINDS, *OPT_IN)}


def mode(user: User, kind: str) -> str:
    """How this person wants `kind`; kinds without a setting (essential mail) always go instantly."""
    if kind not in KINDS and kind not in OPT_IN:
        return INSTANTLY
    stored = db.session.scalar(
        select(NotificationSetting.mode).where(NotificationSetting.user_id == user.id, NotificationSetting.kind == kind)
    )
    return stored or default_mode(kind)


def set_mode(user: User, kind: str, new_mode: str) -> None:
    """Store one choice in the caller's transaction; an unknown kind or mode is a programming error."""
    if new_mode not in modes_for(kind) or (kind not in KINDS and kind not in OPT_IN):
        raise ValueError(f"{kind}={new_mode}")
    setting = db.session.scalar(
        select(NotificationSetting).where(NotificationSetting.user_id == user.id, NotificationSetting.kind == kind)
    )
    if setting is None:
        db.session.add(NotificationSetting(user_id=user.id, kind=kind, mode=new_mode))
    else:
        setting.mode = new_mode


def save(user: User, choices: dict[str, str]) -> None:
    """The settings page: one mode per kind, one transaction."""
    for kind, new_mode in choices.items():
        set_mode(user, kind, new_mode)
    db.session.commit()


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="unsubscribe")


def unsubscribe_token(user_id: int, kind: str) -> str:
    """Signed, so nobody can unsubscribe someone else; no expiry, so an old mail's link still works. It names the
    account's creation too: an id a deleted account leaves can be a newer account's (SQLite reuses ids), and an
    old mail's link must not switch off that person's mail."""
    user = db.session.get(User, user_id)
    return _serializer().dumps({"u": user_id, "k": kind, "c": _created_stamp(user) if user is not None else None})


def _created_stamp(user: User) -> int:
    return int(as_utc(user.created_at).timestamp())


def signed_data(serializer: URLSafeSerializer, token: str, id_key: str) -> dict | None:
    """The content of a one-click link's signed token, with an integer under `id_key`; None if forged."""
    try:
        data = serializer.loads(token)
    except BadSignature:
        return None
    return data if isinstance(data, dict) and isinstance(data.get(id_key), int) else None


def read_token(token: str) -> tuple[User, str] | None:
    """The person and kind a link is for, or None for a forged or stale one."""
    data = signed_data(_serializer(), token, "u")
    if data is None:
        return None
    user = db.session.get(User, data["u"])
    kind = data.get("k")
    if user is None or not (kind in KINDS or kind in OPT_IN or kind == DIGEST_KIND):
        return None
    if "c" in data and data["c"] != _created_stamp(user):  # another, later account under the same id
        return None
    return user, kind


def unsubscribe(user: User, kind: str) -> None:
    """One click: that kind is off; the digest's link turns off every kind that went to the digest."""
    if kind == DIGEST_KIND:
        for digest_kind, current in settings_of(user).items():
            if current == DIGEST:
                set_mode(user, digest_kind, OFF)
    else:
        set_mode(user, kind, OFF)
    db.session.commit()


def unsubscribe_url(user_id: int, kind: str) -> str:
    from .emails import absolute_url

    return absolute_url("preferences.unsubscribe", token=unsubscribe_token(user_id, kind))


def unsubscribe_headers(message: OutgoingEmail) -> dict[str, str]:
    """RFC 8058 one-click headers for every kind but essential mail."""
    if not message.kind or message.kind in ESSENTIAL or message.recipient_user_id is None:
        return {}
    return {
        "List-Unsubscribe": f"<{unsubscribe_url(message.recipient_user_id, message.kind)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
