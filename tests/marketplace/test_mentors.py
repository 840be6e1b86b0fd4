"""Mentor profiles: the pages, the rules in services.profiles, and the stored vector."""

from __future__ import annotations

import re

import flask_babel
import pytest
from sqlalchemy import func, select

from marketplace.extensions import db
from marketplace.models import Company, MentorProfile, Topic, VectorChange
from marketplace.services import companies, fields, profiles, topics
from tests.builders import form_data, make_goal, make_mentor, make_user, sign_in

PROFILE_FORM = {
    "headline": "I help leaders feel at home on LinkedIn",
    "teaching_text": "Personal branding, posting routines and growing a professional network on LinkedIn.",
    "topics": ["digital-reputation", "social-media"],
    "free_tags": "Podcasting, KI",
    "company": "Young Digital GmbH",
    "languages": ["de", "en"],
    "capacity": "2",
    "meetings_per_month": "2",
    "meeting_format": "hybrid",
    "city": "Hamburg",
}


def form(**changes) -> dict:
    return form_data(PROFILE_FORM, **changes)


def profile_of(user) -> MentorProfile | None:
    db.session.expire_all()
    return db.session.scalar(select(MentorProfile).where(MentorProfile.user_id == user.id))


def vector_changes(kind: str, entity_id: int) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(VectorChange)
        .where(VectorChange.kind == kind, VectorChange.entity_id == entity_id)
    )


def test_my_profile_invites_to_create_one(client, login_as):
    login_as(make_user())
    page = client.get("/mentors/me")
    assert page.status_code == 200
    assert "Create my mentor profile" in page.get_data(as_text=True)


def test_create_profile_through_the_page(client, login_as):
    user = make_user(company="Acme AG")
    login_as(user)

    response = client.post("/mentors/me/edit", data=form())

    assert response.status_code == 302
    assert response.headers["Location"].endswith("/mentors/me")
    profile = profile_of(user)
    assert profile is not None and profile.is_open
    assert profile.headline == PROFILE_FORM["headline"]
    assert (profile.capacity, profile.meetings_per_month) == (2, 2)
    assert (profile.meeting_format, profile.city) == ("hybrid", "Hamburg")
    assert profile.language_list == ["de", "en"]
    by_slug = {t.slug: t for t in profile.topics}
    # "KI" is a synonym of the taxonomy's AI topic; "Podcasting" becomes a free tag.
    assert set(by_slug) == {"digital-reputation", "social-media", "artificial-intelligence", "podcasting"}
    assert by_slug["podcasting"].is_free_tag and by_slug["podcasting"].name_de == "Podcasting"
    assert not by_slug["artificial-intelligence"].is_free_tag
    assert profile.vector is not None and profile.vector_config and profile.content_hash
    assert profile.user.company.name == "Young Digital GmbH"
    page = client.get("/mentors/me").get_data(as_text=True)
    assert "Your profile is live" in page and "Podcasting" in page and "Hamburg" in page


def test_edit_form_is_prefilled_and_splits_free_tags(client, login_as):
    user = make_user()
    login_as(user)
    client.post("/mentors/me/edit", data=form())
    page = client.get("/mentors/me/edit").get_data(as_text=True)
    assert 'value="I help leaders feel at home on LinkedIn"' in page
    assert 'value="Podcasting"' in page
    assert 'checked id="topics-' in page and 'value="social-media"' in page
    assert re.search(r'<input checked id="topics-\d+" name="topics" type="checkbox" value="social-media">', page)
    # A checkbox group must not mark every box `required` (the browser would demand them all).
    assert not re.search(r'name="languages" required', page)


def test_a_new_profile_starts_in_the_language_the_browser_asks_for_and_the_goals_languages(client, login_as):
    # No language saved on the account: the German browser's language is ticked, not English alone.
    user = make_user()
    assert user.locale is None
    login_as(user)
    ticked = re.compile(r'<input checked id="languages-\d+" name="languages" type="checkbox" value="(\w+)">')
    page = client.get("/mentors/me/edit", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert ticked.findall(page) == ["de"]
    make_goal(owner=user, languages="en,fr")
    page = client.get("/mentors/me/edit", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert set(ticked.findall(page)) == {"de", "en", "fr"}


def test_editing_only_the_city_keeps_the_vector_but_new_text_re_embeds(client, login_as):
    user = make_user()
    login_as(user)
    client.post("/mentors/me/edit", data=form())
    before = profile_of(user)
    vector, digest = before.vector, before.content_hash

    assert client.post("/mentors/me/edit", data=form(city="Berlin")).status_code == 302
    after_city = profile_of(user)
    assert after_city.city == "Berlin"
    assert after_city.content_hash == digest and after_city.vector == vector

    text = "Short-form video, TikTok and Instagram for company leaders who want to be seen."
    assert client.post("/mentors/me/edit", data=form(teaching_text=text)).status_code == 302
    after_text = profile_of(user)
    assert after_text.content_hash != digest and after_text.vector != vector


def test_pause_and_reopen(client, login_as):
    profile = make_mentor()
    login_as(profile.user)
    changes = vector_changes("mentor", profile.id)

    response = client.post("/mentors/me/pause", follow_redirects=True)
    assert "Your profile is paused" in response.get_data(as_text=True)
    assert profile_of(profile.user).is_open is False
    assert vector_changes("mentor", profile.id) == changes + 1
    assert profile.id not in [p.id for p in _listed(client)]

    response = client.post("/mentors/me/reopen", follow_redirects=True)
    assert "open again" in response.get_data(as_text=True)
    assert profile_of(profile.user).is_open is True


def _listed(client) -> list[MentorProfile]:
    page = client.get("/mentors/").get_data(as_text=True)
    return [p for p in db.session.scalars(select(MentorProfile)) if f'href="/mentors/{p.id}"' in page]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"headline": ""}, "headline", "This field is required."),
        ({"capacity": "0"}, "capacity", "Number must be between 1 and 10."),
        ({"languages": None}, "languages", "Choose at least one language."),
        ({"teaching_text": "Too short"}, "teaching_text", "between 20 and 5000 characters"),
        ({"languages": ["de", "xx"]}, "languages", "is not a valid choice"),
    ],
)
def test_validation_errors_are_shown_and_nothing_is_saved(client, login_as, changes, field, message):
    user = make_user()
    login_as(user)
    response = client.post("/mentors/me/edit", data=form(**changes))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert message in page and 'class="field-error"' in page
    assert profile_of(user) is None


def test_service_limits_topics(app):
    user = make_user()
    eleven = [f"Topic number {n}" for n in range(11)]
    with pytest.raises(fields.ProfileError) as problem:
        profiles.save_mentor_profile(user, {**_service_data(), "topics": eleven})
    assert "topics" in problem.value.fields
    with pytest.raises(fields.ProfileError):
        topics.resolve_topics(["x" * 61])
    assert db.session.scalar(select(func.count()).select_from(Topic).where(Topic.is_free_tag.is_(True))) == 0


def _service_data(**changes) -> dict:
    data = {
        "headline": "Data literacy for managers",
        "teaching_text": "Dashboards, data stories and asking the right questions of your analysts.",
        "languages": "en",
    }
    data.update(changes)
    return data


def test_resolve_topics_maps_names_in_both_languages_and_reuses_free_tags(app):
    found = topics.resolve_topics(["BIG-DATA", "künstliche intelligenz", "Fehlerkultur", "Social Media", "big data"])
    assert [t.slug for t in found] == ["big-data", "artificial-intelligence", "error-culture", "social-media"]

    first = topics.resolve_topics(["Podcast Production"])
    again = topics.resolve_topics(["podcast   production", "Podcast-Production!"])
    assert len(first) == 1 and [t.id for t in again] == [first[0].id]
    assert first[0].is_free_tag and first[0].slug == "podcast-production"
    assert topics.resolve_topics(["Rhetorik für Vorstände"])[0].slug == "rhetorik-fuer-vorstaende"


def test_languages_must_be_known_codes(app):
    assert fields.parse_languages("EN, de") == ["de", "en"]
    with pytest.raises(fields.ProfileError):
        fields.parse_languages("english")
    with pytest.raises(fields.ProfileError):
        fields.parse_languages([])


def test_verified_company_is_shown_but_not_changed(client, login_as):
    user = make_user(company="Acme AG")
    companies.verify_company(user, "Acme Group")
    db.session.commit()
    login_as(user)
    page = client.get("/mentors/me/edit").get_data(as_text=True)
    assert "Acme Group" in page and 'name="company"' not in page

    assert client.post("/mentors/me/edit", data=form(company="Somewhere Else")).status_code == 302
    db.session.expire_all()
    assert user.effective_company.name == "Acme Group"
    assert db.session.scalar(select(Company).where(Company.name == "Somewhere Else")) is None


def test_delete_profile_after_confirmation(client, login_as):
    profile = make_mentor()
    profile_id, user = profile.id, profile.user
    login_as(user)
    changes = vector_changes("mentor", profile_id)

    confirm = client.get("/mentors/me/delete")
    assert confirm.status_code == 200 and "Delete my mentor profile?" in confirm.get_data(as_text=True)
    assert profile_of(user) is not None

    response = client.post("/mentors/me/delete", follow_redirects=True)
    assert "Your mentor profile is deleted." in response.get_data(as_text=True)
    assert profile_of(user) is None
    assert vector_changes("mentor", profile_id) == changes + 1
    assert client.get(f"/mentors/{profile_id}").status_code == 404


@pytest.mark.parametrize("path", ["/mentors/", "/mentors/me", "/mentors/me/edit", "/mentors/1", "/mentors/me/delete"])
def test_profile_pages_need_a_login(client, path):
    make_mentor()
    response = client.get(path)
    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]


def test_public_profile_page(client, login_as):
    mentor = make_mentor(
        headline="Generative AI without the hype",
        topic_slugs=("artificial-intelligence",),
        company="Young Digital GmbH",
        meeting_format="onsite",
    )
    login_as(make_user())
    page = client.get(f"/mentors/{mentor.id}").get_data(as_text=True)
    for expected in ("Generative AI without the hype", "Artificial intelligence", "Young Digital GmbH", "On site"):
        assert expected in page
    assert "English, German" in page
    assert mentor.user.email not in page
    assert client.get("/mentors/999999").status_code == 404

    client.post("/language", data={"language": "de"})
    # The test's app context outlives requests, and Flask-Babel caches the locale on it.
    flask_babel.refresh()
    assert "Künstliche Intelligenz" in client.get(f"/mentors/{mentor.id}").get_data(as_text=True)


def test_list_shows_open_mentors_filtered_by_topic_and_paginated(client, login_as):
    ai = make_mentor(headline="AI for leaders", topic_slugs=("artificial-intelligence",))
    social = make_mentor(headline="Social media basics", topic_slugs=("social-media",))
    paused = make_mentor(headline="Paused mentor", topic_slugs=("artificial-intelligence",), is_open=False)
    login_as(make_user())

    page = client.get("/mentors/").get_data(as_text=True)
    assert "AI for leaders" in page and "Social media basics" in page and "Paused mentor" not in page
    page = client.get("/mentors/?topic=artificial-intelligence").get_data(as_text=True)
    assert "AI for leaders" in page and "Social media basics" not in page
    assert "No open mentor" in client.get("/mentors/?topic=no-such-topic").get_data(as_text=True)

    for n in range(20):
        make_mentor(headline=f"Extra mentor {n}")
    first = client.get("/mentors/").get_data(as_text=True)
    second = client.get("/mentors/?page=2").get_data(as_text=True)
    assert 'rel="next"' in first and 'rel="prev"' in second
    assert first.count('<li class="card">') == 20 and second.count('<li class="card">') == 2
    assert ai.id and social.id and paused.id


def test_post_without_csrf_token_is_refused(csrf_app):
    user = make_user()
    client = sign_in(csrf_app.test_client(), user)
    assert client.get("/mentors/me").status_code == 200
    assert client.post("/mentors/me/edit", data=form()).status_code == 400
    assert client.post("/mentors/me/pause").status_code == 400
    assert profile_of(user) is None


def test_my_profile_lists_goals_i_could_help_with_in_summary_only(client, login_as):
    mentor = make_mentor(headline="Generative AI for executives", text="I explain ChatGPT and AI tools.",
                         company="Neuronal GmbH")
    owner = make_user(name="Klaus Petersen", company="Hansekauf AG")
    make_goal(owner=owner, title="Understand what AI means for retail",
              description="Our stores should use AI but I do not know where to start. Secret budget: 2 million.")
    make_goal(title="Hidden AI goal", description="Generative AI in our bank.", discoverable=False)
    login_as(mentor.user)
    page = client.get("/mentors/me").get_data(as_text=True)
    assert "Understand what AI means for retail" in page
    assert "Klaus" in page and "Hansekauf AG" in page
    assert "Petersen" not in page and "Secret budget" not in page
    assert "Hidden AI goal" not in page
