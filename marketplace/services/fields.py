"""The fields mentor profiles, goals and the participants import share: text limits, languages, list
parsers, the one error type for bad input, and a checker that collects every field's problem at once."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..input_checks import has_visible_text, single_line
from ..models import Goal, MentorProfile, User
from .errors import ProfileError

TEXT_MIN = 20
TEXT_MAX = 5000
COMPANY_MAX = 200
# Free text people write to each other (a request's or an answer's message, an end reason).
MESSAGE_MAX = 2000

# ISO 639-1 codes people in Tandem's region commonly work in; the order is the display order.
LANGUAGES = {
    "de": _l("German"),
    "en": _l("English"),
    "fr": _l("French"),
    "es": _l("Spanish"),
    "it": _l("Italian"),
    "nl": _l("Dutch"),
    "pl": _l("Polish"),
    "tr": _l("Turkish"),
    "pt": _l("Portuguese"),
    "sv": _l("Swedish"),
    "da": _l("Danish"),
    "ar": _l("Arabic"),
    "ru": _l("Russian"),
    "uk": _l("Ukrainian"),
    "el": _l("Greek"),
    "cs": _l("Czech"),
}
LANGUAGE_CODES = frozenset(LANGUAGES)


# --- small parsers -------------------------------------------------------------------------------


def split_entries(value: str | Iterable[str] | None, separators: str) -> list[str]:
    """Entries of a list or of a text split on `separators`, each a single line (input_checks.single_line) with
    its whitespace collapsed; entries that show nothing are dropped."""
    if value is None:
        return []
    parts = re.split(f"[{re.escape(separators)}]", value) if isinstance(value, str) else list(value)
    return [cleaned for part in parts
            if has_visible_text(cleaned := single_line(str(part)))]


def split_free_tags(text: str | None) -> list[str]:
    """Free tags typed into one input: commas, semicolons or new lines separate them."""
    return split_entries(text, ",;\n")


def parse_languages(value: str | Iterable[str] | None) -> list[str]:
    """Known ISO 639-1 codes in display order; at least one, because matching needs a shared language."""
    codes = [code.lower() for code in split_entries(value, ",;\n ")]
    unknown = sorted({code for code in codes if code not in LANGUAGE_CODES})
    if unknown:
        raise ProfileError.invalid({"languages": _("Unknown language code: %(codes)s", codes=", ".join(unknown))})
    if not codes:
        raise ProfileError.invalid({"languages": _("Choose at least one language.")})
    return [code for code in LANGUAGES if code in codes]


def default_languages(user: User, interface_language: str, also: Iterable[str] = ()) -> list[str]:
    """The languages a new mentor profile or goal starts with: the interface language the person uses (the saved
    one, else the one the browser asked for), the languages of their goals and `also`; English when none is
    known."""
    codes = {user.locale or interface_language, *also, *(code for goal in user.goals for code in goal.language_list)}
    return [code for code in LANGUAGES if code in codes] or ["en"]


def language_name(code: str) -> str:
    """The language's name in the UI language; unknown codes (from old data) show as they are."""
    return str(LANGUAGES.get(code, code))



# --- field checks --------------------------------------------------------------------------------


class FieldChecker:
    """Collects every field's problem at once, so a form can show them all side by side."""

    def __init__(self, data: Mapping[str, Any], creating: bool):
        self.data = data
        self.creating = creating
        self.errors: dict[str, str] = {}
        self.cleaned: dict[str, Any] = {}

    def wants(self, key: str) -> bool:
        return key in self.data

    def text(self, key: str, *, required: bool, max_len: int, min_len: int = 0, line: bool = False) -> None:
        """A text field, trimmed (a `line`, such as a title, as input_checks.single_line); one that shows nothing
        counts as empty."""
        if not self.wants(key):
            if self.creating and required:
                self.errors[key] = _("Please fill in this field.")
            return
        raw = str(self.data[key] or "")
        value = single_line(raw) if line else raw.strip()
        if not has_visible_text(value):
            value = ""
        if required and not value:
            self.errors[key] = _("Please fill in this field.")
        elif value and len(value) < min_len:
            self.errors[key] = _("Use at least %(n)d characters.", n=min_len)
        elif len(value) > max_len:
            self.errors[key] = _("Use at most %(n)d characters.", n=max_len)
        else:
            self.cleaned[key] = value or None

    def number(self, key: str, low: int, high: int) -> None:
        if not self.wants(key):
            return
        try:
            value = int(self.data[key])
        except (TypeError, ValueError):
            value = None
        if value is None or not low <= value <= high:
            self.errors[key] = _("Enter a whole number from %(low)d to %(high)d.", low=low, high=high)
        else:
            self.cleaned[key] = value

    def choice(self, key: str, allowed: Mapping[str, Any]) -> None:
        if not self.wants(key):
            return
        if self.data[key] not in allowed:
            self.errors[key] = _("Choose one of the offered options.")
        else:
            self.cleaned[key] = self.data[key]

    def parsed(self, key: str, parser, *, required: bool = False) -> None:
        if not self.wants(key):
            if self.creating and required:
                self.capture(lambda: parser(None), key)
            return
        self.capture(lambda: parser(self.data[key]), key)

    def capture(self, compute, key: str) -> None:
        try:
            self.cleaned[key] = compute()
        except ProfileError as problem:
            self.errors.update(problem.fields)

    def done(self) -> dict[str, Any]:
        if self.errors:
            raise ProfileError.invalid(self.errors)
        return self.cleaned


def store_checked(entity: MentorProfile | Goal, cleaned: Mapping[str, Any], columns: Iterable[str]) -> None:
    """Copy a FieldChecker's values onto a mentor profile or goal: these columns as they are, languages
    comma-joined as stored; keys that are absent stay as they are."""
    for key in columns:
        if key in cleaned:
            setattr(entity, key, cleaned[key])
    if "languages" in cleaned:
        entity.languages = ",".join(cleaned["languages"])
