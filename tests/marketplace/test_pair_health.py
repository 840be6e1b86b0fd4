"""Pair health: on track, needs a check-in or at risk, with the reasons, on the progress page (sorted by risk,
English and German) and in the API (codes, managers only); the manager's nudge mails both partners once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from marketplace.extensions import db
from marketplace.models import Meeting, OutgoingEmail, PulseCheck
from marketplace.services import health
from tests.builders import Clock, make_cohort_tandem, make_meeting, make_user, set_clock
from tests.marketplace.test_cohorts import bearer, make_cohort

START, END = date(2027, 3, 1), date(2027, 8, 31)  # six meetings over 183 days: one a month
NOW = datetime(2027, 5, 10, 9, 0, tzinfo=UTC)  # 70 days in: about 2.3 meetings expected


@pytest.fixture
def clock(app) -> Clock:
    return set_clock(app, NOW)


@pytest.fixture
def cohort(app, clock):
    return make_cohort(state="running", target=6, starts_on=START, ends_on=END)


def held(tandem, *days: date, status: str = "held") -> None:
    for day in days:
        make_meeting(tandem, day, status=status, created_at=datetime.combine(day, datetime.min.time(), tzinfo=UTC))
    db.session.commit()


def answer(tandem, user, usefulness: int, collaboration: int = 4) -> None:
    db.session.add(PulseCheck(tandem_id=tandem.id, user_id=user.id, role="mentee", occasion="day-30",
                              answered_at=NOW - timedelta(days=3), usefulness=usefulness,
                              collaboration=collaboration))
    db.session.commit()


@pytest.fixture
def pairs(cohort):
    """Five running tandems, one of each kind, and one that ended (never listed)."""
    fine = make_cohort_tandem(cohort, "Fine")
    held(fine, date(2027, 3, 20), date(2027, 4, 15), date(2027, 5, 5))
    slow = make_cohort_tandem(cohort, "Slow", mentee_locale="de")
    held(slow, date(2027, 5, 1))  # one held, 2.3 expected: one meeting behind
    lost = make_cohort_tandem(cohort, "Lost")
    held(lost, date(2027, 3, 10), date(2027, 3, 24), status="missed")  # nothing held since the start
    unhappy = make_cohort_tandem(cohort, "Unhappy")
    held(unhappy, date(2027, 3, 25), date(2027, 4, 20), date(2027, 5, 8))
    answer(unhappy, unhappy.mentee, usefulness=1)
    ended = make_cohort_tandem(cohort, "Ended", status="ended")
    return {"fine": fine, "slow": slow, "lost": lost, "unhappy": unhappy, "ended": ended}


def test_each_reason_and_its_weight_come_from_the_one_rule(pairs):
    rows = {row.tandem.id: row for row in health.cohort_health(pairs["fine"].cohort)}
    assert pairs["ended"].id not in rows
    assert (rows[pairs["fine"].id].health, rows[pairs["fine"].id].reason_codes) == ("on_track", [])
    assert (rows[pairs["slow"].id].health, rows[pairs["slow"].id].reason_codes) == ("needs_check_in", ["behind_plan"])
    lost = rows[pairs["lost"].id]
    assert lost.health == "at_risk"
    assert sorted(lost.reason_codes) == ["behind_plan", "missed_meetings", "no_activity"]  # 2 missed: at risk too
    assert (rows[pairs["unhappy"].id].health, rows[pairs["unhappy"].id].reason_codes) == ("needs_check_in",
                                                                                          ["low_pulse"])


def test_quiet_weeks_are_configured_once_and_a_planned_meeting_is_activity(app, cohort, clock):
    quiet = make_cohort_tandem(cohort, "Quiet")
    held(quiet, date(2027, 3, 28), date(2027, 4, 5), date(2027, 4, 8))  # three held, ahead of plan
    clock.moment = datetime(2027, 5, 8, tzinfo=UTC)  # 30 days after the last one
    assert health.cohort_health(cohort)[0].reason_codes == ["no_activity"]
    app.config["TANDEM_HEALTH_QUIET_WEEKS"] = 5
    assert health.cohort_health(cohort)[0].health == "on_track"
    app.config["TANDEM_HEALTH_QUIET_WEEKS"] = 4
    make_meeting(quiet, date(2027, 5, 20), status="planned", created_at=datetime(2027, 5, 7, tzinfo=UTC))
    db.session.commit()
    assert health.cohort_health(cohort)[0].health == "on_track"


def test_a_tandem_before_its_cohort_starts_is_listed_and_on_track(app, client, clock):
    later = make_cohort(name="Autumn", state="running", target=6, starts_on=date(2027, 6, 1),
                        ends_on=date(2027, 11, 30))
    tandem = make_cohort_tandem(later, "Early")
    manager = make_user(is_manager=True)
    body = client.get(f"/api/v1/cohorts/{later.id}/health", headers=bearer(manager)).get_json()
    assert body == {"tandems": [{"id": tandem.id, "health": "on_track", "reasons": []}]}


def test_the_api_lists_every_running_tandem_at_risk_first_for_managers_only(client, pairs):
    cohort = pairs["fine"].cohort
    manager, mentee = make_user(is_manager=True), pairs["fine"].mentee
    response = client.get(f"/api/v1/cohorts/{cohort.id}/health", headers=bearer(manager))
    assert response.status_code == 200
    tandems = response.get_json()["tandems"]
    assert [t["id"] for t in tandems] == [pairs[k].id for k in ("lost", "slow", "unhappy", "fine")]
    assert tandems[0]["health"] == "at_risk"
    assert set(tandems[0]["reasons"]) == {"behind_plan", "no_activity", "missed_meetings"}
    refused = client.get(f"/api/v1/cohorts/{cohort.id}/health", headers=bearer(mentee))
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "forbidden"
    assert client.get("/api/v1/cohorts/999999/health", headers=bearer(manager)).status_code == 404
    assert client.get(f"/api/v1/cohorts/{cohort.id}/health").status_code == 401


def _health_rows(page: str) -> list[str]:
    return [chunk.split('"', 1)[0] for chunk in page.split('data-health="')[1:]]


def test_the_progress_page_shows_health_sorted_by_risk_with_reasons_in_english_and_german(client, login_as, pairs):
    cohort = pairs["fine"].cohort
    manager = make_user(is_manager=True)
    login_as(manager)
    page = client.get(f"/cohorts/{cohort.id}/progress").get_data(as_text=True)
    assert _health_rows(page) == ["at_risk", "needs_check_in", "needs_check_in", "on_track"]
    assert page.index("Lost Mentor") < page.index("Slow Mentor") < page.index("Unhappy Mentor") < page.index(
        "Fine Mentor")
    for text in ("At risk", "Needs check-in", "On track", "behind the plan: 1 meeting held, about 2 expected by now",
                 "no activity for 6 weeks", "2 meetings missed", "a low pulse answer"):
        assert text in page, text
    assert "of 5)" not in page
    assert "Ended Mentor" not in page.split('id="pair-health"')[1].split("</table>")[0]
    manager.locale = "de"
    db.session.commit()
    german = client.get(f"/cohorts/{cohort.id}/progress").get_data(as_text=True)
    for text in ("Gefährdet", "Nachfrage nötig", "Läuft gut", "seit 6 Wochen keine Aktivität",
                 "2 Treffen ausgefallen", "hinter dem Plan: 1 Treffen gehalten, bis jetzt etwa 2 erwartet",
                 "eine niedrige Antwort im Stimmungsbild"):
        assert text in german, text
    assert "von 5)" not in german
    behind = german.split("Ein Tandem ist im Rückstand, wenn es sich seit ")[1].split("</p>")[0]
    assert behind.split(" ", 1)[1] == "Tagen nicht getroffen hat.", behind  # "seit 30 Tagen", not "Tage lang"


def test_a_single_low_pulse_answer_never_shows_its_score_before_five_answers(client, login_as, cohort):
    """A 1 and a 2 read the same, on the page and in the API: one low answer must not reveal its score."""
    manager = make_user(is_manager=True)
    answers = {}
    for name, score in (("One", 1), ("Two", 2)):
        tandem = make_cohort_tandem(cohort, name)
        held(tandem, date(2027, 3, 25), date(2027, 4, 20), date(2027, 5, 8))
        answer(tandem, tandem.mentee, usefulness=score)
        answers[tandem.id] = score
    body = client.get(f"/api/v1/cohorts/{cohort.id}/health", headers=bearer(manager)).get_json()
    assert [(t["health"], t["reasons"]) for t in body["tandems"]] == [("needs_check_in", ["low_pulse"])] * 2
    login_as(manager)
    page = client.get(f"/cohorts/{cohort.id}/progress").get_data(as_text=True)
    table = page.split('id="pair-health"')[1].split("</table>")[0]
    assert table.count("a low pulse answer") == 2 and "1 of 5" not in table and "2 of 5" not in table
    assert "At risk" not in table


def nudges_to(tandem) -> list[OutgoingEmail]:
    return list(db.session.scalars(
        select(OutgoingEmail).where(OutgoingEmail.kind == health.NUDGE, OutgoingEmail.object_id == tandem.id)
        .order_by(OutgoingEmail.id)
    ))


def test_a_nudge_mails_both_partners_in_their_language_once_per_click_not_per_double_click(client, login_as, pairs):
    slow = pairs["slow"]
    cohort = slow.cohort
    manager = make_user(name="Mara Manager", is_manager=True)
    login_as(manager)
    url = f"/cohorts/{cohort.id}/tandems/{slow.id}/nudge"
    field = f"tandem-{slow.id}-seen"
    assert "Not nudged yet" in client.get(f"/cohorts/{cohort.id}/progress").get_data(as_text=True)
    first = client.post(url, data={field: "0"})
    assert first.status_code == 302 and first.headers["Location"].endswith(f"#health-{slow.id}")
    client.post(url, data={field: "0"})  # the double click, from the same page
    mails = nudges_to(slow)
    assert sorted(m.recipient for m in mails) == sorted([slow.mentee.email, slow.mentor_user.email])
    by_person = {m.recipient: m for m in mails}
    german, english = by_person[slow.mentee.email], by_person[slow.mentor_user.email]
    assert german.language == "de" and "Ihre Community-Manager:in" in german.subject + german.body
    assert "Mara Manager" in german.body and "Slow Mentor" in german.body
    assert english.language == "en" and "your community manager, asks how your tandem with Slow Mentee" in english.body
    page = client.get(f"/cohorts/{cohort.id}/progress").get_data(as_text=True)
    form = page.split(f'action="/cohorts/{cohort.id}/tandems/{slow.id}/nudge"')[1].split("</td>")[0]
    assert f'name="{field}"' in form and 'type="hidden" value="1"' in form and "Last nudge:" in form
    client.post(url, data={field: "1"})  # a second nudge, from the page that showed the first
    assert len(nudges_to(slow)) == 4
    assert len(nudges_to(pairs["fine"])) == 0


def test_a_nudge_only_reaches_a_running_tandem_of_that_cohort(client, login_as, pairs):
    other = make_cohort(name="Other", state="running", starts_on=START, ends_on=END)
    login_as(make_user(is_manager=True))
    assert client.post(f"/cohorts/{other.id}/tandems/{pairs['slow'].id}/nudge",
                       data={f"tandem-{pairs['slow'].id}-seen": "0"}).status_code == 404
    cohort_id = pairs["ended"].cohort_id
    assert client.post(f"/cohorts/{cohort_id}/tandems/{pairs['ended'].id}/nudge",
                       data={f"tandem-{pairs['ended'].id}-seen": "0"}).status_code == 404
    assert client.post(f"/cohorts/{cohort_id}/tandems/{pairs['slow'].id}/nudge",
                       data={f"tandem-{pairs['slow'].id}-seen": "x"}).status_code == 400
    assert db.session.scalar(select(OutgoingEmail.id).where(OutgoingEmail.kind == health.NUDGE)) is None


def test_a_missed_meeting_alone_asks_for_a_check_in(cohort):
    tandem = make_cohort_tandem(cohort, "Once")
    held(tandem, date(2027, 3, 20), date(2027, 4, 15), date(2027, 5, 5))
    make_meeting(tandem, date(2027, 5, 6), status=Meeting.MISSED, created_at=datetime(2027, 5, 6, tzinfo=UTC))
    db.session.commit()
    row = health.cohort_health(cohort)[0]
    assert (row.health, row.reason_codes) == ("needs_check_in", ["missed_meetings"])
