"""Learning goals: the pages, the rules in services.profiles, and who may see a goal."""

from __future__ import annotations

import pytest
from flask import g
from sqlalchemy import func, select

from marketplace.extensions import db
from marketplace.models import Company, Goal, Tandem, User, VectorChange
from marketplace.services import fields, goals
from tests import builders
from tests.builders import form_data, make_goal, make_mentor, make_user

GOAL_FORM = {
    "title": "Understand what AI means for our sales team",
    "description": "We sell machines; I want to know which AI tools my sales people could use next year.",
    "topics": ["artificial-intelligence"],
    "free_tags": "Sales enablement",
    "languages": ["de", "en"],
    "excluded_companies": "Nordlicht Media GmbH \nnordlicht media gmbh, Konkurrenz AG",
    "discoverable": "y",
}


def form(**changes) -> dict:
    return form_data(GOAL_FORM, **changes)


def goals_of(user) -> list[Goal]:
    db.session.expire_all()
    return list(db.session.scalars(select(Goal).where(Goal.owner_id == user.id)))


def sign_in(client, user) -> None:
    """Switch the client's session to `user` (no login form: it would also work with CSRF on)."""
    # The test's app context outlives requests, and Flask-Login caches the user on its `g`.
    g.pop("_login_user", None)
    builders.sign_in(client, user)


def goal_changes(goal_id: int) -> int:
    query = select(func.count()).select_from(VectorChange)
    return db.session.scalar(query.where(VectorChange.kind == "goal", VectorChange.entity_id == goal_id))


def tandem_on(goal: Goal, mentor, status: str = "requested") -> Tandem:
    tandem = Tandem(
        goal_id=goal.id, mentor_profile_id=mentor.id, mentor_user_id=mentor.user_id, mentee_user_id=goal.owner_id,
        status=status,
    )
    db.session.add(tandem)
    db.session.commit()
    return tandem


def test_create_goal_through_the_page(client, login_as):
    owner = make_user()
    login_as(owner)
    page = client.get("/goals/new").get_data(as_text=True)
    assert 'id="discoverable" name="discoverable" type="checkbox"' in page and "checked" in page

    response = client.post("/goals/new", data=form())

    [goal] = goals_of(owner)
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/goals/{goal.id}")
    assert goal.title == GOAL_FORM["title"] and goal.status == "open" and goal.discoverable
    assert goal.language_list == ["de", "en"]
    assert sorted(t.slug for t in goal.topics) == ["artificial-intelligence", "sales-enablement"]
    assert goal.vector is not None and goal.vector_config
    # "Nordlicht Media GmbH " and "nordlicht media gmbh" are one company.
    assert sorted(c.name for c in goal.excluded_companies) == ["Konkurrenz AG", "Nordlicht Media GmbH"]
    assert db.session.scalar(select(func.count()).select_from(Company).where(Company.name.ilike("nordlicht%"))) == 1

    detail = client.get(f"/goals/{goal.id}").get_data(as_text=True)
    assert "Your goal is saved." in detail and "Sales enablement" in detail and "Konkurrenz AG" in detail
    listing = client.get("/goals/").get_data(as_text=True)
    assert GOAL_FORM["title"] in listing and "Open" in listing


def test_excluded_company_matches_an_existing_company_however_spelled(client, login_as):
    owner = make_user()
    existing = make_goal(excluded=("Nordlicht Media GmbH",)).excluded_companies[0]
    login_as(owner)
    client.post("/goals/new", data=form(excluded_companies="  NORDLICHT   media gmbh"))
    [goal] = goals_of(owner)
    assert [c.id for c in goal.excluded_companies] == [existing.id]


def test_edit_goal_and_turn_off_discovery(client, login_as):
    goal = make_goal(topic_slugs=("big-data",), excluded=("Rival AG",))
    login_as(goal.owner)
    page = client.get(f"/goals/{goal.id}/edit").get_data(as_text=True)
    assert goal.title in page and "Rival AG" in page

    changed = form(title="Data-driven decisions", discoverable=None, excluded_companies="")
    assert client.post(f"/goals/{goal.id}/edit", data=changed).status_code == 302
    [saved] = goals_of(goal.owner)
    assert saved.title == "Data-driven decisions"
    assert saved.discoverable is False and saved.excluded_companies == []
    assert goals.discoverable_goal_summary(saved) is None


def test_goal_validation_errors_are_shown_and_nothing_is_saved(client, login_as):
    owner = make_user()
    login_as(owner)
    response = client.post("/goals/new", data=form(title="", description="short", languages=None))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert page.count('class="field-error"') == 3 and "Choose at least one language." in page
    assert goals_of(owner) == []


def test_status_change_and_delete(client, login_as):
    goal = make_goal()
    goal_id = goal.id
    login_as(goal.owner)

    response = client.post(f"/goals/{goal_id}/status", data={"status": "matched"}, follow_redirects=True)
    assert "marked as matched" in response.get_data(as_text=True)
    assert goals_of(goal.owner)[0].status == "matched"
    client.post(f"/goals/{goal_id}/status", data={"status": "bogus"})
    assert goals_of(goal.owner)[0].status == "matched"

    assert "Delete this goal?" in client.get(f"/goals/{goal_id}/delete").get_data(as_text=True)
    forgotten_before = goal_changes(goal_id)
    response = client.post(f"/goals/{goal_id}/delete", follow_redirects=True)
    assert "Your goal is deleted." in response.get_data(as_text=True)
    assert goals_of(goal.owner) == []
    assert goal_changes(goal_id) == forgotten_before + 1
    assert client.get(f"/goals/{goal_id}").status_code == 404


def test_deleting_a_goal_keeps_its_tandems(client, login_as):
    goal = make_goal()
    tandem = tandem_on(goal, make_mentor(), status="ended")  # a running one refuses (test_api_writes.py)
    login_as(goal.owner)
    client.post(f"/goals/{goal.id}/delete")
    db.session.expire_all()
    assert db.session.get(Tandem, tandem.id).goal_id is None


def test_deleting_a_goal_or_a_mentor_profile_ends_their_pending_requests_and_offers_and_tells_the_other_side(
        client, login_as):
    from marketplace.models import Notification
    from marketplace.services import profiles, tandems

    def told(user) -> list[str]:
        return list(db.session.scalars(select(Notification.message_key).where(Notification.user_id == user.id)
                                       .order_by(Notification.id)))

    requested, offering = make_mentor(company="Young A"), make_mentor(company="Young B")
    goal = make_goal(title="Understand TikTok", owner=make_user(company="Old AG"))
    tandems.request_tandem(goal, requested, goal.owner)
    offered_goal = make_goal(title="Learn Slack", owner=goal.owner)
    tandems.offer_help(offered_goal, offering.user)
    login_as(goal.owner)
    assert client.post(f"/goals/{goal.id}/delete").status_code == 302
    goals.delete_goal(offered_goal)
    assert told(requested.user)[-1] == "request_withdrawn" and told(offering.user)[-1] == "offer_ended_goal_deleted"
    assert db.session.scalar(select(func.count(Tandem.id))) == 0
    again = make_goal(title="TikTok, second try", owner=goal.owner)
    assert tandems.request_tandem(again, requested, goal.owner).status == "requested"  # not "already paired"

    profiles.delete_mentor_profile(requested)
    assert told(goal.owner)[-1].startswith("request_ended_profile_deleted")
    assert db.session.scalar(select(func.count(Tandem.id))) == 0


@pytest.mark.parametrize(
    ("method", "suffix", "data"),
    [
        ("get", "", None),
        ("get", "/edit", None),
        ("post", "/edit", GOAL_FORM),
        ("get", "/delete", None),
        ("post", "/delete", {}),
        ("post", "/status", {"status": "closed"}),
    ],
)
def test_another_users_goal_is_not_found(client, login_as, method, suffix, data):
    goal = make_goal(title="Secret strategy")
    login_as(make_user())
    response = getattr(client, method)(f"/goals/{goal.id}{suffix}", data=data)
    assert response.status_code == 404
    assert "Secret strategy" not in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Goal, goal.id).status == "open" and db.session.get(Goal, goal.id).title == "Secret strategy"


def test_a_manager_sees_any_goal_but_cannot_change_it(client, login_as):
    goal = make_goal(title="Board-level AI strategy", excluded=("Rival AG",))
    login_as(make_user(is_manager=True))
    page = client.get(f"/goals/{goal.id}").get_data(as_text=True)
    assert "Board-level AI strategy" in page and goal.owner.name in page and "Rival AG" in page
    assert client.get(f"/goals/{goal.id}/edit").status_code == 403
    assert client.post(f"/goals/{goal.id}/status", data={"status": "closed"}).status_code == 403


def test_a_mentor_with_a_tandem_on_the_goal_may_see_it_others_may_not(client, login_as):
    goal = make_goal(title="Learning TikTok", excluded=("Rival AG",))
    with_tandem, without = make_mentor(), make_mentor()
    tandem_on(goal, with_tandem)

    assert goals.can_view_goal(with_tandem.user, goal)
    assert not goals.can_view_goal(without.user, goal)
    assert not goals.can_edit_goal(with_tandem.user, goal)

    login_as(with_tandem.user)
    page = client.get(f"/goals/{goal.id}").get_data(as_text=True)
    assert "Learning TikTok" in page
    # Which companies the mentee excluded is theirs (and the managers') to know.
    assert "Rival AG" not in page
    assert client.get(f"/goals/{goal.id}/edit").status_code == 403

    sign_in(client, without.user)
    assert client.get(f"/goals/{goal.id}").status_code == 404


def test_visible_goals_query_agrees_with_can_view_goal(app):
    mentor = make_mentor()
    manager = make_user(is_manager=True)
    own = make_goal(owner=mentor.user, title="My own goal")
    with_tandem = make_goal(title="Goal with a tandem")
    tandem_on(with_tandem, mentor, status="requested")
    hidden = make_goal(title="Someone else's goal")
    for user in (mentor.user, manager, hidden.owner):
        listed = {goal.id for goal in db.session.scalars(goals.visible_goals_query(user))}
        expected = {goal.id for goal in (own, with_tandem, hidden) if goals.can_view_goal(user, goal)}
        assert listed == expected
    assert {g.id for g in db.session.scalars(goals.visible_goals_query(mentor.user))} == {own.id, with_tandem.id}
    assert not goals.can_view_goal(None, own)


def test_discoverable_goal_summary_says_little(app):
    owner = make_user(name="Helga Schmidt", company="Old Industry AG")
    goal = make_goal(owner=owner, topic_slugs=("social-media",))
    summary = goals.discoverable_goal_summary(goal)
    assert summary is not None
    assert (summary.title, summary.owner_first_name, summary.owner_company) == (goal.title, "Helga", "Old Industry AG")
    assert [t.slug for t in summary.topics] == ["social-media"]
    assert not hasattr(summary, "description")
    goals.set_goal_status(goal, "closed")
    assert goals.discoverable_goal_summary(goal) is None


def test_save_goal_refuses_someone_elses_goal(app):
    goal = make_goal()
    with pytest.raises(PermissionError):
        goals.save_goal(make_user(), {"title": "Taken over"}, goal)


@pytest.mark.parametrize("path", ["/goals/", "/goals/new", "/goals/1"])
def test_goal_pages_need_a_login(client, path):
    make_goal()
    response = client.get(path)
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_post_without_csrf_token_is_refused(csrf_app):
    goal = make_goal()
    client = csrf_app.test_client()
    sign_in(client, goal.owner)
    assert client.get(f"/goals/{goal.id}").status_code == 200
    assert client.post("/goals/new", data=form()).status_code == 400
    assert client.post(f"/goals/{goal.id}/status", data={"status": "closed"}).status_code == 400
    assert client.post(f"/goals/{goal.id}/delete").status_code == 400
    assert len(goals_of(goal.owner)) == 1 and goals_of(goal.owner)[0].status == "open"


def test_a_goal_with_a_running_tandem_cannot_be_closed(client, login_as):
    from marketplace.services import tandems

    mentor = make_mentor()
    goal = make_goal()
    tandem = tandems.accept(tandems.request_tandem(goal, mentor, goal.owner), mentor.user)
    db.session.commit()
    login_as(goal.owner)

    page = client.post(f"/goals/{goal.id}/status", data={"status": "closed"}, follow_redirects=True)

    assert "end the tandem first" in page.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Goal, goal.id).status == "matched"
    assert db.session.get(Tandem, tandem.id).status == "active"
    with pytest.raises(fields.ProfileError):
        goals.set_goal_status(db.session.get(Goal, goal.id), "closed")


def test_an_excluded_company_nobody_works_at_is_said_to_be_unknown_beside_the_field(client, login_as):
    make_user(company="Konkurrenz AG")  # someone works there: known
    owner = make_user(company="Old Industry AG")
    login_as(owner)
    form = dict(GOAL_FORM, excluded_companies="Konkurrenz AG, Vogtmann Praezisionsteile GmbH")

    saved = client.post("/goals/new", data=form, follow_redirects=True).get_data(as_text=True)

    notice = "No company called Vogtmann Praezisionsteile GmbH is known yet — it is kept and will apply"
    assert "Your goal is saved." in saved and notice in saved
    goal = goals_of(owner)[0]
    edit = client.get(f"/goals/{goal.id}/edit").get_data(as_text=True)
    assert notice in edit and "Konkurrenz AG is known" not in edit
    assert {c.name for c in goal.excluded_companies} == {"Konkurrenz AG", "Vogtmann Praezisionsteile GmbH"}
    make_user(company="Vogtmann Präzisionsteile GmbH")  # someone joins from it
    assert "is known yet" not in client.get(f"/goals/{goal.id}/edit").get_data(as_text=True)


def test_a_goal_form_sent_three_times_at_once_saves_one_goal(app):
    owner_id = make_user(company="Old Industry AG").id
    data = {"title": "Understand TikTok", "description": "Our apprentices are on TikTok and I am not.",
            "languages": ["de", "en"]}

    def submit(index: int) -> int:
        with app.test_request_context():
            try:
                return goals.save_goal(db.session.get(User, owner_id), data).id
            finally:
                db.session.remove()

    ids = builders.at_once(submit, 3)
    assert len(set(ids)) == 1 and all(isinstance(i, int) for i in ids), ids
    owner = db.session.get(User, owner_id)
    assert db.session.scalar(select(func.count()).select_from(Goal).where(Goal.owner_id == owner_id)) == 1
    # Another text is another goal; the same text much later is a goal of its own again.
    other = goals.save_goal(owner, data | {"description": "Our apprentices are on TikTok; I want to understand why."})
    first = db.session.get(Goal, ids[0])
    first.created_at = first.created_at - goals.TWIN_WINDOW
    db.session.commit()
    again = goals.save_goal(owner, data)
    assert len({first.id, other.id, again.id}) == 3
    goals.set_goal_status(again, "closed")  # closed, then set once more: a new goal
    assert goals.save_goal(owner, data).id not in {first.id, other.id, again.id}


@pytest.mark.parametrize("change", [
    {"languages": ["en"]}, {"discoverable": False}, {"excluded_companies": ["Rival Präzision GmbH"]},
    {"topics": ["social-media"]},
])
def test_the_same_goal_sent_again_with_other_settings_is_saved_with_them(app, change):
    owner = make_user(company="Old Industry AG")
    data = {"title": "Vertrieb über LinkedIn", "description": "Wir wollen Kunden über LinkedIn gewinnen.",
            "languages": ["de"]}
    first = goals.save_goal(owner, data)
    second = goals.save_goal(owner, data | change)
    assert second.id != first.id
    assert (second.language_list, second.discoverable) == (change.get("languages", ["de"]),
                                                           change.get("discoverable", True))
    assert [c.name for c in second.excluded_companies] == change.get("excluded_companies", [])
    assert [t.slug for t in second.topics] == change.get("topics", [])
    assert goals.save_goal(owner, data | change).id == second.id  # and that one sent twice is one goal
