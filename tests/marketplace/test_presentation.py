"""What people read on the pages: names with titles, one score scale, language names, plurals, German text."""

from __future__ import annotations

import re

import pytest
from babel.dates import format_date as babel_date

from marketplace.names import first_name, split_title
from marketplace.services import accounts, emails
from marketplace.services.cohorts import review
from tests.builders import make_goal, make_mentor, make_user
from tests.marketplace.test_api import bearer
from tests.marketplace.test_auth import registration
from tests.marketplace.test_cohort_matching import AI, AI_GOAL, matching_cohort
from tests.marketplace.test_cohort_report import running  # noqa: F401 (a fixture, used by name)
from tests.marketplace.test_cohorts import make_cohort

# --- names: a leading title is not a first name ---------------------------------------------------


@pytest.mark.parametrize(("name", "title", "first"), [
    ("Dr. Karl Hansekauf", "Dr.", "Karl"),
    ("Prof. Dr. Karl Hansekauf", "Prof. Dr.", "Karl"),
    ("Dipl.-Ing. Anna Meier", "Dipl.-Ing.", "Anna"),
    ("Dr.-Ing. Jens Ott", "Dr.-Ing.", "Jens"),
    ("Mag. Eva Gruber", "Mag.", "Eva"),
    ("Ing. Petr Novák", "Ing.", "Petr"),
    ("Frau Dr. med. Ute Kern", "Frau Dr. med.", "Ute"),
    ("Mrs Jane Doe", "Mrs", "Jane"),
    ("Herr Karl", "Herr", "Karl"),
    ("Drake Bell", "", "Drake"),  # a name that merely starts like a title
    ("Magnus Carlsen", "", "Magnus"),
    ("Dr.", "", "Dr."),  # nothing but a title: greet with what there is
])
def test_a_leading_title_is_kept_apart_from_the_first_name(name, title, first):
    assert split_title(name)[0] == title
    assert first_name(name) == first


def test_greetings_use_the_first_name_and_lists_the_full_name(client, app):
    response = client.post("/auth/register", data=registration(name="Dr. Karl Hansekauf", language="en"),
                           follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Welcome to Tandem, Karl! Your account is ready." in page
    assert "Hello, Karl" in page and "Dr.!" not in page

    user = accounts.find_user_by_email("ada@example.com")
    assert user.name == "Dr. Karl Hansekauf"
    client.post("/language", data={"language": "de", "next": "/dashboard"})
    assert "Hallo Karl" in client.get("/dashboard").get_data(as_text=True)
    assert "Dr. Karl Hansekauf" in client.get("/auth/account").get_data(as_text=True)

    mail = emails.send_password_reset(user)
    assert "Karl" in mail.body and "Dr.," not in mail.body


def test_the_api_keeps_the_name_as_entered(client, app):
    owner = make_user(name="Prof. Dr. Karl Hansekauf")
    goal = make_goal(owner=owner)
    body = client.get(f"/api/v1/goals/{goal.id}", headers=bearer(owner)).get_json()
    assert body["owner"]["name"] == "Prof. Dr. Karl Hansekauf"


# --- one scale for scores, language names, plurals ------------------------------------------------


def german(client):
    """Switch the interface to German, as the header's language button does."""
    client.post("/language", data={"language": "de", "next": "/"})
    return client


@pytest.fixture
def matched(app):
    """A cohort in matching: one mentor (German and English), two executives on AI, so one stays unmatched."""
    mentor = make_mentor(company="Young A", languages="de,en", **AI)
    goals = [make_goal(company=f"Old {i}", languages="de", **AI_GOAL) for i in range(2)]
    return matching_cohort([mentor], goals)


def test_scores_read_match_percent_and_the_run_counts_in_correct_plurals(matched, client, login_as):
    login_as(make_user(is_manager=True, company="Tandem e.V."))
    flash = client.post(f"/cohorts/{matched.id}/match", follow_redirects=True).get_data(as_text=True)
    assert "1 draft tandem proposed; 1 person is unmatched." in flash
    (draft,) = review.drafts(matched)
    percent = round(draft.score * 100)

    page = client.get(f"/cohorts/{matched.id}/matching").get_data(as_text=True)
    assert f"Match {percent}%" in page and f"{draft.score:.2f}" not in page
    assert "Shared languages: German" in page  # a name, not the code "de"
    assert "Publish 1 tandem<" in page
    # The badge beside "Unmatched" counts the rows listed under it.
    unmatched = re.search(r'Unmatched <span class="badge neutral">(\d+)</span>', page)
    assert unmatched and int(unmatched.group(1)) == page.count('<td data-label="Role">Mentee</td>') == 1

    german(client)
    page = client.get(f"/cohorts/{matched.id}/matching").get_data(as_text=True)
    assert f"Passung {percent}\N{NO-BREAK SPACE}%" in page and f"{draft.score:.2f}".replace(".", ",") not in page


def test_report_charts_and_tables_follow_the_interface_language(running, client, login_as):  # noqa: F811
    cohort, _ = running
    month = cohort.starts_on.replace(day=1)
    iso, in_english, in_german = (f"{month:%Y-%m}", babel_date(month, "MMM yyyy", locale="en"),
                                  babel_date(month, "MMM yyyy", locale="de"))
    login_as(make_user(is_manager=True, company="Tandem e.V."))
    english = client.get(f"/cohorts/{cohort.id}/report").get_data(as_text=True)
    assert f"<td>{in_english}</td>" in english and f"<td>{iso}</td>" not in english
    assert "<td>60–70%</td>" in english and "Match 70%" not in english  # stat tiles: the bare percentage
    chart = client.get(f"/cohorts/{cohort.id}/charts/meetings.svg?lang=en").get_data(as_text=True)
    assert "Meetings held per month" in chart and in_english in chart

    german(client)
    page = client.get(f"/cohorts/{cohort.id}/report").get_data(as_text=True)
    assert f'src="/cohorts/{cohort.id}/charts/meetings.svg?lang=de"' in page  # cached apart from the English one
    assert f"<td>{in_german}</td>" in page and "<td>60–70\N{NO-BREAK SPACE}%</td>" in page
    meetings = client.get(f"/cohorts/{cohort.id}/charts/meetings.svg?lang=de").get_data(as_text=True)
    assert "Stattgefundene Treffen pro Monat" in meetings and in_german in meetings
    assert "Meetings held" not in meetings
    scores = client.get(f"/cohorts/{cohort.id}/charts/scores.svg?lang=de").get_data(as_text=True)
    assert "Passung (0–100 %)" in scores and "score from" not in scores and "60–70\N{NO-BREAK SPACE}%" in scores
    # Responsive: the SVG scales to its box (viewBox), and the page's stylesheet lets it shrink to the screen.
    assert re.search(r'viewBox="0 0 [\d.]+ [\d.]+"', meetings) and 'class="chart"' in page


def test_a_meetings_chart_without_meetings_says_so_instead_of_numbering_an_empty_axis(client, login_as):
    cohort = make_cohort(name="Just started", state="running")
    login_as(make_user(is_manager=True, company="Tandem e.V."))
    german(client)
    chart = client.get(f"/cohorts/{cohort.id}/charts/meetings.svg?lang=de").get_data(as_text=True)
    assert "Noch keine Treffen." in chart and "0.02" not in chart and "0,02" not in chart


def test_form_and_library_messages_speak_german(client, app):
    german(client)
    empty = client.post("/auth/register", data=registration(name="", language=""))
    assert "Bitte füllen Sie dieses Feld aus." in empty.get_data(as_text=True)
    too_long = client.post("/auth/register", data=registration(name="x" * 121, language=""))
    assert "Bitte verwenden Sie höchstens 120 Zeichen." in too_long.get_data(as_text=True)
    assert "Dieses Feld wird benötigt" not in empty.get_data(as_text=True)  # WTForms' own German is not used
    login = client.get("/dashboard", follow_redirects=True).get_data(as_text=True)
    assert "Bitte melden Sie sich an, um diese Seite zu sehen." in login

    english = app.test_client()
    page = english.post("/auth/register", data=registration(name="")).get_data(as_text=True)
    assert "This field is required." in page


def test_cohort_date_errors_show_dates_as_people_write_them(client, login_as, app):
    login_as(make_user(is_manager=True, company="Tandem e.V."))
    german(client)
    page = client.post("/cohorts/new", data={"name": "Frühjahr", "starts_on": "2027-03-01", "ends_on": "2027-03-10",
                                            "meeting_target": "6"}).get_data(as_text=True)
    assert "01.06.2027" in page and "2027-06-01" not in page
