"""Translated labels for stored codes, in one place for templates and the API."""

from flask_babel import format_percent
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

TANDEM_STATUS = {
    "draft": _l("Draft"),
    "requested": _l("Requested"),
    "offered": _l("Help offered"),
    "active": _l("Active"),
    "declined": _l("Declined"),
    "withdrawn": _l("Withdrawn"),
    "ended": _l("Ended early"),
    "completed": _l("Completed"),
    "cancelled": _l("Cancelled"),
}


def tandem_status_label(status: str) -> str:
    return str(TANDEM_STATUS.get(status, status))


def score_percent(score: float | None) -> str:
    """A match score in [0, 1] on the one scale people see: "59 %" (locale's percent format), "–" when unknown."""
    if score is None:
        return "–"
    return format_percent(round(score, 2))


def match_label(score: float | None) -> str:
    """A match score as pages show it beside a pair or a result: "Match 59 %"."""
    return _("Match %(percent)s", percent=score_percent(score))
