"""Propose, then pick: availability windows in each person's zone, suggested times inside both partners'
windows, proposals of up to three times, the pick that becomes a planned meeting (once, even when two
answers race), the API, access and privacy."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from marketplace.extensions import db
from marketplace.models import (
    AvailabilityWindow,
    Meeting,
    MeetingProposal,
    Notification,
    OutgoingEmail,
    ProposalSlot,
    Tandem,
    User,
)
from marketplace.services import meetings, privacy, scheduling
from marketplace.services.scheduling import SchedulingError, SlotInput
from tests.builders import at_once, make_user
from tests.marketplace import test_meetings
from tests.marketplace.test_meetings import api, page_of, parsed

# The meetings tests' world: a running cohort tandem (mentee in Berlin, mentor in New York) on a set clock.
clock, tandem = test_meetings.clock, test_meetings.tandem

TUESDAY = 1


def window(user: User, weekday: int, starts: str, ends: str) -> AvailabilityWindow:
    return scheduling.add_window(user, weekday, scheduling.parse_clock(starts, "starts"),
                                 scheduling.parse_clock(ends, "ends", end=True))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def propose(tandem, who, *starts: str, **fields) -> MeetingProposal:
    return scheduling.propose(tandem, who, [SlotInput(at(moment), **fields) for moment in starts])


def emails_to(user: User, kind: str) -> list[OutgoingEmail]:
    return list(db.session.scalars(select(OutgoingEmail).where(OutgoingEmail.recipient_user_id == user.id,
                                                               OutgoingEmail.kind == kind)
                                   .order_by(OutgoingEmail.id)))


# --- availability windows and suggested times ----------------------------------------------------------


def test_windows_are_kept_on_the_account_page_in_the_persons_zone(app, client, login_as):
    person = make_user()
    person.time_zone = "America/New_York"
    db.session.commit()
    login_as(person)
    url = "/auth/account/availability"
    assert client.post(url, data={"weekday": "1", "starts": "1080", "ends": "1200"}).status_code == 302
    page = client.get("/auth/account").get_data(as_text=True)
    assert "Tuesday 18:00–20:00" in page and "America/New_York" in page
    overlap = client.post(url, data={"weekday": "1", "starts": "1140", "ends": "1260"})
    assert overlap.status_code == 400 and "overlaps your window Tuesday 18:00–20:00" in overlap.get_data(as_text=True)
    backwards = client.post(url, data={"weekday": "2", "starts": "1200", "ends": "1080"})
    assert backwards.status_code == 400 and "ends after it starts" in backwards.get_data(as_text=True)
    [kept] = scheduling.windows_of(person)
    assert (kept.weekday, kept.starts_minute, kept.ends_minute) == (TUESDAY, 18 * 60, 20 * 60)

    client.post("/auth/account/settings", data={"locale": "de"})
    assert "Dienstag 18:00–20:00" in client.get("/auth/account").get_data(as_text=True)
    other = make_user()
    foreign = window(other, 3, "09:00", "10:00")
    assert client.post(f"{url}/{foreign.id}/delete").status_code == 404
    assert client.post(f"{url}/{kept.id}/delete").status_code == 302
    assert scheduling.windows_of(person) == [] and scheduling.windows_of(other) == [foreign]


def test_suggestions_lie_inside_both_windows_across_zones_and_daylight_saving_changes(tandem):
    """The mentor (New York) is free Tuesdays 12:00-14:00, the mentee (Berlin) 18:00-21:00. The US moves its
    clocks on March 14, Germany on March 28: the overlap is one hour for two weeks, then two hours."""
    mentor, mentee = tandem.mentor_user, tandem.mentee
    window(mentor, TUESDAY, "12:00", "14:00")
    assert scheduling.suggestions(tandem, mentor).source == "yours"  # the mentee has no windows yet
    window(mentee, TUESDAY, "18:00", "21:00")
    found = scheduling.suggestions(tandem, mentor)
    assert found.source == "both"
    assert found.starts == [at("2027-03-16T13:00:00-04:00"), at("2027-03-23T13:00:00-04:00"),
                            at("2027-03-30T12:00:00-04:00")]
    # The mentee sees the same instants: 18:00 in Berlin each time.
    assert scheduling.suggestions(tandem, mentee).starts == found.starts
    assert {moment.astimezone(meetings.timezones.zone_of(mentee)).hour for moment in found.starts} == {18}
    # A two-hour meeting fits only once the overlap is two hours long.
    assert scheduling.suggestions(tandem, mentor, minutes=120).starts == [at("2027-03-30T12:00:00-04:00")]


def test_without_an_overlap_the_proposers_own_windows_are_offered_and_never_outside_the_period(tandem, clock):
    mentor, mentee = tandem.mentor_user, tandem.mentee
    window(mentee, 0, "08:00", "09:00")  # Monday morning in Berlin: the middle of the night in New York
    window(mentor, TUESDAY, "12:00", "14:00")
    found = scheduling.suggestions(tandem, mentor)
    assert found.source == "yours" and found.starts[0] == at("2027-03-16T12:00:00-04:00")
    clock.moment = datetime(2027, 8, 20, 9, 0, tzinfo=UTC)  # the cohort ends on August 31
    assert scheduling.suggestions(tandem, mentor).starts == [at("2027-08-24T12:00:00-04:00"),
                                                             at("2027-08-31T12:00:00-04:00")]
    assert scheduling.suggestions(tandem, make_user()).source == "none"  # nobody's windows to offer


# --- propose, then pick on the page ------------------------------------------------------------------


def test_the_mentor_proposes_on_the_page_and_the_mentee_picks_in_her_own_zone_and_language(tandem, client,
                                                                                           login_as):
    mentor, mentee = tandem.mentor_user, tandem.mentee
    mentee.locale = "de"
    db.session.commit()
    window(mentor, TUESDAY, "12:00", "14:00")
    window(mentee, TUESDAY, "18:00", "21:00")
    login_as(mentor)
    page = page_of(client, tandem)
    assert "Times inside both your windows" in page and "Mar 16, 2027, 1:00 PM" in page
    sent = client.post(f"/cohorts/tandems/{tandem.id}/proposals", data={
        "suggested": "2027-03-16T17:00:00+00:00", "other_1": "2027-03-18T09:30", "duration_minutes": "45",
        "video_url": "https://meet.example/tandem", "topic": "Your first questions",
    })
    assert sent.status_code == 302
    proposal = db.session.scalars(select(MeetingProposal)).one()
    assert [as_utc_text(slot.starts_at) for slot in proposal.slots] == ["2027-03-16T17:00", "2027-03-18T13:30"]
    assert {(slot.minutes, slot.video_url) for slot in proposal.slots} == {(45, "https://meet.example/tandem")}
    mine = page_of(client, tandem)
    assert "Mar 16, 2027, 1:00 PM" in mine and "Mar 18, 2027, 9:30 AM" in mine and "Withdraw these times" in mine
    again = client.post(f"/cohorts/tandems/{tandem.id}/proposals", data={"other_1": "2027-03-19T09:30",
                                                                         "duration_minutes": "60"},
                        follow_redirects=True)
    assert "still wait for an answer" in again.get_data(as_text=True)  # one open proposal at a time

    [mail] = emails_to(mentee, "meeting_proposal")
    assert mail.language == "de" and "16.03.2027, 18:00 (Europe/Berlin)" in mail.body
    assert "18.03.2027, 14:30 (Europe/Berlin)" in mail.body and mentor.name in mail.body
    assert db.session.query(Notification).filter_by(user_id=mentee.id, kind="meeting_proposal").count() == 1

    client.post("/auth/logout")
    login_as(mentee)
    theirs = page_of(client, tandem)
    assert "16.03.2027, 18:00" in theirs and "18.03.2027, 14:30" in theirs and "Europe/Berlin" in theirs
    second = proposal.slots[1]
    picked = client.post(f"/cohorts/tandems/{tandem.id}/proposals/{proposal.id}/pick", data={"slot": second.id})
    assert picked.status_code == 302
    db.session.expire_all()
    meeting = db.session.scalars(select(Meeting)).one()
    assert (meeting.status, meeting.author_id, meeting.minutes) == ("planned", mentor.id, 45)
    assert (meeting.video_url, meeting.topics_covered) == ("https://meet.example/tandem", "Your first questions")
    assert as_utc_text(meeting.starts_at) == "2027-03-18T13:30"
    assert (proposal.status, proposal.meeting_id, proposal.responder_id) == ("picked", meeting.id, mentee.id)
    assert [slot.status for slot in proposal.slots] == ["lapsed", "picked"]
    # Invites to both as for any planned meeting; the proposer (its organiser) hears that a time was picked.
    for person in (mentor, mentee):
        [invite] = [m for m in emails_to(person, "meeting_planned") if m.ics]
        _, event = parsed(invite.ics)
        assert event["DTSTART"].dt == datetime(2027, 3, 18, 13, 30, tzinfo=UTC)
        assert str(event["ORGANIZER"]) == f"mailto:{mentor.email}"
    [note] = db.session.scalars(select(Notification).where(Notification.user_id == mentor.id,
                                                           Notification.kind == "meeting_planned"))
    assert note.message_key == "proposal_picked" and "Mar 18, 2027, 9:30" in note.message
    twice = client.post(f"/cohorts/tandems/{tandem.id}/proposals/{proposal.id}/pick", data={"slot": second.id},
                        follow_redirects=True)
    assert "bereits" in twice.get_data(as_text=True)  # German: a time was already picked
    assert db.session.query(Meeting).count() == 1


def as_utc_text(moment: datetime) -> str:
    return meetings.as_utc(moment).astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def test_the_partner_may_ask_for_other_times_with_a_note_and_the_proposer_may_withdraw(tandem, client, login_as):
    mentor, mentee = tandem.mentor_user, tandem.mentee
    first = propose(tandem, mentor, "2027-03-16T17:00:00Z")
    login_as(mentee)
    long_note = client.post(f"/cohorts/tandems/{tandem.id}/proposals/{first.id}/decline", data={"note": "x" * 501})
    assert long_note.status_code == 400 and "500" in long_note.get_data(as_text=True)
    declined = client.post(f"/cohorts/tandems/{tandem.id}/proposals/{first.id}/decline",
                           data={"note": "Mornings suit me better."})
    assert declined.status_code == 302
    db.session.expire_all()
    assert (first.status, first.note, [s.status for s in first.slots]) == ("declined", "Mornings suit me better.",
                                                                          ["lapsed"])
    [told] = db.session.scalars(select(Notification).where(Notification.user_id == mentor.id,
                                                           Notification.kind == "meeting_proposal"))
    assert "asks for other times" in told.message and "Mornings suit me better." in told.message
    assert "other times asked for: “Mornings suit me better.”" in page_of(client, tandem)

    # The partner who asked may propose in turn; only the proposer withdraws, only the other one picks.
    second = propose(tandem, mentee, "2027-03-17T08:00:00Z", "2027-03-18T08:00:00Z")
    with pytest.raises(SchedulingError) as own:
        scheduling.pick(tandem, second.id, mentee, second.slots[0].id)
    assert own.value.status == 403
    with pytest.raises(SchedulingError) as not_theirs:
        scheduling.withdraw(tandem, second.id, mentor)
    assert not_theirs.value.status == 403
    assert client.post(f"/cohorts/tandems/{tandem.id}/proposals/{second.id}/withdraw").status_code == 302
    db.session.expire_all()
    assert second.status == "withdrawn"
    assert db.session.query(Notification).filter_by(user_id=mentor.id, message_key="proposal_withdrawn").count() == 1
    with pytest.raises(SchedulingError) as late:
        scheduling.pick(tandem, second.id, mentor, second.slots[0].id)
    assert late.value.status == 409 and "withdrawn" in late.value.message
    assert db.session.query(Meeting).count() == 0


def test_proposed_times_follow_the_meeting_rules_and_the_error_names_the_allowed_dates(tandem, client, login_as):
    mentor = tandem.mentor_user
    with pytest.raises(SchedulingError) as before_cohort:
        propose(tandem, mentor, "2027-03-16T17:00:00Z", "2027-02-25T17:00:00Z")
    assert before_cohort.value.slot == 1 and before_cohort.value.field == "starts_at"
    assert "between Mar 1, 2027 and Aug 31, 2027" in before_cohort.value.message
    with pytest.raises(SchedulingError) as past:
        propose(tandem, mentor, "2027-03-09T17:00:00Z")
    assert "between now and Aug 31, 2027" in past.value.message
    with pytest.raises(SchedulingError) as four:
        propose(tandem, mentor, *(f"2027-03-{day}T17:00:00Z" for day in (15, 16, 17, 18)))
    assert four.value.field == "slots"
    with pytest.raises(SchedulingError) as twice:
        propose(tandem, mentor, "2027-03-16T17:00:00Z", "2027-03-16T12:00:00-05:00")
    assert twice.value.code == "same_time"
    assert db.session.query(MeetingProposal).count() == 0

    login_as(mentor)
    none = client.post(f"/cohorts/tandems/{tandem.id}/proposals", data={"duration_minutes": "60"})
    assert none.status_code == 400 and "one to three times" in none.get_data(as_text=True)
    outside = client.post(f"/cohorts/tandems/{tandem.id}/proposals",
                          data={"other_2": "2027-09-02T10:00", "duration_minutes": "60"})
    assert outside.status_code == 400 and "between Mar 1, 2027 and Aug 31, 2027" in outside.get_data(as_text=True)
    bad_link = client.post(f"/cohorts/tandems/{tandem.id}/proposals",
                           data={"other_1": "2027-03-16T12:00", "duration_minutes": "60",
                                 "video_url": "javascript:alert(1)"})
    assert bad_link.status_code == 400 and "https://" in bad_link.get_data(as_text=True)

    tandem.status = "ended"
    db.session.commit()
    with pytest.raises(SchedulingError) as ended:
        propose(tandem, mentor, "2027-03-16T17:00:00Z")
    assert ended.value.status == 409


# --- the API ---------------------------------------------------------------------------------------------


def test_the_api_proposes_picks_declines_and_withdraws_like_the_pages(tandem, client):
    mentor, mentee = tandem.mentor_user, tandem.mentee
    url = f"/tandems/{tandem.id}/proposals"
    bad = api(client, "POST", url, mentor, {"slots": [{"starts_at": "2027-03-16T12:00:00"},
                                                      {"starts_at": "2027-03-17T12:00:00Z", "video_url": "ftp://x"}]})
    fields = bad.get_json()["error"]["fields"]
    assert bad.status_code == 422 and "slots[0].starts_at" in fields
    link = api(client, "POST", url, mentor, {"slots": [{"starts_at": "2027-03-17T12:00:00Z", "video_url": "ftp://x"}]})
    assert link.status_code == 422 and "slots[0].video_url" in link.get_json()["error"]["fields"]
    outside = api(client, "POST", url, mentor, {"slots": [{"starts_at": "2027-09-17T12:00:00Z"}]})
    assert "Aug 31, 2027" in outside.get_json()["error"]["fields"]["slots[0].starts_at"]
    assert api(client, "POST", url, mentor, {"slots": []}).get_json()["error"]["fields"].keys() == {"slots"}

    created = api(client, "POST", url, mentor, {"slots": [
        {"starts_at": "2027-03-16T13:00:00-04:00", "duration_minutes": 30, "topic": "Kick-off"},
        {"starts_at": "2027-03-17T13:00:00-04:00"},
    ]})
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert [s["starts_at"] for s in body["slots"]] == ["2027-03-16T17:00:00Z", "2027-03-17T17:00:00Z"]
    assert body["slots"][0]["local_starts_at"] == "2027-03-16T13:00:00-04:00" and body["time_zone"] == \
        "America/New_York"
    seen_by_mentee = api(client, "GET", url, mentee).get_json()["proposals"][0]
    assert seen_by_mentee["slots"][0]["local_starts_at"] == "2027-03-16T18:00:00+01:00"
    assert api(client, "POST", url, mentee, {"slots": [{"starts_at": "2027-03-18T17:00:00Z"}]}).status_code == 409

    pick_url = f"{url}/{body['id']}/pick"
    assert api(client, "POST", pick_url, mentee, {"slot": "first"}).get_json()["error"]["fields"].keys() == {"slot"}
    assert api(client, "POST", pick_url, mentee, {"slot": 999999}).status_code == 422
    assert api(client, "POST", pick_url, mentor, {"slot": body["slots"][0]["id"]}).status_code == 403
    meeting = api(client, "POST", pick_url, mentee, {"slot": body["slots"][0]["id"]})
    assert meeting.status_code == 201
    assert (meeting.get_json()["starts_at"], meeting.get_json()["duration_minutes"]) == ("2027-03-16T17:00:00Z", 30)
    assert api(client, "POST", pick_url, mentee, {"slot": body["slots"][1]["id"]}).status_code == 409
    done = api(client, "GET", f"{url}/{body['id']}", mentor).get_json()
    assert done["status"] == "picked" and done["meeting_id"] == meeting.get_json()["id"]
    assert [s["status"] for s in done["slots"]] == ["picked", "lapsed"]

    again = api(client, "POST", url, mentee, {"slots": [{"starts_at": "2027-03-18T17:00:00Z"}]}).get_json()
    declined = api(client, "POST", f"{url}/{again['id']}/decline", mentor, {"note": "Later that week?"})
    assert declined.status_code == 200 and declined.get_json()["status"] == "declined"
    third = api(client, "POST", url, mentee, {"slots": [{"starts_at": "2027-03-19T17:00:00Z"}]}).get_json()
    assert api(client, "POST", f"{url}/{third['id']}/withdraw", mentee).get_json()["status"] == "withdrawn"

    manager, outsider = make_user(is_manager=True), make_user()
    listed = api(client, "GET", url, manager)
    assert listed.status_code == 200 and len(listed.get_json()["proposals"]) == 3
    assert all(p["note"] is None for p in listed.get_json()["proposals"])  # the partners' notes stay theirs
    assert api(client, "POST", url, manager, {"slots": [{"starts_at": "2027-03-19T17:00:00Z"}]}).status_code == 403
    assert api(client, "GET", url, outsider).status_code == 404
    assert api(client, "GET", f"{url}/{body['id']}", outsider).status_code == 404


def test_the_api_reads_and_replaces_the_callers_windows(app, client):
    person = make_user()
    person.time_zone = "Asia/Tokyo"
    db.session.commit()
    url = "/me/availability"
    assert api(client, "GET", url, person).get_json() == {"time_zone": "Asia/Tokyo", "windows": []}
    stored = api(client, "PUT", url, person, {"windows": [{"weekday": "tuesday", "starts": "18:00", "ends": "20:00"},
                                                          {"weekday": "friday", "starts": "22:00", "ends": "24:00"}]})
    assert stored.status_code == 200
    assert [(w["weekday"], w["starts"], w["ends"]) for w in stored.get_json()["windows"]] == [
        ("tuesday", "18:00", "20:00"), ("friday", "22:00", "24:00")]
    wrong = api(client, "PUT", url, person, {"windows": [{"weekday": "someday", "starts": "25:00", "ends": "x"}]})
    assert wrong.status_code == 422
    assert set(wrong.get_json()["error"]["fields"]) == {"windows[0].weekday", "windows[0].starts"}
    overlap = api(client, "PUT", url, person, {"windows": [{"weekday": "monday", "starts": "09:00", "ends": "11:00"},
                                                           {"weekday": "monday", "starts": "10:00", "ends": "12:00"}]})
    assert overlap.status_code == 422 and "windows[1].starts" in overlap.get_json()["error"]["fields"]
    assert len(api(client, "GET", url, person).get_json()["windows"]) == 2  # a refused PUT changes nothing


# --- two answers at once -------------------------------------------------------------------------------


def _race(app, work, count: int = 2) -> list[object]:
    """Run `work(index)` in `count` threads released together; each result or error code, in any order."""

    def attempt(index: int) -> object:
        with app.test_request_context():
            try:
                return work(index)
            except SchedulingError as problem:
                return problem.code
            finally:
                db.session.remove()

    return at_once(attempt, count)


def test_picking_twice_at_once_plans_exactly_one_meeting(app, tandem):
    proposal = propose(tandem, tandem.mentor_user, "2027-03-16T17:00:00Z", "2027-03-17T17:00:00Z")
    ids = (tandem.id, proposal.id, tandem.mentee_user_id, [slot.id for slot in proposal.slots])

    def pick(index: int) -> str:
        tandem_row, mentee = db.session.get(Tandem, ids[0]), db.session.get(User, ids[2])
        return scheduling.pick(tandem_row, ids[1], mentee, ids[3][index]).status  # two tabs, two different times

    assert sorted(map(str, _race(app, pick))) == ["already_answered", "planned"]
    assert db.session.query(Meeting).count() == 1
    assert db.session.scalars(select(ProposalSlot.status).order_by(ProposalSlot.id)).all().count("picked") == 1
    assert len([m for m in db.session.scalars(select(OutgoingEmail)) if m.ics]) == 2  # one invite each


def test_two_partners_proposing_at_once_leave_one_open_proposal(app, tandem):
    ids = (tandem.id, tandem.mentor_user_id, tandem.mentee_user_id)

    def offer(index: int) -> str:
        tandem_row, person = db.session.get(Tandem, ids[0]), db.session.get(User, ids[1 + index])
        return scheduling.propose(tandem_row, person, [SlotInput(at(f"2027-03-1{6 + index}T17:00:00Z"))]).status

    assert sorted(_race(app, offer)) == ["open", "proposal_open"]
    assert db.session.query(MeetingProposal).count() == 1


# --- did it happen? and privacy ----------------------------------------------------------------------


def test_a_meeting_from_a_picked_time_is_reminded_asked_about_and_counted_when_held(app, tandem, clock):
    mentor, mentee = tandem.mentor_user, tandem.mentee
    proposal = propose(tandem, mentor, "2027-03-16T17:00:00Z")
    meeting = scheduling.pick(tandem, proposal.id, mentee, proposal.slots[0].id)
    clock.moment = datetime(2027, 3, 16, 9, 0, tzinfo=UTC)
    assert meetings.send_reminders() == 1
    assert db.session.query(Notification).filter_by(kind="meeting_reminder").count() == 2
    clock.moment = datetime(2027, 3, 16, 18, 5, tzinfo=UTC)
    assert meetings.ask_outcomes() == 1
    assert {n.user_id for n in db.session.query(Notification).filter_by(kind="meeting_outcome")} == {mentor.id,
                                                                                                     mentee.id}
    meetings.record_outcome(tandem, meeting.id, mentee, "held")
    assert meetings.progress(tandem, date(2027, 3, 17)).held == 1


def test_the_data_export_and_account_deletion_cover_windows_and_proposals(tandem):
    mentor, mentee = tandem.mentor_user, tandem.mentee
    window(mentor, TUESDAY, "12:00", "14:00")
    window(mentee, TUESDAY, "18:00", "21:00")
    first = propose(tandem, mentor, "2027-03-16T17:00:00Z", topic="Kick-off")
    scheduling.decline(tandem, first.id, mentee, "Mornings, please.")
    open_one = propose(tandem, mentee, "2027-03-17T08:00:00Z")

    exported = privacy.export_user_data(mentee)
    assert exported["availability_windows"] == [{"weekday": "tuesday", "starts": "18:00", "ends": "21:00",
                                                 "time_zone": "Europe/Berlin"}]
    assert [(p["status"], p["proposed_by_me"]) for p in exported["meeting_proposals"]] == [("declined", False),
                                                                                           ("open", True)]
    assert exported["meeting_proposals"][0]["answered_by_me"] is True
    assert exported["meeting_proposals"][0]["note"] == "Mornings, please."
    assert exported["meeting_proposals"][0]["times"][0]["topic"] == "Kick-off"

    privacy.delete_account(mentee)
    db.session.expire_all()
    assert db.session.query(AvailabilityWindow).filter_by(user_id=mentor.id).count() == 1
    assert db.session.query(AvailabilityWindow).count() == 1
    assert db.session.get(MeetingProposal, open_one.id) is None  # what she proposed goes
    kept = db.session.get(MeetingProposal, first.id)
    assert (kept.note, kept.responder_id) == ("", None)  # her note on the mentor's proposal too


def test_a_proposal_to_a_person_who_leaves_is_withdrawn(tandem):
    proposal = propose(tandem, tandem.mentor_user, "2027-03-16T17:00:00Z")
    privacy.delete_account(tandem.mentee)
    db.session.expire_all()
    assert proposal.status == "withdrawn" and [slot.status for slot in proposal.slots] == ["lapsed"]
