"""Enrolment changes sent at the same moment (an outside tester's report): applications twice at once, and
two answers to one application (accept and reject, a decision and a withdrawal). Real threads, each request
on its own connection to the test database file (or PostgreSQL with DATABASE_URL)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from marketplace.extensions import db
from marketplace.models import CohortParticipant, Notification
from marketplace.services.cohorts import enrolment
from tests.builders import at_once, make_goal, make_mentor, make_user, sign_in
from tests.marketplace.test_cohorts import bearer, enrol, make_cohort


def _count(model, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _flashes(client) -> list[str]:
    with client.session_transaction() as session:
        return [text for _kind, text in session.pop("_flashes", [])]


def _all_read_before_any_writes(monkeypatch, count: int, *names: str) -> None:
    """Hold each of `count` requests at the service call until all got there: every view has read the rows as
    they were, which is what clicks at the same moment do (without it the threads often ran one by one)."""
    barrier = threading.Barrier(count, timeout=20)
    for name in names:
        original = getattr(enrolment, name)

        def held(*args, original=original, **kwargs):
            barrier.wait()
            return original(*args, **kwargs)

        monkeypatch.setattr(enrolment, name, held)


def test_four_api_applications_at_once_make_one_and_answer_already_applied_to_the_rest(app, monkeypatch):
    cohort = make_cohort(state="enrolling")
    manager = make_user(is_manager=True)
    goal = make_goal()
    url, body, headers = f"/api/v1/cohorts/{cohort.id}/applications", {"role": "mentee", "goal_id": goal.id}, \
        bearer(goal.owner)
    cohort_id, manager_id = cohort.id, manager.id
    _all_read_before_any_writes(monkeypatch, 4, "apply")

    def post(_index: int) -> tuple[int, str | None]:
        response = app.test_client().post(url, json=body, headers=headers)
        return response.status_code, (response.get_json().get("error") or {}).get("code")

    answers = at_once(post, 4)
    assert sorted(answers, key=str) == [(201, None)] + [(409, "already_applied")] * 3, answers  # was 201, 409, 500, 500
    assert _count(CohortParticipant, CohortParticipant.cohort_id == cohort_id) == 1
    assert _count(Notification, Notification.user_id == manager_id, Notification.kind == "cohort_application") == 1


def test_five_page_applications_at_once_make_one_and_show_the_usual_message(app, monkeypatch):
    cohort = make_cohort(state="enrolling")
    mentor = make_mentor()
    clients = [sign_in(app.test_client(), mentor.user) for _ in range(5)]
    cohort_id = cohort.id
    _all_read_before_any_writes(monkeypatch, 5, "apply")

    def post(index: int) -> tuple[int, str]:
        response = clients[index].post(f"/cohorts/{cohort_id}/apply", data={"role": "mentor"})
        return response.status_code, response.get_data(as_text=True)

    answers = at_once(post, 5)
    assert sorted(status for status, _page in answers) == [302, 409, 409, 409, 409], answers  # was 302, 500, 409 ...
    assert all("You have already applied to this cohort as mentor." in page
               for status, page in answers if status == 409)
    assert _count(CohortParticipant, CohortParticipant.cohort_id == cohort_id) == 1


def test_accept_and_reject_at_once_one_wins_the_other_is_refused_and_one_notification_goes_out(app, monkeypatch):
    cohort = make_cohort(state="enrolling")
    goal = make_goal()
    participant = enrol(cohort, goal.owner, "mentee", goal, status="applied")
    url = f"/api/v1/cohorts/{cohort.id}/applications/{participant.id}"
    headers = bearer(make_user(is_manager=True))
    participant_id, applicant_id = participant.id, goal.owner_id
    _all_read_before_any_writes(monkeypatch, 2, "decide")

    def post(index: int) -> tuple[int, str]:
        response = app.test_client().post(url, json={"decision": ("accept", "reject")[index]}, headers=headers)
        return response.status_code, response.get_json().get("status") or response.get_json()["error"]["code"]

    answers = at_once(post, 2)
    assert sorted(status for status, _answer in answers) == [200, 409], answers  # both used to answer 200
    [winner] = [answer for status, answer in answers if status == 200]
    assert [answer for status, answer in answers if status == 409] == ["wrong_state"]
    assert db.session.get(CohortParticipant, participant_id).status == winner
    told = db.session.scalars(select(Notification.message_key).where(Notification.user_id == applicant_id)).all()
    assert told == [f"cohort_{winner}"]  # never both "You are in!" and "not accepted this time"


def test_a_withdrawal_while_the_manager_accepts_has_one_winner(app, monkeypatch):
    cohort = make_cohort(state="enrolling")
    mentor = make_mentor()
    participant = enrol(cohort, mentor.user, "mentor", status="applied")
    applicant = sign_in(app.test_client(), mentor.user)
    manager = sign_in(app.test_client(), make_user(is_manager=True))
    base, participant_id, applicant_id = f"/cohorts/{cohort.id}", participant.id, mentor.user_id
    _all_read_before_any_writes(monkeypatch, 2, "decide", "withdraw")

    def post(index: int) -> tuple[int, list[str]]:
        if index == 0:
            response = applicant.post(f"{base}/applications/{participant_id}/withdraw")
            return response.status_code, _flashes(applicant)
        response = manager.post(f"{base}/participants/{participant_id}/decision", data={"decision": "accepted"})
        return response.status_code, _flashes(manager)

    answers = at_once(post, 2)
    assert [status for status, _flashed in answers] == [302, 302], answers  # one of them used to be a 500
    withdrawal, decision = (flashed for _status, flashed in answers)
    left = db.session.get(CohortParticipant, participant_id)
    told = db.session.scalars(select(Notification.message_key).where(Notification.user_id == applicant_id)).all()
    refused = "This application was changed in the meantime. Look at its current state, then try again."
    if left is None:
        assert (withdrawal, decision, told) == (["Your application was withdrawn."], ["No such application."], [])
    else:
        assert (left.status, withdrawal, told) == ("accepted", [refused], ["cohort_accepted"])


@pytest.mark.parametrize("first", ["accepted", "rejected"])
def test_a_later_decision_on_the_page_still_changes_an_earlier_one(app, client, login_as, first):
    """Refusing a decision that crossed another must not stop a manager who changes their mind afterwards."""
    cohort = make_cohort(state="enrolling")
    goal = make_goal()
    participant = enrol(cohort, goal.owner, "mentee", goal, status="applied")
    login_as(make_user(is_manager=True))
    url = f"/cohorts/{cohort.id}/participants/{participant.id}/decision"
    then = "waitlisted"
    assert client.post(url, data={"decision": first}).status_code == 302
    assert client.post(url, data={"decision": then}).status_code == 302
    db.session.expire_all()
    assert participant.status == then
    keys = db.session.scalars(select(Notification.message_key).where(Notification.user_id == goal.owner_id)).all()
    assert sorted(keys) == sorted([f"cohort_{first}", f"cohort_{then}"])
