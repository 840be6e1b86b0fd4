"""The wrap-up survey: one anonymous answer per participant, shown in aggregate from five answers on.

The invitation knows who was asked and whether they answered; the answer knows neither. The
invitation's answered_at keeps only the day, so the order of answers cannot tie one to a person.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time

from flask_babel import gettext as _
from sqlalchemy import func, select, update

from ...extensions import db
from ...models import Cohort, CohortParticipant, SurveyInvitation, SurveyResponse, User
from ...states import ParticipantStatus
from .. import notifications
from ..errors import SurveyError

MIN_ANSWERS = 5
IMPROVE_MAX = 2000


def invite_participants(cohort: Cohort) -> int:
    """Ask every accepted participant once (a person with two roles gets one survey); the caller commits."""
    user_ids = sorted(set(db.session.scalars(
        select(CohortParticipant.user_id).where(CohortParticipant.cohort_id == cohort.id,
                                                CohortParticipant.status == ParticipantStatus.ACCEPTED)
    )))
    already = set(db.session.scalars(select(SurveyInvitation.user_id).where(SurveyInvitation.cohort_id == cohort.id)))
    link = notifications.link_to("cohorts.survey", cohort_id=cohort.id)
    for user_id in user_ids:
        if user_id in already:
            continue
        db.session.add(SurveyInvitation(cohort_id=cohort.id, user_id=user_id))
        notifications.notify(user_id, "survey_open", "survey_open", {"cohort": cohort.name}, link,
                             obj=("cohort", cohort.id))
    db.session.flush()
    return len(set(user_ids) - already)


def invitation(cohort: Cohort, user: User) -> SurveyInvitation | None:
    return db.session.scalar(
        select(SurveyInvitation).where(SurveyInvitation.cohort_id == cohort.id, SurveyInvitation.user_id == user.id)
    )


def open_invitations(user: User) -> list[tuple[SurveyInvitation, Cohort]]:
    """Surveys waiting for this person's answer, for the dashboard."""
    rows = db.session.execute(
        select(SurveyInvitation, Cohort).join(Cohort, Cohort.id == SurveyInvitation.cohort_id)
        .where(SurveyInvitation.user_id == user.id, SurveyInvitation.answered_at.is_(None))
        .order_by(Cohort.closed_at.desc())
    )
    return [(inv, cohort) for inv, cohort in rows]


def _role(cohort: Cohort, user: User) -> str:
    roles = set(db.session.scalars(
        select(CohortParticipant.role).where(CohortParticipant.cohort_id == cohort.id,
                                             CohortParticipant.user_id == user.id,
                                             CohortParticipant.status == ParticipantStatus.ACCEPTED)
    ))
    return "both" if len(roles) > 1 else (roles.pop() if roles else "mentee")


def submit(cohort: Cohort, user: User, satisfaction: int | None, recommend: int | None, improve: str = "") -> None:
    """Store one anonymous answer; a second answer by the same person is refused."""
    if satisfaction is None or not 1 <= satisfaction <= 5:
        raise SurveyError.on_field("satisfaction", _("Choose from 1 to 5."), "invalid", 400)
    if recommend is None or not 0 <= recommend <= 10:
        raise SurveyError.on_field("recommend", _("Choose from 0 to 10."), "invalid", 400)
    if len(improve or "") > IMPROVE_MAX:
        raise SurveyError.on_field("improve", _("At most %(n)d characters.", n=IMPROVE_MAX), "invalid", 400)
    invite = invitation(cohort, user)
    if invite is None:
        raise SurveyError("not_invited", _("This survey is for the participants of the cohort."), 403)
    day = datetime.combine(datetime.now(UTC).date(), time.min, tzinfo=UTC)
    try:
        # The conditional update is the "one answer per person" guard, also against a double click.
        claimed = db.session.execute(
            update(SurveyInvitation)
            .where(SurveyInvitation.id == invite.id, SurveyInvitation.answered_at.is_(None))
            .values(answered_at=day)
        ).rowcount
        if claimed != 1:
            raise SurveyError("already_answered", _("You have already answered this survey. Thank you!"))
        db.session.add(SurveyResponse(cohort_id=cohort.id, role=_role(cohort, user), satisfaction=satisfaction,
                                      recommend=recommend, improve=(improve or "").strip()))
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise


@dataclass
class SurveyResults:
    invited: int
    answered: int
    shown: bool
    satisfaction_average: float | None = None
    satisfaction_counts: dict[int, int] = field(default_factory=dict)
    recommend_average: float | None = None
    net_promoter_score: int | None = None
    improvements: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        return {
            "invited": self.invited,
            "answered": self.answered,
            "min_answers": MIN_ANSWERS,
            "shown": self.shown,
            "satisfaction_average": self.satisfaction_average,
            "satisfaction_counts": {str(k): v for k, v in self.satisfaction_counts.items()} if self.shown else None,
            "recommend_average": self.recommend_average,
            "net_promoter_score": self.net_promoter_score,
            "improvements": self.improvements,
        }


def results(cohort: Cohort) -> SurveyResults:
    """Aggregates only; below MIN_ANSWERS answers nothing but the counts leaves this function."""
    invited = db.session.scalar(
        select(func.count(SurveyInvitation.id)).where(SurveyInvitation.cohort_id == cohort.id)
    ) or 0
    answers = list(db.session.scalars(select(SurveyResponse).where(SurveyResponse.cohort_id == cohort.id)))
    if len(answers) < MIN_ANSWERS:
        return SurveyResults(invited, len(answers), False)
    satisfaction = [a.satisfaction for a in answers]
    recommend = [a.recommend for a in answers]
    promoters = sum(1 for r in recommend if r >= 9)
    detractors = sum(1 for r in recommend if r <= 6)
    comments = [a.improve for a in answers if a.improve]
    return SurveyResults(
        invited=invited,
        answered=len(answers),
        shown=True,
        satisfaction_average=round(sum(satisfaction) / len(satisfaction), 2),
        satisfaction_counts={score: satisfaction.count(score) for score in range(1, 6)},
        recommend_average=round(sum(recommend) / len(recommend), 2),
        net_promoter_score=round(100 * (promoters - detractors) / len(recommend)),
        improvements=sorted(comments, key=str.casefold),  # never in the order people answered
    )
