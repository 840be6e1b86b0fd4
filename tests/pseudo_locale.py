"""Message extraction and a pseudo-locale for i18n tests: every translation reads ⟦Ŧŕàñšļàŧéđ⟧.

The catalogue is built from the source as it is now (the same extraction as `pybabel extract`, see
the README's "Translations"), so a string that is marked but not yet extracted still shows wrapped.
"""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = PROJECT_ROOT / "marketplace" / "translations"
# Babel refuses unknown codes such as "xx", so the pseudo-locale borrows a real one that Tandem never offers.
PSEUDO_LOCALE = "eo"
OPEN, CLOSE = "⟦", "⟧"
# The keywords the README's `pybabel extract` command adds to Babel's defaults (_, gettext, ngettext ...).
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None, "lazy_ngettext": (1, 2)}

PLACEHOLDER = re.compile(r"%(?:\([^)]+\))?[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa%]")
_ACCENTED = str.maketrans(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "àƀçđéƒĝĥîĵķļɱñöƥǫŕšŧûṽŵẋýžÀƁÇĐÉƑĜĤÎĴĶĻṀÑÖƤǪŔŠŦÛṼŴẊÝŽ",
)


def extract_messages() -> Catalog:
    """Every translatable message in marketplace/ and templates/, as `pybabel extract -F babel.cfg` finds it."""
    with open(PROJECT_ROOT / "babel.cfg", encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config)
    catalog = Catalog()
    for filename, lineno, message, comments, context in extract_from_dir(
        PROJECT_ROOT, method_map, options_map, keywords=KEYWORDS
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def pseudo_translate(text: str) -> str:
    """Accent the letters and wrap the whole text; %(name)s placeholders stay exactly as they are."""
    pieces, last = [], 0
    for match in PLACEHOLDER.finditer(text):
        pieces.append(text[last:match.start()].translate(_ACCENTED))
        pieces.append(match.group())
        last = match.end()
    pieces.append(text[last:].translate(_ACCENTED))
    return OPEN + "".join(pieces) + CLOSE


def write_pseudo_catalogue(messages: Catalog, directory: Path, locale: str = PSEUDO_LOCALE) -> Path:
    """Compile a pseudo-locale catalogue into directory/<locale>/LC_MESSAGES/messages.mo and return `directory`."""
    catalog = Catalog(locale=locale)
    for message in messages:
        if not message.id:
            continue
        if message.pluralizable:
            string = tuple(pseudo_translate(form) for form in message.id)
        else:
            string = pseudo_translate(message.id)
        catalog.add(message.id, string, context=message.context)
    target = directory / locale / "LC_MESSAGES"
    target.mkdir(parents=True, exist_ok=True)
    with open(target / "messages.mo", "wb") as mo_file:
        write_mo(mo_file, catalog)
    return directory


def without_markers(text: str) -> str:
    """The text outside every ⟦...⟧ (markers nest when a translation is inserted into another)."""
    kept, depth = [], 0
    for char in text:
        if char == OPEN:
            depth += 1
        elif char == CLOSE and depth:
            depth -= 1
        elif depth == 0:
            kept.append(char)
    return "".join(kept)
