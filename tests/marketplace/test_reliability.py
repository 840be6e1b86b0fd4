"""Nothing is lost: multi-step changes are one transaction, races have one winner, the index survives a crash."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading

import pytest
from sqlalchemy import event, func, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from marketplace.extensions import db
from marketplace.models import Goal, MentorProfile, OutgoingEmail, Tandem, User
from marketplace.services import accounts, emails, goals, notifications, privacy, tandems
from marketplace.services.cohorts import imports
from marketplace.services.errors import ProfileConflict
from marketplace.services.matching import search, vectors
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

    def failing_store(*args, **kwargs):
        raise Boom("crashed after the people were written, before the vectors")

    monkeypatch.setattr(vectors, "store_vectors", failing_store)
    with pytest.raises(Boom):
        imports.import_participants(data)
    assert db.session.scalar(select(func.count()).select_from(User)) == 0
    assert db.session.scalar(select(func.count()).select_from(MentorProfile)) == 0


def test_an_import_that_fails_while_inviting_imports_nobody(app, monkeypatch):
    """The people and their invitations are one transaction: nobody is left with an account and no
    invitation (a worker dying between two commits used to leave exactly that)."""
    data = (
        b"email,name,role,company,headline,text,topics,languages,capacity,exclude_companies\n"
        b"a@young.example,Ann,mentor,Young AG,AI coach,Generative AI for leaders.,,en,1,\n"
        b"b@old.example,Bob,mentee,Old AG,Learn AI,What does AI mean for us?,,en,,\n"
    )
    sent = []
    original = emails.send_invitation

    def failing_invitation(user):
        if sent:
            raise Boom("the worker died while inviting the second person")
        sent.append(user.email)
        return original(user)

    monkeypatch.setattr(emails, "send_invitation", failing_invitation)
    with pytest.raises(Boom):
        imports.import_participants(data)
    assert db.session.scalar(select(func.count()).select_from(User)) == 0
    assert db.session.scalar(select(func.count()).select_from(OutgoingEmail)) == 0

    monkeypatch.setattr(emails, "send_invitation", original)
    result = imports.import_participants(data)  # the same file again lands whole, invitations included
    assert sorted(result.invited) == ["a@young.example", "b@old.example"]
    invited = db.session.scalars(select(OutgoingEmail.recipient).where(OutgoingEmail.kind == "invitation"))
    assert sorted(invited) == ["a@young.example", "b@old.example"]


@pytest.fixture
def race_app(make_app):
    """Races need real concurrent connections: PostgreSQL, or one SQLite file with a connection per thread
    (where BEGIN IMMEDIATE, not row locks, serialises the units that take a slot)."""
    app = make_app()
    if app.config["SQLALCHEMY_DATABASE_URI"] in ("sqlite://", "sqlite:///:memory:"):
        pytest.skip("needs a database file shared by several connections")
    return app


def _at_once(app, *preparations) -> list[str]:
    """Each preparation loads its rows in its own thread and connection and answers an action; the actions
    then start together. Answers "ok", the TandemError code or "tandem_running" (a refused deletion) of each,
    in order."""
    barrier = threading.Barrier(len(preparations))
    outcomes = [""] * len(preparations)

    def run(n: int, prepare) -> None:
        with app.app_context():
            try:
                action = prepare()
                barrier.wait()
                action()
                outcomes[n] = "ok"
            except tandems.TandemError as problem:
                outcomes[n] = problem.code
            except ProfileConflict:
                outcomes[n] = "tandem_running"
            except Exception as problem:  # a deadlock, say: what the API would answer with a 500
                outcomes[n] = repr(problem)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(n, prepare)) for n, prepare in enumerate(preparations)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def _answering(tandem_id: int, user_id: int, answer, *args):
    def prepare():
        tandem, user = db.session.get(Tandem, tandem_id), db.session.get(User, user_id)
        return lambda: answer(tandem, user, *args)

    return prepare


def _status(app, tandem_id: int) -> str:
    with app.app_context():
        status = db.session.get(Tandem, tandem_id).status
        db.session.remove()
        return status


def _requests_on_one_goal(mentors: int, capacity: int = 1) -> list[tuple[int, int]]:
    """(tandem id, mentor's user id) of open requests from one goal to `mentors` mentors; the goal is theirs."""
    goal = make_goal(company="Old AG")
    profiles = [make_mentor(company=f"Young {i} AG", capacity=capacity) for i in range(mentors)]
    pairs = [(tandems.request_tandem(goal, profile, goal.owner).id, profile.user_id) for profile in profiles]
    db.session.remove()
    return pairs


@pytest.mark.parametrize("acceptances", [2, 6])
def test_parallel_acceptances_for_the_last_slot_have_exactly_one_winner(race_app, acceptances):
    """On SQLite too: without BEGIN IMMEDIATE several of them took the slot (FOR UPDATE is ignored there)."""
    with race_app.app_context():
        mentor = make_mentor(company="Young AG", capacity=1)
        goals = [make_goal(company=f"Old {i} AG") for i in range(acceptances)]
        ids = [tandems.request_tandem(goal, mentor, goal.owner).id for goal in goals]
        mentor_user_id = mentor.user_id
        db.session.remove()

    outcomes = _at_once(race_app, *(_answering(tid, mentor_user_id, tandems.accept) for tid in ids))
    assert sorted(outcomes) == ["mentor_full"] * (acceptances - 1) + ["ok"]
    assert sorted(_status(race_app, tid) for tid in ids) == ["active"] + ["requested"] * (acceptances - 1)


@pytest.mark.parametrize("answer", ["accept", "decline"])
def test_a_withdrawal_while_the_mentor_answers_has_one_winner(race_app, answer):
    with race_app.app_context():
        [(tandem_id, mentor_user_id)] = _requests_on_one_goal(1)
        mentee_id = db.session.get(Tandem, tandem_id).mentee_user_id
        db.session.remove()
    outcomes = _at_once(race_app, _answering(tandem_id, mentor_user_id, getattr(tandems, answer)),
                        _answering(tandem_id, mentee_id, tandems.withdraw))
    assert sorted(outcomes) == ["not_open", "ok"]  # both used to succeed, the later overwriting the earlier
    answered = {"accept": "active", "decline": "declined"}[answer]
    assert _status(race_app, tandem_id) == (answered if outcomes[0] == "ok" else "withdrawn")


def test_two_mentors_accepting_one_goal_at_once_give_it_one_tandem(race_app):
    with race_app.app_context():
        pairs = _requests_on_one_goal(2)
    outcomes = _at_once(race_app, *(_answering(tid, user_id, tandems.accept) for tid, user_id in pairs))
    assert sorted(outcomes) == ["not_open", "ok"]  # was a deadlock: one of them a 500
    assert sorted(_status(race_app, tid) for tid, _ in pairs) == ["active", "withdrawn"]


def test_a_decline_during_an_acceptance_on_the_same_goal_is_kept(race_app):
    with race_app.app_context():
        (accepted, accepting), (declined, declining) = _requests_on_one_goal(2)
    outcomes = _at_once(race_app, _answering(accepted, accepting, tandems.accept),
                        _answering(declined, declining, tandems.decline, "Fully booked."))
    assert outcomes[0] == "ok"
    assert _status(race_app, declined) == ("declined" if outcomes[1] == "ok" else "withdrawn")


@pytest.mark.parametrize("deleted", ["goal", "mentee's account", "mentor's account"])
def test_a_deletion_while_the_mentor_accepts_never_deadlocks(race_app, deleted):
    with race_app.app_context():
        [(tandem_id, mentor_user_id)] = _requests_on_one_goal(1)
        tandem = db.session.get(Tandem, tandem_id)
        model, row_id, delete = {
            "goal": (Goal, tandem.goal_id, goals.delete_goal),
            "mentee's account": (User, tandem.mentee_user_id, privacy.delete_account),
            "mentor's account": (User, mentor_user_id, privacy.delete_account),
        }[deleted]
        db.session.remove()

    def deleting():
        row = db.session.get(model, row_id)
        return lambda: delete(row)

    outcomes = _at_once(race_app, _answering(tandem_id, mentor_user_id, tandems.accept), deleting)
    assert outcomes[0] in ("ok", "gone", "not_open")  # whichever came first; never a deadlock (a 500)
    if outcomes[1] == "tandem_running":  # the acceptance came first, and a goal with a running tandem stays
        assert deleted == "goal" and outcomes[0] == "ok"
        return
    assert outcomes[1] == "ok"
    with race_app.app_context():
        assert db.session.get(model, row_id) is None


def test_a_request_made_while_its_goal_is_matched_does_not_stay_open(race_app):
    with race_app.app_context():
        [(first, mentor_user_id)] = _requests_on_one_goal(1)
        goal_id = db.session.get(Tandem, first).goal_id
        late_mentor_id = make_mentor(company="Late AG").id
        db.session.remove()
    late: list[int] = []

    def request_late():
        goal, profile = db.session.get(Goal, goal_id), db.session.get(MentorProfile, late_mentor_id)
        return lambda: late.append(tandems.request_tandem(goal, profile, goal.owner).id)

    outcomes = _at_once(race_app, _answering(first, mentor_user_id, tandems.accept), request_late)
    assert outcomes[0] == "ok"
    # It used to slip in and stay open on the matched goal, where accepting it made a second running tandem.
    assert outcomes[1] == "goal_not_open" or _status(race_app, late[0]) == "withdrawn"


CRASHING_WORKER = textwrap.dedent(
    """
    import os, signal, sys
    sys.path.insert(0, {root!r})
    from marketplace import create_app
    from marketplace.extensions import db
    from marketplace.services.matching import vectors
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
        found = {m.mentor.id for m in search.search_mentors("podcasts and agile teams", viewer, k=10)}
        podcast = db.session.scalar(select(MentorProfile.id).where(MentorProfile.headline == "Podcast production"))
        assert {first, podcast} <= found


def _transaction_ends(app) -> list[str]:
    """How each transaction on `app`'s engine ends ("commit" or "rollback"), recorded from now on."""
    ends: list[str] = []
    with app.app_context():
        for kind in ("commit", "rollback"):
            event.listen(db.engine, kind, lambda connection, kind=kind: ends.append(kind))
    return ends


def test_a_request_that_only_read_commits_and_one_that_wrote_without_committing_keeps_nothing(make_app):
    """Reads end in COMMIT (on PostgreSQL psycopg keeps its prepared statements then); anything a request
    wrote but did not commit itself, flushed or only pending, is rolled back as before."""
    app = make_app()
    with app.app_context():
        user = make_user(company="Reader AG")
        token, user_id, name = accounts.create_api_token(user), user.id, user.name
        db.session.commit()
        goal_id = make_goal(owner=user).id

    @app.post("/test/flush-then-refuse")
    def flush_then_refuse():
        db.session.get(User, user_id).name = "Flushed Name"
        db.session.flush()
        return "refused", 422

    @app.post("/test/pending-then-ok")
    def pending_then_ok():
        db.session.get(User, user_id).name = "Pending Name"
        return "ok"

    @app.post("/test/statement-then-ok")
    def statement_then_ok():
        db.session.execute(update(User).where(User.id == user_id).values(name="Statement Name"))
        return "ok"

    @app.get("/test/prepared-statements")
    def prepared_statements():
        return str(db.session.scalar(text("SELECT count(*) FROM pg_prepared_statements")))

    @app.get("/test/failed-read-caught")
    def failed_read_caught():
        try:
            db.session.execute(text("SELECT * FROM no_such_table"))
        except DBAPIError:
            return "caught"
        return "not reached"

    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    client.get(f"/api/v1/goals/{goal_id}", headers=headers)  # the token's last-used stamp is written now
    ends = _transaction_ends(app)
    for _ in range(7):
        assert client.get(f"/api/v1/goals/{goal_id}", headers=headers).status_code == 200
    assert ends == ["commit"] * 7
    with app.app_context():
        postgresql = db.engine.dialect.name == "postgresql"
    if postgresql:  # psycopg prepares a statement on its sixth use on a connection, if no ROLLBACK came between
        answers = [client.get("/test/prepared-statements").get_data(as_text=True) for _ in range(14)]
        assert int(answers[-1]) > 0, answers

    for path in ("/test/flush-then-refuse", "/test/pending-then-ok", "/test/statement-then-ok"):
        ends.clear()
        client.post(path)
        assert "commit" not in ends, path
        with app.app_context():
            assert db.session.get(User, user_id).name == name, path
    ends.clear()
    assert client.get("/test/failed-read-caught").get_data(as_text=True) == "caught"
    assert ends == ["rollback"]  # a failed statement aborts a PostgreSQL transaction: no COMMIT tried on it


def test_a_flush_error_the_view_caught_still_rolls_back_and_releases_the_connection(make_app):
    """The read-only COMMIT never raises at the end of a request: a view that caught a failed flush (and forgot
    the rollback) answers as it chose, and its connection goes back to the pool (one connection here)."""
    app = make_app(SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 1, "max_overflow": 0, "pool_timeout": 2})
    with app.app_context():
        user = make_user(company="Reader AG")
        email, user_id = user.email, user.id

    @app.post("/test/duplicate-caught")
    def duplicate_caught():
        db.session.get(User, user_id)
        db.session.add(User(email=email, name="Duplicate", is_manager=False))
        try:
            db.session.flush()
        except IntegrityError:
            return "taken", 409
        return "not reached"

    @app.get("/test/names")
    def names():
        return ",".join(db.session.scalars(select(User.name).order_by(User.id)))

    client = app.test_client()
    assert [client.post("/test/duplicate-caught").status_code for _ in range(3)] == [409] * 3
    assert client.get("/test/names").get_data(as_text=True) == user.name  # served: the connection was released
    with app.app_context():
        kept = db.session.get(User, user_id)
    assert kept.name == user.name  # not expired by the read-only COMMIT: usable after its context, as before
