"""Issue 13's main-path fixes: asking for a tandem where one finds the mentor, language defaults, what a request
shows, offers of help on discoverable goals, "My tandems" and notifications read by opening their item."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from marketplace.extensions import db
from marketplace.models import Goal, Notification, OutgoingEmail, Tandem
from marketplace.services import companies, goals, tandems
from tests.builders import csrf_token_from, make_goal, make_mentor, make_user, sign_in

pytestmark = pytest.mark.usefixtures("app")


def page(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def as_user(app, user):
    return sign_in(app.test_client(), user)


# --- 1. Ask for a tandem where you find the mentor -----------------------------------------------


def test_search_results_lead_to_the_mentors_request_form(app):
    mentor = make_mentor(headline="LinkedIn for leaders", topic_slugs=("social-media",))
    executive = as_user(app, make_user(company="Old Industry AG"))

    results = page(executive.get("/search/mentors?q=LinkedIn+and+social+media"))

    assert f'href="/mentors/{mentor.id}#ask"' in results and "Ask for a tandem" in results


def test_a_wrong_result_count_in_a_search_link_is_named_beside_its_field(app):
    make_mentor(headline="LinkedIn for leaders", topic_slugs=("social-media",))
    executive = as_user(app, make_user(company="Old Industry AG"))
    for wrong in ("0", "51", "abc"):
        shown = page(executive.get(f"/search/mentors?q=LinkedIn&k={wrong}"))
        field = re.search(r'<div class="field has-error">\s*<label for="k">.*?</div>', shown, re.S)
        assert field and field.group(0).count('<p class="field-error" role="alert">') == 1, wrong  # one reason
    assert 'for="k"' not in page(executive.get("/search/mentors?q=LinkedIn&k=5"))


def test_a_mentors_page_offers_the_allowed_goals_and_names_the_rule_for_the_others(app):
    mentor = make_mentor(company="Young Digital GmbH")
    owner = make_user(company="Old Industry AG")
    allowed = make_goal(owner=owner, title="Learn LinkedIn")
    excluding = make_goal(owner=owner, title="Learn TikTok", excluded=("Young Digital GmbH",))
    make_goal(owner=owner, title="An old matched goal", status="matched")

    shown = page(as_user(app, owner).get(f"/mentors/{mentor.id}"))

    form = re.search(r'<form method="post" action="/mentors/\d+#ask".*?</form>', shown, re.S).group(0)
    assert f'<option value="{allowed.id}">Learn LinkedIn</option>' in form
    assert f'value="{excluding.id}"' not in form and "An old matched goal" not in shown
    assert "<strong>Learn TikTok</strong>: The goal excludes the mentor's company." in shown
    assert 'name="message"' in form


def test_sending_the_request_from_the_mentors_page_starts_a_request(app):
    mentor = make_mentor()
    goal = make_goal()
    client = as_user(app, goal.owner)

    response = client.post(f"/mentors/{mentor.id}", data={"goal_id": goal.id, "message": "Would you help me?"})

    assert response.status_code == 302 and response.headers["Location"] == f"/goals/{goal.id}"
    tandem = db.session.scalar(select(Tandem))
    assert (tandem.status, tandem.goal_id, tandem.mentor_profile_id) == ("requested", goal.id, mentor.id)
    assert tandem.request_message == "Would you help me?"
    assert db.session.scalar(select(Notification).where(Notification.user_id == mentor.user_id)).kind == (
        "request_received"
    )


def test_a_goal_the_rules_forbid_is_refused_beside_the_goal_field(app):
    mentor = make_mentor(company="Young Digital GmbH")
    owner = make_user(company="Old Industry AG")
    make_goal(owner=owner, title="Allowed")
    forbidden = make_goal(owner=owner, title="Forbidden", excluded=("Young Digital GmbH",))

    response = as_user(app, owner).post(f"/mentors/{mentor.id}", data={"goal_id": forbidden.id, "message": ""})

    assert response.status_code == 422
    error = re.search(r'class="field has-error".*?name="goal_id".*?class="field-error"[^>]*>([^<]+)', page(response),
                      re.S)
    assert error and error.group(1) == "The goal excludes the mentor's company."
    assert db.session.scalar(select(Tandem)) is None


def test_the_request_form_needs_its_csrf_token(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        mentor = make_mentor()
        goal = make_goal()
        client = as_user(app, goal.owner)
        refused = client.post(f"/mentors/{mentor.id}", data={"goal_id": goal.id})
        assert refused.status_code == 400 and db.session.scalar(select(Tandem)) is None
        token = csrf_token_from(client, f"/mentors/{mentor.id}")
        sent = client.post(f"/mentors/{mentor.id}", data={"goal_id": goal.id, "csrf_token": token})
        assert sent.status_code == 302 and db.session.scalar(select(Tandem)) is not None


def test_without_a_goal_one_writes_it_first_and_comes_back_with_the_mentor_kept(app):
    mentor = make_mentor()
    executive = make_user(company="Old Industry AG")
    client = as_user(app, executive)

    first = page(client.get(f"/mentors/{mentor.id}"))
    assert f'href="/goals/new?mentor={mentor.id}"' in first and 'name="goal_id"' not in first
    form = page(client.get(f"/goals/new?mentor={mentor.id}"))
    assert f'action="/goals/new?mentor={mentor.id}"' in form
    saved = client.post(f"/goals/new?mentor={mentor.id}", data={
        "title": "Learn LinkedIn", "description": "How do I post on LinkedIn as a managing director?",
        "languages": ["en"], "discoverable": "y",
    })

    goal = db.session.scalar(select(Goal).where(Goal.owner_id == executive.id))
    assert saved.status_code == 302
    assert saved.headers["Location"] == f"/mentors/{mentor.id}?goal={goal.id}#ask"
    back = page(client.get(saved.headers["Location"]))
    assert f'<option selected value="{goal.id}">Learn LinkedIn</option>' in back


# --- 2. Language defaults follow the person -------------------------------------------------------


def ticked_languages(text: str) -> set[str]:
    return {code for code in re.findall(r'<input checked[^>]*name="languages"[^>]*value="(\w+)"', text)} | {
        code for code in re.findall(r'<input[^>]*name="languages"[^>]*value="(\w+)"[^>]*checked', text)
    }


def test_a_new_goal_in_the_german_interface_ticks_german(app):
    client = as_user(app, make_user())

    form = page(client.get("/goals/new", headers={"Accept-Language": "de-DE,de;q=0.9"}))

    assert ticked_languages(form) == {"de"}


def test_a_new_goal_ticks_the_interface_language_and_those_of_the_persons_goals_and_profile(app):
    person = make_user()
    make_mentor(user=person, languages="fr")
    make_goal(owner=person, languages="es")

    form = page(as_user(app, person).get("/goals/new", headers={"Accept-Language": "en"}))

    assert ticked_languages(form) == {"en", "fr", "es"}
    assert goals.default_goal_languages(person, "de") == ["de", "fr", "es"]


# --- 5. A request shows what it is about -----------------------------------------------------------


def test_the_mentor_sees_the_goal_message_and_company_of_a_request(app):
    mentor = make_mentor()
    goal = make_goal(title="Understand AI", description="We make valves and want to know what AI can do for us.",
                     topic_slugs=("artificial-intelligence",), languages="de", company="Ventil Werke AG")
    tandem = tandems.request_tandem(goal, mentor, goal.owner, "Gern auf Deutsch.")

    shown = page(as_user(app, mentor.user).get(f"/tandems/{tandem.id}"))

    for expected in ("We make valves and want to know what AI can do for us.", "Artificial intelligence",
                     "German", "Gern auf Deutsch.", "Ventil Werke AG"):
        assert expected in shown, expected


# --- 6. Goals you could help with: a page and an offer of help ------------------------------------


@pytest.fixture
def fitting(app):
    mentor = make_mentor(topic_slugs=("social-media",), capacity=1)
    owner = make_user(name="Karl Maier", company="Old Industry AG")
    goal = make_goal(owner=owner, title="Our brand on LinkedIn", topic_slugs=("social-media",),
                     description="A secret plan: we want to be on LinkedIn before our competitor.")
    return mentor, goal


def test_goals_you_could_help_with_link_to_a_page_with_only_what_design_allows(app, fitting):
    mentor, goal = fitting
    client = as_user(app, mentor.user)

    listing = page(client.get("/mentors/me"))
    assert f'<a href="/mentors/me/goals/{goal.id}">Our brand on LinkedIn</a>' in listing
    shown = page(client.get(f"/mentors/me/goals/{goal.id}"))

    assert "Our brand on LinkedIn" in shown and "Social media" in shown and "Karl, Old Industry AG" in shown
    assert "secret plan" not in shown and "Maier" not in shown
    goal.discoverable = False
    db.session.commit()
    assert client.get(f"/mentors/me/goals/{goal.id}").status_code == 404


def test_a_paused_mentor_reads_why_no_offer_is_possible_about_herself_in_her_language(app, fitting):
    mentor, goal = fitting
    mentor.is_open = False
    db.session.commit()
    client = as_user(app, mentor.user)
    shown = page(client.get(f"/mentors/me/goals/{goal.id}"))
    assert "Your profile is paused: reopen it to take on mentees." in shown and "The mentor" not in shown
    german = page(client.get(f"/mentors/me/goals/{goal.id}", headers={"Accept-Language": "de"}))
    assert "Ihr Profil ist pausiert" in german
    refused = client.post(f"/mentors/me/goals/{goal.id}/offer", data={"message": "Hi"}, follow_redirects=True)
    assert "Your profile is paused" in page(refused) and db.session.scalar(select(Tandem)) is None


def test_a_goal_of_the_mentors_own_company_has_no_offer_page(app):
    mentor = make_mentor(company="Old Industry AG")
    goal = make_goal(company="Old Industry AG")
    assert as_user(app, mentor.user).get(f"/mentors/me/goals/{goal.id}").status_code == 404


def test_an_offer_tells_the_owner_and_the_mentor_still_sees_only_the_summary(app, fitting):
    mentor, goal = fitting
    client = as_user(app, mentor.user)

    response = client.post(f"/mentors/me/goals/{goal.id}/offer", data={"message": "I post for a living."})

    offer = db.session.scalar(select(Tandem))
    assert response.status_code == 302 and response.headers["Location"] == f"/tandems/{offer.id}"
    assert (offer.status, offer.mentee_user_id, offer.request_message) == ("offered", goal.owner_id,
                                                                           "I post for a living.")
    note = db.session.scalar(select(Notification).where(Notification.user_id == goal.owner_id))
    assert note.message_key == "offer_received" and note.link == f"/tandems/{offer.id}"
    mail = db.session.scalar(select(OutgoingEmail).where(OutgoingEmail.recipient == goal.owner.email))
    assert mail is not None and mail.kind == "offer_received" and "Our brand on LinkedIn" in mail.subject
    # Until the owner accepts, the mentor sees no more than before.
    assert client.get(f"/goals/{goal.id}").status_code == 404
    own_view = page(client.get(f"/tandems/{offer.id}"))
    assert "secret plan" not in own_view and "Maier" not in own_view and "Karl" in own_view
    # A second offer on the same goal is refused.
    client.post(f"/mentors/me/goals/{goal.id}/offer", data={"message": ""})
    assert len(db.session.scalars(select(Tandem)).all()) == 1


def test_the_owner_accepts_the_offer_and_the_tandem_starts(app, fitting):
    mentor, goal = fitting
    as_user(app, mentor.user).post(f"/mentors/me/goals/{goal.id}/offer", data={"message": "Gladly."})
    offer = db.session.scalar(select(Tandem))
    owner = as_user(app, goal.owner)
    assert "Gladly." in page(owner.get(f"/tandems/{offer.id}"))
    assert "Offers of help" in page(owner.get("/dashboard"))

    owner.post(f"/tandems/{offer.id}/answer", data={"action": "accept", "message": "Yes please"})

    db.session.expire_all()
    assert offer.status == "active" and offer.starts_on is not None and goal.status == "matched"
    keys = set(db.session.scalars(select(Notification.message_key).where(Notification.user_id == mentor.user_id)))
    assert "offer_accepted" in keys
    mentor_view = page(as_user(app, mentor.user).get(f"/tandems/{offer.id}"))
    assert "secret plan" in mentor_view and "Karl Maier" in mentor_view and goal.owner.email in mentor_view


def test_the_mentor_cannot_accept_their_own_offer(app, fitting):
    mentor, goal = fitting
    client = as_user(app, mentor.user)
    client.post(f"/mentors/me/goals/{goal.id}/offer", data={"message": ""})
    offer = db.session.scalar(select(Tandem))

    client.post(f"/tandems/{offer.id}/answer", data={"action": "accept", "message": ""})

    db.session.expire_all()
    assert offer.status == "offered"


def test_accepting_an_offer_checks_the_hard_rules_again(app, fitting):
    mentor, goal = fitting
    as_user(app, mentor.user).post(f"/mentors/me/goals/{goal.id}/offer", data={"message": ""})
    offer = db.session.scalar(select(Tandem))
    companies.link_competitors(mentor.user.effective_company, goal.owner.effective_company)
    db.session.commit()

    as_user(app, goal.owner).post(f"/tandems/{offer.id}/answer", data={"action": "accept", "message": ""})

    db.session.expire_all()
    assert offer.status == "cancelled" and goal.status == "open"


def test_the_owner_declines_an_offer_and_the_mentor_learns_the_first_name_only(app, fitting):
    mentor, goal = fitting
    as_user(app, mentor.user).post(f"/mentors/me/goals/{goal.id}/offer", data={"message": ""})
    offer = db.session.scalar(select(Tandem))

    as_user(app, goal.owner).post(f"/tandems/{offer.id}/answer", data={"action": "decline", "message": ""})

    db.session.expire_all()
    assert offer.status == "declined"
    note = db.session.scalar(select(Notification).where(Notification.user_id == mentor.user_id))
    assert note.message_key == "offer_declined" and note.message.startswith("Karl declined")


# --- 7. "My tandems" in the navigation; opening a notification's item marks it read -----------------


def test_navigation_has_my_tandems(app):
    shown = page(as_user(app, make_user()).get("/dashboard"))
    assert '<a href="/tandems/">My tandems</a>' in shown


def test_opening_the_item_a_notification_links_to_marks_it_read(app):
    mentor = make_mentor()
    goal = make_goal()
    tandem = tandems.request_tandem(goal, mentor, goal.owner)
    other = Notification(user_id=mentor.user_id, kind="x", message="Another", link="/dashboard#elsewhere")
    db.session.add(other)
    db.session.commit()
    client = as_user(app, mentor.user)

    client.get(f"/tandems/{tandem.id}")

    db.session.expire_all()
    request_note = db.session.scalar(select(Notification).where(Notification.link == f"/tandems/{tandem.id}"))
    assert request_note.read_at is not None and other.read_at is None
