"""Proposal and availability endpoints of the JSON API: what the tandem page and the account page do.

The partners propose, pick, decline and withdraw; community managers read the proposals of cohort tandems.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import g, request
from flask_babel import gettext as _

from ..errors import ApiError
from ..services import scheduling
from . import serializers
from .meeting_routes import _tandem
from .routes import _json_body, bp, refuse_unknown, unknown_fields

SLOT_FIELDS = ("starts_at", "duration_minutes", "video_url", "topic")


def _raise_indexed(problem: scheduling.SchedulingError, prefix: str) -> None:
    """A refusal about one item of a list names the body's field, e.g. `slots[1].starts_at`; any other
    refusal goes on to the one error handler (marketplace/errors.py) as it is."""
    if problem.field is None or problem.slot is None:
        raise problem
    name = f"{prefix}[{problem.slot}].{problem.field}"
    raise ApiError(problem.status, problem.code, problem.message, {name: problem.message}) from None


def _slots(body: dict[str, Any]) -> list[scheduling.SlotInput]:
    """The body's `slots`, typed: each a time with its offset, text where text belongs."""
    refuse_unknown(body, ("slots",))
    raw = body.get("slots")
    if not isinstance(raw, list) or not 1 <= len(raw) <= scheduling.MAX_SLOTS:
        raise ApiError(422, "invalid_fields", _("Some fields are missing or wrong."),
                       {"slots": _("One to three times, each an object with starts_at.")})
    errors: dict[str, str] = {}
    slots = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            errors[f"slots[{index}]"] = _("An object with starts_at.")
            continue
        errors.update(unknown_fields(item, SLOT_FIELDS, f"slots[{index}]."))
        value = item.get("starts_at")
        try:
            starts = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            starts = None
        if starts is None or starts.utcoffset() is None:
            errors[f"slots[{index}].starts_at"] = _("An ISO 8601 time with its offset, e.g. 2027-03-02T18:00:00+01:00.")
        for name in ("video_url", "topic"):
            if item.get(name) is not None and not isinstance(item.get(name), str):
                errors[f"slots[{index}].{name}"] = _("Must be text.")
        slots.append(scheduling.SlotInput(starts, item.get("duration_minutes", 60), item.get("video_url") or "",
                                          item.get("topic") or ""))
    if errors:
        raise ApiError(422, "invalid_fields", _("Some fields are missing or wrong."), errors)
    return slots


@bp.route("/tandems/<int:tandem_id>/proposals", methods=["GET", "POST"])
def tandem_proposals(tandem_id: int):
    """GET lists the tandem's proposals, newest first; POST proposes one to three times."""
    tandem = _tandem(tandem_id)
    if request.method == "GET":
        return serializers.proposal_list_json(scheduling.proposals_of(tandem), g.api_user)
    slots = _slots(_json_body())
    try:
        proposal = scheduling.propose(tandem, g.api_user, slots)
    except scheduling.SchedulingError as problem:
        _raise_indexed(problem, "slots")
    return serializers.proposal_json(proposal, g.api_user), 201


@bp.get("/tandems/<int:tandem_id>/proposals/<int:proposal_id>")
def tandem_proposal(tandem_id: int, proposal_id: int):
    tandem = _tandem(tandem_id)
    return serializers.proposal_json(scheduling.get(tandem, proposal_id, g.api_user), g.api_user)


@bp.post("/tandems/<int:tandem_id>/proposals/<int:proposal_id>/pick")
def pick_proposal(tandem_id: int, proposal_id: int):
    """Pick one time (`slot`, its id): 201 with the planned meeting; 409 when the proposal was answered."""
    tandem = _tandem(tandem_id)
    body = _json_body()
    refuse_unknown(body, ("slot",))
    slot = body.get("slot")
    if not isinstance(slot, int) or isinstance(slot, bool):
        raise ApiError(422, "invalid_fields", _("Some fields are missing or wrong."),
                       {"slot": _("The id of one of the proposed times.")})
    meeting = scheduling.pick(tandem, proposal_id, g.api_user, slot)
    return serializers.meeting_json(meeting), 201


@bp.post("/tandems/<int:tandem_id>/proposals/<int:proposal_id>/decline")
def decline_proposal(tandem_id: int, proposal_id: int):
    """Decline every time and ask for others, with an optional `note`."""
    tandem = _tandem(tandem_id)
    body = _json_body(required=False)
    refuse_unknown(body, ("note",))
    note = body.get("note")
    if note is not None and not isinstance(note, str):
        raise ApiError(422, "invalid_fields", _("Some fields are missing or wrong."), {"note": _("Must be text.")})
    return serializers.proposal_json(scheduling.decline(tandem, proposal_id, g.api_user, note or ""), g.api_user)


@bp.post("/tandems/<int:tandem_id>/proposals/<int:proposal_id>/withdraw")
def withdraw_proposal(tandem_id: int, proposal_id: int):
    tandem = _tandem(tandem_id)
    return serializers.proposal_json(scheduling.withdraw(tandem, proposal_id, g.api_user), g.api_user)


def _windows(body: dict[str, Any]) -> list[tuple[int, int, int]]:
    refuse_unknown(body, ("windows",))
    raw = body.get("windows")
    if not isinstance(raw, list):
        raise ApiError(422, "invalid_fields", _("Some fields are missing or wrong."),
                       {"windows": _("A list of windows, each with weekday, starts and ends.")})
    windows, errors = [], {}
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            errors[f"windows[{index}]"] = _("An object with weekday, starts and ends.")
            continue
        errors.update(unknown_fields(item, ("weekday", "starts", "ends"), f"windows[{index}]."))
        weekday = item.get("weekday")
        if weekday not in scheduling.WEEKDAYS:
            errors[f"windows[{index}].weekday"] = _("One of monday, tuesday, ... sunday.")
        try:
            starts = scheduling.parse_clock(item.get("starts"), "starts")
            ends = scheduling.parse_clock(item.get("ends"), "ends", end=True)
        except scheduling.SchedulingError as problem:
            errors[f"windows[{index}].{problem.field}"] = problem.message
            continue
        if weekday in scheduling.WEEKDAYS:
            windows.append((scheduling.WEEKDAYS.index(weekday), starts, ends))
    if errors:
        raise ApiError(422, "invalid_fields", _("Some fields are missing or wrong."), errors)
    return windows


@bp.route("/me/availability", methods=["GET", "PUT"])
def my_availability():
    """GET the caller's weekly windows (in their time zone); PUT replaces them all."""
    if request.method == "PUT":
        try:
            scheduling.replace_windows(g.api_user, _windows(_json_body()))
        except scheduling.SchedulingError as problem:
            _raise_indexed(problem, "windows")
    return serializers.availability_json(g.api_user, scheduling.windows_of(g.api_user))
