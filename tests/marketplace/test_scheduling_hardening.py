"""Attacks on meetings, proposals, availability windows and nudges (issue #15's outside review): far-future
times, concurrent nudges and window changes, meetings of a tandem that stops, odd links and digits."""

from __future__ import annotations

from marketplace.extensions import db
from marketplace.models import Meeting, MeetingProposal
from marketplace.services import meetings
from tests.marketplace import test_meetings
from tests.marketplace.test_meetings import api

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
