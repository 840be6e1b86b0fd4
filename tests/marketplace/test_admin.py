"""The community-manager area: access, people, companies, topics and the outbox."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from marketplace.extensions import db
from marketplace.models import Company, OutgoingEmail, Topic
from marketplace.services import companies, profiles
from tests.builders import csrf_token_from, make_goal, make_mentor, make_user, sign_in


def admin_rules(app: Flask) -> list[tuple[str, str]]:
    """(method, url) of every view in the admin blueprint, with 1 for every id."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("admin."):
            continue
        url = rule.rule
        for argument in rule.arguments:
            url = url.replace(f"<int:{argument}>", "1")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((method, url))
    assert len(found) >= 15, found
    return found


@pytest.fixture
def manager(login_as) -> FlaskClient:
    return login_as(make_user(name="Maria Manager", is_manager=True))


# Access ---------------------------------------------------------------------------------------


def test_every_manage_view_is_forbidden_to_non_managers(app, login_as):
    client = login_as(make_user())
    for method, url in admin_rules(app):
        response = client.open(url, method=method)
        assert response.status_code == 403, (method, url)
    assert "You do not have access to this page" in client.get("/manage/").get_data(as_text=True)


def test_every_manage_view_sends_anonymous_visitors_to_login(app, client):
    for method, url in admin_rules(app):
        response = client.open(url, method=method)
        assert response.status_code == 302, (method, url)
        assert "/auth/login" in response.headers["Location"], (method, url)


def test_manager_sees_every_page(manager):
    person = make_user(name="Paula Person", company="Acme AG")
    make_goal(owner=person)
    company = companies.find_company("Acme AG")
    topic = db.session.scalar(select(Topic).order_by(Topic.id))
    db.session.add(OutgoingEmail(recipient="x@example.com", subject="Hello", body="Body"))
    db.session.commit()
    for url in (
        "/manage/",
        "/manage/people",
        f"/manage/people/{person.id}",
        "/manage/companies",
        f"/manage/companies/{company.id}",
        "/manage/topics",
        "/manage/topics/new",
        f"/manage/topics/{topic.id}",
        "/manage/outbox",
    ):
        response = manager.get(url)
        assert response.status_code == 200, url
        html = response.get_data(as_text=True)
        assert "style=" not in html, url  # the CSP wants no inline styles


def test_manage_link_in_nav_only_for_managers(app, login_as):
    client = login_as(make_user())
    assert "/manage/" not in client.get("/dashboard").get_data(as_text=True)
    client.post("/auth/logout")
    client = login_as(make_user(is_manager=True))
    assert "/manage/" in client.get("/dashboard").get_data(as_text=True)


# People ---------------------------------------------------------------------------------------


def test_people_list_shows_companies_mentor_and_goal_counts(manager):
    mentor = make_mentor(company="Young Digital GmbH").user
    executive = make_user(name="Erika Executive", company="Old Industry AG")
    make_goal(owner=executive)
    make_goal(owner=executive, title="Learn LinkedIn")
    html = manager.get("/manage/people").get_data(as_text=True)
    assert mentor.name in html and "Young Digital GmbH" in html
    assert "Erika Executive" in html and "Old Industry AG" in html
    row = html[html.index("Erika Executive") :].split("</tr>")[0]
    assert ">2</td>" in row


def test_people_search_by_name_or_email(manager):
    make_user(name="Zoe Zimmer", email="zoe@zimmer.example")
    make_user(name="Anton Adler", email="anton@adler.example")
    html = manager.get("/manage/people?q=zimm").get_data(as_text=True)
    assert "Zoe Zimmer" in html and "Anton Adler" not in html
    html = manager.get("/manage/people?q=ADLER.example").get_data(as_text=True)
    assert "Anton Adler" in html and "Zoe Zimmer" not in html
    # LIKE wildcards in the search are taken literally.
    assert "Nobody matches" in manager.get("/manage/people?q=%25").get_data(as_text=True)


def test_people_list_is_paginated(manager):
    for n in range(30):
        make_user(name=f"Person {n:02d}")
    first = manager.get("/manage/people").get_data(as_text=True)
    assert "Page 1 of 2" in first and "page=2" in first
    second = manager.get("/manage/people?page=2").get_data(as_text=True)
    assert "Person 29" in second and "Person 00" not in second


def test_manager_verifies_a_persons_company(manager):
    person = make_user(company="Acme Labs")
    response = manager.post(f"/manage/people/{person.id}/company", data={"company": "Acme  AG"})
    assert response.status_code == 302
    db.session.refresh(person)
    assert person.verified_company.name == "Acme AG"
    assert person.company.name == "Acme Labs"  # what the person said stays on record
    assert person.effective_company_id == person.verified_company_id
    page = manager.get(response.headers["Location"]).get_data(as_text=True)
    assert "now works for Acme AG" in page

    # The same company however it is spelled: no duplicate is created.
    manager.post(f"/manage/people/{person.id}/company", data={"company": "ACME ag"})
    assert db.session.scalar(select(db.func.count(Company.id)).where(Company.normalised_name == "acme")) == 1


def test_verify_company_needs_a_name(manager):
    person = make_user()
    response = manager.post(f"/manage/people/{person.id}/company", data={"company": "  "})
    assert response.status_code == 400
    assert 'class="field-error"' in response.get_data(as_text=True)
    db.session.refresh(person)
    assert person.verified_company is None


def test_manager_clears_a_verified_company(manager):
    person = make_user(company="Stated GmbH")
    manager.post(f"/manage/people/{person.id}/company", data={"company": "Real AG"})
    manager.post(f"/manage/people/{person.id}/company/clear")
    db.session.refresh(person)
    assert person.verified_company is None and person.effective_company.name == "Stated GmbH"


def test_unknown_person_is_404(manager):
    assert manager.get("/manage/people/99999").status_code == 404


# Companies ------------------------------------------------------------------------------------


def test_competitor_link_works_both_ways_and_can_be_removed(manager):
    acme = companies.get_or_create_company("Acme AG")
    db.session.commit()
    response = manager.post(f"/manage/companies/{acme.id}/competitors", data={"competitor-name": "Rival GmbH"})
    assert response.status_code == 302
    rival = companies.find_company("rival gmbh")
    assert rival is not None
    assert [c.name for c in companies.all_competitors(acme)] == ["Rival GmbH"]
    assert [c.name for c in companies.all_competitors(rival)] == ["Acme AG"]
    assert "Rival GmbH" in manager.get(f"/manage/companies/{acme.id}").get_data(as_text=True)
    assert "Acme AG" in manager.get(f"/manage/companies/{rival.id}").get_data(as_text=True)
    listing = manager.get("/manage/companies").get_data(as_text=True)
    assert listing.count(f'href="/manage/companies/{rival.id}"') == 2  # its own row and Acme's competitors

    # Removing from the other side removes the one link.
    response = manager.post(f"/manage/companies/{rival.id}/competitors/{acme.id}/remove")
    assert response.status_code == 302
    assert companies.all_competitors(acme) == [] and companies.all_competitors(rival) == []
    assert "no longer competitors" in manager.get(response.headers["Location"]).get_data(as_text=True)


@pytest.mark.parametrize(("form", "data", "message"), [
    pytest.param("competitors", {"competitor-name": "ACME ag"}, "cannot be its own competitor", id="own-competitor"),
    pytest.param("domains", {"domains-domains": "not a domain!"}, "Not an e-mail domain", id="malformed-domain"),
])
def test_a_company_form_refuses_bad_input(manager, form, data, message):
    acme = companies.get_or_create_company("Acme AG")
    db.session.commit()
    response = manager.post(f"/manage/companies/{acme.id}/{form}", data=data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_domains_are_saved_and_a_conflict_is_refused(manager):
    acme = companies.get_or_create_company("Acme AG")
    beta = companies.get_or_create_company("Beta GmbH")
    db.session.commit()
    response = manager.post(f"/manage/companies/{acme.id}/domains", data={"domains-domains": "acme.com\n@Acme.de\n"})
    assert response.status_code == 302
    assert [d.domain for d in acme.domains] == ["acme.com", "acme.de"]

    response = manager.post(f"/manage/companies/{beta.id}/domains", data={"domains-domains": "beta.com\nacme.com"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Already used by another company: acme.com (Acme AG)" in html
    assert 'class="field-error"' in html
    db.session.expire_all()
    assert db.session.get(Company, beta.id).domains == []
    assert [d.domain for d in db.session.get(Company, acme.id).domains] == ["acme.com", "acme.de"]


def test_rename_company_and_refuse_a_taken_name(manager):
    acme = companies.get_or_create_company("Acme AG")
    companies.get_or_create_company("Beta GmbH")
    db.session.commit()
    assert manager.post(f"/manage/companies/{acme.id}/name", data={"rename-name": "ACME Holding"}).status_code == 302
    assert acme.name == "ACME Holding" and acme.normalised_name == "acmeholding"
    response = manager.post(f"/manage/companies/{acme.id}/name", data={"rename-name": "beta gmbh"})
    assert response.status_code == 400
    assert "Another company is already called" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Company, acme.id).name == "ACME Holding"


# Topics ---------------------------------------------------------------------------------------


def test_topic_synonyms_are_saved_one_per_line(manager):
    topic = db.session.scalar(select(Topic).where(Topic.is_free_tag.is_(False)).order_by(Topic.id))
    response = manager.post(
        f"/manage/topics/{topic.id}",
        data={"name_en": topic.name_en, "name_de": topic.name_de, "synonyms": "KI\r\n GenAI \r\n\r\nki\r\nChatGPT"},
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Topic, topic.id).synonyms == ["KI", "GenAI", "ChatGPT"]
    edit_page = manager.get(f"/manage/topics/{topic.id}").get_data(as_text=True)
    assert "KI\nGenAI\nChatGPT" in edit_page


def test_renaming_a_topic_reembeds_the_profiles_that_carry_it(manager):
    topic = db.session.scalar(select(Topic).where(Topic.is_free_tag.is_(False)).order_by(Topic.id))
    profile = make_mentor(topic_slugs=(topic.slug,))
    old_hash = profile.content_hash
    response = manager.post(
        f"/manage/topics/{topic.id}", data={"name_en": "Something entirely new", "name_de": "Ganz neu", "synonyms": ""}
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(type(profile), profile.id).content_hash != old_hash


def test_add_topic_and_refuse_a_duplicate_name(manager):
    data = {"name_en": "Prompt engineering", "name_de": "Prompt-Engineering", "synonyms": "prompting"}
    response = manager.post("/manage/topics/new", data=data)
    assert response.status_code == 302
    topic = db.session.scalar(select(Topic).where(Topic.name_en == "Prompt engineering"))
    assert topic.slug == "prompt-engineering" and topic.synonyms == ["prompting"] and not topic.is_free_tag
    duplicate = {"name_en": "prompt ENGINEERING", "name_de": "x", "synonyms": ""}
    response = manager.post("/manage/topics/new", data=duplicate)
    assert response.status_code == 400
    assert "already exists" in response.get_data(as_text=True)


def test_promote_a_free_tag(manager):
    tag = Topic(slug="tiktok", name_en="TikTok", name_de="TikTok", synonyms=[], is_free_tag=True)
    db.session.add(tag)
    db.session.commit()
    topics_page = manager.get("/manage/topics").get_data(as_text=True)
    assert "Free tags" in topics_page and "TikTok" in topics_page
    response = manager.post(f"/manage/topics/{tag.id}/promote")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/manage/topics/{tag.id}")
    db.session.expire_all()
    assert db.session.get(Topic, tag.id).is_free_tag is False


# Outbox ---------------------------------------------------------------------------------------


def test_outbox_lists_stored_emails_newest_first(manager):
    db.session.add(OutgoingEmail(recipient="old@example.com", subject="Older message", body="First body"))
    db.session.commit()
    db.session.add(OutgoingEmail(recipient="new@example.com", subject="Your invitation", body="Open https://x/y"))
    db.session.commit()
    html = manager.get("/manage/outbox").get_data(as_text=True)
    assert html.index("Your invitation") < html.index("Older message")
    assert "new@example.com" in html and "Open https://x/y" in html and "<details>" in html
    assert "not sent: no mail server configured" in html


# CSRF -----------------------------------------------------------------------------------------


def test_manage_forms_need_a_csrf_token(csrf_app):
    person = make_user(company="Acme AG")
    client = sign_in(csrf_app.test_client(), make_user(is_manager=True))

    refused = client.post(f"/manage/people/{person.id}/company", data={"company": "Evil AG"})
    assert refused.status_code == 400
    token = csrf_token_from(client, f"/manage/people/{person.id}")
    accepted = client.post(f"/manage/people/{person.id}/company", data={"company": "Acme AG", "csrf_token": token})
    assert accepted.status_code == 302
    db.session.refresh(person)
    assert person.verified_company.name == "Acme AG"


def test_the_outbox_and_the_log_never_show_a_personal_sign_in_link(manager, caplog):
    import logging

    from marketplace.services import emails, outbox

    person = make_user(email="reset-me@example.com")
    caplog.set_level(logging.INFO, logger="marketplace.services.outbox")
    emails.send_password_reset(person)
    db.session.add(OutgoingEmail(recipient="guest@example.com", subject="Your invitation", body="Open https://x/y",
                                 kind="invitation"))
    db.session.commit()
    outbox.send_due()  # no mail server: the job logs them
    reset = db.session.scalar(select(OutgoingEmail).where(OutgoingEmail.kind == "password_reset"))
    link = reset.body[reset.body.index("http"):].split()[0]

    html = manager.get("/manage/outbox").get_data(as_text=True)

    assert "reset-me@example.com" in html and reset.subject in html
    assert "not sent: written to the log, no mail server was configured" in html
    assert link not in html and "Contains a personal sign-in link: not shown." in html
    assert "Open https://x/y" in html  # an invitation stays visible: managers hand it on
    assert "reset-me@example.com" in caplog.text and link not in caplog.text


def test_a_managers_topic_and_a_typed_free_tag_get_the_same_slug(manager):
    """One slugify names every topic: "C++" is `c-plus-plus` whether a manager adds it or a mentor types it."""
    old = Topic(slug="c", name_en="C", name_de="C", synonyms=[], is_free_tag=True)  # an old slug stays as it is
    db.session.add(old)
    db.session.commit()
    response = manager.post("/manage/topics/new", data={"name_en": "C++", "name_de": "C++", "synonyms": ""})
    assert response.status_code == 302
    added = db.session.scalar(select(Topic).where(Topic.name_en == "C++"))
    assert added.slug == "c-plus-plus" and not added.is_free_tag
    data = {"headline": "Modern C++ and C#", "teaching_text": "Templates, ranges and the .NET runtime, hands on.",
            "topics": ["c++", "C#", "Objective-C++"], "languages": "en"}
    profile = profiles.save_mentor_profile(make_user(company="Young Digital GmbH"), data)
    by_name = {t.name_en: t for t in profile.topics}
    assert by_name["C++"].id == added.id  # typed in any case, it finds the manager's topic
    assert by_name["C#"].slug == "c-sharp" and by_name["Objective-C++"].slug == "objective-c-plus-plus"
    assert db.session.get(Topic, old.id).slug == "c"
