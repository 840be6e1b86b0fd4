"""Requests that cannot die silently: next suggestions, expiry, half-time reminders, mentors who pause
themselves, responsiveness on the profile, reminders during a tandem. Time moves by an injected clock."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from marketplace import jobs
from marketplace.extensions import db
from marketplace.models import (
    Cohort,
    CohortParticipant,
    MentorProfile,
    Notification,
    OutgoingEmail,
    Reminder,
    Tandem,
    utcnow,
)
from marketplace.services import privacy, reminders, request_expiry, tandems
from marketplace.services.matching import search
from tests.builders import make_goal, make_meeting, make_mentor, make_user, sign_in

HOUR = timedelta(hours=1)


def _mentors(*names: str) -> list[MentorProfile]:
    """Mentors who match the goals of these tests (AI), each at a company of their own."""
    return [make_mentor(user=make_user(name=name, company=f"{name} GmbH"), capacity=2,
                        headline="Generative AI for leaders",
                        text="I explain ChatGPT and other AI tools for daily work.",
                        topic_slugs=("artificial-intelligence",))
            for name in names]


def _mails(user, kind: str) -> list[OutgoingEmail]:
    return list(db.session.scalars(
        select(OutgoingEmail).where(OutgoingEmail.recipient_user_id == user.id, OutgoingEmail.kind == kind)
    ))


def _age(tandem: Tandem, hours: float) -> None:
    """Make a request look as if it was sent `hours` ago."""
    tandem.created_at = utcnow() - timedelta(hours=hours)
    db.session.commit()


def _let_expire(goal, mentor: MentorProfile) -> Tandem:
    """A request the mentor leaves unanswered until the job expires it."""
    tandem = tandems.request_tandem(goal, mentor, goal.owner)
    _age(tandem, 80)
    request_expiry.expire_due(utcnow())
    return tandem


def test_next_suggestions_leave_out_who_declined_withdrew_let_expire_or_is_pending(app):
    declined, withdrawn, expired, pending, fresh = _mentors("Dora", "Willi", "Erik", "Paula", "Fritz")
    goal = make_goal(owner=make_user(name="Gerd Brenner", company="Old AG"))
    tandems.decline(tandems.request_tandem(goal, declined, goal.owner), declined.user)
    tandems.withdraw(tandems.request_tandem(goal, withdrawn, goal.owner), goal.owner)
    _let_expire(goal, expired)
    tandems.request_tandem(goal, pending, goal.owner)

    assert {m.mentor.id for m in search.suggestions_for_goal(goal, k=10)} >= {declined.id, fresh.id}
    assert [m.mentor.id for m in search.next_suggestions(goal, k=10)] == [fresh.id]


def test_the_goal_page_shows_next_suggestions_where_the_declined_request_is(app):
    declined, fresh = _mentors("Dora", "Fritz")
    goal = make_goal(owner=make_user(company="Old AG"))
    client = sign_in(app.test_client(), goal.owner)
    assert "Next suggestions" not in client.get(f"/goals/{goal.id}").get_data(as_text=True)
    tandems.decline(tandems.request_tandem(goal, declined, goal.owner), declined.user)

    declined_page = client.get(f"/tandems/{tandems.tandems_for_goal(goal)[0].id}").get_data(as_text=True)
    assert f'href="/goals/{goal.id}#next-suggestions"' in declined_page  # the request's own page leads there
    page = client.get(f"/goals/{goal.id}").get_data(as_text=True)
    section = page[page.index("Next suggestions"):]
    assert page.index("Requests and tandems") < page.index("Next suggestions")
    assert fresh.user.name in section and declined.user.name not in section


def test_an_unanswered_request_is_reminded_at_half_time_once_then_expires_and_the_mentee_hears(app):
    mentor, other = _mentors("Mia Mentor", "Otto Other")
    goal = make_goal(owner=make_user(name="Gerd Brenner", company="Old AG"), title="KI verstehen")
    tandem = tandems.request_tandem(goal, mentor, goal.owner)
    start = utcnow()

    assert request_expiry.remind_at_half_time(start + 35 * HOUR) == 0
    assert request_expiry.remind_at_half_time(start + 37 * HOUR) == 1
    assert request_expiry.remind_at_half_time(start + 38 * HOUR) == 0  # one occasion: reminded once
    assert len(_mails(mentor.user, "request_received")) == 2  # the request, and one reminder
    assert request_expiry.expire_due(start + 71 * HOUR) == 0
    assert tandem.status == "requested"

    assert request_expiry.expire_due(start + 73 * HOUR) == 1
    assert request_expiry.expire_due(start + 74 * HOUR) == 0  # nothing twice
    db.session.refresh(tandem)
    assert tandem.status == "expired"
    [mail] = _mails(goal.owner, "request_expired")
    assert "expired without an answer" in mail.body and "Otto Other" in mail.body
    assert "Mia Mentor" not in mail.body.split("next:")[1]
    assert f"/goals/{goal.id}" in mail.body
    assert db.session.scalar(select(Notification.id).where(Notification.user_id == mentor.user_id,
                                                           Notification.message_key == "request_expired_mentor"))


def test_an_expired_request_shows_as_expired_in_the_api_and_frees_the_goals_request_slots_at_once(app):
    mentors = _mentors("A", "B", "C", "D", "E", "F")
    goal = make_goal(owner=make_user(company="Old AG"))
    sent = [tandems.request_tandem(goal, mentor, goal.owner) for mentor in mentors[:5]]
    _age(sent[0], 72.5)  # over its time; the job has not run yet
    tandems.request_tandem(goal, mentors[5], goal.owner)  # a sixth: one of the five no longer counts
    try:
        tandems.accept(sent[0], mentors[0].user)
    except tandems.TandemError as refused:
        assert refused.code == "expired"
    else:
        raise AssertionError("an overdue request was accepted")

    request_expiry.expire_due(utcnow())
    client = app.test_client()
    sign_in(client, goal.owner)
    token_client = client.get(f"/tandems/{sent[0].id}")
    assert "Expired unanswered" in token_client.get_data(as_text=True)
    from marketplace.services import accounts

    token = accounts.create_api_token(goal.owner)
    db.session.commit()
    answer = app.test_client().get(f"/api/v1/tandems/{sent[0].id}", headers={"Authorization": f"Bearer {token}"})
    assert answer.get_json()["status"] == "expired"


def test_decimal_hours_and_a_job_run_twice_in_a_period_or_by_two_workers_expire_once(make_app):
    first, second = make_app(TANDEM_REQUEST_EXPIRY_HOURS=0.5), make_app(TANDEM_REQUEST_EXPIRY_HOURS=0.5)
    with first.app_context():
        mentor = make_mentor(company="Young AG")
        goal = make_goal(company="Old AG")
        tandem_id = tandems.request_tandem(goal, mentor, goal.owner).id
        now = utcnow() + timedelta(minutes=31)
        assert jobs.run_periodic("request_expiry", now) is True
        mentee_id = goal.owner_id
        db.session.remove()
    with second.app_context():
        assert jobs.run_periodic("request_expiry", now) is False  # the same period: the lease says no
        assert db.session.get(Tandem, tandem_id).status == "expired"
        assert request_expiry.expire_due(now + HOUR) == 0
        mails = db.session.scalars(select(OutgoingEmail).where(OutgoingEmail.recipient_user_id == mentee_id,
                                                               OutgoingEmail.kind == "request_expired")).all()
        assert len(mails) == 1
        db.session.remove()


def test_two_requests_in_a_row_left_to_expire_pause_the_mentor_until_one_click_on_im_back(csrf_app):
    mentor, other = _mentors("Mia Mentor", "Otto Other")
    goals = [make_goal(owner=make_user(company="Old AG"), title=f"Goal {n}") for n in range(3)]
    _let_expire(goals[0], mentor)
    assert mentor.is_open  # one expiry is no pattern
    _let_expire(goals[1], mentor)
    db.session.refresh(mentor)
    assert not mentor.is_open and mentor.auto_paused_at is not None
    assert mentor.id not in {m.mentor.id for m in search.suggestions_for_goal(goals[2], k=10)}
    assert mentor.id not in {m.mentor.id for m in search.search_mentors("LinkedIn", goals[2].owner, k=10)}

    [mail] = _mails(mentor.user, "mentor_paused")
    path = mail.body[mail.body.index("/back/"):].split()[0]
    client = csrf_app.test_client()  # no session, no CSRF token: the signed link is the proof
    page = client.get(path)
    assert page.status_code == 200 and "<form" in page.get_data(as_text=True)
    db.session.refresh(mentor)
    assert not mentor.is_open  # a GET (a link scanner) changes nothing
    assert client.post(path).status_code == 200
    db.session.refresh(mentor)
    assert mentor.is_open and mentor.back_at is not None
    assert mentor.id in {m.mentor.id for m in search.suggestions_for_goal(goals[2], k=10)}
    assert client.post("/back/forged-token").status_code == 404

    _let_expire(goals[2], mentor)  # the run counts afresh after "I'm back"
    db.session.refresh(mentor)
    assert mentor.is_open


def test_an_answered_request_between_two_expiries_breaks_the_run(app):
    [mentor] = _mentors("Mia Mentor")
    goals = [make_goal(owner=make_user(company="Old AG"), title=f"Goal {n}") for n in range(3)]
    _let_expire(goals[0], mentor)
    tandems.decline(tandems.request_tandem(goals[1], mentor, goals[1].owner), mentor.user)
    _let_expire(goals[2], mentor)
    db.session.refresh(mentor)
    assert mentor.is_open


def test_the_profile_shows_how_the_mentor_answers_once_there_are_three_requests(app):
    [mentor] = _mentors("Mia Mentor")
    viewer = make_user(company="Old AG")
    viewer.locale = "de"
    client = sign_in(app.test_client(), make_user(company="Old AG"))
    goals = [make_goal(owner=make_user(company="Old AG"), title=f"Goal {n}") for n in range(3)]
    for goal in goals[:2]:
        tandem = tandems.request_tandem(goal, mentor, goal.owner)
        tandems.decline(tandem, mentor.user)
        tandem.responded_at = tandem.created_at + timedelta(hours=5)
    db.session.commit()
    assert "answers" not in client.get(f"/mentors/{mentor.id}").get_data(as_text=True)
    _let_expire(goals[2], mentor)

    page = client.get(f"/mentors/{mentor.id}").get_data(as_text=True)
    assert "Usually answers within a day" in page and "answers 67% of requests" in page
    german = sign_in(app.test_client(), viewer).get(f"/mentors/{mentor.id}").get_data(as_text=True)
    assert "Antwortet meist innerhalb eines Tages" in german and "67\xa0%" in german


def test_a_tandem_without_a_meeting_for_four_weeks_nudges_both_once_per_period(app):
    mentor = make_mentor(company="Young AG")
    goal = make_goal(company="Old AG")
    tandem = tandems.request_tandem(goal, mentor, goal.owner)
    tandems.accept(tandem, mentor.user)
    today = utcnow()
    assert reminders.nudge_quiet_tandems(today + timedelta(days=27)) == 0
    assert reminders.nudge_quiet_tandems(today + timedelta(days=28)) == 2
    assert reminders.nudge_quiet_tandems(today + timedelta(days=30)) == 0  # the same period
    assert reminders.nudge_quiet_tandems(today + timedelta(days=56)) == 2  # the next one
    make_meeting(tandem, (today + timedelta(days=57)).date(), author=goal.owner)
    db.session.commit()
    assert reminders.nudge_quiet_tandems(today + timedelta(days=60)) == 0  # a meeting resets the clock
    assert len(_mails(goal.owner, "tandem_reminder")) == 2
    [mail] = _mails(mentor.user, "tandem_reminder")[:1]
    assert "No meeting of your tandem" in mail.body


def test_a_cohort_near_its_end_reminds_its_participants_of_the_survey_once(make_app):
    app = make_app(TANDEM_SURVEY_REMINDER_DAYS=5)
    with app.app_context():
        person = make_user()
        cohort = Cohort(name="Spring", starts_on=date.today() - timedelta(days=170),
                        ends_on=date.today() + timedelta(days=10), state="running")
        db.session.add(cohort)
        db.session.flush()
        db.session.add(CohortParticipant(cohort_id=cohort.id, user_id=person.id, role="mentee", status="accepted"))
        db.session.commit()
        now = utcnow()
        assert reminders.remind_cohort_end(now) == 0
        assert reminders.remind_cohort_end(now + timedelta(days=5)) == 1
        assert reminders.remind_cohort_end(now + timedelta(days=6)) == 0
        [mail] = _mails(person, "survey_open")
        assert "Spring" in mail.subject and "survey" in mail.body
        db.session.remove()


def test_export_and_deletion_cover_reminders_and_the_pause(app):
    mentor = make_mentor(company="Young AG")
    goal = make_goal(company="Old AG")
    tandem = tandems.request_tandem(goal, mentor, goal.owner)
    request_expiry.remind_at_half_time(utcnow() + 40 * HOUR)
    exported = privacy.export_user_data(mentor.user)
    assert exported["reminders"][0]["occasion"] == "half_time"
    assert exported["mentor_profile"]["paused_for_inactivity_at"] is None
    user_id = mentor.user_id
    assert tandem.id
    privacy.delete_account(mentor.user)
    assert db.session.scalars(select(Reminder).where(Reminder.user_id == user_id)).all() == []
