"""Request input checked once for every route: storable text, visible text, JSON bodies and page numbers.

PostgreSQL refuses text holding a NUL byte and UTF-8 cannot encode a lone surrogate, so either one
used to reach the database and end in a 500. They are refused here, before any view runs (query
strings, JSON bodies) or beside the field (forms, through `marketplace.forms.TandemForm`).
A required text must show something: `has_visible_text` is the one test every form and service applies, and
`single_line` is how names and titles are stored.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote, unquote_to_bytes

from flask import current_app, g, request
from flask_babel import gettext as _

from .errors import BadInput

# Deeper bodies are refused before any view walks them; no API body of ours nests more than 3 levels.
MAX_JSON_DEPTH = 20
# A page beyond this is past the end of every list we have; larger numbers overflow the database's OFFSET.
MAX_PAGE = 100_000
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


# Letters and marks that draw nothing (Unicode's default-ignorable ones that are not format characters):
# Hangul fillers, the combining grapheme joiner, Khmer inherent vowels, Mongolian and other variation selectors.
_BLANK_NON_FORMAT = re.compile("[\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180d\u180f\u3164\ufe00-\ufe0f\uffa0"
                               "\U000e0100-\U000e01ef]")
# Embeddings, overrides and isolates change the direction of the text that follows them: in a name or a title
# shown inside a sentence, an e-mail subject or a list, an unclosed U+202E would flip what comes after it.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
# Control characters that are not white space (white space, line breaks included, folds into one space); NUL is
# refused, not removed (text_problem).
_CONTROLS = re.compile("[\x01-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]")


def has_visible_text(value: str) -> bool:
    """Whether `value` shows anything: a text of only whitespace, format characters (Cf: zero-width spaces,
    bidi controls, soft hyphens...) and blank fillers counts as empty wherever a text is required."""
    return any(not (char.isspace() or unicodedata.category(char) == "Cf" or _BLANK_NON_FORMAT.match(char))
               for char in value)


def single_line(value: str) -> str:
    """A name or title as stored: one line, without bidi embedding, override and isolate controls or other
    control characters (BEL, ESC...), every run of white space (line breaks included) one space, trimmed.
    (The marks U+200E/U+200F stay: they change no text around them.)"""
    return " ".join(_CONTROLS.sub("", _BIDI_CONTROLS.sub("", value)).split())


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored (a NUL byte or a lone surrogate), or None when it can."""
    return unstorable_message() if _UNSTORABLE.search(value) else None


def unstorable_replaced(value: str) -> str:
    """`value` with each character text_problem refuses as U+FFFD, to show back beside the refusal."""
    return _UNSTORABLE.sub("\ufffd", value)


def unstorable_message() -> str:
    return _("This text contains a character that cannot be saved (a NUL byte or a broken Unicode character).")


def query_checked_by_form(view: Callable) -> Callable:
    """Mark a page whose GET form reads its query parameters: a NUL byte in them, or bytes that are not UTF-8, are
    refused beside their field by the form (forms.storable_text, TandemForm.validate) with the rest of the form
    kept, instead of by check_query_string's bare 400 page. Parameters the form does not read are never used."""
    view.query_checked_by_form = True
    return view


def broken_query_names() -> frozenset[str]:
    """The query parameters of this request whose value is not UTF-8 (on a page `query_checked_by_form`, which
    lets its form refuse them beside their fields)."""
    return g.get("broken_query_names", frozenset())


def check_query_string() -> None:
    """Refuse a query parameter (name or value) that cannot be stored or searched for; raises BadInput.

    Bytes that are not UTF-8 ("%ED%A0%80", a surrogate's encoding) count as unstorable too: Werkzeug
    would otherwise keep them as the literal text "%ED%A0%80" and search for that. A page marked
    `query_checked_by_form` leaves them (broken_query_names) and the decoded text to its form.
    """
    by_form = getattr(current_app.view_functions.get(request.endpoint), "query_checked_by_form", False)
    broken = set()
    for raw_name, raw_value in _raw_query_pairs():
        name = unquote(raw_name.replace("+", " "))
        if not _is_utf8(raw_name) or not _is_utf8(raw_value):
            if not by_form:
                problem = unstorable_message()
                raise BadInput(400, "invalid_parameter", problem, {_printable(name): problem})
            broken.add(name)
    if by_form:
        g.broken_query_names = frozenset(broken)
        return
    for name, value in request.args.items(multi=True):
        problem = text_problem(name) or text_problem(value)
        if problem:
            raise BadInput(400, "invalid_parameter", problem, {_printable(name): problem})


def _raw_query_pairs() -> Iterator[tuple[str, str]]:
    """The query string's name/value pairs, still percent-encoded."""
    for pair in request.query_string.decode("latin-1").split("&"):
        if pair:
            name, _sep, value = pair.partition("=")
            yield name, value


def _is_utf8(encoded: str) -> bool:
    try:
        unquote_to_bytes(encoded.replace("+", " ")).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class JsonObject(dict):
    """A request body whose values are checked as a route reads them: text that cannot be stored in a field
    the route uses answers 422 naming that field; fields no route reads are ignored, whatever they hold."""

    def __getitem__(self, key: str) -> Any:
        value = super().__getitem__(key)
        _check_text(_printable(str(key)), value)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in self else default  # noqa: SIM401 - self.get(...) would call itself


def parse_json_body() -> JsonObject | None:
    """The request's JSON object, None without a JSON body; raises BadInput for anything else.

    Every API route reads its body through this one parser: too deep, not JSON or not an object answers
    400 instead of a RecursionError or an AttributeError, and unstorable text 422 (see JsonObject).
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
    _check_depth(body)
    return JsonObject(body)


def _walk(value: Any, path: str) -> Iterator[tuple[str, Any, int]]:
    """Every value inside `value` with its path and depth, without recursion (bodies may nest deeply)."""
    pending: list[tuple[str, Any, int]] = [(path, value, 1)]
    while pending:
        path, value, depth = pending.pop()
        yield path, value, depth
        if isinstance(value, dict):
            pending.extend((f"{path}.{_printable(str(key))}" if path else _printable(str(key)), item, depth + 1)
                           for key, item in value.items())
        elif isinstance(value, list):
            pending.extend((f"{path}[{index}]", item, depth + 1) for index, item in enumerate(value))


def _check_depth(body: dict[str, Any]) -> None:
    if any(depth > MAX_JSON_DEPTH for _, _, depth in _walk(body, "")):
        raise BadInput(400, "invalid_json", _("The JSON body is nested too deeply."))


def _check_text(path: str, value: Any) -> None:
    fields = {at: problem for at, item, _ in _walk(value, path)
              if isinstance(item, str) and (problem := text_problem(item))}
    if fields:
        raise BadInput(422, "invalid_fields", _("Some fields are missing or wrong."), fields)


def _printable(name: str) -> str:
    """A field name that is safe to echo back in an error (its bad characters shown as escapes)."""
    return _UNSTORABLE.sub(lambda match: f"\\u{ord(match.group()):04x}", name)[:100]


def page_arg(name: str = "page") -> int:
    """The page number asked for: 1 when missing, not a number or below 1; at most MAX_PAGE."""
    value = request.args.get(name, 1, type=int) or 1
    return min(max(value, 1), MAX_PAGE)
