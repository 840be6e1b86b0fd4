"""Meetings: either partner logs or plans one, private notes stay with their author, progress, .ics files."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from marketplace.extensions import db
from marketplace.models import Meeting, Notification, Tandem
from marketplace.services import meetings
from marketplace.services.meetings import MeetingError
from tests.builders import make_goal, make_mentor, make_user
from tests.marketplace.test_cohorts import make_cohort

TODAY = date.today()


@pytest.fixture
def tandem(app) -> Tandem:
    mentor, goal = make_mentor(company="Young A"), make_goal(company="Old X")
    cohort = make_cohort(state="running", target=3, starts_on=TODAY - timedelta(days=60),
                         ends_on=TODAY + timedelta(days=120))
    tandem = Tandem(goal=goal, mentor=mentor, mentee_user_id=goal.owner_id, mentor_user_id=mentor.user_id,
                    cohort_id=cohort.id, status="active", starts_on=cohort.starts_on, ends_on=cohort.ends_on)
    db.session.add(tandem)
    db.session.commit()
    return tandem


def log(client, tandem, **fields):
    data = {"kind": "held", "held_on": TODAY.isoformat(), "minutes": "60", "topics_covered": "", "private_note": ""}
    data.update(fields)
    return client.post(f"/cohorts/tandems/{tandem.id}/meetings", data=data)


def test_either_partner_logs_and_a_private_note_is_seen_by_its_author_only(tandem, client, login_as):
    mentor, mentee = tandem.mentor_user, tandem.mentee
    login_as(mentee)
    response = log(client, tandem, topics_covered="LinkedIn basics", private_note="I felt out of my depth")
    assert response.status_code == 302
    own_page = client.get(f"/cohorts/tandems/{tandem.id}").get_data(as_text=True)
    assert "LinkedIn basics" in own_page and "I felt out of my depth" in own_page

    client.post("/auth/logout")
    login_as(mentor)
    partner_page = client.get(f"/cohorts/tandems/{tandem.id}").get_data(as_text=True)
    assert "LinkedIn basics" in partner_page
    assert "out of my depth" not in partner_page
    assert log(client, tandem, private_note="Mentee needs examples").status_code == 302
    assert "Mentee needs examples" in client.get(f"/cohorts/tandems/{tandem.id}").get_data(as_text=True)

    client.post("/auth/logout")
    login_as(make_user(is_manager=True))
    assert client.get(f"/cohorts/tandems/{tandem.id}").status_code == 404
    progress_page = client.get(f"/cohorts/{tandem.cohort_id}/progress").get_data(as_text=True)
    assert "out of my depth" not in progress_page and "Mentee needs examples" not in progress_page
    report = client.get(f"/cohorts/{tandem.cohort_id}/tandems.csv").get_data(as_text=True)
    assert "depth" not in report


def test_visible_note_is_the_single_door_to_a_private_note(tandem):
    meeting = meetings.log_meeting(tandem, tandem.mentee, TODAY, 45, private_note="secret")
    assert meetings.visible_note(meeting, tandem.mentee) == "secret"
    assert meetings.visible_note(meeting, tandem.mentor_user) is None
    assert [v.note for v in meetings.meetings_for(tandem, tandem.mentor_user)] == [None]


def test_outsiders_cannot_see_or_log_meetings(tandem, client, login_as):
    login_as(make_user())
    assert client.get(f"/cohorts/tandems/{tandem.id}").status_code == 404
    assert log(client, tandem).status_code == 404
    assert client.get(f"/cohorts/tandems/{tandem.id}/meetings.ics").status_code == 404
    with pytest.raises(MeetingError) as refused:
        meetings.log_meeting(tandem, make_user(), TODAY, 60)
    assert refused.value.status == 403


def test_dates_and_lengths_are_checked_beside_the_field(tandem, client, login_as):
    login_as(tandem.mentee)
    future = log(client, tandem, held_on=(TODAY + timedelta(days=3)).isoformat())
    assert future.status_code == 400 and "plan it instead" in future.get_data(as_text=True)
    past_plan = log(client, tandem, kind="planned", held_on=(TODAY - timedelta(days=3)).isoformat())
    assert past_plan.status_code == 400
    too_long = log(client, tandem, minutes="900")
    assert too_long.status_code == 400
    assert db.session.scalar(select(Meeting.id)) is None


def test_progress_counts_each_day_once_and_flags_tandems_behind(tandem, client, login_as):
    assert meetings.progress(tandem).behind  # started 60 days ago, never met
    meetings.log_meeting(tandem, tandem.mentee, TODAY - timedelta(days=40), 60)
    meetings.log_meeting(tandem, tandem.mentor_user, TODAY - timedelta(days=40), 60)  # the same meeting
    row = meetings.progress(tandem)
    assert (row.held, row.target, row.last_meeting_on) == (1, 3, TODAY - timedelta(days=40))
    assert row.behind and row.days_since_meeting == 40

    login_as(make_user(is_manager=True))
    behind = client.get(f"/cohorts/{tandem.cohort_id}/progress?show=behind").get_data(as_text=True)
    assert tandem.mentee.name in behind and "behind" in behind

    meetings.log_meeting(tandem, tandem.mentee, TODAY - timedelta(days=2), 60)
    assert not meetings.progress(tandem).behind
    on_track = client.get(f"/cohorts/{tandem.cohort_id}/progress?show=behind").get_data(as_text=True)
    assert tandem.mentee.name not in on_track
    assert tandem.mentee.name in client.get(f"/cohorts/{tandem.cohort_id}/progress").get_data(as_text=True)


def test_dashboard_shows_progress_checklist_and_a_link_to_the_meetings(tandem, client, login_as):
    login_as(tandem.mentor_user)
    page = client.get("/dashboard").get_data(as_text=True)
    assert "Meetings held: 0 of 3" in page
    assert "Kick-off checklist" in page
    assert f"/cohorts/tandems/{tandem.id}" in page
    checklist = meetings.kickoff_checklist(tandem)
    assert [item.done for item in checklist][:2] == [True, False]
    meetings.log_meeting(tandem, tandem.mentee, TODAY + timedelta(days=7), 60, planned=True)
    assert meetings.kickoff_checklist(tandem)[1].done


def test_planned_meeting_notifies_the_partner_and_downloads_as_ics(tandem, client, login_as):
    login_as(tandem.mentee)
    day = TODAY + timedelta(days=10)
    log(client, tandem, kind="planned", held_on=day.isoformat(), minutes="90",
        topics_covered="TikTok, first steps; questions", private_note="never in the file")
    assert db.session.query(Notification).filter_by(user_id=tandem.mentor_user_id, kind="meeting_planned").count() == 1
    meeting = db.session.scalars(select(Meeting)).one()
    assert meeting.planned

    response = client.get(f"/cohorts/tandems/{tandem.id}/meetings/{meeting.id}.ics")
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    assert "attachment" in response.headers["Content-Disposition"]
    body = response.get_data(as_text=True)
    lines = body.split("\r\n")
    assert lines[0] == "BEGIN:VCALENDAR" and "VERSION:2.0" in lines and lines[-2] == "END:VCALENDAR"
    assert body.endswith("\r\n") and "\n" not in body.replace("\r\n", "")
    assert f"DTSTART;VALUE=DATE:{day:%Y%m%d}" in lines
    assert f"DTEND;VALUE=DATE:{day + timedelta(days=1):%Y%m%d}" in lines
    assert any(line.startswith("UID:meeting-") for line in lines) and any(line.startswith("DTSTAMP:") for line in lines)
    unfolded = body.replace("\r\n ", "")
    assert "TikTok\\, first steps\\; questions" in unfolded
    assert "never in the file" not in unfolded
    assert all(len(line.encode()) <= 75 for line in lines)

    whole = client.get(f"/cohorts/tandems/{tandem.id}/meetings.ics").get_data(as_text=True)
    assert whole.count("BEGIN:VEVENT") == 1

    client.post(f"/cohorts/tandems/{tandem.id}/meetings/{meeting.id}/held")
    db.session.expire_all()
    assert meeting.planned  # in the future: it cannot have taken place yet


def test_long_lines_fold_without_splitting_a_character():
    folded = meetings._fold("DESCRIPTION:" + "Größenwahn " * 20)
    parts = folded.split("\r\n ")
    assert all(len(part.encode()) <= 75 for part in parts)
    assert "".join(parts) == "DESCRIPTION:" + "Größenwahn " * 20


def test_only_the_author_deletes_a_meeting_and_a_planned_one_can_be_marked_held(tandem):
    meeting = meetings.log_meeting(tandem, tandem.mentee, TODAY, 60, planned=True)
    with pytest.raises(MeetingError) as refused:
        meetings.delete_meeting(tandem, meeting.id, tandem.mentor_user)
    assert refused.value.status == 403
    meetings.mark_held(tandem, meeting.id, tandem.mentor_user)
    assert not meeting.planned and meetings.progress(tandem).held == 1
    meetings.delete_meeting(tandem, meeting.id, tandem.mentee)
    assert meetings.progress(tandem).held == 0
