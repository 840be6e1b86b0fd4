"""Meeting endpoints of the JSON API: a tandem's meetings, their changes and their invites.

The partners read and change their meetings; community managers read those of cohort tandems.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import g, request
from flask_babel import gettext as _

from ..access import get_or_404
from ..cohorts.meetings import invite_response
from ..errors import ApiError
from ..models import Meeting, Tandem
from ..services import meetings
from . import serializers
from .routes import _json_body, bp, unknown_fields

FIELDS = ("starts_at", "duration_minutes", "video_url", "topic", "status")


def _tandem(tandem_id: int) -> Tandem:
    return get_or_404(Tandem, tandem_id, lambda tandem: meetings.can_see(tandem, g.api_user),
                      not_found=_("No such tandem."))


def _fields(body: dict[str, Any]) -> dict[str, Any]:
    """The body's meeting fields, typed: a time with its offset, text where text belongs."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = unknown_fields(body, FIELDS)
    for name in FIELDS:
        if name not in body:
            continue
        value = body[name]
        if name == "starts_at":
            try:
                values[name] = datetime.fromisoformat(value) if isinstance(value, str) else None
            except ValueError:
                values[name] = None
            if values[name] is None or values[name].utcoffset() is None:
                errors[name] = _("An ISO 8601 time with its offset, e.g. 2027-03-02T18:00:00+01:00.")
        elif name == "duration_minutes":
            values[name] = value
        elif value is None and name in ("video_url", "topic"):
            values[name] = ""
        elif not isinstance(value, str):
            errors[name] = _("Must be text.")
        else:
            values[name] = value
    if errors:
        raise ApiError(422, "invalid_fields", _("Some fields are missing or wrong."), errors)
    return values


# One rule per path for all its methods: with a rule per method, Werkzeug answers an id beyond the
# database's range (refused by the id converter) with 405 instead of 404.
@bp.route("/tandems/<int:tandem_id>/meetings", methods=["GET", "POST"])
def tandem_meetings(tandem_id: int):
    """GET lists the tandem's meetings, earliest first; POST plans or logs one."""
    tandem = _tandem(tandem_id)
    if request.method == "POST":
        return _create(tandem)
    views = meetings.meetings_for(tandem, g.api_user)
    return serializers.meeting_list_json(view.meeting for view in reversed(views))


def _create(tandem: Tandem):
    values = _fields(_json_body())
    if "starts_at" not in values:
        raise ApiError(422, "invalid_fields", _("Some fields are missing or wrong."),
                       {"starts_at": _("Required: an ISO 8601 time with its offset.")})
    meeting = meetings.create(
        tandem, g.api_user, values["starts_at"], values.get("duration_minutes", 60),
        status=values.get("status", Meeting.PLANNED), video_url=values.get("video_url", ""),
        topic=values.get("topic", ""),
    )
    return serializers.meeting_json(meeting), 201


@bp.route("/tandems/<int:tandem_id>/meetings/<int:meeting_id>", methods=["PATCH", "DELETE"])
def tandem_meeting(tandem_id: int, meeting_id: int):
    """PATCH changes a meeting (moving it is a new `starts_at`); DELETE removes it (its author)."""
    tandem = _tandem(tandem_id)
    if request.method == "DELETE":
        meetings.delete_meeting(tandem, meeting_id, g.api_user)
        return "", 204
    return serializers.meeting_json(meetings.update(tandem, meeting_id, g.api_user, _fields(_json_body())))


@bp.get("/tandems/<int:tandem_id>/meetings/<int:meeting_id>/invite.ics")
def meeting_invite(tandem_id: int, meeting_id: int):
    return invite_response(_tandem(tandem_id), meeting_id, g.api_user)
