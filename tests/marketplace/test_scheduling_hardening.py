"""Attacks on meetings, proposals, availability windows and nudges (issue #15's outside review): far-future
times, concurrent nudges and window changes, meetings of a tandem that stops, odd links and digits."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from marketplace.extensions import db
from marketplace.models import AvailabilityWindow, Meeting, MeetingProposal, Tandem, User
from marketplace.services import meetings, privacy, scheduling, tandems
from marketplace.services.cohorts import enrolment
from marketplace.services.scheduling import SchedulingError
from tests.builders import DEFAULT_PASSWORD, at_once, make_cohort_tandem, make_user
from tests.marketplace import test_meetings, test_pair_health
from tests.marketplace.test_cohorts import bearer, make_cohort
from tests.marketplace.test_meetings import api, parsed

clock, tandem = test_meetings.clock, test_meetings.tandem

FAR = "9999-12-31T23:00:00Z"  # the last hour of the calendar: in Berlin (UTC+1) already year 10000


# --- F2: the calendar's end -----------------------------------------------------------------------------


def test_a_time_at_the_end_of_the_calendar_is_refused_naming_the_period_never_a_500(tandem, client, login_as):
    mentee = tandem.mentee  # Berlin, ahead of UTC
    url = f"/tandems/{tandem.id}"
    proposed = api(client, "POST", f"{url}/proposals", mentee, {"slots": [{"starts_at": FAR, "duration_minutes": 60}]})
    assert proposed.status_code == 422
    assert "lie between" in proposed.get_json()["error"]["fields"]["slots[0].starts_at"]
    planned = api(client, "POST", f"{url}/meetings", mentee, {"starts_at": FAR, "duration_minutes": 60})
    assert planned.status_code == 422 and "lie between" in planned.get_json()["error"]["fields"]["starts_at"]
    behind = api(client, "POST", f"{url}/meetings", mentee, {"starts_at": "9999-12-31T23:00:00-05:00"})
    assert behind.status_code == 422 and "starts_at" in behind.get_json()["error"]["fields"]
    early = api(client, "POST", f"{url}/meetings", mentee, {"starts_at": "0001-01-01T00:30:00+01:00"})
    assert early.status_code == 422 and "starts_at" in early.get_json()["error"]["fields"]

    meeting = meetings.create(tandem, mentee, test_meetings.NOW.replace(day=12), 60)
    moved = api(client, "PATCH", f"{url}/meetings/{meeting.id}", mentee, {"starts_at": "9999-12-31T23:30:00Z"})
    assert moved.status_code == 422 and "lie between" in moved.get_json()["error"]["fields"]["starts_at"]

    login_as(mentee)
    page = client.post(f"/cohorts/tandems/{tandem.id}/proposals",
                       data={"suggested": "9999-12-31T23:00:00+00:00", "duration_minutes": "60"})
    assert page.status_code == 400 and "lie between" in page.get_data(as_text=True)
    assert db.session.query(MeetingProposal).count() == 0
    assert db.session.query(Meeting).count() == 1


# --- F3: nudges at once ---------------------------------------------------------------------------------


def test_four_nudges_at_once_mail_each_partner_once_and_the_others_are_quiet(app):
    cohort = test_pair_health.make_cohort(state="running", target=6, starts_on=date(2027, 3, 1),
                                          ends_on=date(2027, 8, 31))
    slow = make_cohort_tandem(cohort, "Slow")
    manager = make_user(is_manager=True)
    url, field = f"/cohorts/{cohort.id}/tandems/{slow.id}/nudge", f"tandem-{slow.id}-seen"
    people = sorted([slow.mentee.email, slow.mentor_user.email])
    slow_id = slow.id
    clients = [app.test_client() for _ in range(4)]
    for each in clients:
        assert each.post("/auth/login", data={"email": manager.email, "password": DEFAULT_PASSWORD}).status_code == 302
        with each.session_transaction() as session:
            session.pop("_flashes", None)

    def click(index: int) -> tuple[int, list]:
        response = clients[index].post(url, data={field: "0"})
        with clients[index].session_transaction() as session:
            return response.status_code, [text for _kind, text in session.get("_flashes", [])]

    answers = at_once(click, 4)
    assert all(isinstance(answer, tuple) and answer[0] == 302 for answer in answers), answers
    flashes = sorted(text for _status, texts in answers for text in texts)
    assert len(flashes) == 4 and flashes.count("This nudge has already gone to both partners.") == 3, flashes
    mails = test_pair_health.nudges_to(db.session.get(Tandem, slow_id))
    assert sorted(m.recipient for m in mails) == people


# --- F6: window changes at once --------------------------------------------------------------------------


def test_the_same_window_added_six_times_at_once_is_stored_once(app):
    person_id = make_user().id

    def add(_index: int) -> str:
        with app.app_context():
            try:
                return scheduling.add_window(db.session.get(User, person_id), 1, 18 * 60, 20 * 60).weekday and "added"
            except SchedulingError as problem:
                return problem.code
            finally:
                db.session.remove()

    assert sorted(at_once(add, 6)) == ["added"] + ["window_overlap"] * 5
    assert db.session.query(AvailabilityWindow).filter_by(user_id=person_id).count() == 1


def test_lists_of_windows_put_at_once_leave_one_of_them_whole_never_overlapping_windows(app, client):
    person = make_user()
    person_id, headers = person.id, bearer(person)
    scheduling.add_window(person, 0, 8 * 60, 9 * 60)

    def put(index: int) -> int:
        starts = f"{10 + index:02d}:00"
        body = {"windows": [{"weekday": "monday", "starts": starts, "ends": f"{12 + index:02d}:00"},
                            {"weekday": "friday", "starts": starts, "ends": "23:00"}]}
        return app.test_client().put("/api/v1/me/availability", json=body, headers=headers).status_code

    assert at_once(put, 4) == [200] * 4
    stored = db.session.scalars(select(AvailabilityWindow).where(AvailabilityWindow.user_id == person_id)
                                .order_by(AvailabilityWindow.weekday)).all()
    assert len(stored) == 2 and stored[0].starts_minute == stored[1].starts_minute  # one PUT's list, whole


def test_availability_times_take_ascii_digits_only(app, client):
    person = make_user()
    wide = api(client, "PUT", "/me/availability", person,
               {"windows": [{"weekday": "monday", "starts": "\uff10\uff19:00", "ends": "11:00"}]})
    assert wide.status_code == 422 and "windows[0].starts" in wide.get_json()["error"]["fields"]
    assert api(client, "GET", "/me/availability", person).get_json()["windows"] == []


# --- F9: links, and a proposal on a planned meeting -------------------------------------------------------


@pytest.mark.parametrize("link", ['https://x.example/"onmouseover="alert(1)<script>', "https://x.example/a b",
                                  "https://x.example/'x'", "https://x.example/%zz", "http://[::1/",
                                  "https://x.example:99999/", "https://x.example/\u00e4"])
def test_a_video_link_is_one_valid_http_address_for_meetings_and_proposals(tandem, client, link):
    mentee, url = tandem.mentee, f"/tandems/{tandem.id}"
    planned = api(client, "POST", f"{url}/meetings", mentee, {"starts_at": "2027-03-12T17:00:00Z", "video_url": link})
    assert planned.status_code == 422 and "video_url" in planned.get_json()["error"]["fields"]
    proposed = api(client, "POST", f"{url}/proposals", mentee,
                   {"slots": [{"starts_at": "2027-03-12T17:00:00Z", "video_url": link}]})
    assert proposed.status_code == 422 and "slots[0].video_url" in proposed.get_json()["error"]["fields"]
    assert db.session.query(Meeting).count() == db.session.query(MeetingProposal).count() == 0


def test_a_good_video_link_with_query_and_escapes_is_kept(tandem):
    link = "https://meet.example:8443/j/123?pwd=a%2Fb&x=(1)#top"
    meeting = meetings.create(tandem, tandem.mentee, test_meetings.NOW.replace(day=12), 60, video_url=link)
    assert meeting.video_url == link


def test_a_time_is_not_proposed_on_a_meeting_already_planned_then(tandem, client):
    meetings.create(tandem, tandem.mentee, test_meetings.NOW.replace(day=12, hour=17), 60)
    response = api(client, "POST", f"/tandems/{tandem.id}/proposals", tandem.mentor_user,
                   {"slots": [{"starts_at": "2027-03-13T17:00:00Z"}, {"starts_at": "2027-03-12T12:00:00-05:00"}]})
    assert response.status_code == 422
    assert "already planned at this time" in response.get_json()["error"]["fields"]["slots[1].starts_at"]
    assert db.session.query(MeetingProposal).count() == 0


# --- F7: a tandem that starts weeks ahead ---------------------------------------------------------------


def test_a_tandem_starting_months_ahead_is_offered_times_from_its_first_day_and_told_why_when_none_fit(
        tandem, client, login_as):
    later = make_cohort(name="Summer 2027", state="published", target=6, starts_on=date(2027, 6, 1),
                        ends_on=date(2027, 11, 30))
    tandem.cohort_id, tandem.starts_on, tandem.ends_on = later.id, date(2027, 6, 1), date(2027, 11, 30)
    db.session.commit()
    mentor = tandem.mentor_user  # New York
    scheduling.add_window(mentor, 1, 18 * 60, 20 * 60)  # Tuesdays 18-20
    found = scheduling.suggestions(tandem, mentor)
    assert found.source == "yours" and found.starts[0] == datetime(2027, 6, 1, 22, 0, tzinfo=UTC)  # 18:00 EDT
    assert all(date(2027, 6, 1) <= start.date() <= date(2027, 6, 22) for start in found.starts)

    login_as(mentor)
    offered = client.get(f"/cohorts/tandems/{tandem.id}").get_data(as_text=True)
    assert "2027-06-01T22:00:00+00:00" in offered  # the tick's value
    scheduling.replace_windows(mentor, [(1, 18 * 60, 18 * 60 + 30)])  # too short for an hour
    none = client.get(f"/cohorts/tandems/{tandem.id}").get_data(as_text=True)
    assert "None of your windows leaves a time for a meeting of this tandem in the three weeks from Jun 1, 2027" \
        in none


# --- F5: meetings of a tandem that stops ----------------------------------------------------------------


def _cancellations_to(user) -> list:
    return [parsed(mail.ics) for mail in test_meetings.invites_to(user) if "METHOD:CANCEL" in mail.ics]


@pytest.mark.parametrize("how", ["ended_early", "cohort_closed", "mentee_deleted"])
def test_a_tandem_that_stops_cancels_its_planned_meetings_ahead_in_both_calendars(tandem, client, how):
    mentee, mentor = tandem.mentee, tandem.mentor_user
    mentor.locale = "de"
    ahead = meetings.create(tandem, mentee, datetime(2027, 3, 12, 17, 0, tzinfo=UTC), 60)
    held = meetings.create(tandem, mentee, datetime(2027, 3, 9, 17, 0, tzinfo=UTC), 60, status="held")
    uid, ahead_id, held_id, mentor_id = meetings.uid(ahead), ahead.id, held.id, mentor.id
    if how == "ended_early":
        tandems.end(tandem, mentee, "We found no common time.")
    elif how == "cohort_closed":
        enrolment.close(tandem.cohort)
    else:
        privacy.delete_account(mentee)
    assert db.session.get(Meeting, ahead_id) is None and db.session.get(Meeting, held_id) is not None
    mentor = db.session.get(User, mentor_id)
    (calendar, event), = _cancellations_to(mentor)
    assert str(calendar["METHOD"]) == "CANCEL" and str(event["UID"]) == uid and int(event["SEQUENCE"]) == 1
    assert [str(a) for a in event.get("ATTENDEE", [])] and f"mailto:{mentor.email}" in str(event["ATTENDEE"])
    german = [m for m in test_meetings.invites_to(mentor) if "METHOD:CANCEL" in m.ics][0]
    assert german.language == "de"
    if how != "mentee_deleted":
        assert len(_cancellations_to(mentee)) == 1
    assert api(client, "GET", f"/tandems/{tandem.id}/meetings/{ahead_id}/invite.ics", mentor).status_code == 404
