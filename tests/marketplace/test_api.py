"""The JSON API contract: authentication, error shape, validation, paging and the OpenAPI document."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

from marketplace.api.routes import openapi_document
from marketplace.extensions import db
from marketplace.services import accounts, companies
from marketplace.services.fields import LANGUAGES
from tests.builders import make_goal, make_mentor, make_user


def bearer(user) -> dict[str, str]:
    token = accounts.create_api_token(user)
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert set(error) == {"code", "message", "fields"} and error["message"]
    if code:
        assert error["code"] == code
    return error


def test_no_token_or_a_wrong_token_is_401_json(client):
    assert_error(client.get("/api/v1/goals"), 401, "unauthorized")
    assert_error(client.get("/api/v1/goals", headers={"Authorization": "Bearer nope"}), 401)


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_the_authorization_scheme_is_case_insensitive(client, scheme):
    """RFC 7235 section 2.1: the scheme is a case-insensitive token; one or more spaces separate it from the token."""
    token = bearer(make_user())["Authorization"].split(" ", 1)[1]
    for header in (f"{scheme} {token}", f"{scheme}   {token}"):
        assert client.get("/api/v1/goals", headers={"Authorization": header}).status_code == 200, header
    assert_error(client.get("/api/v1/goals", headers={"Authorization": f"{scheme}{token}"}), 401)
    assert_error(client.get("/api/v1/goals", headers={"Authorization": f"Basic {token}"}), 401)


def test_a_session_cookie_does_not_authenticate_the_api(client, login_as, app):
    user = make_user()
    login_as(user)
    assert_error(client.get("/api/v1/goals"), 401)


def test_revoked_token_stops_working(client, app):
    user = make_user()
    headers = bearer(user)
    assert client.get("/api/v1/goals", headers=headers).status_code == 200
    (token,) = accounts.active_tokens(user)
    assert accounts.revoke_api_token(user, token.id)
    db.session.commit()
    assert client.get("/api/v1/goals", headers=headers).status_code == 401


def test_search_validates_its_parameters(client, app):
    headers = bearer(make_user())
    assert_error(client.get("/api/v1/mentors/search?q=%20%20", headers=headers), 400, "invalid_query")
    assert_error(client.get("/api/v1/mentors/search?q=ai&k=500", headers=headers), 400, "invalid_parameter")
    error = assert_error(client.get("/api/v1/mentors/search?q=ai&k=ten", headers=headers), 400)
    assert "k" in error["fields"]
    assert_error(client.get("/api/v1/mentors/search?q=ai&language=german", headers=headers), 400)
    assert_error(client.get("/api/v1/mentors/search?q=ai&language=%C3%A4%C3%A4", headers=headers), 400)  # "ää"
    unknown = assert_error(client.get("/api/v1/mentors/search?q=ai&language=zz", headers=headers), 400)
    assert "de, en" in unknown["fields"]["language"]  # says which codes it knows, instead of finding nobody
    assert client.get("/api/v1/mentors/search?q=ai&language=DE", headers=headers).status_code == 200
    documented = client.get("/api/v1/openapi.json").get_json()["paths"]["/mentors/search"]["get"]["parameters"]
    assert next(p for p in documented if p["name"] == "language")["schema"]["enum"] == list(LANGUAGES)
    for name, query in (("language", "q=ai&language=german"), ("format", "q=ai&format=hybrid")):
        assert list(assert_error(client.get(f"/api/v1/mentors/search?{query}", headers=headers), 400)["fields"]) == [
            name]


def test_search_answers_the_documented_shape(client, app):
    mentor = make_mentor(headline="Generative AI for executives", text="I explain ChatGPT and AI tools.",
                         topic_slugs=("artificial-intelligence",), company="Neuronal GmbH")
    headers = bearer(make_user(company="Old Industry AG"))
    body = client.get("/api/v1/mentors/search?q=KI%20f%C3%BCr%20F%C3%BChrungskr%C3%A4fte&k=5&language=de",
                      headers=headers).get_json()
    result = body["results"][0]
    assert set(result) == {"id", "name", "company", "headline", "score", "matched_topics", "mentioned_topics",
                           "highlights", "shared_languages"}
    assert result["id"] == mentor.id and 0 <= result["score"] <= 1
    assert result["shared_languages"] == ["de"]
    assert result["matched_topics"] == ["Artificial intelligence"]


def test_goals_are_paged_and_only_visible_ones_listed(client, app):
    owner = make_user()
    for i in range(5):
        make_goal(owner=owner, title=f"Goal {i}")
    make_goal(title="Someone else's goal")
    headers = bearer(owner)
    page1 = client.get("/api/v1/goals?per_page=2", headers=headers).get_json()
    assert page1["total"] == 5 and page1["next_page"] == 2 and len(page1["goals"]) == 2
    last = client.get("/api/v1/goals?per_page=2&page=3", headers=headers).get_json()
    assert last["next_page"] is None and len(last["goals"]) == 1
    assert set(page1["goals"][0]) >= {"id", "title", "status", "topics", "owner"}
    assert set(page1["goals"][0]["owner"]) >= {"id", "name", "company"}
    assert_error(client.get("/api/v1/goals?per_page=201", headers=headers), 400)
    manager = bearer(make_user(is_manager=True))
    assert client.get("/api/v1/goals", headers=manager).get_json()["total"] == 6


def test_someone_elses_goal_and_its_suggestions_are_404(client, app):
    goal = make_goal()
    headers = bearer(make_user())
    assert_error(client.get(f"/api/v1/goals/{goal.id}", headers=headers), 404)
    assert_error(client.get(f"/api/v1/goals/{goal.id}/suggestions", headers=headers), 404)
    assert_error(client.get("/api/v1/goals/999999", headers=headers), 404)


def test_suggestions_for_own_goal(client, app):
    make_mentor(headline="AI for leaders", text="Generative AI explained.", company="Neuronal GmbH")
    goal = make_goal(title="Learn about AI", company="Old Industry AG")
    body = client.get(f"/api/v1/goals/{goal.id}/suggestions?k=5", headers=bearer(goal.owner)).get_json()
    assert body["results"] and body["results"][0]["company"] == "Neuronal GmbH"


def test_a_match_names_the_company_a_manager_verified_over_the_one_given(client, app):
    mentor = make_mentor(headline="AI for leaders", text="Generative AI explained.", company="Stated Startup")
    companies.verify_company(mentor.user, "Verified Neuronal GmbH")
    db.session.commit()
    viewer = make_user(company="Old Industry AG")
    found = client.get("/api/v1/mentors/search?q=generative+AI", headers=bearer(viewer)).get_json()["results"]
    assert [(r["name"], r["company"]) for r in found] == [(mentor.user.name, "Verified Neuronal GmbH")]


@pytest.mark.parametrize(
    "payload",
    [None, [], {"goal_id": "1", "mentor_id": 1}, {"goal_id": 1}, {"goal_id": True, "mentor_id": 1},
     {"goal_id": 1, "mentor_id": 1, "message": 5}],
)
def test_tandem_request_rejects_malformed_bodies(client, app, payload):
    headers = bearer(make_user())
    response = client.post("/api/v1/tandems", json=payload, headers=headers)
    assert response.status_code in (400, 422)
    assert_error(response, response.status_code)


def test_openapi_document_is_valid_and_matches_the_routes(client, app):
    document = openapi_document()
    validate(document)
    served = client.get("/api/v1/openapi.json").get_json()
    assert served["info"]["title"] == "Tandem API"
    documented = {
        (re.sub(r"{(\w+)}", r"<\1>", path), method.upper())
        for path, item in document["paths"].items()
        for method in item
    }
    actual = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint == "api.openapi":
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"<\1>", rule.rule[len("/api/v1"):])
        actual |= {(path, method) for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert documented == actual


def test_ids_beyond_the_database_range_are_simply_not_found(client, app):
    headers = bearer(make_user())
    assert_error(client.get("/api/v1/goals/9223372036854775808", headers=headers), 404)
    response = client.post("/api/v1/tandems", json={"goal_id": 2**40, "mentor_id": 2**40}, headers=headers)
    assert_error(response, 404)


@pytest.mark.parametrize("state", ["requested", "active"])
def test_a_mentor_on_a_goal_never_reads_the_owners_excluded_companies_or_settings(client, login_as, state):
    from marketplace.services import tandems

    goal = make_goal(company="Old AG", excluded=("Rival GmbH",), discoverable=False)
    mentor = make_mentor(company="Young AG")
    tandem = tandems.request_tandem(goal, mentor, goal.owner)
    if state == "active":
        tandems.accept(tandem, mentor.user)
    url = f"/api/v1/goals/{goal.id}"
    seen = client.get(url, headers=bearer(mentor.user)).get_json()
    assert seen["title"] == goal.title and seen["owner"]["name"] == goal.owner.name  # the goal in full
    assert "excluded_companies" not in seen and "discoverable" not in seen
    [listed] = client.get("/api/v1/goals", headers=bearer(mentor.user)).get_json()["goals"]
    assert "excluded_companies" not in listed and "discoverable" not in listed
    for allowed in (goal.owner, make_user(is_manager=True, company=None)):
        shown = client.get(url, headers=bearer(allowed)).get_json()
        assert shown["excluded_companies"] == ["Rival GmbH"] and shown["discoverable"] is False
    login_as(mentor.user)  # the page agrees
    page = client.get(f"/goals/{goal.id}").get_data(as_text=True)
    assert goal.title in page and "Rival GmbH" not in page
