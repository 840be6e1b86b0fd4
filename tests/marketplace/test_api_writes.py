"""The API does what the pages do: goals, one's mentor profile, notifications and cohort applications."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from marketplace.extensions import db
from marketplace.models import Cohort, CohortParticipant, Goal, MentorProfile, Notification
from marketplace.services import notifications, tandems
from tests.builders import make_goal, make_mentor, make_user
from tests.marketplace.test_api import assert_error, bearer

GOAL = {
    "title": "Lead with AI",
    "description": "I run a logistics firm and want to know what generative AI changes for my teams.",
}


def running_tandem(goal: Goal, mentor: MentorProfile | None = None):
    mentor = mentor or make_mentor(company="Young AG")
    tandem = tandems.request_tandem(goal, mentor, goal.owner)
    tandems.accept(tandem, mentor.user)
    return tandem


# --- goals ---------------------------------------------------------------------------------------


def test_a_goal_created_through_the_api_reads_back_as_get_shows_it(client, app):
    owner = make_user(company="Old Industry AG")
    headers = bearer(owner)
    body = GOAL | {"topics": ["künstliche INTELLIGENZ", "social media", "Podcasting"], "languages": ["de", "EN"],
                   "exclude_companies": ["Rival GmbH", "rival"], "discoverable": False}
    response = client.post("/api/v1/goals", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert created == client.get(f"/api/v1/goals/{created['id']}", headers=headers).get_json()
    assert created["title"] == "Lead with AI" and created["owner"]["id"] == owner.id
    assert sorted(created["topics"]) == ["Artificial intelligence", "Podcasting", "Social media"]
    assert created["languages"] == ["de", "en"]
    assert created["excluded_companies"] == ["Rival GmbH"]  # one company however it is spelled
    assert created["discoverable"] is False and created["status"] == "open"
    german = client.get(f"/api/v1/goals/{created['id']}", headers=headers | {"Accept-Language": "de"}).get_json()
    assert "Künstliche Intelligenz" in german["topics"]


def test_a_new_goals_languages_default_to_the_interface_language(client, app):
    owner = make_user()
    owner.locale = "de"
    db.session.commit()
    created = client.post("/api/v1/goals", json=GOAL, headers=bearer(owner)).get_json()
    assert created["languages"] == ["de"]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"title", "description"}),
        ({"title": 5, "description": ["x"], "discoverable": "yes", "topics": "AI"},
         {"title", "description", "discoverable", "topics"}),
        (GOAL | {"description": "Too short."}, {"description"}),
        (GOAL | {"title": "   "}, {"title"}),
        (GOAL | {"languages": ["xx"]}, {"languages"}),
        (GOAL | {"languages": []}, {"languages"}),
        (GOAL | {"topics": [f"Topic {n}" for n in range(11)]}, {"topics"}),
        (GOAL | {"exclude_companies": ["x" * 201]}, {"exclude_companies"}),
    ],
)
def test_a_bad_goal_is_refused_with_every_wrong_field_named(client, app, body, fields):
    response = client.post("/api/v1/goals", json=body, headers=bearer(make_user()))
    assert set(assert_error(response, 422, "invalid_fields")["fields"]) == fields
    assert db.session.scalar(select(func.count()).select_from(Goal)) == 0


def test_patch_changes_only_the_fields_sent_and_answers_the_goal(client, app):
    goal = make_goal(topic_slugs=("social-media",), excluded=("Rival GmbH",))
    headers = bearer(goal.owner)
    response = client.patch(f"/api/v1/goals/{goal.id}", json={"title": "Lead with social media"}, headers=headers)
    assert response.status_code == 200
    assert response.get_json() == client.get(f"/api/v1/goals/{goal.id}", headers=headers).get_json()
    changed = response.get_json()
    assert changed["title"] == "Lead with social media"
    assert changed["topics"] == ["Social media"] and changed["excluded_companies"] == ["Rival GmbH"]
    again = client.patch(f"/api/v1/goals/{goal.id}", json={"exclude_companies": [], "topics": changed["topics"]},
                         headers=headers)
    assert again.get_json()["excluded_companies"] == [] and again.get_json()["topics"] == ["Social media"]
    error = assert_error(client.patch(f"/api/v1/goals/{goal.id}", json={"description": ""}, headers=headers), 422)
    assert set(error["fields"]) == {"description"}
    # A field the goal does not have is named, not silently dropped with a 200.
    unknown = client.patch(f"/api/v1/goals/{goal.id}", json={"status": "completed", "title": "x y z"}, headers=headers)
    assert set(assert_error(unknown, 422, "invalid_fields")["fields"]) == {"status"}
    assert db.session.get(Goal, goal.id).title == "Lead with social media"


def test_someone_elses_goal_cannot_be_changed_or_deleted(client, app):
    goal = make_goal()
    mentor = make_mentor(company="Young AG")
    tandems.request_tandem(goal, mentor, goal.owner)  # the mentor now sees the goal, but it is not theirs
    for user, status in ((make_user(), 404), (mentor.user, 403), (make_user(is_manager=True), 403)):
        headers = bearer(user)
        assert_error(client.patch(f"/api/v1/goals/{goal.id}", json={"title": "Mine"}, headers=headers), status)
        assert_error(client.delete(f"/api/v1/goals/{goal.id}", headers=headers), status)
    db.session.expire_all()
    assert db.session.get(Goal, goal.id).title == "Understand what AI means for our business"


def test_delete_answers_204_and_409_while_a_tandem_runs_on_the_goal(client, app):
    free, busy = make_goal(), make_goal(company="Busy AG")
    running_tandem(busy)
    response = client.delete(f"/api/v1/goals/{free.id}", headers=bearer(free.owner))
    assert response.status_code == 204 and response.data == b""
    assert_error(client.get(f"/api/v1/goals/{free.id}", headers=bearer(free.owner)), 404)
    error = assert_error(client.delete(f"/api/v1/goals/{busy.id}", headers=bearer(busy.owner)), 409, "tandem_running")
    assert "end it" in error["message"]
    assert db.session.get(Goal, busy.id) is not None


def test_the_goal_page_refuses_to_delete_a_goal_with_a_running_tandem(client, login_as, app):
    goal = make_goal()
    running_tandem(goal)
    login_as(goal.owner)
    page = client.post(f"/goals/{goal.id}/delete", follow_redirects=True).get_data(as_text=True)
    assert "A tandem is running on this goal: end it before deleting the goal." in page
    assert db.session.get(Goal, goal.id) is not None


# --- the caller's mentor profile -----------------------------------------------------------------

PROFILE = {"headline": "Social media for leaders", "text": "I show executives how LinkedIn and Instagram work."}


def test_put_creates_the_profile_with_defaults_then_replaces_it(client, app):
    user = make_user(company="Young AG")
    headers = bearer(user)
    assert_error(client.get("/api/v1/me/mentor-profile", headers=headers), 404)
    full = PROFILE | {"topics": ["Social Media", "Podcasting"], "languages": ["en", "de"], "capacity": 3,
                      "meetings_per_month": 2, "meeting_format": "hybrid", "city": "Hamburg", "paused": True}
    created = client.put("/api/v1/me/mentor-profile", json=full, headers=headers)
    assert created.status_code == 201, created.get_json()
    assert created.get_json() == client.get("/api/v1/me/mentor-profile", headers=headers).get_json()
    assert created.get_json() | {"id": 0} == {
        "id": 0, "name": user.name, "company": "Young AG", "headline": PROFILE["headline"], "text": PROFILE["text"],
        "topics": ["Podcasting", "Social media"], "languages": ["de", "en"], "capacity": 3, "meetings_per_month": 2,
        "meeting_format": "hybrid", "city": "Hamburg", "paused": True,
    }
    replaced = client.put("/api/v1/me/mentor-profile", json=PROFILE, headers=headers)
    assert replaced.status_code == 200
    body = replaced.get_json()
    assert body["id"] == created.get_json()["id"]
    assert (body["topics"], body["languages"], body["capacity"], body["meeting_format"], body["city"],
            body["paused"]) == ([], ["en"], 1, "remote", None, False)  # what was left out took its default
    assert db.session.scalar(select(func.count()).select_from(MentorProfile)) == 1


def test_a_paused_profile_leaves_the_search(client, app):
    user = make_user(company="Young AG")
    headers = bearer(user)
    searcher = bearer(make_user(company="Old AG"))
    body = PROFILE | {"headline": "Podcast production for executives"}
    profile_id = client.put("/api/v1/me/mentor-profile", json=body, headers=headers).get_json()["id"]
    found = client.get("/api/v1/mentors/search?q=podcast%20production", headers=searcher).get_json()["results"]
    assert profile_id in {r["id"] for r in found}
    client.put("/api/v1/me/mentor-profile", json=body | {"paused": True}, headers=headers)
    found = client.get("/api/v1/mentors/search?q=podcast%20production", headers=searcher).get_json()["results"]
    assert profile_id not in {r["id"] for r in found}


def test_a_bad_profile_is_refused_naming_the_fields_as_the_api_calls_them(client, app):
    user = make_user()
    headers = bearer(user)
    body = {"headline": "", "text": "Too short", "capacity": 11, "meeting_format": "by pigeon", "languages": ["xx"],
            "paused": "no", "city": 7}
    error = assert_error(client.put("/api/v1/me/mentor-profile", json=body, headers=headers), 422)
    assert set(error["fields"]) == {"paused", "city"}  # wrong JSON types first
    del body["paused"], body["city"]
    error = assert_error(client.put("/api/v1/me/mentor-profile", json=body, headers=headers), 422)
    assert set(error["fields"]) == {"headline", "text", "capacity", "meeting_format", "languages"}
    assert_error(client.put("/api/v1/me/mentor-profile", json={"text": PROFILE["text"]}, headers=headers), 422)
    assert db.session.scalar(select(func.count()).select_from(MentorProfile)) == 0


def test_deleting_the_profile_answers_204_and_409_while_a_tandem_runs(client, app):
    mentor = make_mentor(company="Young AG")
    headers = bearer(mentor.user)
    tandem = running_tandem(make_goal(), mentor)
    assert_error(client.delete("/api/v1/me/mentor-profile", headers=headers), 409, "tandem_running")
    assert client.get("/api/v1/me/mentor-profile", headers=headers).status_code == 200
    tandems.end(tandem, mentor.user, "We reached the goal early.")
    assert client.delete("/api/v1/me/mentor-profile", headers=headers).status_code == 204
    assert_error(client.get("/api/v1/me/mentor-profile", headers=headers), 404)
    assert_error(client.delete("/api/v1/me/mentor-profile", headers=headers), 404)


# --- notifications -------------------------------------------------------------------------------


def test_notifications_are_listed_in_the_requests_language_and_marked_read_one_by_one(client, app):
    goal = make_goal(title="Lead with AI")
    mentor = make_mentor(company="Young AG", user=make_user(name="Karla Jung", company="Young AG"))
    running_tandem(goal, mentor)
    headers = bearer(goal.owner)
    listed = client.get("/api/v1/notifications", headers=headers | {"Accept-Language": "de"}).get_json()
    assert listed["unread"] == len(listed["notifications"]) >= 1
    accepted = next(n for n in listed["notifications"] if n["kind"] == "request_accepted")
    assert set(accepted) == {"id", "kind", "text", "link", "created_at", "read"}
    assert "Karla Jung" in accepted["text"] and "Lead with AI" in accepted["text"]
    english = client.get("/api/v1/notifications", headers=headers | {"Accept-Language": "en"}).get_json()
    assert {n["text"] for n in english["notifications"]} != {n["text"] for n in listed["notifications"]}
    read = client.post(f"/api/v1/notifications/{accepted['id']}/read", headers=headers)
    assert read.status_code == 200 and read.get_json()["read"] is True
    after = client.get("/api/v1/notifications", headers=headers).get_json()
    assert after["unread"] == listed["unread"] - 1
    assert notifications.unread_count(goal.owner) == listed["unread"] - 1
    assert_error(client.post(f"/api/v1/notifications/{accepted['id']}/read", headers=bearer(mentor.user)), 404)
    assert_error(client.post("/api/v1/notifications/99999999/read", headers=headers), 404)


# --- cohort applications -------------------------------------------------------------------------


@pytest.fixture
def cohort(app) -> Cohort:
    cohort = Cohort(name="Spring", starts_on=date.today(), ends_on=date.today() + timedelta(days=180),
                    state="enrolling", enrolment_open=True)
    db.session.add(cohort)
    db.session.commit()
    return cohort


def test_a_mentee_applies_and_the_manager_decides(client, app, cohort):
    manager = make_user(is_manager=True, company=None)
    goal = make_goal()
    mentee = bearer(goal.owner)
    url = f"/api/v1/cohorts/{cohort.id}/applications"
    applied = client.post(url, json={"role": "mentee", "goal_id": goal.id}, headers=mentee)
    assert applied.status_code == 201, applied.get_json()
    application = applied.get_json()
    assert (application["role"], application["status"], application["goal_id"]) == ("mentee", "applied", goal.id)
    assert db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == manager.id)) == 1  # the manager hears of it, as from the page
    assert_error(client.post(url, json={"role": "mentee", "goal_id": goal.id}, headers=mentee), 409,
                 "already_applied")
    listed = client.get(url, headers=bearer(manager)).get_json()["applications"]
    assert [a["id"] for a in listed] == [application["id"]]
    assert_error(client.get(url, headers=mentee), 403)
    one = f"{url}/{application['id']}"
    assert client.get(one, headers=mentee).get_json() == application
    assert_error(client.get(one, headers=bearer(make_user())), 404)
    assert_error(client.post(one, json={"decision": "accept"}, headers=mentee), 403)
    assert_error(client.post(one, json={"decision": "maybe"}, headers=bearer(manager)), 422)
    decided = client.post(one, json={"decision": "accept"}, headers=bearer(manager))
    assert decided.status_code == 200 and decided.get_json()["status"] == "accepted"
    assert db.session.scalar(select(Notification.message_key).where(
        Notification.user_id == goal.owner_id)) == "cohort_accepted"
    assert client.post(one, json={"decision": "waitlist"}, headers=bearer(manager)).get_json()["status"] == "waitlisted"


def test_an_application_follows_the_pages_rules(client, app, cohort):
    someone = make_user()
    headers = bearer(someone)
    url = f"/api/v1/cohorts/{cohort.id}/applications"
    assert set(assert_error(client.post(url, json={"role": "mentor"}, headers=headers), 422)["fields"]) == {"role"}
    others_goal = make_goal()
    error = assert_error(client.post(url, json={"role": "mentee", "goal_id": others_goal.id}, headers=headers), 422)
    assert set(error["fields"]) == {"goal_id"}
    assert set(assert_error(client.post(url, json={"role": "boss"}, headers=headers), 422)["fields"]) == {"role"}
    assert set(assert_error(client.post(url, json={"role": 1}, headers=headers), 422)["fields"]) == {"role"}
    cohort.state, cohort.enrolment_open = "matching", False
    db.session.commit()
    make_mentor(user=someone)
    assert_error(client.post(url, json={"role": "mentor"}, headers=headers), 404)  # no longer enrolling, not in it
    assert db.session.scalar(select(func.count()).select_from(CohortParticipant)) == 0
    assert_error(client.post("/api/v1/cohorts/99999999/applications", json={"role": "mentor"}, headers=headers), 404)


def test_a_reason_or_message_over_the_limit_is_refused_naming_it_not_cut(client, app):
    mentor, goal = make_mentor(company="Young A"), make_goal(company="Old X")
    tandem = tandems.request_tandem(goal, mentor, goal.owner)
    long_text = "y" * 2001
    declined = client.post(f"/api/v1/tandems/{tandem.id}/decline", json={"message": long_text},
                           headers=bearer(mentor.user))
    assert set(assert_error(declined, 422, "invalid_fields")["fields"]) == {"message"}
    tandems.accept(db.session.get(type(tandem), tandem.id), mentor.user)
    ended = client.post(f"/api/v1/tandems/{tandem.id}/end", json={"reason": long_text}, headers=bearer(goal.owner))
    assert set(assert_error(ended, 422, "invalid_fields")["fields"]) == {"reason"}
    assert db.session.get(type(tandem), tandem.id).status == "active"
    fine = client.post(f"/api/v1/tandems/{tandem.id}/end", json={"reason": "y" * 2000}, headers=bearer(goal.owner))
    assert fine.status_code == 200 and fine.get_json()["status"] == "ended"
