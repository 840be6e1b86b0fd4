"""The wrap-up survey: sent on closing, one anonymous answer per person, figures only from five answers on."""

from __future__ import annotations

from datetime import time

import pytest
from sqlalchemy import inspect, select

from marketplace.extensions import db
from marketplace.models import Notification, SurveyInvitation, SurveyResponse
from marketplace.services.cohorts import enrolment, reports, surveys
from marketplace.services.cohorts.surveys import SurveyError
from tests.builders import make_goal, make_mentor, make_user
from tests.marketplace.test_cohorts import bearer, enrol, make_cohort


def closed_cohort(people: int = 6):
    """A running cohort with `people` accepted participants (one of them in both roles), then closed."""
    cohort = make_cohort(state="running")
    users = []
    for i in range(people):
        goal = make_goal(company=f"Old {i}")
        enrol(cohort, goal.owner, "mentee", goal)
        users.append(goal.owner)
    both = users[0]
    make_mentor(user=both)
    enrol(cohort, both, "mentor")
    enrol(cohort, make_user(), "mentee", status="rejected")
    enrolment.close(cohort)
    return cohort, users


def test_closing_invites_every_accepted_person_once_and_notifies_them(app):
    cohort, users = closed_cohort(3)
    invited = set(db.session.scalars(select(SurveyInvitation.user_id).where(SurveyInvitation.cohort_id == cohort.id)))
    assert invited == {u.id for u in users}
    for user in users:
        assert db.session.query(Notification).filter_by(user_id=user.id, kind="survey_open").count() == 1


def test_an_answer_carries_no_user_and_a_second_one_is_refused(app, client, login_as):
    cohort, users = closed_cohort(2)
    login_as(users[1])
    assert "How was" in client.get(f"/cohorts/{cohort.id}/survey").get_data(as_text=True)
    response = client.post(f"/cohorts/{cohort.id}/survey",
                           data={"satisfaction": "4", "recommend": "9", "improve": "More mixed events"})
    assert response.status_code == 302
    answer = db.session.scalars(select(SurveyResponse)).one()
    assert (answer.satisfaction, answer.recommend, answer.improve, answer.role) == (4, 9, "More mixed events", "mentee")
    columns = {c.key for c in inspect(SurveyResponse).columns}
    assert not {"user_id", "author_id", "invitation_id"} & columns
    invitation = surveys.invitation(cohort, users[1])
    assert invitation.answered_at is not None and invitation.answered_at.time() == time(0, 0)  # the day only

    again = client.post(f"/cohorts/{cohort.id}/survey", data={"satisfaction": "1", "recommend": "0"},
                        follow_redirects=True)
    assert "already answered" in again.get_data(as_text=True)
    with pytest.raises(SurveyError) as refused:
        surveys.submit(cohort, users[1], 1, 0)
    assert refused.value.code == "already_answered"
    assert db.session.query(SurveyResponse).count() == 1


def test_a_person_in_both_roles_answers_once_as_both(app):
    cohort, users = closed_cohort(2)
    surveys.submit(cohort, users[0], 5, 10)
    assert db.session.scalars(select(SurveyResponse.role)).one() == "both"


def test_outsiders_get_no_survey_and_bad_values_stay_beside_the_field(app, client, login_as):
    cohort, users = closed_cohort(2)
    with pytest.raises(SurveyError) as outsider:
        surveys.submit(cohort, make_user(), 3, 5)
    assert outsider.value.status == 403
    login_as(users[1])
    bad = client.post(f"/cohorts/{cohort.id}/survey", data={"satisfaction": "7", "recommend": "11"})
    assert bad.status_code == 400 and "Not a valid choice" in bad.get_data(as_text=True)
    assert db.session.query(SurveyResponse).count() == 0
    client.post("/auth/logout")
    login_as(make_user())
    assert client.get(f"/cohorts/{cohort.id}/survey").status_code == 404


def test_figures_appear_only_from_five_answers_on(app, client, login_as):
    cohort, users = closed_cohort(6)
    for user, (satisfaction, recommend) in zip(users[:4], [(5, 10), (4, 9), (3, 7), (2, 3)], strict=True):
        surveys.submit(cohort, user, satisfaction, recommend, f"idea from {satisfaction}")
    hidden = reports.report(cohort)["survey"]
    assert hidden["answered"] == 4 and hidden["invited"] == 6 and not hidden["shown"]
    assert hidden["satisfaction_average"] is None and hidden["improvements"] == []
    assert reports.chart_svg(reports.report(cohort), "satisfaction") is None
    login_as(make_user(is_manager=True))
    page = client.get(f"/cohorts/{cohort.id}/report").get_data(as_text=True)
    assert "idea from" not in page and "at least 5 people" in page
    assert client.get(f"/cohorts/{cohort.id}/charts/satisfaction.svg").status_code == 404
    api = client.get(f"/api/v1/cohorts/{cohort.id}/report", headers=bearer(make_user(is_manager=True)))
    assert api.get_json()["survey"]["satisfaction_counts"] is None

    surveys.submit(cohort, users[4], 4, 10)
    shown = reports.report(cohort)["survey"]
    assert shown["shown"] and shown["answered"] == 5
    assert shown["satisfaction_average"] == pytest.approx(3.6)
    assert shown["satisfaction_counts"] == {"1": 0, "2": 1, "3": 1, "4": 2, "5": 1}
    assert shown["recommend_average"] == pytest.approx(7.8)
    assert shown["net_promoter_score"] == 40  # 3 promoters, 1 detractor of 5
    assert sorted(shown["improvements"]) == ["idea from 2", "idea from 3", "idea from 4", "idea from 5"]
    page = client.get(f"/cohorts/{cohort.id}/report").get_data(as_text=True)
    assert "idea from 3" in page
    chart = client.get(f"/cohorts/{cohort.id}/charts/satisfaction.svg")
    assert chart.status_code == 200 and b"<svg" in chart.data
