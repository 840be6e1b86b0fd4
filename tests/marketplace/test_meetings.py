"""Meetings: a start instant each partner sees in their own zone, a video link, invites that calendars
understand (parsed back with icalendar), reminders, "did it take place?", the API and the private note."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import func, select

from marketplace import jobs
from marketplace.extensions import db
from marketplace.models import Meeting, Notification, OutgoingEmail, Tandem, as_utc
from marketplace.services import meetings, outbox, privacy
from marketplace.services.meetings import MeetingError
from tests.builders import Clock, at_once, make_goal, make_meeting, make_mentor, make_user, set_clock
from tests.marketplace.test_cohorts import bearer, make_cohort

NOW = datetime(2027, 3, 10, 9, 0, tzinfo=UTC)  # a Wednesday, Berlin on winter time (UTC+1)


@pytest.fixture
def clock(app) -> Clock:
    return set_clock(app, NOW)


@pytest.fixture
def tandem(app, clock) -> Tandem:
    """A running cohort tandem: the mentee in Berlin, the mentor in New York."""
    mentor, goal = make_mentor(company="Young A"), make_goal(company="Old X")
    goal.owner.time_zone, mentor.user.time_zone = "Europe/Berlin", "America/New_York"
    cohort = make_cohort(state="running", target=3, starts_on=date(2027, 3, 1), ends_on=date(2027, 8, 31))
    tandem = Tandem(goal=goal, mentor=mentor, mentee_user_id=goal.owner_id, mentor_user_id=mentor.user_id,
                    cohort_id=cohort.id, status="active", starts_on=date(2027, 2, 1), ends_on=date(2027, 9, 30))
    db.session.add(tandem)
    db.session.commit()
    return tandem


def plan(client, tandem, **fields):
    data = {"status": "planned", "starts_at": "2027-03-12T18:00", "duration_minutes": "60", "video_url": "",
            "topic": "", "private_note": ""}
    data.update(fields)
    return client.post(f"/cohorts/tandems/{tandem.id}/meetings", data=data)


def page_of(client, tandem) -> str:
    """The tandem page's text; CLDR puts a narrow no-break space before AM/PM."""
    return client.get(f"/cohorts/tandems/{tandem.id}").get_data(as_text=True).replace("\u202f", " ")


def api(client, method, url, user, json=None):
    return client.open(f"/api/v1{url}", method=method, json=json, headers=bearer(user))


def parsed(text: str):
    calendar = Calendar.from_ical(text)
    return calendar, calendar.walk("VEVENT")[0]


def invites_to(user) -> list[OutgoingEmail]:
    return list(db.session.scalars(
        select(OutgoingEmail).where(OutgoingEmail.recipient_user_id == user.id, OutgoingEmail.ics.is_not(None))
        .order_by(OutgoingEmail.id)
    ))


# --- time and time zone ------------------------------------------------------------------------------


def test_a_meeting_typed_in_berlin_is_one_instant_that_each_partner_sees_in_their_own_zone(tandem, client, login_as):
    login_as(tandem.mentee)
    assert plan(client, tandem, video_url="https://meet.example/abc", topic="LinkedIn basics").status_code == 302
    meeting = db.session.scalars(select(Meeting)).one()
    assert meeting.starts_at.replace(tzinfo=UTC) == datetime(2027, 3, 12, 17, 0, tzinfo=UTC)
    own = page_of(client, tandem)
    assert "Mar 12, 2027, 6:00 PM" in own and "(Europe/Berlin)" in own and "https://meet.example/abc" in own

    client.post("/auth/logout")
    login_as(tandem.mentor_user)
    partner = page_of(client, tandem)
    assert "Mar 12, 2027, 12:00 PM" in partner and "(America/New_York)" in partner and "LinkedIn basics" in partner


def test_a_time_the_clocks_jump_over_is_refused_beside_the_field_and_the_hour_after_kept(tandem, client, login_as):
    login_as(tandem.mentee)  # Berlin: on 2027-03-28 the clocks go from 02:00 straight to 03:00
    skipped = plan(client, tandem, starts_at="2027-03-28T02:30")
    assert skipped.status_code == 400
    assert "02:30 does not exist on that day in Europe/Berlin" in skipped.get_data(as_text=True)
    assert db.session.scalar(select(Meeting.id)) is None
    assert plan(client, tandem, starts_at="2027-03-28T03:30").status_code == 302
    meeting = db.session.scalars(select(Meeting)).one()
    assert meeting.starts_at.replace(tzinfo=UTC) == datetime(2027, 3, 28, 1, 30, tzinfo=UTC)


def test_dates_outside_the_period_and_held_meetings_in_the_future_are_refused_naming_the_allowed_dates(
    tandem, client, login_as
):
    login_as(tandem.mentee)
    before_cohort = plan(client, tandem, status="held", starts_at="2027-02-20T10:00")  # tandem yes, cohort not yet
    assert before_cohort.status_code == 400
    assert "between Mar 1, 2027 and Aug 31, 2027" in before_cohort.get_data(as_text=True)
    future = plan(client, tandem, status="held", starts_at="2027-03-11T10:00")
    assert future.status_code == 400 and "plan a later one instead" in future.get_data(as_text=True)
    past_plan = plan(client, tandem, starts_at="2027-03-09T10:00")
    assert past_plan.status_code == 400 and "between now and Aug 31, 2027" in past_plan.get_data(as_text=True)
    bad_link = plan(client, tandem, video_url="javascript:alert(1)")
    assert bad_link.status_code == 400 and "https://" in bad_link.get_data(as_text=True)
    assert db.session.scalar(select(Meeting.id)) is None


def test_every_person_has_a_time_zone_from_the_browser_or_the_account_page(app, client, login_as):
    page = client.get("/auth/register").get_data(as_text=True)
    assert 'name="time_zone"' in page and "timezone.js" in page
    client.post("/auth/register", data={
        "name": "Zoe Zone", "email": "zoe@zone.example", "company": "Zone AG", "password": "a long enough password",
        "confirm": "a long enough password", "time_zone": "Asia/Tokyo",
    })
    from marketplace.models import User
    zoe = db.session.scalar(select(User).where(User.email == "zoe@zone.example"))
    assert zoe.time_zone == "Asia/Tokyo"

    client.post("/auth/logout")
    nobody = make_user()
    login_as(nobody)
    account = client.get("/auth/account").get_data(as_text=True)
    assert 'data-browser-time-zone="unset"' in account and "Europe/Berlin" in account  # the fallback, said
    settings = "/auth/account/settings"
    assert client.post(settings, data={"locale": "en", "time_zone": "Mars/Olympus"}).status_code == 200
    assert client.post(settings, data={"locale": "en", "time_zone": "America/Sao_Paulo"}).status_code == 302
    db.session.expire_all()
    assert nobody.time_zone == "America/Sao_Paulo"
    assert client.get("/static/timezone.js").status_code == 200


# --- the API -------------------------------------------------------------------------------------


def test_api_plans_moves_and_deletes_a_meeting_and_answers_in_utc(tandem, client):
    mentee, mentor = tandem.mentee, tandem.mentor_user
    url = f"/tandems/{tandem.id}/meetings"
    created = api(client, "POST", url, mentee, {
        "starts_at": "2027-03-12T18:00:00+01:00", "duration_minutes": 45, "video_url": "https://meet.example/x",
        "topic": "AI", "status": "planned",
    })
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert (body["starts_at"], body["duration_minutes"], body["status"]) == ("2027-03-12T17:00:00Z", 45, "planned")

    no_offset = api(client, "POST", url, mentee, {"starts_at": "2027-03-12T18:00:00", "duration_minutes": 45})
    assert no_offset.status_code == 422 and "starts_at" in no_offset.get_json()["error"]["fields"]
    ftp = api(client, "POST", url, mentee, {"starts_at": "2027-03-12T18:00:00Z", "video_url": "ftp://x.example/"})
    assert ftp.status_code == 422 and "video_url" in ftp.get_json()["error"]["fields"]
    outside = api(client, "POST", url, mentee, {"starts_at": "2027-09-02T18:00:00Z"})
    assert outside.status_code == 422 and "Aug 31, 2027" in outside.get_json()["error"]["fields"]["starts_at"]

    moved = api(client, "PATCH", f"{url}/{body['id']}", mentor, {"starts_at": "2027-03-15T09:30:00-04:00"})
    assert moved.status_code == 200 and moved.get_json()["starts_at"] == "2027-03-15T13:30:00Z"
    assert moved.get_json()["sequence"] == 1
    listed = api(client, "GET", url, mentor).get_json()["meetings"]
    assert [m["starts_at"] for m in listed] == ["2027-03-15T13:30:00Z"]

    manager = make_user(is_manager=True)
    assert api(client, "GET", url, manager).status_code == 200  # a cohort tandem: its managers see it
    assert api(client, "PATCH", f"{url}/{body['id']}", manager, {"topic": "x"}).status_code == 403
    outsider = make_user()
    assert api(client, "GET", url, outsider).status_code == 404
    assert api(client, "GET", f"{url}/{body['id']}/invite.ics", outsider).status_code == 404
    assert api(client, "DELETE", f"{url}/{body['id']}", mentor).status_code == 403  # not the author
    assert api(client, "DELETE", f"{url}/{body['id']}", mentee).status_code == 204
    assert api(client, "GET", url, mentee).get_json()["meetings"] == []


# --- invites -------------------------------------------------------------------------------------


def test_the_invite_is_an_rfc_5545_request_with_both_partners_and_the_video_link(tandem, client):
    mentee, mentor = tandem.mentee, tandem.mentor_user
    meeting = meetings.create(tandem, mentee, datetime(2027, 3, 12, 18, 0, tzinfo=UTC), 90,
                              video_url="https://meet.example/r", topic="TikTok, first steps;\rquestions\r\nmore",
                              private_note="never in the file")
    response = api(client, "GET", f"/tandems/{tandem.id}/meetings/{meeting.id}/invite.ics", mentor)
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    assert "never in the file" not in response.get_data(as_text=True)
    calendar, event = parsed(response.get_data(as_text=True))
    assert str(calendar["METHOD"]) == "REQUEST"
    assert event["DTSTART"].dt == datetime(2027, 3, 12, 18, 0, tzinfo=UTC)
    assert event["DTEND"].dt == datetime(2027, 3, 12, 19, 30, tzinfo=UTC)
    assert str(event["ORGANIZER"]) == f"mailto:{mentee.email}"
    assert sorted(str(a) for a in event["ATTENDEE"]) == sorted([f"mailto:{mentee.email}", f"mailto:{mentor.email}"])
    assert str(event["LOCATION"]) == str(event["URL"]) == "https://meet.example/r"
    assert "TikTok, first steps;" in str(event["DESCRIPTION"]) and "questions" in str(event["DESCRIPTION"])
    uid, sequence = str(event["UID"]), int(event["SEQUENCE"])

    meetings.update(tandem, meeting.id, mentor, {"starts_at": datetime(2027, 3, 13, 18, 0, tzinfo=UTC)})
    _, moved = parsed(meetings.invite(meeting))
    assert str(moved["UID"]) == uid and int(moved["SEQUENCE"]) == sequence + 1


def test_both_partners_get_each_invite_by_e_mail_and_a_deletion_cancels_it(tandem):
    mentee, mentor = tandem.mentee, tandem.mentor_user
    meeting = meetings.create(tandem, mentee, datetime(2027, 3, 12, 17, 0, tzinfo=UTC), 60)
    assert [len(invites_to(person)) for person in (mentee, mentor)] == [1, 1]
    assert db.session.query(Notification).filter_by(user_id=mentor.id, kind="meeting_planned").count() == 1
    assert db.session.query(Notification).filter_by(user_id=mentee.id).count() == 0  # no in-app note to oneself
    mentor_mail = invites_to(mentor)[0]
    assert "Mar 12, 2027, 12:00\u202fPM (America/New_York)" in mentor_mail.body

    meetings.update(tandem, meeting.id, mentor, {"starts_at": datetime(2027, 3, 14, 17, 0, tzinfo=UTC)})
    _, second = parsed(invites_to(mentee)[-1].ics)
    assert int(second["SEQUENCE"]) == 1 and second["DTSTART"].dt == datetime(2027, 3, 14, 17, 0, tzinfo=UTC)
    uid = str(second["UID"])

    meetings.delete_meeting(tandem, meeting.id, mentee)
    for person in (mentee, mentor):
        calendar, cancel = parsed(invites_to(person)[-1].ics)
        assert str(calendar["METHOD"]) == "CANCEL" and str(cancel["UID"]) == uid and int(cancel["SEQUENCE"]) == 2
        assert str(cancel["STATUS"]) == "CANCELLED"


def test_each_partner_gets_the_invite_in_their_own_language_and_a_left_partner_is_named_so(tandem):
    mentee, mentor = tandem.mentee, tandem.mentor_user
    mentee.locale, mentor.locale = "de", "en"
    db.session.commit()
    meetings.create(tandem, mentor, datetime(2027, 3, 12, 17, 0, tzinfo=UTC), 60)  # planned by the English side
    _, german = parsed(invites_to(mentee)[-1].ics)
    _, english = parsed(invites_to(mentor)[-1].ics)
    assert str(german["SUMMARY"]).startswith("Tandem-Treffen:")
    assert str(english["SUMMARY"]).startswith("Tandem meeting:")

    from marketplace.services import privacy

    privacy.delete_account(mentor)  # in an English request: the German mentee's mails name the leaver in German
    db.session.expire_all()
    told = db.session.scalars(select(OutgoingEmail).where(OutgoingEmail.recipient_user_id == mentee.id)
                              .order_by(OutgoingEmail.id)).all()
    assert any("(ehemaliges Mitglied)" in mail.body for mail in told)
    assert not any("(former member)" in mail.body for mail in told)


def test_the_invite_reaches_smtp_as_a_text_calendar_attachment(smtp_app):
    app, handler = smtp_app
    app.config["TANDEM_CLOCK"] = lambda: NOW
    mentor, goal = make_mentor(company="Young B"), make_goal(company="Old B")
    running = Tandem(goal=goal, mentor=mentor, mentee_user_id=goal.owner_id, mentor_user_id=mentor.user_id,
                     status="active", starts_on=date(2027, 3, 1), ends_on=date(2027, 9, 1))
    db.session.add(running)
    db.session.commit()
    meetings.create(running, goal.owner, datetime(2027, 3, 12, 17, 0, tzinfo=UTC), 60, topic="Bare\rreturn")
    assert outbox.send_due(NOW + timedelta(seconds=1)) == 2
    message = handler.messages[0]
    calendar_part = next(part for part in message.walk() if part.get_content_type() == "text/calendar")
    assert calendar_part.get_param("method") == "REQUEST"
    _, event = parsed(calendar_part.get_content())
    assert "Bare" in str(event["DESCRIPTION"]) and len(list(event["ATTENDEE"])) == 2


# --- reminders and "did it take place?" ---------------------------------------------------------


def test_each_partner_is_reminded_the_day_before_once_per_start_time(tandem, clock):
    meeting = meetings.create(tandem, tandem.mentee, datetime(2027, 3, 12, 17, 0, tzinfo=UTC), 60)
    assert "meeting_reminders" in jobs.PERIODIC_JOBS

    def reminders() -> int:
        return db.session.query(Notification).filter_by(kind="meeting_reminder").count()

    clock.moment = datetime(2027, 3, 11, 16, 0, tzinfo=UTC)  # 25 h before
    assert jobs.run_periodic("meeting_reminders", clock.moment) and reminders() == 0
    clock.moment = datetime(2027, 3, 11, 18, 0, tzinfo=UTC)  # 23 h before
    meetings.send_reminders(clock.moment)
    meetings.send_reminders(clock.moment + timedelta(minutes=5))
    assert reminders() == 2
    mails = db.session.scalars(select(OutgoingEmail).where(OutgoingEmail.kind == "meeting_reminder")).all()
    assert sorted(m.recipient for m in mails) == sorted([tandem.mentee.email, tandem.mentor_user.email])

    meetings.update(tandem, meeting.id, tandem.mentor_user, {"starts_at": datetime(2027, 3, 12, 15, 0, tzinfo=UTC)})
    meetings.send_reminders(clock.moment)
    assert reminders() == 4  # a moved meeting is a new occasion


def test_after_the_end_both_are_asked_once_and_can_answer_held_missed_or_moved(tandem, clock, client, login_as):
    meeting = meetings.create(tandem, tandem.mentee, datetime(2027, 3, 12, 17, 0, tzinfo=UTC), 60)
    clock.moment = datetime(2027, 3, 12, 17, 59, tzinfo=UTC)
    assert meetings.ask_outcomes(clock.moment) == 0  # not over yet
    clock.moment = datetime(2027, 3, 12, 18, 1, tzinfo=UTC)
    assert meetings.ask_outcomes(clock.moment) == 1 and meetings.ask_outcomes(clock.moment) == 0
    asked = db.session.query(Notification).filter_by(kind="meeting_outcome").all()
    assert sorted(n.user_id for n in asked) == sorted([tandem.mentee_user_id, tandem.mentor_user_id])
    assert db.session.query(OutgoingEmail).filter_by(kind="meeting_outcome").count() == 2

    login_as(tandem.mentor_user)
    page = client.get(f"/cohorts/tandems/{tandem.id}").get_data(as_text=True)
    assert "Did it take place?" in page
    prefix = f"meeting-{meeting.id}-"
    moved = client.post(f"/cohorts/tandems/{tandem.id}/meetings/{meeting.id}/outcome",
                        data={prefix + "outcome": "moved", prefix + "starts_at": "2027-03-19T13:00"})
    assert moved.status_code == 302
    db.session.expire_all()
    assert meeting.status == "planned" and meeting.starts_at.replace(tzinfo=UTC) == datetime(2027, 3, 19, 17, 0,
                                                                                             tzinfo=UTC)
    assert "Did it take place?" not in client.get(f"/cohorts/tandems/{tandem.id}").get_data(as_text=True)

    clock.moment = datetime(2027, 3, 19, 19, 0, tzinfo=UTC)
    assert meetings.ask_outcomes(clock.moment) == 1  # the moved meeting is asked about again
    client.post(f"/cohorts/tandems/{tandem.id}/meetings/{meeting.id}/outcome", data={prefix + "outcome": "missed"})
    db.session.expire_all()
    assert meeting.status == "missed" and meetings.progress(tandem, clock.moment.date()).held == 0

    other = meetings.create(tandem, tandem.mentee, datetime(2027, 3, 20, 17, 0, tzinfo=UTC), 60)
    clock.moment = datetime(2027, 3, 21, 9, 0, tzinfo=UTC)
    meetings.record_outcome(tandem, other.id, tandem.mentee, "held")
    assert meetings.progress(tandem, clock.moment.date()).held == 1


def test_a_meeting_moved_to_a_time_the_clocks_skip_is_refused_beside_the_field_with_the_time_kept(
    tandem, clock, client, login_as
):
    meeting = meetings.create(tandem, tandem.mentee, datetime(2027, 3, 12, 17, 0, tzinfo=UTC), 60)
    clock.moment = datetime(2027, 3, 12, 19, 0, tzinfo=UTC)
    meetings.ask_outcomes(clock.moment)
    login_as(tandem.mentee)  # Berlin: on 2027-03-28 the clocks go from 02:00 straight to 03:00
    url, prefix = f"/cohorts/tandems/{tandem.id}/meetings/{meeting.id}/outcome", f"meeting-{meeting.id}-"
    refused = client.post(url, data={prefix + "outcome": "moved", prefix + "starts_at": "2027-03-28T02:30"})
    assert refused.status_code == 400
    form = refused.get_data(as_text=True).split('class="outcome-form"')[1].split("</form>")[0]
    assert "02:30 does not exist on that day in Europe/Berlin" in form
    assert 'value="2027-03-28T02:30"' in form
    ancient = client.post(url, data={prefix + "outcome": "moved", prefix + "starts_at": "0001-01-01T00:00"})
    assert ancient.status_code == 400  # the period is what is wrong, not the year 1's offset in seconds
    assert "Meetings of this tandem lie between" in ancient.get_data(as_text=True)
    untimed = client.post(url, data={prefix + "outcome": "moved", prefix + "starts_at": ""})
    assert untimed.status_code == 400 and "Please give the date and time." in untimed.get_data(as_text=True)
    db.session.expire_all()
    assert meeting.starts_at.replace(tzinfo=UTC) == datetime(2027, 3, 12, 17, 0, tzinfo=UTC)
    assert meeting.status == "planned"
    german = client.post(url, data={prefix + "outcome": "moved", prefix + "starts_at": "2027-03-28T02:30"},
                         headers={"Accept-Language": "de"})
    assert "02:30 Uhr gibt es an diesem Tag in Europe/Berlin nicht" in german.get_data(as_text=True)


def test_an_answer_to_a_meeting_that_no_longer_waits_for_one_is_refused_and_said(tandem, clock, client, login_as):
    """The partner answered meanwhile (an old page), or the meeting is held or still ahead: "did it take place?"
    changes nothing then, and the page says why."""
    meeting = meetings.create(tandem, tandem.mentee, datetime(2027, 3, 12, 17, 0, tzinfo=UTC), 60)
    ahead = meetings.create(tandem, tandem.mentee, datetime(2027, 3, 20, 17, 0, tzinfo=UTC), 60)
    clock.moment = datetime(2027, 3, 12, 19, 0, tzinfo=UTC)
    meetings.record_outcome(tandem, meeting.id, tandem.mentor_user, "held")
    login_as(tandem.mentee)
    answers = ((meeting, {"outcome": "missed"}), (meeting, {"outcome": "moved", "starts_at": "2027-03-19T13:00"}),
               (meeting, {"outcome": "moved", "starts_at": "2027-03-28T02:30"}), (ahead, {"outcome": "held"}))
    for target, data in answers:
        prefix = f"meeting-{target.id}-"
        answer = client.post(f"/cohorts/tandems/{tandem.id}/meetings/{target.id}/outcome",
                             data={prefix + name: value for name, value in data.items()}, follow_redirects=True)
        text = answer.get_data(as_text=True)
        assert "no longer waits for an answer" in text or "does not exist on that day" in text, data
    db.session.expire_all()
    assert (meeting.status, ahead.status) == ("held", "planned")
    assert meeting.starts_at.replace(tzinfo=UTC) == datetime(2027, 3, 12, 17, 0, tzinfo=UTC)
    with pytest.raises(MeetingError) as refused:
        meetings.record_outcome(tandem, meeting.id, tandem.mentee, "missed")
    assert refused.value.status == 409


# --- private notes, pages, privacy ----------------------------------------------------------------


def test_either_partner_logs_and_a_private_note_is_seen_by_its_author_only(tandem, client, login_as):
    mentor, mentee = tandem.mentor_user, tandem.mentee
    login_as(mentee)
    response = plan(client, tandem, status="held", starts_at="2027-03-09T10:00", topic="LinkedIn basics",
                    private_note="I felt out of my depth")
    assert response.status_code == 302
    own_page = client.get(f"/cohorts/tandems/{tandem.id}").get_data(as_text=True)
    assert "LinkedIn basics" in own_page and "I felt out of my depth" in own_page

    client.post("/auth/logout")
    login_as(mentor)
    partner_page = client.get(f"/cohorts/tandems/{tandem.id}").get_data(as_text=True)
    assert "LinkedIn basics" in partner_page and "out of my depth" not in partner_page

    client.post("/auth/logout")
    manager = make_user(is_manager=True)
    login_as(manager)
    assert client.get(f"/cohorts/tandems/{tandem.id}").status_code == 404
    assert "depth" not in client.get(f"/cohorts/{tandem.cohort_id}/tandems.csv").get_data(as_text=True)
    assert "depth" not in api(client, "GET", f"/tandems/{tandem.id}/meetings", manager).get_data(as_text=True)


def test_the_page_offers_the_invite_download_and_outsiders_get_nothing(tandem, client, login_as):
    meeting = meetings.create(tandem, tandem.mentee, datetime(2027, 3, 12, 17, 0, tzinfo=UTC), 60)
    login_as(tandem.mentor_user)
    page = client.get(f"/cohorts/tandems/{tandem.id}").get_data(as_text=True)
    link = f"/cohorts/tandems/{tandem.id}/meetings/{meeting.id}.ics"
    assert link in page
    download = client.get(link)
    assert "attachment" in download.headers["Content-Disposition"]
    assert str(parsed(download.get_data(as_text=True))[0]["METHOD"]) == "REQUEST"
    client.post("/auth/logout")
    login_as(make_user())
    assert client.get(link).status_code == 404
    with pytest.raises(MeetingError) as refused:
        meetings.create(tandem, make_user(), NOW + timedelta(days=1), 60)
    assert refused.value.status == 403


def test_the_data_export_and_account_deletion_cover_time_zones_and_meeting_fields(tandem):
    mentee = tandem.mentee
    meetings.create(tandem, mentee, datetime(2027, 3, 9, 17, 0, tzinfo=UTC), 45, video_url="https://meet.example/me",
                    topic="Reels", status="held")  # one still planned is cancelled when the tandem stops
    data = privacy.export_user_data(mentee)
    assert data["account"]["time_zone"] == "Europe/Berlin"
    assert data["meetings_i_logged"] == [{
        "starts_at": "2027-03-09T17:00:00+00:00", "duration_minutes": 45, "status": "held",
        "video_url": "https://meet.example/me", "topic": "Reels", "my_private_note": "",
    }]
    privacy.delete_account(mentee)
    meeting = db.session.scalars(select(Meeting)).one()
    assert meeting.author_id is None and meeting.video_url == ""


def test_progress_counts_each_day_once_and_a_missed_meeting_not_at_all(tandem):
    make_meeting(tandem, date(2027, 3, 2), author=tandem.mentee)
    make_meeting(tandem, date(2027, 3, 2), author=tandem.mentor_user)  # the same meeting, logged twice
    make_meeting(tandem, date(2027, 3, 5), status="missed")
    db.session.commit()
    row = meetings.progress(tandem, NOW.date())
    assert (row.held, row.target, row.last_meeting_on) == (1, 3, date(2027, 3, 2))


def test_the_migration_turns_date_only_meetings_into_noon_utc_and_keeps_planned_ones_planned(tmp_path):
    from flask_migrate import upgrade
    from sqlalchemy import text

    from tests.marketplace.test_migrations import migrated_to

    with migrated_to(tmp_path, "b7d41c2e9a10"):
        with db.engine.begin() as connection:
            for user_id in (1, 2):
                connection.execute(text("INSERT INTO user (id, email, name, is_manager, created_at) "
                                        "VALUES (:id, :email, 'P', 0, '2026-01-01')"),
                                   {"id": user_id, "email": f"p{user_id}@x.example"})
            connection.execute(text(
                "INSERT INTO tandem (id, mentee_user_id, mentor_user_id, status, request_message, response_message, "
                "end_reason, reasons, locked, created_at) "
                "VALUES (1, 1, 2, 'active', '', '', '', '[]', 0, '2026-01-01')"))
            for meeting_id, day, planned in ((1, "2026-11-20", 0), (2, "2026-12-20", 1)):
                connection.execute(text(
                    "INSERT INTO meeting (id, tandem_id, author_id, held_on, minutes, topics_covered, private_note, "
                    "planned, created_at) VALUES (:id, 1, 1, :day, 60, '', '', :planned, '2026-01-01')"),
                    {"id": meeting_id, "day": day, "planned": planned})
        upgrade()
        with db.engine.connect() as connection:
            rows = connection.execute(text("SELECT id, starts_at, status FROM meeting ORDER BY id")).all()
    assert [(row.id, row.starts_at[:19], row.status) for row in rows] == [
        (1, "2026-11-20 12:00:00", "held"), (2, "2026-12-20 12:00:00", "planned"),
    ]


def test_two_changes_at_once_each_send_an_invite_with_a_sequence_of_its_own(app, tandem):
    """Calendars drop an invite whose SEQUENCE they have seen: two partners moving the meeting at the same moment
    must not both send number 1 (nor lose one change), on SQLite as on PostgreSQL."""
    meeting = meetings.create(tandem, tandem.mentee, datetime(2027, 3, 12, 17, 0, tzinfo=UTC), 60)
    ids = (tandem.id, meeting.id, tandem.mentee_user_id, tandem.mentor_user_id)
    moves = [datetime(2027, 3, 14, 17, 0, tzinfo=UTC), datetime(2027, 3, 15, 17, 0, tzinfo=UTC)]

    def move(index: int) -> int:
        with app.test_request_context():
            try:
                fresh = db.session.get(Tandem, ids[0])
                mover = fresh.mentee if index == 0 else fresh.mentor_user
                return meetings.update(fresh, ids[1], mover, {"starts_at": moves[index]}).sequence
            finally:
                db.session.remove()

    results = at_once(move, 2)
    assert sorted(results) == [1, 2]
    stored = db.session.get(Meeting, ids[1])
    assert stored.sequence == 2 and as_utc(stored.starts_at) in moves
    mentee = db.session.get(Tandem, ids[0]).mentee
    sent = [int(parsed(mail.ics)[1]["SEQUENCE"]) for mail in invites_to(mentee)]
    assert sorted(sent) == [0, 1, 2]  # the first invite, then one per change


def test_an_ended_tandems_meetings_stay_as_counted_and_unknown_fields_are_refused(tandem, client, login_as):
    mentee = tandem.mentee
    url = f"/tandems/{tandem.id}/meetings"
    held = api(client, "POST", url, mentee, {"starts_at": "2027-03-09T18:00:00Z", "status": "held"}).get_json()
    unknown = api(client, "PATCH", f"{url}/{held['id']}", mentee, {"author_id": 1, "topic": "AI"})
    assert unknown.status_code == 422 and set(unknown.get_json()["error"]["fields"]) == {"author_id"}
    assert db.session.get(Meeting, held["id"]).topics_covered == ""  # a refused PATCH changes nothing

    tandems_api_end = client.post(f"/api/v1/tandems/{tandem.id}/end", json={"reason": "Done early"},
                                  headers=bearer(mentee))
    assert tandems_api_end.status_code == 200
    assert api(client, "DELETE", f"{url}/{held['id']}", mentee).status_code == 409
    assert db.session.get(Meeting, held["id"]) is not None
    page = login_as(db.session.get(Tandem, tandem.id).mentee)
    assert page.get(f"/cohorts/tandems/{tandem.id}/meetings/{held['id']}/delete").status_code == 404


def test_a_double_submit_or_both_partners_logging_one_meeting_plans_it_once(app, tandem, client):
    ids = (tandem.id, tandem.mentee_user_id, tandem.mentor_user_id)
    start = datetime(2027, 3, 12, 17, 0, tzinfo=UTC)

    def plan_it(index: int) -> object:
        with app.test_request_context():
            try:
                fresh = db.session.get(Tandem, ids[0])
                author = fresh.mentee if index % 2 == 0 else fresh.mentor_user
                return meetings.create(fresh, author, start, 60).id
            except MeetingError as problem:
                return problem.code
            finally:
                db.session.remove()

    results = at_once(plan_it, 3)
    assert sorted(results, key=str).count("duplicate") == 2 and len([r for r in results if isinstance(r, int)]) == 1
    assert db.session.scalar(select(func.count()).select_from(Meeting).where(Meeting.tandem_id == ids[0])) == 1
    mentee = db.session.get(Tandem, ids[0]).mentee
    assert len(invites_to(mentee)) == 1  # one invite, not one per click

    url = f"/tandems/{ids[0]}/meetings"
    for same_minute in ("2027-03-12T18:00:00+01:00", "2027-03-12T17:00:00.000001Z", "2027-03-12T17:00:59Z"):
        again = api(client, "POST", url, mentee, {"starts_at": same_minute})
        assert again.status_code == 409 and "starts_at" in again.get_json()["error"]["fields"], same_minute
    odd_offset = api(client, "POST", url, mentee, {"starts_at": "2027-03-12T17:00:00+00:00:30"})
    assert odd_offset.status_code == 422 and "starts_at" in odd_offset.get_json()["error"]["fields"]

    later = api(client, "POST", url, mentee, {"starts_at": "2027-03-13T17:00:30Z"}).get_json()
    assert later["starts_at"] == "2027-03-13T17:00:00Z"  # a meeting starts on a minute
    moved_onto = api(client, "PATCH", f"{url}/{later['id']}", mentee, {"starts_at": "2027-03-12T18:00:00+01:00"})
    assert moved_onto.status_code == 409 and "starts_at" in moved_onto.get_json()["error"]["fields"]
    proposal = api(client, "POST", f"/tandems/{ids[0]}/proposals", mentee,
                   {"slots": [{"starts_at": "2027-03-14T17:00:00Z"}]}).get_json()
    api(client, "POST", url, mentee, {"starts_at": "2027-03-14T17:00:00Z"})  # planned meanwhile by hand
    mentor = db.session.get(Tandem, ids[0]).mentor_user
    picked = api(client, "POST", f"/tandems/{ids[0]}/proposals/{proposal['id']}/pick", mentor,
                 {"slot": proposal["slots"][0]["id"]})
    assert picked.status_code == 409
    assert db.session.scalar(select(func.count()).select_from(Meeting).where(Meeting.tandem_id == ids[0])) == 3
