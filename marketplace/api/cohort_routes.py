"""Cohort endpoints of the JSON API, on the same blueprint, authentication and error shape as the rest.

Community managers only, except that a participant may list and read the cohorts they are in.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import g, request
from flask_babel import gettext as _

from ..access import get_or_404
from ..errors import ApiError
from ..models import Cohort, CohortParticipant, Goal, get_by_id
from ..services import health, rematching, topics
from ..services.cohorts import assignment, enrolment, reports, review
from ..states import ParticipantStatus
from . import serializers
from .routes import INTEGER, TEXT, _json_body, api_field_names, bp, refuse_unknown, typed_fields


def _require_manager() -> None:
    if not g.api_user.is_manager:
        raise ApiError(403, "forbidden", _("Only community managers may do this."))


def _cohort_for_manager(cohort_id: int) -> Cohort:
    _require_manager()
    return get_or_404(Cohort, cohort_id, not_found=_("No such cohort."))


@bp.get("/cohorts")
def list_cohorts():
    found = enrolment.all_cohorts() if g.api_user.is_manager else enrolment.cohorts_of(g.api_user)
    return serializers.cohort_list_json(found, g.api_user)


def _date(body: dict[str, Any], name: str, fields: dict[str, str]) -> date | None:
    value = body.get(name)
    if not isinstance(value, str):
        fields[name] = _("Required, an ISO date such as 2027-03-01.")
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fields[name] = _("Not an ISO date such as 2027-03-01.")
        return None


@bp.post("/cohorts")
def create_cohort():
    _require_manager()
    body = _json_body()
    refuse_unknown(body, ("name", "starts_on", "ends_on", "meeting_target", "description", "focus_topics"))
    fields: dict[str, str] = {}
    name = body.get("name")
    if not isinstance(name, str):
        fields["name"] = _("Required text.")
    starts_on, ends_on = _date(body, "starts_on", fields), _date(body, "ends_on", fields)
    target = body.get("meeting_target", enrolment.DEFAULT_TARGET)
    if not isinstance(target, int) or isinstance(target, bool):
        fields["meeting_target"] = _("A whole number.")
    description = body.get("description", "")
    if not isinstance(description, str):
        fields["description"] = _("Text.")
    focus = body.get("focus_topics", [])
    if not isinstance(focus, list) or not all(isinstance(t, str) and "\x00" not in t for t in focus):
        fields["focus_topics"] = _("A list of topic names or slugs.")
    if fields:
        raise ApiError(422, "invalid_fields", _("Some fields are missing or wrong."), fields)
    with api_field_names({"topics": "focus_topics"}):
        resolved = topics.resolve_topics(focus) if focus else []
    cohort = enrolment.create_cohort(name, starts_on, ends_on, target, description, resolved)
    return serializers.cohort_json(cohort, g.api_user), 201


@bp.get("/cohorts/<int:cohort_id>")
def get_cohort(cohort_id: int):
    cohort = get_or_404(Cohort, cohort_id, lambda cohort: enrolment.is_listed_for(cohort, g.api_user),
                        not_found=_("No such cohort."))
    return serializers.cohort_json(cohort, g.api_user)


@bp.post("/cohorts/<int:cohort_id>/match")
def match_cohort(cohort_id: int):
    cohort = _cohort_for_manager(cohort_id)
    return serializers.match_result_json(assignment.run(cohort))


@bp.post("/cohorts/<int:cohort_id>/publish")
def publish_cohort(cohort_id: int):
    cohort = _cohort_for_manager(cohort_id)
    return serializers.published_json(review.publish(cohort))


@bp.get("/cohorts/<int:cohort_id>/report")
def cohort_report(cohort_id: int):
    cohort = _cohort_for_manager(cohort_id)
    return reports.report(cohort)


@bp.get("/cohorts/<int:cohort_id>/health")
def cohort_health(cohort_id: int):
    """Every running tandem of the cohort with its pair health and the reasons' codes, at risk first."""
    cohort = _cohort_for_manager(cohort_id)
    return serializers.cohort_health_json(health.cohort_health(cohort))


# --- applications --------------------------------------------------------------------------------

# The API's verbs for the decisions services.cohorts.decide takes.
DECISIONS = {"accept": ParticipantStatus.ACCEPTED, "waitlist": ParticipantStatus.WAITLISTED,
             "reject": ParticipantStatus.REJECTED}


def _application(cohort: Cohort, participant_id: int) -> CohortParticipant:
    """The cohort's application `participant_id`, for those who may see it (managers and the applicant)."""
    return get_or_404(
        CohortParticipant, participant_id,
        lambda found: found.cohort_id == cohort.id and enrolment.can_see_application(found, g.api_user),
        not_found=_("No such application."),
    )


@bp.get("/cohorts/<int:cohort_id>/applications")
def list_applications(cohort_id: int):
    cohort = _cohort_for_manager(cohort_id)
    return serializers.application_list_json(enrolment.participants(cohort))


@bp.post("/cohorts/<int:cohort_id>/applications")
def apply_to_cohort(cohort_id: int):
    """The caller applies as mentor, or as mentee with one of their open goals (as on the cohort's page)."""
    cohort = get_or_404(Cohort, cohort_id, lambda cohort: enrolment.can_view(cohort, g.api_user),
                        not_found=_("No such cohort."))
    body = typed_fields(_json_body(), {"role": TEXT, "goal_id": INTEGER})
    goal = get_by_id(Goal, body["goal_id"]) if "goal_id" in body else None
    participant = enrolment.apply(cohort, g.api_user, body.get("role", ""), goal)
    return serializers.application_json(participant), 201


@bp.get("/cohorts/<int:cohort_id>/applications/<int:participant_id>")
def get_application(cohort_id: int, participant_id: int):
    """Community managers, and the applicant themselves."""
    cohort = get_or_404(Cohort, cohort_id, not_found=_("No such application."))
    return serializers.application_json(_application(cohort, participant_id))


@bp.post("/cohorts/<int:cohort_id>/applications/<int:participant_id>")
def decide_application(cohort_id: int, participant_id: int):
    participant = _application(_cohort_for_manager(cohort_id), participant_id)
    decision = typed_fields(_json_body(), {"decision": TEXT}).get("decision")
    if decision not in DECISIONS:
        raise ApiError(422, "invalid_fields", _("Some fields are missing or wrong."),
                       {"decision": _("One of accept, waitlist or reject.")})
    enrolment.decide(participant, DECISIONS[decision])
    return serializers.application_json(participant)


@bp.route("/cohorts/<int:cohort_id>/freed-slots", methods=["GET", "POST"])
def cohort_freed_slots(cohort_id: int):
    """GET: slots freed by early ends, each with the best waiting mentee; POST `{"mentor_id", "participant_id"}`
    confirms one: 201 with the running tandem, 409 when the slot was taken or a rule forbids the pair."""
    cohort = _cohort_for_manager(cohort_id)
    if request.method == "GET":
        return serializers.freed_slot_list_json(rematching.freed_slots(cohort))
    body = typed_fields(_json_body(), {"mentor_id": INTEGER, "participant_id": INTEGER})
    missing = {name: _("Required.") for name in ("mentor_id", "participant_id") if name not in body}
    if missing:
        raise ApiError(422, "invalid_fields", _("Some fields are missing or wrong."), missing)
    tandem = rematching.confirm(cohort, body["mentor_id"], body["participant_id"])
    return serializers.rematched_json(tandem), 201
