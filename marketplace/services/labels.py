"""Translated labels for every stored state and code, in one place for templates, pages and the API.

The factory registers `TEMPLATE_GLOBALS` once; pages and services look a label up with the functions here.
"""

from flask_babel import format_percent
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..states import CohortState, GoalStatus, ParticipantStatus, TandemStatus

TANDEM_STATUS = {
    TandemStatus.DRAFT: _l("Draft"),
    TandemStatus.REQUESTED: _l("Requested"),
    TandemStatus.OFFERED: _l("Help offered"),
    TandemStatus.ACTIVE: _l("Active"),
    TandemStatus.DECLINED: _l("Declined"),
    TandemStatus.WITHDRAWN: _l("Withdrawn"),
    TandemStatus.ENDED: _l("Ended early"),
    TandemStatus.COMPLETED: _l("Completed"),
    TandemStatus.CANCELLED: _l("Cancelled"),
    TandemStatus.EXPIRED: _l("Expired unanswered"),
}
# What a tandem's meetings page says of one that has not started: waiting for an answer, or closed before it began.
TANDEM_NOT_STARTED = {
    TandemStatus.REQUESTED: _l("This tandem has not started yet: the request is waiting for the mentor's answer."),
    TandemStatus.OFFERED: _l("This tandem has not started yet: the offer of help is waiting for the mentee's answer."),
    TandemStatus.DECLINED: _l("This tandem did not start: it was declined."),
    TandemStatus.WITHDRAWN: _l("This tandem did not start: it was withdrawn."),
    TandemStatus.CANCELLED: _l("This tandem did not start: a matching rule no longer allowed it, so it was cancelled."),
    TandemStatus.EXPIRED: _l("This tandem did not start: the request expired without an answer."),
}
# The end reason Tandem itself writes when a partner deletes their account: stored in English (the text, since
# the column holds what partners typed), shown in the reader's language by end_reason_text.
ACCOUNT_DELETED_REASON = "The partner deleted their account."
SYSTEM_END_REASONS = {ACCOUNT_DELETED_REASON: _l("The partner deleted their account.")}
GOAL_STATUS = {GoalStatus.OPEN: _l("Open"), GoalStatus.MATCHED: _l("Matched"), GoalStatus.CLOSED: _l("Closed")}
COHORT_STATE = {
    CohortState.DRAFT: _l("Draft"),
    CohortState.ENROLLING: _l("Enrolling"),
    CohortState.MATCHING: _l("Matching"),
    CohortState.RUNNING: _l("Running"),
    CohortState.CLOSED: _l("Closed"),
}
PARTICIPANT_STATUS = {
    ParticipantStatus.APPLIED: _l("Applied"),
    ParticipantStatus.ACCEPTED: _l("Accepted"),
    ParticipantStatus.WAITLISTED: _l("Waitlisted"),
    ParticipantStatus.REJECTED: _l("Rejected"),
}


def tandem_status_label(status: str) -> str:
    return str(TANDEM_STATUS.get(status, status))


def tandem_not_started_notice(status: str) -> str:
    """The meetings page's notice for a tandem that has not started (TANDEM_NOT_STARTED); "" for any other."""
    notice = TANDEM_NOT_STARTED.get(status)
    return str(notice) if notice is not None else ""


def end_reason_text(reason: str) -> str:
    """A tandem's end reason as pages and the report show it: a partner's words as typed, Tandem's own translated."""
    known = SYSTEM_END_REASONS.get(reason)
    return str(known) if known is not None else reason


def goal_status_label(status: str) -> str:
    return str(GOAL_STATUS.get(status, status))


def cohort_state_label(state: str) -> str:
    return str(COHORT_STATE.get(state, state))


def participant_status_label(status: str) -> str:
    return str(PARTICIPANT_STATUS.get(status, status))


def score_percent(score: float | None) -> str:
    """A match score in [0, 1] on the one scale people see: "59 %" (locale's percent format), "–" when unknown."""
    if score is None:
        return "–"
    return format_percent(round(score, 2))


def match_label(score: float | None) -> str:
    """A match score as pages show it beside a pair or a result: "Match 59 %"."""
    return _("Match %(percent)s", percent=score_percent(score))


TEMPLATE_GLOBALS = {
    "tandem_status_label": tandem_status_label,
    "tandem_not_started_notice": tandem_not_started_notice,
    "end_reason_text": end_reason_text,
    "goal_status_label": goal_status_label,
    "cohort_state_label": cohort_state_label,
    "participant_status_label": participant_status_label,
}
