"""Translated labels for stored codes, in one place for templates and the API."""

from flask_babel import lazy_gettext as _l

TANDEM_STATUS = {
    "draft": _l("Draft"),
    "requested": _l("Requested"),
    "active": _l("Active"),
    "declined": _l("Declined"),
    "withdrawn": _l("Withdrawn"),
    "ended": _l("Ended early"),
    "completed": _l("Completed"),
    "cancelled": _l("Cancelled"),
    "expired": _l("Expired unanswered"),
}


def tandem_status_label(status: str) -> str:
    return str(TANDEM_STATUS.get(status, status))
