"""The caller's own things through the API, as the pages offer them: writing goals, the mentor profile, and
notifications. Every value goes through the services the pages use (services/profiles.py, notifications.py).
"""

from __future__ import annotations

from typing import Any

from flask import g
from flask_babel import gettext as _

from ..access import get_or_404
from ..errors import ApiError
from ..models import Goal, MentorProfile
from ..services import goals, notifications, profiles
from . import serializers
from .routes import (
    BOOLEAN,
    INTEGER,
    NULLABLE_TEXT,
    TEXT,
    TEXT_LIST,
    _json_body,
    api_field_names,
    bp,
    typed_fields,
)
from .serializers import current_locale

# --- goals ---------------------------------------------------------------------------------------

GOAL_FIELDS = {
    "title": TEXT, "description": TEXT, "topics": TEXT_LIST, "languages": TEXT_LIST, "exclude_companies": TEXT_LIST,
    "discoverable": BOOLEAN,
}
# profiles.save_goal's key -> the API's name, where they differ.
GOAL_NAMES = {"excluded_companies": "exclude_companies"}


def _goal_data(body: dict[str, Any]) -> dict[str, Any]:
    """The body in the shape profiles.save_goal takes."""
    data = typed_fields(body, GOAL_FIELDS)
    if "exclude_companies" in data:
        data["excluded_companies"] = data.pop("exclude_companies")
    return data


def _own_goal(goal_id: int) -> Goal:
    """As on the pages: 404 for a goal the caller may not see, 403 for one they see but do not own."""
    return get_or_404(
        Goal, goal_id, lambda goal: goals.can_view_goal(g.api_user, goal),
        allowed=lambda goal: goals.can_edit_goal(g.api_user, goal),
        not_found=_("No such goal."), forbidden=_("Only the goal's owner may change it."),
    )


@bp.post("/goals")
def create_goal():
    data = _goal_data(_json_body())
    data.setdefault("languages", goals.default_goal_languages(g.api_user, g.api_user.locale or current_locale()))
    with api_field_names(GOAL_NAMES):
        goal = goals.save_goal(g.api_user, data)
    return serializers.goal_json(goal, g.api_user), 201


@bp.patch("/goals/<int:goal_id>")
def update_goal(goal_id: int):
    goal = _own_goal(goal_id)
    data = _goal_data(_json_body())
    with api_field_names(GOAL_NAMES):
        goals.save_goal(g.api_user, data, goal)
    return serializers.goal_json(goal, g.api_user)


@bp.delete("/goals/<int:goal_id>")
def delete_goal(goal_id: int):
    goal = _own_goal(goal_id)
    goals.delete_goal(goal)
    return "", 204


# --- the caller's mentor profile -----------------------------------------------------------------

MENTOR_FIELDS = {
    "headline": TEXT, "text": TEXT, "topics": TEXT_LIST, "languages": TEXT_LIST, "capacity": INTEGER,
    "meetings_per_month": INTEGER, "meeting_format": TEXT, "city": NULLABLE_TEXT, "paused": BOOLEAN,
}
# profiles.save_mentor_profile's key -> the API's name, where they differ (`paused` is `not is_open`).
MENTOR_NAMES = {"teaching_text": "text"}


def _my_profile() -> MentorProfile:
    profile = g.api_user.mentor_profile
    if profile is None:
        raise ApiError(404, "not_found", _("You have no mentor profile yet."))
    return profile


@bp.get("/me/mentor-profile")
def get_my_mentor_profile():
    return serializers.mentor_profile_json(_my_profile())


@bp.put("/me/mentor-profile")
def put_my_mentor_profile():
    """Create or replace the whole profile: a field left out takes its default, as on a new form."""
    body = typed_fields(_json_body(), MENTOR_FIELDS)
    data = profiles.mentor_profile_defaults(g.api_user, current_locale()) | {"headline": None, "teaching_text": None}
    data |= {"teaching_text" if name == "text" else name: value for name, value in body.items() if name != "paused"}
    if "paused" in body:
        data["is_open"] = not body["paused"]
    creating = g.api_user.mentor_profile is None
    with api_field_names(MENTOR_NAMES):
        profile = profiles.save_mentor_profile(g.api_user, data)
    return serializers.mentor_profile_json(profile), 201 if creating else 200


@bp.delete("/me/mentor-profile")
def delete_my_mentor_profile():
    profile = _my_profile()
    profiles.delete_mentor_profile(profile)
    return "", 204


# --- notifications -------------------------------------------------------------------------------


@bp.get("/notifications")
def list_notifications():
    items = notifications.recent(g.api_user)
    return serializers.notification_list_json(items, notifications.unread_count(g.api_user))


@bp.post("/notifications/<int:notification_id>/read")
def read_notification(notification_id: int):
    notification = notifications.mark_read(g.api_user, notification_id)
    if notification is None:
        raise ApiError(404, "not_found", _("No such notification."))
    return serializers.notification_json(notification)
