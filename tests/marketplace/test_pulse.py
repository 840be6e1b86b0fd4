"""Pulse checks: asked 30 days in and after every second meeting held (a periodic job with a lease), answered
on a form only the asked partner sees, in the report only in aggregate from five answers on, in the person's
own export, anonymised when the account goes; a low answer feeds pair health."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from marketplace import jobs
from marketplace.extensions import db
from marketplace.models import Notification, OutgoingEmail, PulseCheck, User
from marketplace.services import health, privacy, pulse, tandems
from marketplace.services.cohorts import reports
from tests.builders import Clock, make_cohort_tandem, make_meeting, make_user, set_clock
from tests.marketplace.test_cohorts import bearer, make_cohort

START, END = date(2027, 3, 1), date(2027, 8, 31)


def at(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


@pytest.fixture
def clock(app) -> Clock:
    return set_clock(app, at(date(2027, 4, 5)))


@pytest.fixture
def cohort(app, clock):
    return make_cohort(state="running", target=6, starts_on=START, ends_on=END)


def checks_of(tandem) -> list[tuple[int, str]]:
    return [(c.user_id, c.occasion) for c in db.session.scalars(
        select(PulseCheck).where(PulseCheck.tandem_id == tandem.id).order_by(PulseCheck.id))]


def test_the_job_asks_both_partners_30_days_in_and_after_every_second_meeting_once(app, cohort):
    tandem = make_cohort_tandem(cohort, mentee_locale="de")
    mentee, mentor = tandem.mentee.id, tandem.mentor_user.id
    assert jobs.run_periodic("pulse_checks", at(date(2027, 3, 30))) is True
    assert checks_of(tandem) == []
    assert jobs.run_periodic("pulse_checks", at(date(2027, 3, 31))) is True
    assert sorted(checks_of(tandem)) == sorted([(mentor, "day-30"), (mentee, "day-30")])
    assert jobs.run_periodic("pulse_checks", at(date(2027, 3, 31), 15)) is False  # the lease: once a day
    mails = {m.recipient_user_id: m for m in db.session.scalars(
        select(OutgoingEmail).where(OutgoingEmail.kind == pulse.KIND))}
    assert mails[mentee].language == "de" and "Wie läuft Ihr Tandem mit Pia Mentor" in mails[mentee].body
    assert mails[mentor].language == "en" and "Pia Mentee never sees your answers" in mails[mentor].body
    link = db.session.scalar(select(Notification.link).where(Notification.user_id == mentee,
                                                             Notification.kind == pulse.KIND))
    assert link.startswith("/cohorts/pulse/")
    make_meeting(tandem, date(2027, 4, 1))
    db.session.commit()
    jobs.run_periodic("pulse_checks", at(date(2027, 4, 2)))
    assert len(checks_of(tandem)) == 2  # one meeting held: nothing new
    make_meeting(tandem, date(2027, 4, 2))
    db.session.commit()
    jobs.run_periodic("pulse_checks", at(date(2027, 4, 3)))
    jobs.run_periodic("pulse_checks", at(date(2027, 4, 4)))
    assert sorted(checks_of(tandem)[2:]) == sorted([(mentor, "held-2"), (mentee, "held-2")])
    make_meeting(tandem, date(2027, 4, 4))
    make_meeting(tandem, date(2027, 4, 5))
    make_meeting(tandem, date(2027, 4, 6), status="missed")  # not held: does not count
    db.session.commit()
    assert pulse.ask_due(at(date(2027, 4, 6))) == 2
    assert [occasion for _user, occasion in checks_of(tandem)[4:]] == ["held-4", "held-4"]
    assert pulse.ask_due(at(date(2027, 4, 7))) == 0


def test_an_ended_tandem_is_not_asked(cohort):
    tandem = make_cohort_tandem(cohort, status="ended")
    assert pulse.ask_due(at(date(2027, 5, 1))) == 0 and checks_of(tandem) == []


def _asked(tandem) -> dict[int, PulseCheck]:
    pulse.ask_due(at(date(2027, 4, 1)))
    return {c.user_id: c for c in db.session.scalars(select(PulseCheck).where(PulseCheck.tandem_id == tandem.id))}


def test_only_the_asked_partner_answers_once_and_the_partner_never_sees_it(client, login_as, cohort):
    tandem = make_cohort_tandem(cohort)
    checks = _asked(tandem)
    mine, theirs = checks[tandem.mentee.id], checks[tandem.mentor_user.id]
    login_as(tandem.mentee)
    tandem_page = client.get(f"/cohorts/tandems/{tandem.id}").get_data(as_text=True)
    assert f"/cohorts/pulse/{mine.id}" in tandem_page and "Answer the pulse check" in tandem_page
    form = client.get(f"/cohorts/pulse/{mine.id}").get_data(as_text=True)
    assert "How useful is your tandem for you?" in form and "Pia Mentor never sees your answers" in form
    assert "only in aggregate, once at least five are in" in form and "without showing your answer" in form
    assert "only together with others" not in form
    assert client.get(f"/cohorts/pulse/{theirs.id}").status_code == 404
    bad = client.post(f"/cohorts/pulse/{mine.id}", data={"usefulness": "7", "collaboration": "4"})
    assert bad.status_code == 400 and "Not a valid choice" in bad.get_data(as_text=True)
    done = client.post(f"/cohorts/pulse/{mine.id}", data={"usefulness": "2", "collaboration": "4",
                                                          "comment": "We keep postponing."})
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/cohorts/tandems/{tandem.id}")
    again = client.post(f"/cohorts/pulse/{mine.id}", data={"usefulness": "5", "collaboration": "5"})
    assert "already answered" in again.get_data(as_text=True)
    db.session.refresh(mine)
    assert (mine.usefulness, mine.collaboration, mine.comment) == (2, 4, "We keep postponing.")
    assert "Answer the pulse check" not in client.get(f"/cohorts/tandems/{tandem.id}").get_data(as_text=True)
    with pytest.raises(pulse.PulseError) as twice:
        pulse.submit(mine, tandem.mentee, 3, 3, "", at(date(2027, 4, 2)))
    assert twice.value.code == "already_answered"

    client.post("/auth/logout")
    login_as(tandem.mentor_user)
    assert client.get(f"/cohorts/pulse/{mine.id}").status_code == 404
    for url in (f"/cohorts/tandems/{tandem.id}", f"/tandems/{tandem.id}"):
        assert "We keep postponing." not in client.get(url).get_data(as_text=True), url
    api = client.get(f"/api/v1/tandems/{tandem.id}", headers=bearer(tandem.mentor_user)).get_data(as_text=True)
    assert "We keep postponing." not in api
    assert "We keep postponing." not in str(privacy.export_user_data(tandem.mentor_user))
    own = privacy.export_user_data(tandem.mentee)["pulse_checks"]
    assert [(c["occasion"], c["usefulness"], c["comment"]) for c in own] == [("day-30", 2, "We keep postponing.")]
    # A low answer feeds pair health (without saying whose it was).
    row = health.cohort_health(cohort, today=date(2027, 4, 2))[0]
    assert row.health == "needs_check_in" and "low_pulse" in row.reason_codes


def test_a_pulse_check_of_an_ended_tandem_takes_no_answer(client, login_as, cohort):
    tandem = make_cohort_tandem(cohort)
    mine = _asked(tandem)[tandem.mentee.id]
    tandems.end(tandem, tandem.mentor_user, "Moved abroad")
    login_as(tandem.mentee)
    page = client.get(f"/cohorts/pulse/{mine.id}").get_data(as_text=True)
    assert "The tandem has ended." in page and 'name="usefulness"' not in page
    refused = client.post(f"/cohorts/pulse/{mine.id}", data={"usefulness": "1", "collaboration": "1"},
                          follow_redirects=True)
    assert "The tandem has ended." in refused.get_data(as_text=True)
    with pytest.raises(pulse.PulseError) as ended:
        pulse.submit(mine, tandem.mentee, 3, 3, "", at(date(2027, 4, 2)))
    assert (ended.value.code, ended.value.status) == ("tandem_ended", 409)
    db.session.refresh(mine)
    assert (mine.answered_at, mine.usefulness) == (None, None)
    tandem.mentee.locale = "de"
    db.session.commit()
    assert "Das Tandem ist beendet." in client.get(f"/cohorts/pulse/{mine.id}").get_data(as_text=True)


def test_the_report_shows_pulse_answers_from_five_on_and_the_early_termination_rate(client, login_as, cohort):
    manager = make_user(is_manager=True)
    tandems = [make_cohort_tandem(cohort, name) for name in ("Ann", "Ben", "Cem")]
    for tandem in tandems:
        _asked(tandem)
    answers = iter([(5, 4, "Eye-opening."), (4, 4, ""), (2, 3, "Hard to find time."), (4, 5, "")])
    for check in db.session.scalars(select(PulseCheck).order_by(PulseCheck.id).limit(4)):
        usefulness, collaboration, comment = next(answers)
        pulse.submit(check, db.session.get(User, check.user_id), usefulness, collaboration,
                     comment, at(date(2027, 4, 2)))
    ended = make_cohort_tandem(cohort, "Dora", status="ended")
    ended.end_reason = "The mentee changed jobs."
    db.session.commit()
    login_as(manager)
    page = client.get(f"/cohorts/{cohort.id}/report").get_data(as_text=True)
    assert "4 of 6 pulse checks answered." in page and "Not enough answers yet" in page
    assert "Eye-opening." not in page
    assert "1 of 4 tandems ended early (25%)." in page and "The mentee changed jobs." in page
    data = client.get(f"/api/v1/cohorts/{cohort.id}/report", headers=bearer(manager)).get_json()
    assert data["pulse"]["shown"] is False and data["pulse"]["usefulness_counts"] is None
    assert data["pulse"]["comments"] == []
    assert data["early_termination"] == {"tandems": 4, "ended_early": 1, "rate": 0.25,
                                         "reasons": ["The mentee changed jobs."]}

    fifth = db.session.scalars(select(PulseCheck).where(PulseCheck.answered_at.is_(None)).order_by(PulseCheck.id)
                               ).first()
    pulse.submit(fifth, db.session.get(User, fifth.user_id), 3, 2, "Getting better.",
                 at(date(2027, 4, 3)))
    page = client.get(f"/cohorts/{cohort.id}/report").get_data(as_text=True)
    assert "5 of 6 pulse checks answered." in page and "Not enough answers yet" not in page
    assert "Average usefulness (1–5)" in page and "3.6" in page
    assert page.index("Eye-opening.") < page.index("Getting better.") < page.index("Hard to find time.")
    data = reports.report(cohort)
    assert data["pulse"]["usefulness_counts"] == {"1": 0, "2": 1, "3": 1, "4": 2, "5": 1}
    assert data["pulse"]["collaboration_average"] == 3.6
    csv = reports.report_csv(data)
    assert "pulse,usefulness 4,2" in csv and "early_termination,reason,The mentee changed jobs." in csv
    manager.locale = "de"
    db.session.commit()
    german = client.get(f"/cohorts/{cohort.id}/report").get_data(as_text=True)
    assert "5 von 6 Stimmungsbildern beantwortet." in german and "1 von 4 Tandems vorzeitig beendet" in german


def test_deleting_an_account_keeps_the_score_without_the_person_and_drops_open_checks(cohort):
    tandem = make_cohort_tandem(cohort)
    checks = _asked(tandem)
    mentee = tandem.mentee
    pulse.submit(checks[mentee.id], mentee, 4, 4, "Mentions my boss by name.", at(date(2027, 4, 2)))
    make_meeting(tandem, date(2027, 4, 1))
    make_meeting(tandem, date(2027, 4, 2))
    db.session.commit()
    pulse.ask_due(at(date(2027, 4, 3)))  # the held-2 check, left open
    privacy.delete_account(mentee)
    left = list(db.session.scalars(select(PulseCheck).where(PulseCheck.tandem_id == tandem.id)))
    kept = [c for c in left if c.user_id is None]
    assert [(c.usefulness, c.comment) for c in kept] == [(4, "")]
    assert all(c.user_id == tandem.mentor_user_id for c in left if c not in kept)
