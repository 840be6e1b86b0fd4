"""Cohorts: the state machine and its refusals, enrolment, the browser CSV import, access control, the API."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from marketplace.extensions import db
from marketplace.models import Cohort, CohortParticipant, ImportJob, Notification, Tandem, User
from marketplace.services import accounts
from marketplace.services.cohorts import enrolment
from marketplace.services.cohorts.enrolment import CohortError
from tests.builders import DEFAULT_PASSWORD, make_goal, make_mentor, make_user, sign_in

START = date(2027, 3, 1)
END = date(2027, 9, 1)


def make_cohort(name: str = "Spring 2027", state: str = "draft", target: int = 6, **dates) -> Cohort:
    cohort = Cohort(name=name, starts_on=dates.get("starts_on", START), ends_on=dates.get("ends_on", END),
                    meeting_target=target, state=state, enrolment_open=state == "enrolling")
    db.session.add(cohort)
    db.session.commit()
    return cohort


def enrol(cohort: Cohort, user: User, role: str, goal=None, status: str = "accepted") -> CohortParticipant:
    participant = CohortParticipant(cohort=cohort, user=user, role=role, goal=goal, status=status)
    db.session.add(participant)
    db.session.commit()
    return participant


def bearer(user: User) -> dict[str, str]:
    token = accounts.create_api_token(user)
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


# --- planning and the state machine ---------------------------------------------------------------


def test_end_date_must_lie_three_to_twelve_months_after_the_start(app):
    with pytest.raises(CohortError) as short:
        enrolment.create_cohort("Too short", START, date(2027, 5, 31))
    assert "ends_on" in short.value.fields
    with pytest.raises(CohortError) as long:
        enrolment.create_cohort("Too long", START, date(2028, 3, 2))
    assert "ends_on" in long.value.fields
    assert enrolment.create_cohort("Three months", START, date(2027, 6, 1)).state == "draft"
    assert enrolment.create_cohort("Twelve months", START, date(2028, 3, 1)).meeting_target == 6


def test_month_arithmetic_keeps_the_end_of_month():
    assert enrolment.add_months(date(2027, 1, 31), 1) == date(2027, 2, 28)
    assert enrolment.add_months(date(2027, 11, 15), 3) == date(2028, 2, 15)


def test_names_are_unique_regardless_of_case(app):
    enrolment.create_cohort("Rhineland", START, END)
    with pytest.raises(CohortError) as clash:
        enrolment.create_cohort("rhineland", START, END)
    assert "name" in clash.value.fields


def test_transitions_happen_in_order_and_refuse_what_makes_no_sense(app):
    cohort = enrolment.create_cohort("Autumn", START, END)
    with pytest.raises(CohortError, match="running"):
        enrolment.close(cohort)
    enrolment.open_enrolment(cohort)
    assert cohort.state == "enrolling" and cohort.enrolment_open
    with pytest.raises(CohortError) as nobody:
        enrolment.start_matching(cohort)
    assert nobody.value.code == "nobody_accepted"
    enrol(cohort, make_mentor().user, "mentor")
    with pytest.raises(CohortError, match="mentee"):
        enrolment.start_matching(cohort)
    goal = make_goal()
    enrol(cohort, goal.owner, "mentee", goal)
    enrolment.start_matching(cohort)
    assert cohort.state == "matching" and not cohort.enrolment_open
    enrolment.reopen_enrolment(cohort)
    assert cohort.state == "enrolling"
    with pytest.raises(CohortError):
        enrolment.open_enrolment(cohort)


def test_closing_is_refused_while_drafts_are_unpublished(app):
    cohort = make_cohort(state="running")
    mentor, goal = make_mentor(), make_goal()
    db.session.add(Tandem(goal=goal, mentor=mentor, mentee_user_id=goal.owner_id, mentor_user_id=mentor.user_id,
                          cohort_id=cohort.id, status="draft", score=0.5))
    db.session.commit()
    with pytest.raises(CohortError) as refused:
        enrolment.close(cohort)
    assert refused.value.code == "unpublished_drafts"
    assert cohort.state == "running"


def test_dates_are_fixed_once_the_cohort_runs(app):
    cohort = make_cohort(state="running")
    with pytest.raises(CohortError) as refused:
        enrolment.update_cohort(cohort, cohort.name, START, date(2027, 10, 1), 6)
    assert "starts_on" in refused.value.fields
    enrolment.update_cohort(cohort, "Renamed", START, END, 8)
    assert cohort.name == "Renamed" and cohort.meeting_target == 8


# --- enrolment ------------------------------------------------------------------------------------


def test_apply_then_manager_decides_and_the_person_is_told(app, client, login_as):
    cohort = make_cohort(state="enrolling")
    manager = make_user(is_manager=True)
    goal = make_goal()
    login_as(goal.owner)
    page = client.get(f"/cohorts/{cohort.id}")
    assert page.status_code == 200 and "Apply" in page.get_data(as_text=True)
    response = client.post(f"/cohorts/{cohort.id}/apply", data={"role": "mentee", "goal_id": goal.id})
    assert response.status_code == 302
    participant = db.session.scalars(select(CohortParticipant)).one()
    assert (participant.role, participant.status, participant.goal_id) == ("mentee", "applied", goal.id)
    assert db.session.query(Notification).filter_by(user_id=manager.id, kind="cohort_application").count() == 1
    again = client.post(f"/cohorts/{cohort.id}/apply", data={"role": "mentee", "goal_id": goal.id})
    assert again.status_code == 409

    client.post("/auth/logout")
    login_as(manager)
    decided = client.post(f"/cohorts/{cohort.id}/participants/{participant.id}/decision",
                          data={"decision": "waitlisted"})
    assert decided.status_code == 302
    db.session.expire_all()
    assert participant.status == "waitlisted"
    client.post(f"/cohorts/{cohort.id}/participants/{participant.id}/decision", data={"decision": "accepted"})
    db.session.expire_all()
    assert participant.status == "accepted"
    kinds = [n.kind for n in db.session.scalars(select(Notification).where(Notification.user_id == goal.owner_id))]
    assert kinds.count("cohort_enrolment") == 2

    client.post("/auth/logout")
    login_as(goal.owner)
    assert "Accepted" in client.get("/cohorts/").get_data(as_text=True)


def test_an_applicant_withdraws_while_enrolment_is_open_only(app, client, login_as):
    cohort = make_cohort(state="enrolling")
    mentor = make_mentor()
    mine = enrolment.apply(cohort, mentor.user, "mentor")
    other = enrolment.apply(cohort, make_mentor().user, "mentor")
    login_as(mentor.user)
    assert client.post(f"/cohorts/{cohort.id}/applications/{other.id}/withdraw").status_code == 404
    client.post(f"/cohorts/{cohort.id}/applications/{mine.id}/withdraw")
    assert db.session.get(CohortParticipant, mine.id) is None
    cohort.state = "matching"
    db.session.commit()
    with pytest.raises(CohortError) as refused:
        enrolment.withdraw(other, other.user)
    assert refused.value.code == "enrolment_closed"


def test_a_mentee_must_bring_one_of_their_own_open_goals(app):
    cohort = make_cohort(state="enrolling")
    someone_elses = make_goal()
    user = make_user()
    with pytest.raises(CohortError) as refused:
        enrolment.apply(cohort, user, "mentee", someone_elses)
    assert "goal_id" in refused.value.fields
    with pytest.raises(CohortError) as no_profile:
        enrolment.apply(cohort, user, "mentor")
    assert no_profile.value.code == "no_profile"


def test_nobody_can_apply_to_a_cohort_that_is_not_enrolling(app):
    cohort = make_cohort(state="draft")
    with pytest.raises(CohortError) as refused:
        enrolment.apply(cohort, make_mentor().user, "mentor")
    assert refused.value.code == "enrolment_closed"


def test_dashboard_lists_open_cohorts_and_the_persons_status(app, client, login_as):
    cohort = make_cohort("Open round", state="enrolling")
    goal = make_goal()
    login_as(goal.owner)
    assert "Open round" in client.get("/dashboard").get_data(as_text=True)
    enrol(cohort, goal.owner, "mentee", goal, status="waitlisted")
    page = client.get("/dashboard").get_data(as_text=True)
    assert "Open round" in page and "Waitlisted" in page


# --- pages and access control ----------------------------------------------------------------------


MANAGER_PAGES = ["/cohorts/new", "/cohorts/{id}/edit", "/cohorts/{id}/import", "/cohorts/{id}/matching",
                 "/cohorts/{id}/progress", "/cohorts/{id}/report", "/cohorts/{id}/report.csv",
                 "/cohorts/{id}/tandems.csv", "/cohorts/{id}/charts/scores.svg"]
MANAGER_POSTS = ["/cohorts/{id}/state/close", "/cohorts/{id}/match", "/cohorts/{id}/publish",
                 "/cohorts/{id}/drafts/swap", "/cohorts/{id}/drafts/add", "/cohorts/{id}/import/confirm"]


# A tandem's partners' pages, not managers'.
PARTNER_BLUEPRINTS = ("cohorts.meetings.", "cohorts.pulse.", "cohorts.proposals.")
PARTICIPANT_ENDPOINTS = {"cohorts.index", "cohorts.detail", "cohorts.apply", "cohorts.withdraw", "cohorts.survey"}


def manager_rules(app) -> list[tuple[str, str]]:
    """(method, url) of every cohort view that is not for participants, ids filled in with 1."""
    found = []
    for rule in app.url_map.iter_rules():
        # A tandem's programme page and its proposals are the partners' (test_access_control.py walks them).
        if not rule.endpoint.startswith("cohorts.") or rule.endpoint.startswith(PARTNER_BLUEPRINTS):
            continue
        if rule.endpoint in PARTICIPANT_ENDPOINTS:
            continue
        values = {name: {"action": "lock", "name": "scores", "ext": "csv"}.get(name, 1) for name in rule.arguments}
        url = app.url_map.bind("localhost").build(rule.endpoint, values)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((method, url))
    assert len(found) >= 20, found
    return found


def test_every_manager_view_is_forbidden_to_everyone_else(app, client, login_as):
    cohort = make_cohort(state="enrolling")
    assert cohort.id == 1
    login_as(make_user())
    for method, url in manager_rules(app):
        assert client.open(url, method=method).status_code == 403, (method, url)
    client.post("/auth/logout")
    for method, url in manager_rules(app):
        response = client.open(url, method=method)
        assert response.status_code == 302 and "/auth/login" in response.headers["Location"], (method, url)


def test_manager_sees_every_page(app, client, login_as):
    cohort = make_cohort(state="matching")
    login_as(make_user(is_manager=True))
    for url in ["/cohorts/", f"/cohorts/{cohort.id}", *(u.format(id=cohort.id) for u in MANAGER_PAGES)]:
        response = client.get(url)
        assert response.status_code == 200, (url, response.get_data(as_text=True)[:300])


def test_a_draft_cohort_is_invisible_to_people_outside_it(app, client, login_as):
    cohort = make_cohort(state="draft")
    login_as(make_user())
    assert client.get(f"/cohorts/{cohort.id}").status_code == 404


def test_manager_creates_a_cohort_in_the_browser_with_errors_beside_fields(app, client, login_as):
    login_as(make_user(is_manager=True))
    bad = client.post("/cohorts/new", data={"name": "Short", "starts_on": "2027-03-01", "ends_on": "2027-04-01",
                                            "meeting_target": "6"})
    assert bad.status_code == 400
    assert "months after the start" in bad.get_data(as_text=True)
    good = client.post("/cohorts/new", data={"name": "Rhein 2027", "starts_on": "2027-03-01",
                                             "ends_on": "2027-09-01", "meeting_target": "6",
                                             "focus_topics": ["artificial-intelligence"]})
    assert good.status_code == 302
    cohort = db.session.scalars(select(Cohort)).one()
    assert [t.slug for t in cohort.focus_topics] == ["artificial-intelligence"]
    client.post(f"/cohorts/{cohort.id}/state/open_enrolment")
    db.session.expire_all()
    assert cohort.state == "enrolling"
    refused = client.post(f"/cohorts/{cohort.id}/state/close", follow_redirects=True)
    assert "Only a running cohort can be closed" in refused.get_data(as_text=True)


def csrf_token_from(client, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def test_cohort_forms_need_a_csrf_token(csrf_app):
    client = csrf_app.test_client()
    manager = make_user(is_manager=True)
    client.post("/auth/login", data={"email": manager.email, "password": DEFAULT_PASSWORD,
                                     "csrf_token": csrf_token_from(client, "/auth/login")})
    cohort = make_cohort(state="draft")
    assert client.post(f"/cohorts/{cohort.id}/state/open_enrolment").status_code == 400
    token = csrf_token_from(client, f"/cohorts/{cohort.id}")
    assert client.post(f"/cohorts/{cohort.id}/state/open_enrolment", data={"csrf_token": token}).status_code == 302
    db.session.expire_all()
    assert cohort.state == "enrolling"


# --- browser CSV import: upload, preview, confirm --------------------------------------------------

HEADER = ["email", "name", "role", "company", "headline", "text", "topics", "languages", "capacity",
          "exclude_companies"]


def csv_file(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


GOOD = [
    ["lena@young.example", "Lena Berg", "mentor", "Young Digital GmbH", "I explain social media",
     "Short video, LinkedIn and personal branding for leaders.", "social-media", "de;en", "2", ""],
    ["kurt@old.example", "Kurt Alt", "mentee", "Old Industry AG", "Understand social media",
     "Our brand needs a voice on social media and I want to lead that.", "social-media", "de", "", ""],
]


def test_browser_import_previews_row_by_row_then_imports_on_confirm(make_app, tmp_path):
    app = make_app(TANDEM_UPLOAD_DIR=str(tmp_path / "uploads"))
    with app.app_context():
        client = app.test_client()
        manager = make_user(is_manager=True)
        existing = make_user(email="kurt@old.example", name="Kurt Alt", company="Old Industry AG")
        cohort = make_cohort(state="enrolling")
        client.post("/auth/login", data={"email": manager.email, "password": DEFAULT_PASSWORD})
        upload = client.post(f"/cohorts/{cohort.id}/import",
                             data={"file": (io.BytesIO(csv_file(GOOD)), "people.csv")},
                             content_type="multipart/form-data")
        # Stored, then a 303 to the preview by its id: Back and reload never post the file again.
        assert upload.status_code == 303 and "/import/" in upload.headers["Location"]
        preview = client.get(upload.headers["Location"])
        assert preview.status_code == 200 and client.get(upload.headers["Location"]).status_code == 200
        page = preview.get_data(as_text=True)
        assert "create" in page and "update" in page and "lena@young.example" in page
        assert db.session.scalar(select(func.count(User.id))) == 2  # nothing written yet
        token = page.split('id="token" name="token" type="hidden" value="')[1].split('"')[0]
        assert (tmp_path / "uploads" / f"{token}.csv").exists()

        forged = client.post(f"/cohorts/{cohort.id}/import/confirm", data={"token": "../../etc/passwd"})
        assert forged.status_code == 302 and db.session.scalar(select(func.count(User.id))) == 2

        manager.locale = "de"  # the job runs in the language of the preview confirmed: what its page shows of it
        db.session.commit()
        assert "Import prüfen" in client.get(upload.headers["Location"]).get_data(as_text=True)
        done = client.post(f"/cohorts/{cohort.id}/import/confirm", data={"token": token})
        assert done.status_code == 302 and "/import/jobs/" in done.headers["Location"]  # a job, watched
        page = client.get(done.headers["Location"]).get_data(as_text=True)
        assert "Import abgeschlossen" in page and 'http-equiv="refresh"' not in page
        assert "Importierte Zeilen: 2." in page and "Imported" not in page
        assert "lena@young.example" in page  # invited: no account before
        participants = enrolment.participants(cohort)
        assert {(p.user.email, p.role, p.status) for p in participants} == {
            ("lena@young.example", "mentor", "accepted"), ("kurt@old.example", "mentee", "accepted")}
        assert next(p for p in participants if p.role == "mentee").user_id == existing.id
        assert not (tmp_path / "uploads" / f"{token}.csv").exists()
        replay = client.post(f"/cohorts/{cohort.id}/import/confirm", data={"token": token})
        assert replay.headers["Location"] == done.headers["Location"]  # clicked twice: the same job, done
        assert db.session.scalar(select(func.count(ImportJob.id))) == 1


def test_an_import_whose_people_changed_since_its_preview_imports_nothing_and_says_so(make_app, tmp_path):
    app = make_app(TANDEM_UPLOAD_DIR=str(tmp_path / "uploads"))
    with app.app_context():
        client = app.test_client()
        login = make_user(is_manager=True)
        client.post("/auth/login", data={"email": login.email, "password": DEFAULT_PASSWORD})
        first, second = make_cohort(name="First", state="enrolling"), make_cohort(name="Second", state="enrolling")
        renamed = [GOOD[0][:1] + ["Lena Other"] + GOOD[0][2:]]

        def previewed(cohort, rows) -> str:
            staged = client.post(f"/cohorts/{cohort.id}/import", data={"file": (io.BytesIO(csv_file(rows)), "p.csv")},
                                 content_type="multipart/form-data")
            page = client.get(staged.headers["Location"]).get_data(as_text=True)
            assert "1 to create" in page
            return page.split('id="token" name="token" type="hidden" value="')[1].split('"')[0]

        tokens = previewed(first, GOOD[:1]), previewed(second, renamed)  # both say "create" for Lena
        client.post(f"/cohorts/{first.id}/import/confirm", data={"token": tokens[0]})
        late = client.post(f"/cohorts/{second.id}/import/confirm", data={"token": tokens[1]})
        page = client.get(late.headers["Location"]).get_data(as_text=True)
        assert "The people in this file changed since you checked the import" in page and "row 0" not in page
        assert db.session.scalar(select(User.name).where(User.email == "lena@young.example")) == "Lena Berg"
        assert enrolment.participants(second) == []


def test_the_import_preview_names_what_it_rewrites_and_refuses_a_managers_account(app, client, login_as):
    manager = make_user(is_manager=True, email="cm@tandem.example")
    login_as(manager)
    lena = make_mentor(user=make_user(email="lena@young.example", name="Lena Brandt", company="Young Digital GmbH"),
                       headline="Social media for leaders", topic_slugs=("social-media",), capacity=2)
    cohort = make_cohort(state="enrolling")
    renamed = [["lena@young.example", "Lena Berg", "mentor", "Young Digital GmbH", "I explain social media",
                lena.teaching_text, "social-media", "de;en", "5", ""]]
    page = client.post(f"/cohorts/{cohort.id}/import", data={"file": (io.BytesIO(csv_file(renamed)), "people.csv")},
                       content_type="multipart/form-data", follow_redirects=True).get_data(as_text=True)
    assert "Existing account: name Lena Brandt → Lena Berg." in page
    assert "Rewrites: headline, capacity 2 → 5." in page and "import/confirm" in page

    hijack = [[manager.email, "Hijacked Manager", "mentor", "Evil AG", "I explain social media",
               "Short video, LinkedIn and personal branding for leaders.", "social-media", "de", "1", ""]]
    page = client.post(f"/cohorts/{cohort.id}/import", data={"file": (io.BytesIO(csv_file(hijack)), "people.csv")},
                       content_type="multipart/form-data", follow_redirects=True).get_data(as_text=True)
    assert "a community manager&#39;s account; an import changes participants only" in page
    assert "import/confirm" not in page
    db.session.refresh(manager)
    assert manager.name != "Hijacked Manager" and manager.mentor_profile is None


def test_browser_import_refuses_bad_rows_and_offers_no_confirm(app, client, login_as):
    login_as(make_user(is_manager=True))
    cohort = make_cohort(state="enrolling")
    bad = [GOOD[0], ["not-an-email", "X", "boss", "Y", "h", "t", "", "de", "", ""]]
    page = client.post(f"/cohorts/{cohort.id}/import", data={"file": (io.BytesIO(csv_file(bad)), "people.csv")},
                       content_type="multipart/form-data", follow_redirects=True).get_data(as_text=True)
    assert "refused" in page and "not a valid e-mail address" in page
    assert "import/confirm" not in page
    assert db.session.scalar(select(func.count(CohortParticipant.id))) == 0


# --- the API ---------------------------------------------------------------------------------------


def test_api_creates_a_cohort_and_validates_fields(app, client):
    headers = bearer(make_user(is_manager=True))
    created = client.post("/api/v1/cohorts", json={"name": "API round", "starts_on": "2027-03-01",
                                                   "ends_on": "2027-09-01", "meeting_target": 6}, headers=headers)
    assert created.status_code == 201
    body = created.get_json()
    assert body["state"] == "draft" and body["starts_on"] == "2027-03-01" and body["meeting_target"] == 6
    bad = client.post("/api/v1/cohorts", json={"name": "Bad", "starts_on": "March", "ends_on": "2027-04-01"},
                      headers=headers)
    assert bad.status_code == 422 and "starts_on" in bad.get_json()["error"]["fields"]
    short = client.post("/api/v1/cohorts", json={"name": "Short", "starts_on": "2027-03-01",
                                                 "ends_on": "2027-04-01"}, headers=headers)
    assert short.status_code == 422 and "ends_on" in short.get_json()["error"]["fields"]
    assert client.post("/api/v1/cohorts", data="nope", headers=headers).status_code == 400
    listed = client.get("/api/v1/cohorts", headers=headers).get_json()["cohorts"]
    assert [c["name"] for c in listed] == ["API round"]


def test_api_cohort_endpoints_are_for_managers_and_participants_only(app, client):
    cohort = make_cohort(state="matching")
    outsider, participant = make_user(), make_user()
    enrol(cohort, participant, "mentee", make_goal(owner=participant))
    headers = bearer(outsider)
    assert client.post("/api/v1/cohorts", json={}, headers=headers).status_code == 403
    for path in ("match", "publish"):
        assert client.post(f"/api/v1/cohorts/{cohort.id}/{path}", headers=headers).status_code == 403
    assert client.get(f"/api/v1/cohorts/{cohort.id}/report", headers=headers).status_code == 403
    assert client.get(f"/api/v1/cohorts/{cohort.id}", headers=headers).status_code == 404
    assert client.get("/api/v1/cohorts", headers=headers).get_json() == {"cohorts": []}
    mine = client.get(f"/api/v1/cohorts/{cohort.id}", headers=bearer(participant))
    assert mine.status_code == 200
    assert mine.get_json()["my_participation"][0]["status"] == "accepted"
    assert "counts" not in mine.get_json()
    assert client.get(f"/api/v1/cohorts/{cohort.id}").status_code == 401


def _staged_upload(client, cohort, rows) -> str:
    page = client.post(f"/cohorts/{cohort.id}/import", data={"file": (io.BytesIO(csv_file(rows)), "people.csv")},
                       content_type="multipart/form-data", follow_redirects=True).get_data(as_text=True)
    return page.split('id="token" name="token" type="hidden" value="')[1].split('"')[0]


def test_a_confirmed_import_answers_at_once_and_a_worker_runs_it_while_the_page_shows_progress(make_app, tmp_path):
    from marketplace.models import ImportJob
    from marketplace.services import privacy
    from marketplace.services.cohorts import import_jobs

    app = make_app(TANDEM_UPLOAD_DIR=str(tmp_path / "uploads"), TANDEM_JOBS_IMMEDIATE=False,
                   TANDEM_JOB_STORE=str(tmp_path / "jobs.sqlite3"))
    with app.app_context():
        manager = make_user(is_manager=True)
        cohort = make_cohort(state="enrolling")
        client = sign_in(app.test_client(), manager)
        token = _staged_upload(client, cohort, GOOD)
        answer = client.post(f"/cohorts/{cohort.id}/import/confirm", data={"token": token})
        assert answer.status_code == 302
        page = client.get(answer.headers["Location"]).get_data(as_text=True)
        assert 'http-equiv="refresh"' in page and "0 of 2 rows done" in page and "0 % done" in page
        assert enrolment.participants(cohort) == []  # queued for a worker: nothing written yet
        job = db.session.scalars(select(ImportJob)).one()
        assert privacy.export_user_data(manager)["imports"][0]["status"] == "queued"

        job.status, job.rows_done, job.started_at = "running", 1, datetime.now(UTC) - timedelta(seconds=30)
        db.session.commit()
        page = client.get(answer.headers["Location"]).get_data(as_text=True)
        assert "1 of 2 rows done" in page and "50 % done" in page and "about 30 seconds left" in page

        job.status = "queued"
        db.session.commit()
        import_jobs.run(job.id)  # what the worker's task calls
        import_jobs.run(job.id)  # delivered twice: runs once
        page = client.get(answer.headers["Location"]).get_data(as_text=True)
        assert "Import done" in page and 'http-equiv="refresh"' not in page
        assert len(enrolment.participants(cohort)) == 2

        other = make_user(is_manager=True)
        elsewhere = f"/cohorts/{cohort.id + 1}/import/jobs/{job.id}"  # the job, under another cohort
        assert sign_in(app.test_client(), other).get(elsewhere).status_code == 404
        manager_id = manager.id
        privacy.delete_account(manager)
        assert db.session.scalars(select(ImportJob).where(ImportJob.user_id == manager_id)).all() == []


def test_an_import_job_whose_file_no_longer_fits_writes_nothing_and_says_why(make_app, tmp_path):
    app = make_app(TANDEM_UPLOAD_DIR=str(tmp_path / "uploads"))
    with app.app_context():
        manager = make_user(is_manager=True)
        cohort = make_cohort(state="enrolling")
        client = sign_in(app.test_client(), manager)
        token = _staged_upload(client, cohort, GOOD)
        db.session.get(Cohort, cohort.id).state = "closed"  # closed meanwhile: no import any more
        db.session.commit()
        page = client.post(f"/cohorts/{cohort.id}/import/confirm", data={"token": token},
                           follow_redirects=True).get_data(as_text=True)
        assert "Nothing was imported" in page and "Upload again" in page
        assert enrolment.participants(cohort) == []


def test_the_sweep_queues_again_an_import_whose_worker_stopped_beating_and_leaves_a_live_one(make_app, tmp_path):
    from marketplace import jobs
    from marketplace.models import ImportJob
    from marketplace.services.cohorts import import_jobs

    app = make_app(TANDEM_UPLOAD_DIR=str(tmp_path / "uploads"), TANDEM_IMPORT_STALE_SECONDS=120)
    with app.app_context():
        manager, cohort = make_user(is_manager=True), make_cohort(state="enrolling")
        client = sign_in(app.test_client(), manager)
        token = _staged_upload(client, cohort, GOOD)
        now = datetime.now(UTC)
        dead = ImportJob(cohort_id=cohort.id, user_id=manager.id, token=token, status="running", total_rows=2,
                         attempts=1, started_at=now - timedelta(minutes=5), heartbeat_at=now - timedelta(minutes=3))
        live = ImportJob(cohort_id=cohort.id, user_id=manager.id, token="y" * 32, status="running", total_rows=2,
                         attempts=1, started_at=now - timedelta(minutes=5), heartbeat_at=now - timedelta(seconds=20))
        db.session.add_all([dead, live])
        db.session.commit()

        assert jobs.run_periodic("resume_imports", now) is True  # a periodic job, one lease per period
        db.session.refresh(dead)
        db.session.refresh(live)
        assert (dead.status, dead.attempts) == ("done", 2)  # queued again and run (the tests' queue is immediate)
        assert len(enrolment.participants(cohort)) == 2
        assert (live.status, live.attempts) == ("running", 1)  # it still beats: left alone
        page = client.get(f"/cohorts/{cohort.id}/import/jobs/{dead.id}").get_data(as_text=True)
        assert "started again from the beginning" in page
        assert "started again" not in client.get(f"/cohorts/{cohort.id}/import/jobs/{live.id}").get_data(as_text=True)
        assert import_jobs.resume_stale(now + timedelta(seconds=60)) == []  # the next sweep: nothing is stale
