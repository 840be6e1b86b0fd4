"""Request input checked once for every route: storable text, JSON bodies and page numbers.

PostgreSQL refuses text holding a NUL byte and UTF-8 cannot encode a lone surrogate, so either one
used to reach the database and end in a 500. They are refused here, before any view runs (query
strings, JSON bodies) or beside the field (forms, through `marketplace.forms.TandemForm`).
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import request
from flask_babel import gettext as _

from .errors import BadInput

# Deeper bodies are refused before any view walks them; no API body of ours nests more than 3 levels.
MAX_JSON_DEPTH = 20
# A page beyond this is past the end of every list we have; larger numbers overflow the database's OFFSET.
MAX_PAGE = 100_000
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored (a NUL byte or a lone surrogate), or None when it can."""
    if _UNSTORABLE.search(value):
        return _("This text contains a character that cannot be saved (a NUL byte or a broken Unicode character).")
    return None


def check_query_string() -> None:
    """Refuse a query parameter (name or value) that cannot be stored or searched for; raises BadInput."""
    for name, value in request.args.items(multi=True):
        problem = text_problem(name) or text_problem(value)
        if problem:
            raise BadInput(400, "invalid_parameter", problem, {_printable(name): problem})


def parse_json_body() -> dict[str, Any] | None:
    """The request's JSON object, None without a JSON body; raises BadInput for anything else.

    Every API route reads its body through this one parser: too deep, not an object, not JSON, or
    holding text that cannot be stored answers 400/422 instead of a RecursionError or a database error.
    """
    if not request.is_json or not request.get_data(cache=True):
        return None
    try:
        body = json.loads(request.get_data(cache=True))
    except RecursionError:
        raise BadInput(400, "invalid_json", _("The JSON body is nested too deeply.")) from None
    except ValueError:
        raise BadInput(400, "invalid_json", _("The request body is not valid JSON.")) from None
    if not isinstance(body, dict):
        raise BadInput(400, "invalid_json", _("The request body must be a JSON object."))
    _check_json_values(body)
    return body


def _check_json_values(body: dict[str, Any]) -> None:
    """Walk the body without recursion: refuse deep nesting and unstorable text, naming the path."""
    pending: list[tuple[str, Any, int]] = [("", body, 1)]
    fields: dict[str, str] = {}
    while pending:
        path, value, depth = pending.pop()
        if depth > MAX_JSON_DEPTH:
            raise BadInput(400, "invalid_json", _("The JSON body is nested too deeply."))
        if isinstance(value, dict):
            for key, item in value.items():
                child = f"{path}.{_printable(key)}" if path else _printable(key)
                if problem := text_problem(key):
                    fields[child] = problem
                pending.append((child, item, depth + 1))
        elif isinstance(value, list):
            pending.extend((f"{path}[{index}]", item, depth + 1) for index, item in enumerate(value))
        elif isinstance(value, str) and (problem := text_problem(value)):
            fields[path] = problem
    if fields:
        raise BadInput(422, "invalid_fields", _("Some fields are missing or wrong."), fields)


def _printable(name: str) -> str:
    """A field name that is safe to echo back in an error (its bad characters shown as escapes)."""
    return _UNSTORABLE.sub(lambda match: f"\\u{ord(match.group()):04x}", name)[:100]


def page_arg(name: str = "page") -> int:
    """The page number asked for: 1 when missing, not a number or below 1; at most MAX_PAGE."""
    value = request.args.get(name, 1, type=int) or 1
    return min(max(value, 1), MAX_PAGE)
