"""Tandem requests through the API and the pages: rules, limits, capacity, contact details."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from flask_babel import format_date

from marketplace.extensions import db
from marketplace.models import Notification, Tandem
from marketplace.services import accounts, companies, tandems
from tests.builders import make_goal, make_mentor, make_user


def bearer(user) -> dict[str, str]:
    token = accounts.create_api_token(user)
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def pair(app):
    mentor = make_mentor(company="Young Digital GmbH", capacity=1)
    goal = make_goal(company="Old Industry AG")
    return mentor, goal


def request_via_api(client, goal, mentor, headers):
    return client.post("/api/v1/tandems", json={"goal_id": goal.id, "mentor_id": mentor.id}, headers=headers)


def test_request_accept_flow_shows_contact_only_after_acceptance(client, pair):
    mentor, goal = pair
    mentee_headers = bearer(goal.owner)
    response = request_via_api(client, goal, mentor, mentee_headers)
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "requested"
    assert "email" not in body["mentor"]
    assert db.session.query(Notification).filter_by(user_id=mentor.user_id, kind="request_received").count() == 1

    mentor_headers = bearer(mentor.user)
    accepted = client.post(f"/api/v1/tandems/{body['id']}/accept", json={"message": "Gern!"}, headers=mentor_headers)
    assert accepted.status_code == 200
    data = accepted.get_json()
    assert data["status"] == "active"
    assert data["mentee"]["email"] == goal.owner.email
    assert data["starts_on"] and data["ends_on"]
    db.session.expire_all()
    assert goal.status == "matched"


def test_same_company_request_is_refused_with_the_reason(client, app):
    mentor = make_mentor(company="Nordlicht Media GmbH")
    goal = make_goal(company="nordlicht media gmbh ")
    response = request_via_api(client, goal, mentor, bearer(goal.owner))
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "same_company"
    assert db.session.query(Tandem).count() == 0


def test_competitors_are_refused_in_both_directions(client, app):
    mentor = make_mentor(company="Bank A")
    goal = make_goal(company="Bank B")
    companies.link_competitors(companies.find_company("Bank B"), companies.find_company("Bank A"))
    db.session.commit()
    response = request_via_api(client, goal, mentor, bearer(goal.owner))
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "competitors"


def test_at_most_five_open_requests_per_goal(client, app):
    goal = make_goal()
    headers = bearer(goal.owner)
    mentors = [make_mentor(company=f"Mentor Co {i}") for i in range(6)]
    statuses = [request_via_api(client, goal, m, headers).status_code for m in mentors]
    assert statuses == [201] * 5 + [409]


def test_accepting_withdraws_the_other_requests_and_tells_those_mentors(client, app):
    goal = make_goal()
    headers = bearer(goal.owner)
    first, second = make_mentor(company="A GmbH"), make_mentor(company="B GmbH")
    t1 = request_via_api(client, goal, first, headers).get_json()["id"]
    t2 = request_via_api(client, goal, second, headers).get_json()["id"]
    client.post(f"/api/v1/tandems/{t1}/accept", headers=bearer(first.user))
    assert db.session.get(Tandem, t2).status == "withdrawn"
    assert db.session.query(Notification).filter_by(user_id=second.user_id, kind="request_withdrawn").count() == 1


def test_accepting_at_full_capacity_is_refused(client, app):
    mentor = make_mentor(company="Young Digital GmbH", capacity=1)
    goal_a, goal_b = make_goal(company="Old A AG"), make_goal(company="Old B AG")
    ta = request_via_api(client, goal_a, mentor, bearer(goal_a.owner)).get_json()["id"]
    tb = request_via_api(client, goal_b, mentor, bearer(goal_b.owner)).get_json()["id"]
    headers = bearer(mentor.user)
    assert client.post(f"/api/v1/tandems/{ta}/accept", headers=headers).status_code == 200
    refused = client.post(f"/api/v1/tandems/{tb}/accept", headers=headers)
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "mentor_full"


def test_withdraw_decline_and_end_early(client, pair):
    mentor, goal = pair
    mentee_headers, mentor_headers = bearer(goal.owner), bearer(mentor.user)
    tid = request_via_api(client, goal, mentor, mentee_headers).get_json()["id"]
    assert client.post(f"/api/v1/tandems/{tid}/withdraw", headers=mentee_headers).get_json()["status"] == "withdrawn"
    tid = request_via_api(client, goal, mentor, mentee_headers).get_json()["id"]
    assert client.post(f"/api/v1/tandems/{tid}/decline", headers=mentor_headers).get_json()["status"] == "declined"
    tid = request_via_api(client, goal, mentor, mentee_headers).get_json()["id"]
    client.post(f"/api/v1/tandems/{tid}/accept", headers=mentor_headers)
    no_reason = client.post(f"/api/v1/tandems/{tid}/end", json={}, headers=mentee_headers)
    assert no_reason.status_code == 400
    ended = client.post(f"/api/v1/tandems/{tid}/end", json={"reason": "New job abroad"}, headers=mentee_headers)
    assert ended.get_json()["status"] == "ended"
    ended_at = datetime.fromisoformat(ended.get_json()["ended_at"].replace("Z", "+00:00"))
    assert abs((ended_at - datetime.now(UTC)).total_seconds()) < 60  # when it ended, beside the planned ends_on


def test_a_tandem_ended_early_shows_the_day_it_ended_not_the_planned_end(app, client, login_as, pair):
    mentor, goal = pair
    mentee_headers = bearer(goal.owner)
    tid = request_via_api(client, goal, mentor, mentee_headers).get_json()["id"]
    client.post(f"/api/v1/tandems/{tid}/accept", headers=bearer(mentor.user))
    tandem = db.session.get(Tandem, tid)
    tandem.starts_on, tandem.ends_on = date(2026, 9, 1), date(2027, 3, 1)  # planned six months
    db.session.commit()
    client.post(f"/api/v1/tandems/{tid}/end", json={"reason": "New job abroad"}, headers=mentee_headers)
    db.session.refresh(tandem)
    with app.test_request_context():
        planned, ended = format_date(tandem.ends_on), format_date(tandem.ended_at)
    assert planned != ended
    login_as(goal.owner)
    for path in ("/tandems/", f"/tandems/{tid}"):
        page = client.get(path).get_data(as_text=True)
        assert ended in page and planned not in page, path


def test_an_outsider_cannot_see_or_answer_a_tandem(client, pair):
    mentor, goal = pair
    tid = request_via_api(client, goal, mentor, bearer(goal.owner)).get_json()["id"]
    outsider = bearer(make_user(company="Elsewhere AG"))
    assert client.get(f"/api/v1/tandems/{tid}", headers=outsider).status_code == 404
    assert client.post(f"/api/v1/tandems/{tid}/accept", headers=outsider).status_code == 404


def test_request_and_accept_through_the_pages(client, login_as, pair):
    mentor, goal = pair
    login_as(goal.owner)
    page = client.get(f"/goals/{goal.id}")
    assert mentor.user.name in page.get_data(as_text=True)  # suggested on the goal page
    response = client.post("/tandems/request", data={"goal_id": goal.id, "mentor_id": mentor.id, "message": "Hi"})
    assert response.status_code == 302
    tandem = db.session.query(Tandem).one()
    client.post("/auth/logout")
    login_as(mentor.user)
    client.post(f"/tandems/{tandem.id}/answer", data={"action": "accept", "message": "Sure"})
    page = client.get(f"/tandems/{tandem.id}").get_data(as_text=True)
    assert goal.owner.email in page
    db.session.expire_all()
    assert db.session.get(Tandem, tandem.id).status == "active"


def test_the_answer_form_sends_only_the_pressed_button_as_the_action(client, login_as, pair):
    """A browser posts every named field of the form: a hidden, empty `action` before the buttons won over
    the button's value, and accepting in a real browser silently did nothing."""
    mentor, goal = pair
    tandem = tandems.request_tandem(goal, mentor, goal.owner, "Hi")
    db.session.commit()
    login_as(mentor.user)

    page = client.get(f"/tandems/{tandem.id}").get_data(as_text=True)

    actions = re.findall(r'<(input|button)[^>]*name="action"[^>]*>', page)
    assert actions == ["button", "button"]
    assert 'name="action" value="accept"' in page and 'name="action" value="decline"' in page
