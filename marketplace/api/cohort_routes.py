"""Cohort endpoints of the JSON API, on the same blueprint, authentication and error shape as the rest.

Community managers only, except that a participant may list and read the cohorts they are in.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import g, request
from flask_babel import gettext as _

from ..errors import ApiError
from ..models import Cohort, CohortParticipant, Goal, Tandem, as_utc, get_by_id
from ..services import health, rematching, topics
from ..services.cohorts import assignment, enrolment, reports, review
from .routes import INTEGER, TEXT, _json_body, _person, api_field_names, bp, typed_fields


def _require_manager() -> None:
    if not g.api_user.is_manager:
        raise ApiError(403, "forbidden", _("Only community managers may do this."))


def _cohort_for_manager(cohort_id: int) -> Cohort:
    _require_manager()
    cohort = get_by_id(Cohort, cohort_id)
    if cohort is None:
        raise ApiError(404, "not_found", _("No such cohort."))
    return cohort


def cohort_json(cohort: Cohort, manager: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": cohort.id,
        "name": cohort.name,
        "description": cohort.description,
        "starts_on": cohort.starts_on.isoformat(),
        "ends_on": cohort.ends_on.isoformat(),
        "meeting_target": cohort.meeting_target,
        "state": cohort.state,
        "enrolment_open": cohort.enrolment_open,
        "focus_topics": [t.slug for t in cohort.focus_topics],
    }
    if manager:
        counts = enrolment.counts(cohort)
        data["counts"] = {
            "mentors": counts.mentors, "mentees": counts.mentees, "applied": counts.applied,
            "waitlisted": counts.waitlisted, "rejected": counts.rejected, "drafts": counts.drafts,
            "tandems": counts.published,
        }
    else:
        data["my_participation"] = [
            {"role": p.role, "status": p.status, "goal_id": p.goal_id}
            for p in enrolment.participations(g.api_user, cohort)
        ]
    return data


def draft_json(tandem: Tandem) -> dict[str, Any]:
    return {
        "id": tandem.id,
        "mentor": _person(tandem.mentor_user),
        "mentee": _person(tandem.mentee),
        "mentor_profile_id": tandem.mentor_profile_id,
        "goal_id": tandem.goal_id,
        "score": tandem.score,
        "reasons": list(tandem.reasons or []),
        "locked": tandem.locked,
    }


@bp.get("/cohorts")
def list_cohorts():
    manager = g.api_user.is_manager
    found = enrolment.all_cohorts() if manager else enrolment.cohorts_of(g.api_user)
    return {"cohorts": [cohort_json(c, manager) for c in found]}


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
    return cohort_json(cohort, True), 201


@bp.get("/cohorts/<int:cohort_id>")
def get_cohort(cohort_id: int):
    cohort = get_by_id(Cohort, cohort_id)
    manager = g.api_user.is_manager
    if cohort is None or not (manager or enrolment.is_participant(cohort, g.api_user)):
        raise ApiError(404, "not_found", _("No such cohort."))
    return cohort_json(cohort, manager)


@bp.post("/cohorts/<int:cohort_id>/match")
def match_cohort(cohort_id: int):
    cohort = _cohort_for_manager(cohort_id)
    result = assignment.run(cohort)
    return {
        "tandems": [draft_json(t) for t in result.drafts],
        "unmatched": [u.as_json() for u in result.unmatched],
    }


@bp.post("/cohorts/<int:cohort_id>/publish")
def publish_cohort(cohort_id: int):
    cohort = _cohort_for_manager(cohort_id)
    count = review.publish(cohort)
    return {"published": count}


@bp.get("/cohorts/<int:cohort_id>/report")
def cohort_report(cohort_id: int):
    cohort = _cohort_for_manager(cohort_id)
    return reports.report(cohort)


@bp.get("/cohorts/<int:cohort_id>/health")
def cohort_health(cohort_id: int):
    """Every running tandem of the cohort with its pair health and the reasons' codes, at risk first."""
    cohort = _cohort_for_manager(cohort_id)
    return {"tandems": [{"id": row.tandem.id, "health": row.health, "reasons": row.reason_codes}
                        for row in health.cohort_health(cohort)]}


# --- applications --------------------------------------------------------------------------------

# The API's verbs for the decisions services.cohorts.decide takes.
DECISIONS = {"accept": "accepted", "waitlist": "waitlisted", "reject": "rejected"}


def application_json(participant: CohortParticipant) -> dict[str, Any]:
    return {
        "id": participant.id,
        "cohort_id": participant.cohort_id,
        "person": _person(participant.user),
        "role": participant.role,
        "status": participant.status,
        "goal_id": participant.goal_id,
        "created_at": as_utc(participant.created_at).isoformat(),
    }


def _application(cohort: Cohort, participant_id: int) -> CohortParticipant:
    participant = get_by_id(CohortParticipant, participant_id)
    if participant is None or participant.cohort_id != cohort.id:
        raise ApiError(404, "not_found", _("No such application."))
    return participant


@bp.get("/cohorts/<int:cohort_id>/applications")
def list_applications(cohort_id: int):
    cohort = _cohort_for_manager(cohort_id)
    return {"applications": [application_json(p) for p in enrolment.participants(cohort)]}


@bp.post("/cohorts/<int:cohort_id>/applications")
def apply_to_cohort(cohort_id: int):
    """The caller applies as mentor, or as mentee with one of their open goals (as on the cohort's page)."""
    cohort = get_by_id(Cohort, cohort_id)
    if cohort is None or not enrolment.can_view(cohort, g.api_user):
        raise ApiError(404, "not_found", _("No such cohort."))
    body = typed_fields(_json_body(), {"role": TEXT, "goal_id": INTEGER})
    goal = get_by_id(Goal, body["goal_id"]) if "goal_id" in body else None
    participant = enrolment.apply(cohort, g.api_user, body.get("role", ""), goal)
    return application_json(participant), 201


@bp.get("/cohorts/<int:cohort_id>/applications/<int:participant_id>")
def get_application(cohort_id: int, participant_id: int):
    """Community managers, and the applicant themselves."""
    cohort = get_by_id(Cohort, cohort_id)
    participant = _application(cohort, participant_id) if cohort is not None else None
    if participant is None or not (g.api_user.is_manager or participant.user_id == g.api_user.id):
        raise ApiError(404, "not_found", _("No such application."))
    return application_json(participant)


@bp.post("/cohorts/<int:cohort_id>/applications/<int:participant_id>")
def decide_application(cohort_id: int, participant_id: int):
    participant = _application(_cohort_for_manager(cohort_id), participant_id)
    decision = typed_fields(_json_body(), {"decision": TEXT}).get("decision")
    if decision not in DECISIONS:
        raise ApiError(422, "invalid_fields", _("Some fields are missing or wrong."),
                       {"decision": _("One of accept, waitlist or reject.")})
    enrolment.decide(participant, DECISIONS[decision])
    return application_json(participant)


def freed_slot_json(slot: rematching.FreedSlot) -> dict[str, Any]:
    proposal = slot.proposal
    return {
        "mentor": _person(slot.mentor.user),
        "mentor_id": slot.mentor.id,
        "free": slot.free,
        "proposal": None if proposal is None else {
            "participant_id": proposal.participant.id,
            "mentee": _person(proposal.participant.user),
            "status": proposal.participant.status,
            "goal_id": proposal.goal.id,
            "score": proposal.score,
            "reasons": list(proposal.reasons),
        },
    }


@bp.route("/cohorts/<int:cohort_id>/freed-slots", methods=["GET", "POST"])
def cohort_freed_slots(cohort_id: int):
    """GET: slots freed by early ends, each with the best waiting mentee; POST `{"mentor_id", "participant_id"}`
    confirms one: 201 with the running tandem, 409 when the slot was taken or a rule forbids the pair."""
    cohort = _cohort_for_manager(cohort_id)
    if request.method == "GET":
        return {"slots": [freed_slot_json(slot) for slot in rematching.freed_slots(cohort)]}
    body = typed_fields(_json_body(), {"mentor_id": INTEGER, "participant_id": INTEGER})
    missing = {name: _("Required.") for name in ("mentor_id", "participant_id") if name not in body}
    if missing:
        raise ApiError(422, "invalid_fields", _("Some fields are missing or wrong."), missing)
    tandem = rematching.confirm(cohort, body["mentor_id"], body["participant_id"])
    return {**draft_json(tandem), "status": tandem.status}, 201
