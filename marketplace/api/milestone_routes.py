"""Milestone endpoints of the JSON API: a goal's milestones, added and changed as on the pages.

A refused change (services/errors.py MilestoneError) becomes the API's error shape in marketplace/errors.py.

The goal's owner and the mentor of a running tandem on it read and tick them (only the owner adds, renames,
moves and removes); community managers read those of goals in a cohort; for anyone else the goal is not found.
"""

from __future__ import annotations

from flask import g, request
from flask_babel import gettext as _

from ..access import get_or_404
from ..errors import ApiError
from ..models import Goal
from ..services import milestones
from . import serializers
from .routes import _json_body, bp, refuse_unknown, unknown_fields

FIELDS = ("title", "done", "position")


def _goal(goal_id: int) -> Goal:
    return get_or_404(Goal, goal_id, lambda goal: milestones.can_read(goal, g.api_user), not_found=_("No such goal."))


# One rule per path for all its methods (see meeting_routes): ids beyond the range answer 404, not 405.
@bp.route("/goals/<int:goal_id>/milestones", methods=["GET", "POST"])
def goal_milestones(goal_id: int):
    """GET lists the goal's milestones in their order; POST adds one at the end (`title`)."""
    goal = _goal(goal_id)
    if request.method == "GET":
        return serializers.milestone_list_json(goal.milestones, milestones.progress(goal))
    body = _json_body()
    refuse_unknown(body, ("title",))
    milestone = milestones.add(goal, g.api_user, body.get("title"))
    return serializers.milestone_json(milestone), 201


@bp.route("/goals/<int:goal_id>/milestones/<int:milestone_id>", methods=["PATCH", "DELETE"])
def goal_milestone(goal_id: int, milestone_id: int):
    """PATCH changes `title`, `position` (the owner) or `done` (the partners); DELETE removes it (the owner)."""
    goal = _goal(goal_id)
    milestone = milestones.get(goal, milestone_id)
    if request.method == "DELETE":
        milestones.remove(goal, milestone, g.api_user)
        return "", 204
    body = _json_body()
    unknown = unknown_fields(body, FIELDS)
    if unknown or not body:
        raise ApiError(422, "invalid_fields", _("Send `title`, `done` or `position`."), unknown)
    return serializers.milestone_json(milestones.update(goal, milestone, g.api_user, body))
