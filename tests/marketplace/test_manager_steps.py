"""A community manager's steps (issue 13, points 10-12): irreversible actions ask first, applications are
decided in bulk, weak pairs are flagged, and the exports open in a spreadsheet as text in the reader's language."""

from __future__ import annotations

import io
import re

from openpyxl import load_workbook
from sqlalchemy import select

from marketplace.extensions import db
from marketplace.models import CohortParticipant, Meeting, Tandem
from marketplace.services.matching import search as matching
from tests.builders import make_goal, make_mentor, make_user, publish_from_page
from tests.marketplace.test_cohort_report import HOSTILE_TITLE, running  # noqa: F401 - a fixture
from tests.marketplace.test_cohorts import enrol, make_cohort

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)|\son[a-z]+=", re.IGNORECASE)


def confirmation(client, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, path
    html = page.get_data(as_text=True)
    assert f'method="post" action="{path}"' in html and not INLINE_SCRIPT.search(html)
    return html


# --- point 10: irreversible actions ask first -----------------------------------------------------


def test_closing_a_cohort_first_says_how_many_tandems_end_below_their_target(running, client, login_as):  # noqa: F811
    cohort, tandems = running
    login_as(make_user(is_manager=True))
    detail = client.get(f"/cohorts/{cohort.id}").get_data(as_text=True)
    assert f'href="/cohorts/{cohort.id}/state/close"' in detail
    assert f'action="/cohorts/{cohort.id}/state/close"' not in detail  # no one-click close any more

    page = confirmation(client, f"/cohorts/{cohort.id}/state/close")
    assert "2 running tandems are marked completed now." in page
    assert "2 of them held fewer meetings than the target of 4." in page
    db.session.expire_all()
    assert cohort.state == "running" and {t.status for t in tandems} == {"active"}

    assert client.post(f"/cohorts/{cohort.id}/state/close").status_code == 302
    db.session.expire_all()
    assert cohort.state == "closed" and {t.status for t in tandems} == {"completed"}


def test_publishing_first_says_how_many_tandems_start_and_how_many_are_weak(app, client, login_as):
    cohort = make_cohort(state="matching")
    for score in (0.9, matching.RELEVANCE_FLOOR - 0.1):
        mentor, goal = make_mentor(), make_goal()
        enrol(cohort, mentor.user, "mentor")
        enrol(cohort, goal.owner, "mentee", goal)
        db.session.add(Tandem(goal=goal, mentor=mentor, mentee_user_id=goal.owner_id, mentor_user_id=mentor.user_id,
                              cohort_id=cohort.id, status="draft", score=score))
    db.session.commit()
    login_as(make_user(is_manager=True))

    review = client.get(f"/cohorts/{cohort.id}/matching").get_data(as_text=True)
    assert review.count('class="badge warning weak-match"') == 1 and "1 pair is marked “weak match”" in review
    assert f'action="/cohorts/{cohort.id}/publish"' not in review

    page = confirmation(client, f"/cohorts/{cohort.id}/publish")
    assert "2 draft tandems start now" in page and "1 of them is a weak match" in page
    assert {t.status for t in db.session.scalars(select(Tandem))} == {"draft"}
    assert "2 tandems published" in publish_from_page(client, cohort.id).get_data(
        as_text=True)


def test_ending_a_tandem_asks_first_with_the_meetings_held(running, client, login_as):  # noqa: F811
    _, tandems = running
    tandem = tandems[0]
    login_as(tandem.mentee)
    detail = client.get(f"/tandems/{tandem.id}").get_data(as_text=True)
    assert f'href="/tandems/{tandem.id}/end"' in detail and f'action="/tandems/{tandem.id}/end"' not in detail
    page = confirmation(client, f"/tandems/{tandem.id}/end")
    assert "You held 2 of 4 meetings." in page and 'name="reason"' in page

    unexplained = client.post(f"/tandems/{tandem.id}/end", data={"reason": ""})
    assert unexplained.status_code == 400 and "field-error" in unexplained.get_data(as_text=True)
    assert client.post(f"/tandems/{tandem.id}/end", data={"reason": "We moved on."}).status_code == 302
    db.session.expire_all()
    assert tandem.status == "ended"


def test_deleting_a_meeting_asks_first(running, client, login_as):  # noqa: F811
    _, tandems = running
    tandem = tandems[0]
    meeting = db.session.scalars(select(Meeting).where(Meeting.tandem_id == tandem.id,
                                                       Meeting.author_id == tandem.mentee_user_id)
                                 .order_by(Meeting.held_on.desc())).first()
    login_as(tandem.mentee)
    path = f"/cohorts/tandems/{tandem.id}/meetings/{meeting.id}/delete"
    assert f'href="{path}"' in client.get(f"/cohorts/tandems/{tandem.id}").get_data(as_text=True)
    page = confirmation(client, path)
    assert "Your tandem then counts 1 of 4 meetings." in page  # two days held, one of them goes
    assert db.session.get(Meeting, meeting.id) is not None
    client.post(path)
    db.session.expire_all()
    assert db.session.get(Meeting, meeting.id) is None
    login_as(tandem.mentor_user)
    assert client.get(path).status_code == 404  # not the author


# --- point 11: applications --------------------------------------------------------------------------


def test_applications_are_accepted_in_bulk_and_matched_people_cannot_be_waitlisted(app, client, login_as):
    cohort = make_cohort(state="enrolling")
    applied = [enrol(cohort, make_mentor().user, "mentor", status="applied") for _ in range(3)]
    mentor, goal = make_mentor(), make_goal()
    matched = [enrol(cohort, mentor.user, "mentor"), enrol(cohort, goal.owner, "mentee", goal)]
    db.session.add(Tandem(goal=goal, mentor=mentor, mentee_user_id=goal.owner_id, mentor_user_id=mentor.user_id,
                          cohort_id=cohort.id, status="draft", score=0.7))
    db.session.commit()
    login_as(make_user(is_manager=True))

    page = client.get(f"/cohorts/{cohort.id}").get_data(as_text=True)
    for participant in matched:
        form = page.split(f"/participants/{participant.id}/decision")[1].split("</form>")[0]
        assert 'value="waitlisted"' not in form and 'value="rejected"' not in form
    assert page.count('form="bulk-accept"') == 3

    done = client.post(f"/cohorts/{cohort.id}/participants/accept",
                       data={"participant": [applied[0].id, applied[2].id]}, follow_redirects=True)
    assert "2 applications accepted." in done.get_data(as_text=True)
    statuses = {p.id: p.status for p in db.session.scalars(select(CohortParticipant))}
    assert [statuses[p.id] for p in applied] == ["accepted", "applied", "accepted"]


# --- point 12: exports people can open ------------------------------------------------------------


def test_the_xlsx_export_has_tandems_progress_and_report_in_german_and_text_never_a_formula(
        running, client, login_as):  # noqa: F811
    cohort, tandems = running
    tandems[0].goal.title = HOSTILE_TITLE
    tandems[1].mentee.name = "-2+3"
    db.session.commit()
    login_as(make_user(is_manager=True))
    response = client.get(f"/cohorts/{cohort.id}/cohort.xlsx", headers={"Accept-Language": "de"})
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["Tandems", "Fortschritt", "Bericht"]
    sheet = book["Tandems"]
    header = [cell.value for cell in sheet[1]]
    assert header[:2] == ["Tandem", "Mentor:in"] and "Treffen gehalten" in header
    goals = {cell.value: cell.data_type for cell in sheet["F"][1:]}
    assert goals["'" + HOSTILE_TITLE] == "s"  # a string cell, with the harmless prefix
    mentees = [cell.value for cell in sheet["D"][1:]]
    assert "'-2+3" in mentees
    held = [cell.value for cell in sheet["I"][1:]]
    assert sorted(held) == [0, 2]  # numbers stay numbers
    assert [cell.value for cell in book["Fortschritt"][1]][3] == "Treffen gehalten"
    assert book["Bericht"].max_row > 5
