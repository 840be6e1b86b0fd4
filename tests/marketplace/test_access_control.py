"""Every route, walked as anonymous, outsider and manager: nobody reaches what is not theirs.

Each endpoint must be classified below; a new route that is not fails the completeness test, so
access rules are decided on purpose, never by accident.
"""

from __future__ import annotations

import html
from datetime import UTC, date, datetime, time, timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from marketplace.extensions import db
from marketplace.models import Cohort, Notification, PulseCheck, Tandem
from marketplace.services import accounts, milestones, scheduling, tandems
from marketplace.services.cohorts import enrolment
from tests.builders import make_goal, make_meeting, make_mentor, make_user, sign_in

PUBLIC = {
    "static", "main.index", "main.set_language", "auth.login", "auth.register", "auth.forgot_password",
    "auth.reset_password", "auth.accept_invitation", "auth.confirm_company", "auth.logout", "api.openapi",
    "preferences.unsubscribe",  # one-click from an e-mail (RFC 8058): the signed token is the proof
    "preferences.back",  # a paused mentor's one-click "I'm back" from an e-mail: the signed token likewise
}
# POSTed by mail clients without a session or form: exempt from CSRF (tested in test_notification_mail.py).
CSRF_EXEMPT = {"preferences.unsubscribe", "preferences.back"}
# Someone else's objects: an outsider (signed in, no relation) gets 403 or 404, never the object.
OTHERS_OBJECTS = {
    "goals.detail", "goals.edit", "goals.delete", "goals.set_status",
    "tandems.detail", "tandems.answer", "tandems.end", "tandems.withdraw",
    "cohorts.meetings.tandem", "cohorts.meetings.log", "cohorts.meetings.delete", "cohorts.meetings.outcome",
    "cohorts.meetings.meeting_ics",
    "cohorts.proposals.propose", "cohorts.proposals.pick", "cohorts.proposals.decline", "cohorts.proposals.withdraw",
    "auth.delete_availability",  # someone else's window: 404
    # The goal's owner; the mentor of a running tandem on it ticks; managers read those of cohort goals.
    "goals.milestones.page", "goals.milestones.change", "goals.milestones.rename",
    "api.goal_milestones", "api.goal_milestone",
    # The partners; managers read those of cohort tandems (test_meetings.py).
    "api.tandem_meetings", "api.tandem_meeting", "api.meeting_invite",
    "api.tandem_proposals", "api.tandem_proposal", "api.pick_proposal", "api.decline_proposal",
    "api.withdraw_proposal",
    "api.get_goal", "api.goal_suggestions", "api.get_tandem", "api.answer_tandem",
    "api.update_goal", "api.delete_goal", "api.read_notification", "api.get_application",
    "mentors.fitting_goal", "mentors.offer_help",  # only a discoverable goal's summary, to a mentor it fits
    "cohorts.withdraw", "cohorts.survey",
    "cohorts.pulse.answer",  # only the asked partner, never the other one (test_pulse.py)
}
# Community managers only.
MANAGER_ONLY = {
    "admin.index", "admin.people", "admin.person", "admin.verify_company", "admin.clear_company",
    "admin.companies_list", "admin.company", "admin.company_domains", "admin.add_competitor",
    "admin.remove_competitor", "admin.rename_company", "admin.topics", "admin.new_topic", "admin.edit_topic",
    "admin.promote_topic", "admin.outbox", "admin.review_merge", "admin.merge_company",
    "cohorts.new", "cohorts.edit", "cohorts.change_state", "cohorts.decide", "cohorts.import_upload",
    "cohorts.import_confirm", "cohorts.import_progress",
    "cohorts.match", "cohorts.review", "cohorts.swap", "cohorts.remove", "cohorts.lock",
    "cohorts.add_pair", "cohorts.publish", "cohorts.progress", "cohorts.report", "cohorts.report_csv",
    "cohorts.chart", "cohorts.tandems_csv", "cohorts.export_xlsx", "cohorts.import_preview", "cohorts.import_template",
    "cohorts.accept_many", "cohorts.freed_slots.confirm", "api.cohort_freed_slots", "cohorts.nudge",
    "api.create_cohort", "api.cohort_health", "api.get_cohort", "api.match_cohort", "api.publish_cohort",
    "api.cohort_report",
    "api.list_applications", "api.decide_application",
}
# Any signed-in person, for their own things (their own profile, goals, account, tandem list...).
SIGNED_IN = {
    "main.dashboard", "main.notifications", "main.mark_notifications_read",
    "auth.account", "auth.change_password", "auth.create_token", "auth.revoke_token", "auth.update_settings",
    "auth.export_data", "auth.delete_account", "auth.resend_company_confirmation", "preferences.settings",
    "mentors.index", "mentors.my_profile", "mentors.edit_profile", "mentors.pause", "mentors.reopen",
    "mentors.delete_profile", "mentors.profile", "mentors.offer_help", "mentors.fitting_goal",
    "goals.index", "goals.new", "search.mentors", "tandems.index", "tandems.request_tandem",
    "cohorts.index", "cohorts.apply", "cohorts.detail",  # a cohort's public page: what it is, how to apply
    "api.search_mentors", "api.get_mentor", "api.list_goals", "api.list_tandems", "api.create_tandem",
    "api.list_cohorts", "api.create_goal", "api.get_my_mentor_profile", "api.put_my_mentor_profile",
    "api.delete_my_mentor_profile", "api.list_notifications", "api.apply_to_cohort",
    "auth.add_availability", "api.my_availability",
}


@pytest.fixture
def world(app: Flask) -> dict:
    """A mentee with a goal, a mentor in an active tandem with a private meeting note, a cohort the mentor
    applied to, a manager; the mentee was notified of the acceptance."""
    mentor = make_mentor(company="Young AG", capacity=2)
    goal = make_goal(company="Old AG")
    tandem = tandems.request_tandem(goal, mentor, goal.owner)
    tandems.accept(tandem, mentor.user)
    meeting = make_meeting(tandem, date.today(), author=goal.owner, topics_covered="LinkedIn basics",
                           private_note="I felt lost in the jargon.")
    cohort = Cohort(name="Spring", starts_on=date.today(), ends_on=date.today() + timedelta(days=180),
                    state="enrolling", enrolment_open=True)
    # The mentee's answered pulse check: nobody but the mentee ever sees its comment.
    pulse_check = PulseCheck(tandem_id=tandem.id, user_id=goal.owner_id, role="mentee", occasion="day-30",
                             answered_at=datetime.now(UTC), usefulness=2, collaboration=2,
                             comment="I felt lost in the jargon.")
    db.session.add_all([meeting, cohort, pulse_check])
    db.session.commit()
    milestone = milestones.add(goal, goal.owner, "Post once a week")
    application = enrolment.apply(cohort, mentor.user, "mentor")
    soon = datetime.combine(date.today() + timedelta(days=2), time(12, 0), tzinfo=UTC)
    proposal = scheduling.propose(tandem, mentor.user, [scheduling.SlotInput(soon)])
    window = scheduling.add_window(mentor.user, 1, 18 * 60, 20 * 60)
    notification = db.session.scalar(select(Notification).where(Notification.user_id == goal.owner_id).limit(1))
    return {
        "mentor": mentor, "goal": goal, "tandem": tandem, "meeting": meeting, "cohort": cohort,
        "application": application, "notification": notification, "proposal": proposal, "window": window,
        "milestone": milestone, "pulse_check": pulse_check,
        "outsider": make_user(company="Elsewhere AG"), "manager": make_user(is_manager=True, company=None),
    }


def _values(rule, world) -> dict:
    values = {
        "id": world["goal"].id if rule.endpoint.startswith("goals.") else world["mentor"].id,
        "goal_id": world["goal"].id, "mentor_id": world["mentor"].id, "tandem_id": world["tandem"].id,
        "meeting_id": world["meeting"].id, "cohort_id": world["cohort"].id,
        "milestone_id": world["milestone"].id if "milestone" in world else 1,
        "participant_id": world["application"].id if "application" in world else 1,
        "notification_id": world["notification"].id if "notification" in world else 1,
        "user_id": world["mentor"].user_id, "company_id": 1, "other_id": 2, "topic_id": 1, "token_id": 1,
        "token": "not-a-real-token", "job_id": 1, "action": "accept", "name": "meetings", "filename": "tandem.css",
        "ext": "csv",
        "proposal_id": world["proposal"].id if "proposal" in world else 1,
        "window_id": world["window"].id if "window" in world else 1,
        "check_id": world["pulse_check"].id if "pulse_check" in world else 1,
    }
    if rule.endpoint == "cohorts.lock":
        values["action"] = "lock"
    if rule.endpoint == "cohorts.change_state":
        values["action"] = "open"
    return {key: values[key] for key in rule.arguments}


def _requests(app: Flask, world: dict):
    for rule in app.url_map.iter_rules():
        url = rule.build(_values(rule, world), append_unknown=False)[1]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, method, url


def _bearer(user) -> dict[str, str]:
    token = accounts.create_api_token(user)
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def test_every_endpoint_is_classified(app):
    classified = PUBLIC | OTHERS_OBJECTS | MANAGER_ONLY | SIGNED_IN
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints - classified == set(), "decide who may use these routes"
    assert classified - endpoints == set(), "classified routes that no longer exist"


def test_anonymous_visitors_are_sent_to_login_and_the_api_answers_401(app, client, world):
    for endpoint, method, url in _requests(app, world):
        if endpoint in PUBLIC:
            continue
        response = client.open(url, method=method)
        if url.startswith("/api/"):
            assert response.status_code == 401, (method, url)
            assert response.get_json()["error"]["code"] == "unauthorized"
        else:
            assert response.status_code == 302, (method, url, response.status_code)
            assert "/auth/login" in response.headers["Location"], (method, url)


def test_an_outsider_gets_nothing_of_others_and_no_manager_page(app, client, login_as, world):
    login_as(world["outsider"])
    headers = _bearer(world["outsider"])
    for endpoint, method, url in _requests(app, world):
        if endpoint not in OTHERS_OBJECTS | MANAGER_ONLY:
            continue
        response = client.open(url, method=method, headers=headers if url.startswith("/api/") else None)
        assert response.status_code in (403, 404), (method, url, response.status_code)
        assert "I felt lost in the jargon" not in response.get_data(as_text=True)


def test_a_plain_user_is_refused_every_manager_page(app, client, login_as, world):
    mentee = world["goal"].owner
    login_as(mentee)
    headers = _bearer(mentee)
    for endpoint, method, url in _requests(app, world):
        if endpoint in MANAGER_ONLY:
            response = client.open(url, method=method, headers=headers if url.startswith("/api/") else None)
            assert response.status_code in (403, 404), (method, url, response.status_code)


def test_a_private_meeting_note_is_seen_by_its_author_only(client, login_as, world):
    page = f"/cohorts/tandems/{world['tandem'].id}"
    login_as(world["goal"].owner)
    assert "I felt lost in the jargon." in client.get(page).get_data(as_text=True)
    client.post("/auth/logout")
    login_as(world["mentor"].user)
    partner_view = client.get(page)
    assert partner_view.status_code == 200
    assert "LinkedIn basics" in partner_view.get_data(as_text=True)
    assert "I felt lost in the jargon." not in partner_view.get_data(as_text=True)
    assert client.get(f"/cohorts/pulse/{world['pulse_check'].id}").status_code == 404  # the partner's answer
    client.post("/auth/logout")
    login_as(world["manager"])
    assert "I felt lost in the jargon." not in client.get(f"/cohorts/{world['cohort'].id}/progress").get_data(
        as_text=True
    )
    assert client.get(f"/cohorts/pulse/{world['pulse_check'].id}").status_code == 404


def test_a_manager_sees_any_goal_but_not_the_partners_private_pages(client, login_as, world):
    login_as(world["manager"])
    assert client.get(f"/goals/{world['goal'].id}").status_code == 200
    assert client.get(f"/goals/{world['goal'].id}/edit").status_code in (403, 404)


def test_every_state_changing_page_request_needs_a_csrf_token(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        owner = make_user(company="Old AG")
        client = sign_in(app.test_client(), owner)
        fake_world = {
            "goal": make_goal(owner=owner), "mentor": make_mentor(company="Young AG"),
            "tandem": type("T", (), {"id": 1})(), "meeting": type("M", (), {"id": 1})(),
            "cohort": type("C", (), {"id": 1})(),
        }
        refused = []
        for endpoint, method, url in _requests(app, fake_world):
            if method != "POST" or url.startswith("/api/") or endpoint in CSRF_EXEMPT:
                continue
            response = client.post(url, data={"anything": "x"})
            assert response.status_code == 400, (url, response.status_code)
            refused.append(endpoint)
        assert len(refused) > 40


def _mentor_of_a_finished_request(goal, status: str):
    mentor = make_mentor(company=f"{status.title()} AG")
    tandem = tandems.request_tandem(goal, mentor, goal.owner)
    {"declined": tandems.decline, "withdrawn": lambda t, _user: tandems.withdraw(t, goal.owner)}[status](
        tandem, mentor.user
    )
    return mentor


def _mentor_in_a_draft_only(goal):
    mentor = make_mentor(company="Draft AG")
    cohort = Cohort(name="Autumn", starts_on=date.today(), ends_on=date.today() + timedelta(days=120),
                    state="matching")
    db.session.add(cohort)
    db.session.add(Tandem(goal=goal, mentor=mentor, mentee_user_id=goal.owner_id, mentor_user_id=mentor.user_id,
                          cohort=cohort, status="draft"))
    db.session.commit()
    return mentor


ROLES_WITHOUT_THE_GOAL = {
    "declined mentor": lambda goal: _mentor_of_a_finished_request(goal, "declined"),
    "withdrawn mentor": lambda goal: _mentor_of_a_finished_request(goal, "withdrawn"),
    "draft-only mentor": _mentor_in_a_draft_only,
}


@pytest.mark.parametrize("role", sorted(ROLES_WITHOUT_THE_GOAL))
def test_a_mentor_without_a_live_tandem_on_a_goal_cannot_read_it(app, client, login_as, role):
    goal = make_goal(company="Old AG", title="Succession plan for our family firm")
    mentor = ROLES_WITHOUT_THE_GOAL[role](goal)
    login_as(mentor.user)
    headers = _bearer(mentor.user)
    for url in (f"/goals/{goal.id}", f"/goals/{goal.id}/edit", f"/goals/{goal.id}/milestones"):
        assert client.get(url).status_code == 404, url
    for url in (f"/api/v1/goals/{goal.id}", f"/api/v1/goals/{goal.id}/suggestions",
                f"/api/v1/goals/{goal.id}/milestones"):
        assert client.get(url, headers=headers).status_code == 404, url
    listed = client.get("/api/v1/goals", headers=headers).get_json()["goals"]
    assert goal.id not in {g["id"] for g in listed}


def test_a_mentor_with_a_pending_request_reads_the_goal_but_not_its_suggestions(app, client, login_as):
    goal = make_goal(company="Old AG")
    mentor = make_mentor(company="Young AG")
    tandems.request_tandem(goal, mentor, goal.owner)
    login_as(mentor.user)
    headers = _bearer(mentor.user)
    assert client.get(f"/goals/{goal.id}").status_code == 200
    assert client.get(f"/api/v1/goals/{goal.id}", headers=headers).status_code == 200
    assert client.get(f"/api/v1/goals/{goal.id}/suggestions", headers=headers).status_code == 403
    manager = make_user(is_manager=True, company=None)
    assert client.get(f"/api/v1/goals/{goal.id}/suggestions", headers=_bearer(manager)).status_code == 200


def _not_accepted(state: str):
    """A mentor and Richard Hale's goal, with the mentor's offer not yet accepted or the mentee's request declined."""
    mentor = make_mentor(company="Young AG")
    goal = make_goal(owner=make_user(name="Richard Hale", company="Old AG"), title="Our brand on LinkedIn")
    if state == "offered":
        tandem = tandems.offer_help(goal, mentor.user)
    else:
        tandem = tandems.decline(tandems.request_tandem(goal, mentor, goal.owner), mentor.user)
    return mentor, tandem


@pytest.mark.parametrize("state", ["offered", "declined"])
def test_a_mentor_not_accepted_knows_the_mentees_first_name_only_everywhere(client, login_as, state):
    mentor, tandem = _not_accepted(state)
    login_as(mentor.user)
    for url in (f"/tandems/{tandem.id}", f"/cohorts/tandems/{tandem.id}", "/tandems/", "/dashboard"):
        body = client.get(url).get_data(as_text=True)
        assert "Hale" not in body, url
    assert "<h1>Your tandem with Richard</h1>" in client.get(f"/cohorts/tandems/{tandem.id}").get_data(as_text=True)
    assert client.get(f"/api/v1/tandems/{tandem.id}", headers=_bearer(mentor.user)).get_json()["mentee"]["name"] \
        == "Richard"
    [exported] = client.get("/auth/account/export.json").get_json()["tandems"]
    assert exported["partner"] == "Richard"
    client.post("/auth/logout")
    login_as(tandem.mentee)  # the mentee knows the mentor in full, and themselves
    assert client.get("/auth/account/export.json").get_json()["tandems"][0]["partner"] == mentor.user.name


NOT_STARTED_NOTICES = {
    "requested": ("This tandem has not started yet: the request is waiting for the mentor's answer.",
                  "Dieses Tandem hat noch nicht begonnen: Die Anfrage wartet auf die Antwort der Mentor:in."),
    "offered": ("This tandem has not started yet: the offer of help is waiting for the mentee's answer.",
                "Dieses Tandem hat noch nicht begonnen: Das Hilfsangebot wartet auf die Antwort des Mentees."),
    "declined": ("This tandem did not start: it was declined.",
                 "Dieses Tandem hat nicht begonnen: Es wurde abgelehnt."),
    "withdrawn": ("This tandem did not start: it was withdrawn.",
                  "Dieses Tandem hat nicht begonnen: Es wurde zurückgezogen."),
    "cancelled": ("This tandem did not start: a matching rule no longer allowed it, so it was cancelled.",
                  "Dieses Tandem hat nicht begonnen: Eine Matching-Regel ließ es nicht mehr zu, daher wurde es "
                  "storniert."),
    "expired": ("This tandem did not start: the request expired without an answer.",
                "Dieses Tandem hat nicht begonnen: Die Anfrage ist ohne Antwort abgelaufen."),
}


@pytest.mark.parametrize("status", sorted(NOT_STARTED_NOTICES))
def test_the_meetings_page_of_a_tandem_that_has_not_started_says_where_it_stands(client, login_as, status):
    mentor = make_mentor(company="Young AG")
    goal = make_goal(owner=make_user(name="Richard Hale", company="Old AG"))
    tandem = tandems.request_tandem(goal, mentor, goal.owner)
    tandem.status = status
    db.session.commit()
    english, german = NOT_STARTED_NOTICES[status]
    for viewer in (mentor.user, goal.owner):
        login_as(viewer)
        page = html.unescape(client.get(f"/cohorts/tandems/{tandem.id}").get_data(as_text=True))
        assert english in page and "This tandem is over." not in page, viewer
        assert ("Once it is accepted, you plan your meetings here." in page) == (status in ("requested", "offered"))
        assert "Plan or log a meeting" not in page
        viewer.locale = "de"
        db.session.commit()
        assert german in client.get(f"/cohorts/tandems/{tandem.id}").get_data(as_text=True)
        client.post("/auth/logout")
