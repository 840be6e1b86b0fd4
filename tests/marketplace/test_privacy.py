"""A person can take their data with them, and delete their account without breaking the reports."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from embeddings import VectorIndex
from marketplace.extensions import db
from marketplace.models import Goal, LoginThrottle, MentorProfile, Tandem, User, UserSession
from marketplace.services import privacy, tandems, throttle
from marketplace.services.matching import search, vectors
from tests.builders import DEFAULT_PASSWORD, make_goal, make_mentor, make_user


def test_export_holds_profile_goals_and_tandems(client, login_as):
    mentor = make_mentor(headline="Agile coach", text="Scrum and Kanban for leaders.", company="Sprint AG")
    goal = make_goal(title="Learn agile", owner=make_user(company="Old AG"))
    tandems.request_tandem(goal, mentor, goal.owner, "Hello")
    login_as(goal.owner)
    response = client.get("/auth/account/export.json")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    data = response.get_json()
    assert data["account"]["email"] == goal.owner.email
    assert [g["title"] for g in data["goals"]] == ["Learn agile"]
    assert data["tandems"][0]["partner"] == mentor.user.name
    assert data["mentor_profile"] is None
    # Every moment says it is UTC, on SQLite (naive datetimes) as on PostgreSQL; days stay days.
    for moment in (data["account"]["created_at"], data["goals"][0]["created_at"]):
        assert datetime.fromisoformat(moment).utcoffset() == timedelta(0)


def test_the_export_leaves_out_the_text_of_mails_holding_a_one_time_link(app, client, login_as):
    """A stolen session must not find a fresh password-reset link in the export and set a new password with it."""
    user = make_user()
    app.test_client().post("/auth/forgot-password", data={"email": user.email})
    login_as(user)
    goal = make_goal(owner=make_user(company="Old AG"))
    tandems.request_tandem(goal, make_mentor(user=user), goal.owner, "Hello from Old AG")
    mails = client.get("/auth/account/export.json").get_json()["emails"]
    reset = next(m for m in mails if m["kind"] == "password_reset")
    assert "/auth/reset/" not in reset["body"] and "one-time link" in reset["body"] and reset["subject"]
    assert all("/auth/reset/" not in m["body"] for m in mails)
    request_mail = next(m for m in mails if m["kind"] != "password_reset")
    assert "asks you to mentor them" in request_mail["body"]  # other mails keep their text


def test_signed_in_devices_and_failed_logins_are_exported_and_deleted_with_the_account(app, client, login_as):
    user = make_user()
    app.test_client().post("/auth/login", data={"email": user.email, "password": "a wrong guess, twice"})
    login_as(user)
    app.test_client().post("/auth/login", data={"email": user.email, "password": "another wrong guess"})

    data = client.get("/auth/account/export.json").get_json()
    assert len(data["signed_in_devices"]) == 1 and data["signed_in_devices"][0]["last_seen_at"]
    assert data["failed_login_attempts_counted"] == 1  # the success in between cleared the first

    client.post("/auth/account/delete", data={"password": DEFAULT_PASSWORD})

    assert db.session.scalars(select(UserSession)).all() == []
    assert db.session.get(LoginThrottle, throttle.account_key(user.email)) is None


def test_deleting_needs_the_password(client, login_as):
    user = make_user()
    login_as(user)
    response = client.post("/auth/account/delete", data={"password": "not my password at all"})
    assert response.status_code == 200
    assert db.session.get(User, user.id) is not None


def test_deleting_removes_profile_goals_vectors_and_index_entries_and_anonymises_tandems(client, login_as):
    mentor = make_mentor(headline="TikTok for brands", text="Short videos that make a brand known.", company="Clip AG",
                         capacity=2)
    goal = make_goal(title="Understand TikTok", owner=make_user(company="Old AG"))
    tandem = tandems.request_tandem(goal, mentor, goal.owner)
    tandems.accept(tandem, mentor.user)
    viewer = make_user(company="Third AG")
    assert mentor.id in {m.mentor.id for m in search.search_mentors("TikTok", viewer)}
    mentor_id, mentor_user_id, tandem_id = mentor.id, mentor.user_id, tandem.id

    login_as(mentor.user)
    response = client.post("/auth/account/delete", data={"password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(User, mentor_user_id) is None
    assert db.session.get(MentorProfile, mentor_id) is None
    assert mentor_id not in vectors.live_index(vectors.MENTOR).current()
    kept = db.session.get(Tandem, tandem_id)
    assert kept is not None and kept.status == "ended"  # nobody is left to mentor (test_rematching.py)
    assert kept.mentor_user_id is None and kept.mentee_user_id == goal.owner_id
    assert db.session.scalars(select(Goal)).all()  # the mentee's goal is theirs and stays
    assert client.get("/dashboard").status_code == 302  # logged out


def test_a_deleted_account_is_gone_from_the_saved_index_files_too(make_app):
    app = make_app()
    with app.app_context():
        gone = make_mentor(headline="TikTok for brands", text="Short videos that make a brand known.",
                           company="Clip AG")
        goal = make_goal(title="Understand TikTok for our brand", owner=gone.user)
        kept = make_mentor(headline="Agile coach", text="Scrum and Kanban for leaders.", company="Sprint AG")
        viewer = make_user(company="Viewer AG")
        for kind in (vectors.MENTOR, vectors.GOAL):
            vectors.live_index(kind).rebuild()  # the saved start-up files hold both people
        gone_id, goal_id, kept_id, viewer_id = gone.id, goal.id, kept.id, viewer.id
        query = vectors.from_blob(gone.vector)
        privacy.delete_account(db.session.get(User, gone.user_id))
        index_dir = app.config["TANDEM_INDEX_DIR"]
        files = {kind: vectors.live_index(kind).path() for kind in (vectors.MENTOR, vectors.GOAL)}
        config = vectors.encoder().config
        db.session.remove()

    for kind, entity_id in ((vectors.MENTOR, gone_id), (vectors.GOAL, goal_id)):
        saved = VectorIndex.load(files[kind], config)  # what a fresh worker starts from, before any catch-up
        assert entity_id not in saved
    assert gone_id not in {i for i, _ in VectorIndex.load(files[vectors.MENTOR], config).search_one(query, 10)}

    vectors.forget_live_indexes()
    fresh = make_app(TANDEM_INDEX_DIR=index_dir)  # a new worker from the saved file
    with fresh.app_context():
        viewer = db.session.get(User, viewer_id)
        found = {m.mentor.id for m in search.search_mentors("TikTok videos for brands", viewer)}
        assert gone_id not in found
        # The kept mentor is still served from that file (an unrelated query stays below the relevance floor).
        assert kept_id in {m.mentor.id for m in search.search_mentors("Scrum and Kanban for leaders", viewer)}
