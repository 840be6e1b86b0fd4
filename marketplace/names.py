"""Personal names as people enter them: a leading title ("Dr.", "Prof. Dr.", "Dipl.-Ing.", "Frau") kept apart.

Greetings use the first name ("Hallo Karl"); lists, the API and exports show the name exactly as entered.
Plain Python (no Flask), so models and services can both use it.
"""

from __future__ import annotations

import re

# Academic and professional titles and forms of address that precede a name (German and English use),
# compared without dots and case.
_TITLES = frozenset({
    "dr", "prof", "professor", "mag", "ing", "dipl", "priv-doz", "pd", "doz", "habil",
    "mr", "mrs", "ms", "miss", "mx", "sir", "dame", "frau", "herr", "hr", "fr",
})
# Compound titles: "Dr.-Ing.", "Dipl.-Kfm.", "Dipl.-Ing. (FH)", "Mag.rer.nat." ...
_COMPOUND = re.compile(r"^(dr|dipl|prof|mag)[.-][\w.-]*$", re.IGNORECASE)
# What follows a doctorate: "Dr. med.", "Dr. rer. nat.", "Dr. h.c.", "(FH)".
_QUALIFIER = re.compile(r"^([a-zäöü]{1,5}\.([a-zäöü]{1,5}\.)*|\([A-Za-z]{1,4}\))$")


def _is_title(token: str, after_title: bool) -> bool:
    if token.lower().rstrip(".") in _TITLES or _COMPOUND.match(token):
        return True
    return after_title and bool(_QUALIFIER.match(token))


def split_title(name: str) -> tuple[str, str]:
    """("Prof. Dr.", "Karl Hansekauf") for "Prof. Dr. Karl Hansekauf"; ("", name) without a title.

    A name that is nothing but titles ("Dr.") is kept whole as the name, so a greeting never goes empty.
    """
    tokens = name.split()
    count = 0
    while count < len(tokens) - 1 and _is_title(tokens[count], count > 0):
        count += 1
    return " ".join(tokens[:count]), " ".join(tokens[count:])


def first_name(name: str) -> str:
    """The name to greet someone by: the first word after any leading title."""
    rest = split_title(name)[1]
    return rest.split()[0] if rest else name.strip()
