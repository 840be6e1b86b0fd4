"""JSON API: Bearer-token authentication, thin views over the services, one error shape."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from flask import Blueprint, g, request
from flask_babel import gettext as _

from ..access import get_or_404
from ..errors import ApiError
from ..input_checks import parse_json_body
from ..models import Goal, MentorProfile, Tandem
from ..services import accounts, goals, tandems
from ..services.errors import ServiceError
from ..services.fields import LANGUAGES, MESSAGE_MAX
from ..services.matching import search, taxonomy
from . import serializers
from .serializers import current_locale

bp = Blueprint("api", __name__, url_prefix="/api/v1")


OPENAPI_FILE = Path(__file__).with_name("openapi.yaml")


# Every text the API takes refuses a NUL byte (input_checks: PostgreSQL cannot store one), so every free
# string of the document says so, instead of each of them repeating the pattern.
NO_NUL_PATTERN = "^[^\\x00]*$"


def _refuse_nul_in_free_strings(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("type") == "string" and not {"pattern", "enum", "format"} & node.keys():
            node["pattern"] = NO_NUL_PATTERN
        for value in node.values():
            _refuse_nul_in_free_strings(value)
    elif isinstance(node, list):
        for value in node:
            _refuse_nul_in_free_strings(value)


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    document = yaml.safe_load(OPENAPI_FILE.read_text(encoding="utf-8"))
    _refuse_nul_in_free_strings(document)
    return document


@bp.get("/openapi.json")
def openapi():
    """The API description, public so tools can read it before they hold a token."""
    return openapi_document()


@bp.before_request
def authenticate() -> None:
    """Only a Bearer token counts here; cookies are ignored, so CSRF cannot reach the API."""
    if request.endpoint == "api.openapi":
        return
    user = accounts.load_user_from_bearer_token(request)
    if user is None:
        raise ApiError(401, "unauthorized", _("Send a valid API token as 'Authorization: Bearer TOKEN'."))
    g.api_user = user
    # One parser for every route's body, before the view: bad JSON never reaches a view or the database.
    g.json_body = parse_json_body()


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "invalid_parameter", _("'%(name)s' must be a whole number.", name=name),
                       {name: _("Not a whole number.")}) from None
    if not low <= value <= high:
        raise ApiError(400, "invalid_parameter", _("'%(name)s' must be between %(low)d and %(high)d.",
                                                   name=name, low=low, high=high),
                       {name: _("Out of range.")})
    return value


def _json_body(required: bool = True) -> dict[str, Any]:
    """The request's JSON object (checked by `parse_json_body`); {} for an optional, missing body."""
    if g.json_body is None and required:
        raise ApiError(400, "invalid_json", _("The request body must be a JSON object."))
    return g.json_body or {}


# JSON types of the fields a write route reads; the services judge the values (lengths, codes, rules).
TEXT, NULLABLE_TEXT, TEXT_LIST, INTEGER, BOOLEAN = "text", "nullable text", "text list", "integer", "boolean"


def _has_type(value: Any, kind: str) -> bool:
    if kind == NULLABLE_TEXT:
        return value is None or isinstance(value, str)
    if kind == TEXT_LIST:
        return isinstance(value, list) and all(isinstance(item, str) for item in value)
    if kind == INTEGER:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, {TEXT: str, BOOLEAN: bool}[kind])


def unknown_fields(body: dict[str, Any], known: Iterable[str], prefix: str = "") -> dict[str, str]:
    """The body's fields this route does not read, each with its message, named `prefix` + name (inside a list:
    "slots[0]."): a change a client thinks it made (`{"status": "completed"}` on a goal) must not answer 200
    and do nothing."""
    allowed = set(known)
    return {prefix + name: _("Unknown field.") for name in sorted(body) if name not in allowed}


def refuse_unknown(body: dict[str, Any], known: Iterable[str]) -> None:
    """422 naming every field of `body` the route does not read."""
    fields = unknown_fields(body, known)
    if fields:
        raise ApiError(422, "invalid_fields", _("Some fields are missing or wrong."), fields)


def typed_fields(body: dict[str, Any], kinds: dict[str, str]) -> dict[str, Any]:
    """The fields of `kinds` that `body` holds; raises 422 naming every field of the wrong JSON type and every
    field the route does not read."""
    messages = {TEXT: _("Text."), NULLABLE_TEXT: _("Text or null."), TEXT_LIST: _("A list of texts."),
                INTEGER: _("A whole number."), BOOLEAN: _("true or false.")}
    present = {name: body[name] for name in kinds if name in body}
    fields = {name: messages[kinds[name]] for name, value in present.items() if not _has_type(value, kinds[name])}
    fields.update(unknown_fields(body, kinds))
    if fields:
        raise ApiError(422, "invalid_fields", _("Some fields are missing or wrong."), fields)
    return present


@contextmanager
def api_field_names(names: dict[str, str]) -> Iterator[None]:
    """A service refusal from inside names its fields as the API does (`names`: the service's key -> the
    API's, where they differ); the error handler then answers it in the API's error shape."""
    try:
        yield
    except ServiceError as error:
        error.fields = {names.get(key, key): message for key, message in error.fields.items()}
        raise


def _visible_goal(goal_id: int) -> Goal:
    return get_or_404(Goal, goal_id, lambda goal: goals.can_view_goal(g.api_user, goal), not_found=_("No such goal."))


@bp.get("/mentors/search")
def search_mentors():
    query = request.args.get("q", "")
    k = _int_arg("k", 10, 1, search.MAX_K)
    language = (request.args.get("language") or "").lower() or None
    if language is not None and language not in LANGUAGES:  # "zz" would find nobody without saying why
        raise ApiError(400, "invalid_parameter", _("'language' must be the code of a language profiles name."),
                       {"language": _("Use one of the languages profiles name: %(codes)s.",
                                      codes=", ".join(LANGUAGES))})
    meeting_format = request.args.get("format") or None
    if meeting_format not in (None, "remote", "onsite"):
        problem = _("'format' must be 'remote' or 'onsite'.")
        raise ApiError(400, "invalid_parameter", problem, {"format": problem})
    results = search.search_mentors(
        query, g.api_user, k=k, language=language, meeting_format=meeting_format
    )
    # Nobody relevant enough: offer the taxonomy instead of unrelated people.
    topics_to_try = None if results else taxonomy.seed_topics(current_locale())
    return serializers.search_json(query.strip(), results, topics_to_try)


@bp.get("/mentors/<int:mentor_id>")
def get_mentor(mentor_id: int):
    return serializers.mentor_page_json(get_or_404(MentorProfile, mentor_id, not_found=_("No such mentor.")))


@bp.get("/goals")
def list_goals():
    page = _int_arg("page", 1, 1, 1_000_000)
    per_page = _int_arg("per_page", 50, 1, 200)
    shown, total = goals.visible_goals_page(g.api_user, page, per_page)
    return serializers.goal_list_json(shown, page, per_page, total, g.api_user)


@bp.get("/goals/<int:goal_id>")
def get_goal(goal_id: int):
    return serializers.goal_json(_visible_goal(goal_id), g.api_user)


@bp.get("/goals/<int:goal_id>/suggestions")
def goal_suggestions(goal_id: int):
    goal = get_or_404(
        Goal, goal_id, lambda goal: goals.can_view_goal(g.api_user, goal),
        allowed=lambda goal: goals.can_see_suggestions(g.api_user, goal), not_found=_("No such goal."),
        forbidden=_("Only the goal's owner and community managers see its suggestions."),
        options=search.goal_facts_options(),
    )
    k = _int_arg("k", 5, 1, search.MAX_K)
    return serializers.suggestions_json(goal, search.suggestions_for_goal(goal, k=k))


@bp.get("/tandems")
def list_tandems():
    return serializers.tandem_list_json(tandems.tandems_of(g.api_user), g.api_user)


@bp.post("/tandems")
def create_tandem():
    body = _json_body()
    refuse_unknown(body, ("goal_id", "mentor_id", "message"))
    fields = {}
    for name in ("goal_id", "mentor_id"):
        if not isinstance(body.get(name), int) or isinstance(body.get(name), bool):
            fields[name] = _("Required, a whole number.")
    message = body.get("message", "")
    if not isinstance(message, str) or len(message) > MESSAGE_MAX:
        fields["message"] = _("Optional text of at most %(n)d characters.", n=MESSAGE_MAX)
    if fields:
        raise ApiError(422, "invalid_fields", _("Some fields are missing or wrong."), fields)
    goal = _visible_goal(body["goal_id"])
    profile = get_or_404(MentorProfile, body["mentor_id"], not_found=_("No such mentor."),
                         fields={"mentor_id": _("Unknown mentor.")})
    tandem = tandems.request_tandem(goal, profile, g.api_user, message)
    return serializers.tandem_json(tandem, g.api_user), 201


def _own_tandem(tandem_id: int) -> Tandem:
    return get_or_404(Tandem, tandem_id, lambda tandem: tandems.can_view(tandem, g.api_user),
                      not_found=_("No such tandem."))


@bp.get("/tandems/<int:tandem_id>")
def get_tandem(tandem_id: int):
    return serializers.tandem_json(_own_tandem(tandem_id), g.api_user)


@bp.post("/tandems/<int:tandem_id>/<action>")
def answer_tandem(tandem_id: int, action: str):
    tandem = _own_tandem(tandem_id)
    body = _json_body(required=False)
    refuse_unknown(body, ("message", "reason"))  # `reason` is the same text under the name an end gives it
    for field in ("message", "reason"):
        value = body.get(field)
        if value is not None and not isinstance(value, str):
            raise ApiError(422, "invalid_fields", _("'message' must be text."), {field: _("Must be text.")})
        if value and len(value) > MESSAGE_MAX:  # refused, not cut: the partner would read what was never sent
            raise ApiError(422, "invalid_fields", _("Some fields are missing or wrong."),
                           {field: _("Optional text of at most %(n)d characters.", n=MESSAGE_MAX)})
    text = body.get("message") or body.get("reason") or ""
    handlers = {
        "accept": lambda: tandems.accept(tandem, g.api_user, text),
        "decline": lambda: tandems.decline(tandem, g.api_user, text),
        "withdraw": lambda: tandems.withdraw(tandem, g.api_user),
        "end": lambda: tandems.end(tandem, g.api_user, text),
    }
    if action not in handlers:
        raise ApiError(404, "not_found", _("Unknown action."))
    handlers[action]()
    return serializers.tandem_json(tandem, g.api_user)
