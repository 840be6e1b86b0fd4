"""What a person's dashboard shows: their mentor profile, goals, tandems and, for managers, a summary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from werkzeug.routing import BuildError

from ..extensions import db
from ..models import Meeting, Tandem, User
from ..states import TandemStatus
from . import admin, meetings
from .cohorts import enrolment, surveys
from .notifications import link_to
from .tandems import partner_name

DEFAULT_MEETING_TARGET = 6
PAST_STATUSES = (TandemStatus.DECLINED, TandemStatus.WITHDRAWN, TandemStatus.EXPIRED, TandemStatus.ENDED,
                 TandemStatus.COMPLETED)
RECENT_PAST = 5


@dataclass
class TandemCard:
    """One tandem from the viewer's side: who the partner is and how far it has come."""

    tandem: Tandem
    role: str  # the viewer's role in it: "mentor" or "mentee"
    partner: User | None
    meetings_held: int
    meeting_target: int
    partner_name: str = ""  # as the viewer may see it (a mentor with an offer knows the first name only)

    @property
    def goal_title(self) -> str | None:
        return self.tandem.goal.title if self.tandem.goal else None

    @property
    def url(self) -> str | None:
        """The tandem's own page, where requests are answered and meetings logged (None until it exists)."""
        try:
            return link_to("tandems.detail", tandem_id=self.tandem.id)
        except BuildError:
            return None


def _cards(user: User, tandems: list[Tandem], held: dict[int, int]) -> list[TandemCard]:
    cards = []
    for tandem in tandems:
        role = "mentor" if tandem.mentor_user_id == user.id else "mentee"
        partner = tandem.mentee if role == "mentor" else tandem.mentor_user
        target = tandem.cohort.meeting_target if tandem.cohort else DEFAULT_MEETING_TARGET
        cards.append(TandemCard(tandem, role, partner, held.get(tandem.id, 0), target, partner_name(tandem, user)))
    return cards


def _meetings_held(tandem_ids: list[int]) -> dict[int, int]:
    if not tandem_ids:
        return {}
    rows = db.session.execute(
        # One meeting per day, whoever logged it: both partners may log the same meeting.
        select(Meeting.tandem_id, func.count(func.distinct(Meeting.held_on)))
        .where(Meeting.tandem_id.in_(tandem_ids), Meeting.status == Meeting.HELD)
        .group_by(Meeting.tandem_id)
    )
    return {tandem_id: count for tandem_id, count in rows}


def overview(user: User) -> dict[str, Any]:
    """Everything the dashboard template needs, in one call."""
    # Cohort drafts stay with the community managers until they are published.
    tandems = list(
        db.session.scalars(
            select(Tandem)
            .where(
                or_(Tandem.mentee_user_id == user.id, Tandem.mentor_user_id == user.id),
                Tandem.status != TandemStatus.DRAFT,
            )
            .order_by(Tandem.created_at.desc(), Tandem.id.desc())
        )
    )
    cards = _cards(user, tandems, _meetings_held([t.id for t in tandems if t.status == TandemStatus.ACTIVE]))
    requested = [c for c in cards if c.tandem.status == Tandem.OPEN_REQUEST]
    active = [c for c in cards if c.tandem.status == TandemStatus.ACTIVE]
    profile = user.mentor_profile
    return {
        "profile": profile,
        "mentoring_now": sum(1 for c in active if c.role == "mentor"),
        "goals": list(user.goals),
        "requests_received": [c for c in requested if c.role == "mentor"],
        "requests_sent": [c for c in requested if c.role == "mentee"],
        "offers_received": [c for c in cards if c.tandem.status == Tandem.OFFERED and c.role == "mentee"],
        "active_tandems": active,
        "past_tandems": [c for c in cards if c.tandem.status in PAST_STATUSES][:RECENT_PAST],
        "manager_summary": admin.summary() if user.is_manager else None,
        **cohort_overview(user, [c.tandem for c in active]),
    }


def cohort_overview(user: User, active: list[Tandem]) -> dict[str, Any]:
    """Cohorts the person applied to (with their status), cohorts open for applications, open surveys,
    and for each running tandem its meeting progress and kick-off checklist."""
    participations = enrolment.participations(user)
    applied = {p.cohort_id for p in participations}
    progress = meetings.progress_for(active)
    return {
        "cohort_participations": participations,
        "open_cohorts": [c for c in enrolment.open_cohorts() if c.id not in applied],
        "open_surveys": surveys.open_invitations(user),
        "meeting_progress": progress,
        "checklists": {t.id: meetings.kickoff_checklist(t, progress[t.id]) for t in active},
    }
