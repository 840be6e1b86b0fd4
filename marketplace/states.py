"""Every stored state and status by name, with the groups the rules need, defined once.

Each is a StrEnum, so a member equals the string stored in its column ("active" == TandemStatus.ACTIVE)
and the database keeps plain strings. Labels people read live in services/labels.py. No Flask here:
models, services and `bench/` import it alike.
"""

from __future__ import annotations

from enum import StrEnum


class TandemStatus(StrEnum):
    DRAFT = "draft"  # a cohort's proposal, not yet published
    REQUESTED = "requested"  # a mentee's request, waiting for the mentor
    OFFERED = "offered"  # a mentor's offer on a discoverable goal, waiting for the goal's owner
    ACTIVE = "active"  # accepted and running
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    ENDED = "ended"  # ended early
    COMPLETED = "completed"
    CANCELLED = "cancelled"  # a hard rule no longer allowed it when it was answered (or re-checked)
    EXPIRED = "expired"  # left unanswered for TANDEM_REQUEST_EXPIRY_HOURS


# Waiting for an answer: a mentee's request (the mentor answers) or a mentor's offer (the owner answers).
PENDING = (TandemStatus.REQUESTED, TandemStatus.OFFERED)
# Each takes one of the mentor's slots: a running tandem, and a cohort draft waiting to be published.
SLOT_TAKING = (TandemStatus.ACTIVE, TandemStatus.DRAFT)
# A mentor on one of these sees the goal in full; on every other status (an offer not yet accepted,
# declined, withdrawn, cancelled, expired, draft) they do not.
GOAL_VISIBLE = (TandemStatus.REQUESTED, TandemStatus.ACTIVE, TandemStatus.ENDED, TandemStatus.COMPLETED)
# Tandems that have started (running or over): they have meetings and notes. A cohort's published tandems are
# these (they count in progress and the report).
STARTED = (TandemStatus.ACTIVE, TandemStatus.ENDED, TandemStatus.COMPLETED)
PUBLISHED = STARTED


class GoalStatus(StrEnum):
    OPEN = "open"
    MATCHED = "matched"
    CLOSED = "closed"


class CohortState(StrEnum):
    DRAFT = "draft"
    ENROLLING = "enrolling"
    MATCHING = "matching"
    RUNNING = "running"
    CLOSED = "closed"


# A cohort whose pairs are being proposed or already run: the review shows who stayed unmatched.
PAIRING = (CohortState.MATCHING, CohortState.RUNNING)
# Before matching: people may still apply or be imported.
PLANNING = (CohortState.DRAFT, CohortState.ENROLLING)


class ParticipantStatus(StrEnum):
    APPLIED = "applied"
    ACCEPTED = "accepted"
    WAITLISTED = "waitlisted"
    REJECTED = "rejected"


class MeetingStatus(StrEnum):
    PLANNED = "planned"
    HELD = "held"
    MISSED = "missed"


class ProposalStatus(StrEnum):
    """Proposed meeting times: open until the partner picks one or declines, or the proposer withdraws."""

    OPEN = "open"
    PICKED = "picked"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"


class SlotStatus(StrEnum):
    """One proposed time: the picked one, or lapsed with its proposal."""

    OPEN = "open"
    PICKED = "picked"
    LAPSED = "lapsed"


class EmailStatus(StrEnum):
    """An outbox row: pending -> sending -> sent; held for a digest; uncertain after a crash while sending;
    logged (kept in the outbox, written to the log) where no mail server is configured."""

    PENDING = "pending"
    HELD = "held"
    SENDING = "sending"
    SENT = "sent"
    UNCERTAIN = "uncertain"
    LOGGED = "logged"
    DIGESTED = "digested"  # written into the reader's daily digest


# Mail that goes (or went) out in a daily digest rather than on its own.
IN_DIGEST = (EmailStatus.HELD, EmailStatus.DIGESTED)


class ImportStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"



# Templates compare with these by name (registered once in the factory), and with the groups above.
GROUPS = {"PENDING": PENDING, "STARTED": STARTED, "PUBLISHED": PUBLISHED, "PAIRING": PAIRING,
          "PLANNING": PLANNING, "IN_DIGEST": IN_DIGEST}
ENUMS = (TandemStatus, GoalStatus, CohortState, ParticipantStatus, MeetingStatus, ProposalStatus, SlotStatus,
         EmailStatus, ImportStatus)
