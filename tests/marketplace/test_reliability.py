"""Nothing is lost: multi-step changes are one transaction, races have one winner, the index survives a crash."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading

import pytest
from sqlalchemy import func, select

from marketplace.extensions import db
from marketplace.models import Goal, MentorProfile, Tandem, User
from marketplace.services import imports, matching, notifications, tandems
from tests.builders import make_goal, make_mentor, make_user


class Boom(RuntimeError):
    pass


def test_a_failure_while_accepting_leaves_everything_as_before(app, monkeypatch):
    mentor = make_mentor(company="Young AG", capacity=1)
    goal = make_goal(company="Old AG")
    other = make_mentor(company="Other AG")
    tandem = tandems.request_tandem(goal, mentor, goal.owner)
    second = tandems.request_tandem(goal, other, goal.owner)
    calls = []

    def failing_notify(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:  # after the other request was withdrawn, before the mentee is told
            raise Boom("mail system down")
        return original(*args, **kwargs)

    original = notifications.notify
    monkeypatch.setattr(notifications, "notify", failing_notify)
    with pytest.raises(Boom):
        tandems.accept(tandem, mentor.user)
    db.session.expire_all()
    assert db.session.get(Tandem, tandem.id).status == "requested"
    assert db.session.get(Tandem, second.id).status == "requested"
    assert db.session.get(Goal, goal.id).status == "open"


def test_a_failure_in_the_middle_of_an_import_imports_nothing(app, monkeypatch):
    data = (
        b"email,name,role,company,headline,text,topics,languages,capacity,exclude_companies\n"
        b"a@young.example,Ann,mentor,Young AG,AI coach,Generative AI for leaders.,,en,1,\n"
        b"b@old.example,Bob,mentee,Old AG,Learn AI,What does AI mean for us?,,en,,\n"
    )

    def failing_embed(*args, **kwargs):
        raise Boom("encoder crashed")

    monkeypatch.setattr(imports, "_embed", failing_embed)
    with pytest.raises(Boom):
        imports.import_participants(data)
    assert db.session.scalar(select(func.count()).select_from(User)) == 0
    assert db.session.scalar(select(func.count()).select_from(MentorProfile)) == 0


@pytest.mark.postgres_only
def test_two_acceptances_for_the_last_slot_have_exactly_one_winner(make_app):
    app = make_app()
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("needs real concurrent connections (PostgreSQL)")
    with app.app_context():
        mentor = make_mentor(company="Young AG", capacity=1)
        goals = [make_goal(company=f"Old {i} AG") for i in range(2)]
        requests = [tandems.request_tandem(goal, mentor, goal.owner) for goal in goals]
        ids, mentor_user_id = [t.id for t in requests], mentor.user_id
        db.session.remove()

    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def accept(tandem_id: int) -> None:
        with app.app_context():
            tandem = db.session.get(Tandem, tandem_id)
            user = db.session.get(User, mentor_user_id)
            barrier.wait()
            try:
                tandems.accept(tandem, user)
                outcomes.append("accepted")
            except tandems.TandemError as problem:
                outcomes.append(problem.code)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=accept, args=(tid,)) for tid in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["accepted", "mentor_full"]
    with app.app_context():
        active = db.session.scalar(select(func.count()).select_from(Tandem).where(Tandem.status == "active"))
        assert active == 1


CRASHING_WORKER = textwrap.dedent(
    """
    import os, signal, sys
    sys.path.insert(0, {root!r})
    from marketplace import create_app
    from marketplace.extensions import db
    from marketplace.services import vectors
    from tests.builders import make_mentor
    app = create_app({config!r})
    with app.app_context():
        vectors.live_index(vectors.MENTOR).rebuild()          # the saved start-up file
        make_mentor(headline="Podcast production", text="Recording and publishing podcasts.",
                    company="Audio AG")                        # committed after the file was saved
        vectors.live_index(vectors.MENTOR).current()
        os.kill(os.getpid(), signal.SIGKILL)                   # a crash: nothing else is written
    """
)


def test_a_worker_started_after_a_crash_finds_every_committed_profile(make_app, tmp_path):
    app = make_app()
    config = {key: app.config[key] for key in ("SQLALCHEMY_DATABASE_URI", "TANDEM_INDEX_DIR", "SECRET_KEY")}
    config["TESTING"] = True
    with app.app_context():
        first = make_mentor(headline="Agile coach", text="Scrum and Kanban for leaders.", company="Sprint AG").id
        viewer_id = make_user(company="Viewer AG").id
        db.session.remove()
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    script = CRASHING_WORKER.format(root=root, config=config)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == -signal.SIGKILL, result.stderr[-2000:]

    restarted = make_app(TANDEM_INDEX_DIR=config["TANDEM_INDEX_DIR"])
    with restarted.app_context():
        viewer = db.session.get(User, viewer_id)
        found = {m.profile.id for m in matching.search_mentors("podcasts and agile teams", viewer, k=10)}
        podcast = db.session.scalar(select(MentorProfile.id).where(MentorProfile.headline == "Podcast production"))
        assert {first, podcast} <= found
