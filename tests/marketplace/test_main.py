"""Landing page, dashboard, notifications and error pages."""

from __future__ import annotations

from datetime import date

from flask import current_app

from marketplace.extensions import db
from marketplace.models import Cohort, Tandem
from marketplace.services import notifications
from marketplace.services.dashboard import overview
from tests.builders import csrf_token_from, make_goal, make_meeting, make_mentor, make_user, sign_in


def make_tandem(mentor_profile, goal, status: str = "active", **fields) -> Tandem:
    tandem = Tandem(
        mentor=mentor_profile,
        mentor_user=mentor_profile.user,
        goal=goal,
        mentee=goal.owner,
        status=status,
        **fields,
    )
    db.session.add(tandem)
    db.session.commit()
    return tandem


# Landing page ---------------------------------------------------------------------------------


def test_landing_page_for_anonymous_visitors(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "reverse mentoring" in html.lower()
    assert "Register as a mentor" in html and "Register as an executive" in html
    assert 'href="/auth/register?role=mentor"' in html and 'href="/auth/register?role=mentee"' in html
    assert 'href="/auth/login"' in html
    assert "six" in html and "competitor" in html
    assert "style=" not in html


def test_landing_page_sends_signed_in_people_to_their_dashboard(login_as):
    client = login_as(make_user())
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/dashboard")


def test_stylesheet_is_served(client):
    response = client.get("/static/tandem.css")
    assert response.status_code == 200
    css = response.get_data(as_text=True)
    for selector in (
        ".container",
        ".card",
        ".button.secondary",
        ".link-button",
        ".flash-error",
        ".skip-link",
        ".progress",
        ".field-error",
        ".tag",
        ".score",
        ":focus-visible",
    ):
        assert selector in css, selector


# Dashboard ------------------------------------------------------------------------------------


def test_dashboard_needs_login(client):
    response = client.get("/dashboard")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_dashboard_shows_profile_goals_and_tandems(login_as):
    mentor = make_mentor(headline="LinkedIn for leaders", company="Young Digital GmbH")
    mentor.user.name = "Mia Mentor"
    goal = make_goal(title="Understand generative AI", company="Old Industry AG")
    goal.owner.name = "Ernst Executive"
    cohort = Cohort(name="Spring", starts_on=date(2025, 3, 1), ends_on=date(2025, 8, 31), meeting_target=4)
    db.session.add(cohort)
    tandem = make_tandem(mentor, goal, starts_on=date(2025, 3, 1), ends_on=date(2025, 8, 31), cohort=cohort)
    make_meeting(tandem, date(2025, 3, 10))
    make_meeting(tandem, date(2025, 4, 10))
    make_meeting(tandem, date(2025, 5, 10), status="planned")
    own_goal = make_goal(owner=mentor.user, title="Learn to lead a team", status="matched")
    other_mentor = make_mentor(headline="TikTok basics", company="Short Video AG")
    other_mentor.user.name = "Tom TikTok"
    make_tandem(other_mentor, own_goal, status="requested", request_message="Would you show me TikTok?")
    db.session.commit()

    data = overview(mentor.user)
    assert [c.partner.name for c in data["active_tandems"]] == ["Ernst Executive"]
    assert data["active_tandems"][0].meetings_held == 2 and data["active_tandems"][0].meeting_target == 4
    assert [c.partner.name for c in data["requests_sent"]] == ["Tom TikTok"]
    assert data["requests_received"] == [] and data["mentoring_now"] == 1

    html = login_as(mentor.user).get("/dashboard").get_data(as_text=True)
    assert "LinkedIn for leaders" in html and "open to mentor" in html
    assert 'href="/mentors/me"' in html and 'href="/goals/' in html
    assert "Learn to lead a team" in html and "matched" in html
    assert "Ernst Executive" in html and goal.owner.email in html  # contact shown once active
    assert "Understand generative AI" in html
    assert "Meetings held: 2 of 4" in html and '<progress id="progress-' in html
    assert "Tom TikTok" in html and "waiting for an answer" in html
    assert other_mentor.user.email not in html  # no contact details before a request is accepted
    assert "Community at a glance" not in html
    assert "style=" not in html


def test_dashboard_shows_received_requests_to_the_mentor(login_as):
    mentor = make_mentor()
    goal = make_goal(title="Master Microsoft Teams")
    tandem = make_tandem(mentor, goal, status="requested", request_message="Could you help me with Teams?")
    html = login_as(mentor.user).get("/dashboard").get_data(as_text=True)
    assert "Requests for you" in html and "Master Microsoft Teams" in html
    if "tandems.detail" in current_app.view_functions:  # the tandem's page, where the request is answered
        assert f'href="/tandems/{tandem.id}"' in html
    assert "Could you help me with Teams?" in html
    assert goal.owner.email not in html


def test_dashboard_hides_unpublished_cohort_drafts(login_as):
    mentor = make_mentor()
    goal = make_goal(title="Draft pairing goal")
    make_tandem(mentor, goal, status="draft")
    data = overview(goal.owner)
    assert data["active_tandems"] == [] and data["requests_sent"] == [] and data["past_tandems"] == []
    html = login_as(mentor.user).get("/dashboard").get_data(as_text=True)
    assert goal.owner.name not in html


def test_dashboard_of_a_newcomer_offers_a_start(login_as):
    html = login_as(make_user()).get("/dashboard").get_data(as_text=True)
    assert "Get started" in html and "Offer to mentor" in html and "Post a learning goal" in html


def test_dashboard_shows_the_paused_state(login_as):
    mentor = make_mentor(is_open=False)
    html = login_as(mentor.user).get("/dashboard").get_data(as_text=True)
    assert "paused" in html and "open to mentor" not in html


def test_manager_dashboard_has_a_summary(login_as):
    make_mentor()
    make_goal()
    html = login_as(make_user(is_manager=True)).get("/dashboard").get_data(as_text=True)
    assert "Community at a glance" in html and 'href="/manage/"' in html
    summary = overview(make_user(is_manager=True))["manager_summary"]
    assert summary["mentors"] == 1 and summary["goals"] == 1 and summary["people"] == 4


# Notifications --------------------------------------------------------------------------------


def test_notifications_list_and_mark_all_read(login_as):
    user = make_user()
    notifications.notify(user, "request_received", "request_received", {"name": "Erika", "title": "AI"},
                         link="/dashboard")
    notifications.notify(user, "request_declined", "request_declined", {"name": "Eve"}, link="https://evil.example/")
    db.session.commit()
    client = login_as(user)

    html = client.get("/notifications").get_data(as_text=True)
    assert html.count('class="unread"') == 2
    assert '<a href="/dashboard">Erika asks you to mentor them on “AI”.</a>' in html
    assert "https://evil.example/" not in html  # only links inside the site
    assert "Mark all as read" in html

    response = client.post("/notifications/read")
    assert response.status_code == 302
    assert notifications.unread_count(user) == 0
    html = client.get("/notifications").get_data(as_text=True)
    assert 'class="unread"' not in html and "Mark all as read" not in html and "All caught up" in html


def test_mark_read_needs_a_csrf_token(csrf_app):
    user = make_user(email="reader@example.com")
    notifications.notify(user, "request_withdrawn", "request_withdrawn")
    db.session.commit()
    client = sign_in(csrf_app.test_client(), user)

    assert client.post("/notifications/read").status_code == 400
    assert notifications.unread_count(user) == 1
    token = csrf_token_from(client, "/notifications")
    assert client.post("/notifications/read", data={"csrf_token": token}).status_code == 302
    assert notifications.unread_count(user) == 0


# Error pages ----------------------------------------------------------------------------------


def test_not_found_page_uses_the_layout(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "Page not found" in html and "tandem.css" in html and "Back to the start page" in html
