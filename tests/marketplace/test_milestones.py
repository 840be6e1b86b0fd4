"""Milestones: the owner writes and orders them, both partners of a running tandem tick them on the tandem
page and through the API, managers read those of cohort goals, nobody else; the report shows the share reached."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from marketplace.extensions import db
from marketplace.models import CohortParticipant, Milestone, Tandem, User
from marketplace.services import milestones, privacy, tandems
from marketplace.services.cohorts import reports
from tests.builders import at_once, make_goal, make_mentor, make_user, sign_in
from tests.marketplace.test_cohorts import bearer, make_cohort


@pytest.fixture
def pair(app):
    """A running tandem (from a request) on a goal with two milestones."""
    mentor, goal = make_mentor(company="Young AG"), make_goal(company="Old AG")
    tandem = tandems.request_tandem(goal, mentor, goal.owner)
    tandems.accept(tandem, mentor.user)
    first = milestones.add(goal, goal.owner, "Post once a week on LinkedIn")
    second = milestones.add(goal, goal.owner, "  Write   my profile summary ")
    return {"goal": goal, "mentor": mentor, "tandem": tandem, "first": first, "second": second}


def api(client, method, url, user, json=None):
    return client.open(f"/api/v1{url}", method=method, json=json, headers=bearer(user))


def test_the_owner_adds_milestones_in_order_with_tidy_titles(pair):
    goal = pair["goal"]
    assert [m.title for m in goal.milestones] == ["Post once a week on LinkedIn", "Write my profile summary"]
    assert [m.position for m in goal.milestones] == [0, 1]
    assert milestones.progress(goal).share == 0.0


def test_both_partners_tick_on_the_tandem_page(client, login_as, pair):
    goal, tandem, first = pair["goal"], pair["tandem"], pair["first"]
    login_as(pair["mentor"].user)
    page = client.get(f"/cohorts/tandems/{tandem.id}").get_data(as_text=True)
    assert "Post once a week on LinkedIn" in page and "Milestones reached: 0 of 2" in page
    response = client.post(f"/goals/{goal.id}/milestones/{first.id}",
                           data={"action": "done", "back": f"tandem-{tandem.id}"})
    assert response.status_code == 302 and f"/cohorts/tandems/{tandem.id}" in response.headers["Location"]
    assert "Milestones reached: 1 of 2" in client.get(f"/cohorts/tandems/{tandem.id}").get_data(as_text=True)
    # The mentor ticks but does not edit: no add form, and removing is refused.
    assert "Add milestone" not in client.get(f"/cohorts/tandems/{tandem.id}").get_data(as_text=True)
    client.post(f"/goals/{goal.id}/milestones/{first.id}", data={"action": "delete"})
    assert db.session.get(Milestone, first.id) is not None
    client.post("/auth/logout")
    login_as(goal.owner)
    page = client.get(f"/cohorts/tandems/{tandem.id}").get_data(as_text=True)
    assert "Milestones reached: 1 of 2" in page and "Add milestone" in page
    client.post(f"/goals/{goal.id}/milestones/{first.id}", data={"action": "undone", "back": f"tandem-{tandem.id}"})
    db.session.expire_all()
    assert db.session.get(Milestone, first.id).done_at is None


def test_the_owner_adds_moves_renames_and_removes_on_the_pages(client, login_as, pair):
    goal, second = pair["goal"], pair["second"]
    login_as(goal.owner)
    response = client.post(f"/goals/{goal.id}/milestones", data={"title": "Ask three colleagues", "back": "goal"})
    assert response.status_code == 302 and f"/goals/{goal.id}" in response.headers["Location"]
    client.post(f"/goals/{goal.id}/milestones/{second.id}", data={"action": "up", "back": "goal"})
    db.session.expire_all()
    assert [m.title for m in goal.milestones] == ["Write my profile summary", "Post once a week on LinkedIn",
                                                  "Ask three colleagues"]
    client.post(f"/goals/{goal.id}/milestones/{second.id}/title", data={f"m{second.id}-title": "Summary done"})
    client.post(f"/goals/{goal.id}/milestones/{pair['first'].id}", data={"action": "delete"})
    db.session.expire_all()
    assert [m.title for m in goal.milestones] == ["Summary done", "Ask three colleagues"]
    assert "Summary done" in client.get(f"/goals/{goal.id}").get_data(as_text=True)


@pytest.mark.parametrize("title", ["", "   ", "x" * (milestones.TITLE_MAX + 1), "bad\x00byte"])
def test_a_bad_title_is_shown_beside_the_field_never_a_500(client, login_as, pair, title):
    goal = pair["goal"]
    login_as(goal.owner)
    response = client.post(f"/goals/{goal.id}/milestones", data={"title": title, "back": "goal"})
    assert response.status_code == 400
    assert 'class="field-error"' in response.get_data(as_text=True)
    renamed = client.post(f"/goals/{goal.id}/milestones/{pair['first'].id}/title",
                          data={f"m{pair['first'].id}-title": title})
    assert renamed.status_code == 400 and 'class="field-error"' in renamed.get_data(as_text=True)
    assert len(goal.milestones) == 2


def test_the_api_lists_adds_ticks_moves_and_removes(client, pair):
    goal, owner, mentor = pair["goal"], pair["goal"].owner, pair["mentor"].user
    listed = api(client, "GET", f"/goals/{goal.id}/milestones", mentor).get_json()
    assert [m["title"] for m in listed["milestones"]] == ["Post once a week on LinkedIn", "Write my profile summary"]
    assert (listed["done"], listed["total"]) == (0, 2)
    created = api(client, "POST", f"/goals/{goal.id}/milestones", owner, {"title": "Run a poll"})
    assert created.status_code == 201 and created.get_json()["position"] == 2
    ticked = api(client, "PATCH", f"/goals/{goal.id}/milestones/{pair['first'].id}", mentor, {"done": True})
    assert ticked.status_code == 200 and ticked.get_json()["done"] is True and ticked.get_json()["done_at"]
    assert api(client, "PATCH", f"/goals/{goal.id}/milestones/{pair['first'].id}", mentor,
               {"title": "Mine now"}).status_code == 403
    moved = api(client, "PATCH", f"/goals/{goal.id}/milestones/{created.get_json()['id']}", owner, {"position": 0})
    assert moved.get_json()["position"] == 0
    assert api(client, "DELETE", f"/goals/{goal.id}/milestones/{pair['second'].id}", mentor).status_code == 403
    assert api(client, "DELETE", f"/goals/{goal.id}/milestones/{pair['second'].id}", owner).status_code == 204
    listed = api(client, "GET", f"/goals/{goal.id}/milestones", owner).get_json()
    assert [m["title"] for m in listed["milestones"]] == ["Run a poll", "Post once a week on LinkedIn"]
    assert (listed["done"], listed["total"]) == (1, 2)


def test_the_api_gives_done_at_in_utc_with_its_offset_as_every_other_timestamp(client, pair):
    goal, mentor = pair["goal"], pair["mentor"].user
    ticked = api(client, "PATCH", f"/goals/{goal.id}/milestones/{pair['first'].id}", mentor, {"done": True})
    db.session.expire_all()  # read back as stored (SQLite hands back naive timestamps)
    listed = api(client, "GET", f"/goals/{goal.id}/milestones", mentor).get_json()["milestones"]
    for done_at in (ticked.get_json()["done_at"], listed[0]["done_at"]):
        assert done_at.endswith("Z"), done_at  # as meetings and proposals give their times
        assert datetime.fromisoformat(done_at).utcoffset() == timedelta(0)
    assert listed[1]["done_at"] is None


@pytest.mark.parametrize("body, message", [
    ({}, "Required."), ({"title": ""}, "Required."), ({"title": 5}, "Must be text."), ({"title": 123}, "Must be text."),
    ({"title": ["Plan"]}, "Must be text."), ({"title": "x" * 201}, "At most 200 characters."),
])
def test_api_bad_titles_answer_422_with_the_field(client, pair, body, message):
    response = api(client, "POST", f"/goals/{pair['goal'].id}/milestones", pair["goal"].owner, body)
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"]["title"] == message
    renamed = api(client, "PATCH", f"/goals/{pair['goal'].id}/milestones/{pair['first'].id}", pair["goal"].owner,
                  body or {"title": None})
    assert renamed.get_json()["error"]["fields"]["title"] == message


@pytest.mark.parametrize("body, field", [
    ({"done": "yes"}, "done"), ({"position": -1}, "position"), ({"position": True}, "position"),
    ({"title": None}, "title"), ({"colour": "red"}, "colour"),
])
def test_api_bad_changes_answer_422_with_the_field(client, pair, body, field):
    response = api(client, "PATCH", f"/goals/{pair['goal'].id}/milestones/{pair['first'].id}", pair["goal"].owner,
                   body)
    assert response.status_code == 422
    assert field in response.get_json()["error"]["fields"]


def test_the_mentor_loses_access_when_the_tandem_ends_and_outsiders_never_have_it(client, login_as, pair):
    goal, mentor = pair["goal"], pair["mentor"].user
    outsider, manager = make_user(company="Elsewhere"), make_user(is_manager=True, company=None)
    for user in (outsider, manager):  # a goal outside every cohort: not even managers
        assert api(client, "GET", f"/goals/{goal.id}/milestones", user).status_code == 404
    tandems.end(pair["tandem"], goal.owner, "We are done early.")
    assert api(client, "GET", f"/goals/{goal.id}/milestones", mentor).status_code == 404
    assert api(client, "PATCH", f"/goals/{goal.id}/milestones/{pair['first'].id}", mentor,
               {"done": True}).status_code == 404
    login_as(mentor)
    assert client.get(f"/goals/{goal.id}/milestones").status_code == 404


def test_managers_read_milestones_of_cohort_goals_but_cannot_change_them(client, login_as, pair):
    goal, manager = pair["goal"], make_user(is_manager=True, company=None)
    cohort = make_cohort(state="running")
    db.session.add(CohortParticipant(cohort_id=cohort.id, user_id=goal.owner_id, role="mentee", goal_id=goal.id,
                                     status="accepted"))
    db.session.commit()
    assert api(client, "GET", f"/goals/{goal.id}/milestones", manager).get_json()["total"] == 2
    assert api(client, "PATCH", f"/goals/{goal.id}/milestones/{pair['first'].id}", manager,
               {"done": True}).status_code == 403
    assert api(client, "POST", f"/goals/{goal.id}/milestones", manager, {"title": "Mine"}).status_code == 403
    login_as(manager)
    page = client.get(f"/goals/{goal.id}/milestones").get_data(as_text=True)
    assert "Post once a week on LinkedIn" in page and "Mark as reached" not in page


def test_the_report_shows_the_share_of_milestones_reached(app, client, login_as):
    cohort = make_cohort(state="running", starts_on=date.today() - timedelta(days=10))
    goals = []
    for n in range(2):
        mentor, goal = make_mentor(company=f"Young {n}"), make_goal(company=f"Old {n}")
        db.session.add(Tandem(goal=goal, mentor=mentor, mentee_user_id=goal.owner_id, mentor_user_id=mentor.user_id,
                              cohort_id=cohort.id, status="active"))
        goals.append(goal)
    db.session.commit()
    done = milestones.add(goals[0], goals[0].owner, "One")
    milestones.add(goals[0], goals[0].owner, "Two")
    milestones.add(goals[1], goals[1].owner, "Three")
    milestones.add(goals[1], goals[1].owner, "Four")
    milestones.update(goals[0], done, goals[0].owner, {"done": True})
    figures = reports.report(cohort)["milestones"]
    assert figures == {"total": 4, "reached": 1, "share_reached": 0.25, "tandems_with_milestones": 2}
    assert ["milestones", "share_reached", 0.25] in [row for row in reports._report_rows(reports.report(cohort))]
    login_as(make_user(is_manager=True, company=None))
    page = client.get(f"/cohorts/{cohort.id}/report").get_data(as_text=True)
    assert "25%" in page and "of milestones reached" in page
    chart = client.get(f"/cohorts/{cohort.id}/charts/milestones.svg")
    assert chart.status_code == 200 and b"<svg" in chart.data


def test_export_and_deletion_cover_milestones(pair):
    owner = pair["goal"].owner
    milestones.update(pair["goal"], pair["first"], owner, {"done": True})
    exported = privacy.export_user_data(owner)["goals"][0]["milestones"]
    assert [m["title"] for m in exported] == ["Post once a week on LinkedIn", "Write my profile summary"]
    assert exported[0]["reached_at"] and exported[1]["reached_at"] is None
    privacy.delete_account(owner)
    assert db.session.query(Milestone).count() == 0


# --- changes at once ------------------------------------------------------------------------------------


def _goal_with(count: int) -> tuple[int, User, list[int]]:
    """A goal's id, its owner and the ids of its `count` milestones."""
    goal = make_goal(company="Old AG")
    for n in range(count):
        milestones.add(goal, goal.owner, f"Step {n}")
    return goal.id, goal.owner, [m.id for m in goal.milestones]


def _sent_at_once(app, owner, goal_id: int, requests: list[tuple[str, str, dict | None]]) -> list[int]:
    """The owner's API requests (method, path below the goal's milestones, body), each in its own thread and
    connection, sent together; their status codes in order."""
    headers, base = bearer(owner), f"/api/v1/goals/{goal_id}/milestones"
    # The token's first use now: its stamp takes a second connection, and 20 at once would drain the pool.
    assert app.test_client().get(base, headers=headers).status_code == 200

    def send(index: int) -> int:
        method, path, body = requests[index]
        return app.test_client().open(base + path, method=method, json=body, headers=headers).status_code

    return at_once(send, len(requests))


def _positions(goal_id: int) -> list[int]:
    return list(db.session.scalars(select(Milestone.position).where(Milestone.goal_id == goal_id)
                                   .order_by(Milestone.position)))


def test_adds_at_once_near_the_limit_stop_at_the_limit_with_409(app):
    goal_id, owner, _ids = _goal_with(milestones.MAX_PER_GOAL - 5)
    statuses = _sent_at_once(app, owner, goal_id, [("POST", "", {"title": f"More {n}"}) for n in range(20)])
    assert sorted(statuses, key=str) == [201] * 5 + [409] * 15  # was 8 x 201: 53 milestones
    assert _positions(goal_id) == list(range(milestones.MAX_PER_GOAL))


def test_adds_at_once_to_an_empty_goal_number_them_0_to_n(app):
    goal_id, owner, _ids = _goal_with(0)
    assert _sent_at_once(app, owner, goal_id, [("POST", "", {"title": f"Step {n}"}) for n in range(12)]) == [201] * 12
    assert _positions(goal_id) == list(range(12))  # was [0, 1, 2, 3, 4, 5, 5, 5, 5, 5, 6, 6]


def test_moves_at_once_keep_positions_unique_and_without_gaps(app):
    goal_id, owner, ids = _goal_with(12)
    requests = [("PATCH", f"/{mid}", {"position": 0}) for mid in ids]
    assert _sent_at_once(app, owner, goal_id, requests) == [200] * 12
    assert _positions(goal_id) == list(range(12))  # was [0, 0, 1, 2, 3, 5, ...]


def test_adds_moves_and_removals_at_once_leave_positions_0_to_n(app):
    goal_id, owner, ids = _goal_with(12)
    requests = ([("POST", "", {"title": f"New {n}"}) for n in range(6)]
                + [("PATCH", f"/{mid}", {"position": n % 3}) for n, mid in enumerate(ids[:6])]
                + [("DELETE", f"/{mid}", None) for mid in ids[6:]])
    assert sorted(_sent_at_once(app, owner, goal_id, requests), key=str) == [200] * 6 + [201] * 6 + [204] * 6
    assert _positions(goal_id) == list(range(12))


def test_two_clicks_on_down_at_once_move_the_milestone_two_places(app):
    """Each arrow click moves one place from where the milestone stands under the lock; the page used to send a
    position read before it, so two clicks crossing moved it once."""
    goal_id, owner, ids = _goal_with(4)
    browsers = [sign_in(app.test_client(), owner) for _ in range(2)]

    def click(index: int) -> int:
        return browsers[index].post(f"/goals/{goal_id}/milestones/{ids[0]}",
                                    data={"action": "down", "back": "goal"}).status_code

    assert at_once(click, 2) == [302, 302]
    order = db.session.scalars(select(Milestone.id).where(Milestone.goal_id == goal_id).order_by(Milestone.position))
    assert list(order) == [ids[1], ids[2], ids[0], ids[3]]
    assert _positions(goal_id) == [0, 1, 2, 3]


def test_one_milestone_removed_twice_at_once_is_removed_once_and_the_rest_closes_up(app):
    goal_id, owner, ids = _goal_with(3)
    requests = [("DELETE", f"/{ids[0]}", None)] * 2
    assert sorted(_sent_at_once(app, owner, goal_id, requests), key=str) == [204, 404]
    assert _positions(goal_id) == [0, 1]
