"""The whole cycle as a new community manager would try it (issue 4, "Done means")."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

from sqlalchemy import select

from marketplace.extensions import db
from marketplace.models import Cohort, Tandem, User
from marketplace.services import accounts
from marketplace.services.cohorts import review
from marketplace.services.matching import rules
from tests.builders import DEFAULT_PASSWORD, make_user, publish_from_page
from tests.marketplace.test_cohorts import csv_file

SUBJECTS = [
    ("artificial-intelligence", "Generative AI at work", "ChatGPT, prompts and machine learning for daily work."),
    ("social-media", "Social media for brands", "Instagram, TikTok and LinkedIn posting routines."),
    ("new-work", "New Work and Gen Z", "What young professionals expect from leaders and workplaces."),
    ("error-culture", "A healthy error culture", "Talking openly about mistakes and learning from them."),
    ("big-data", "Data for decisions", "Dashboards, data literacy and big data without the buzzwords."),
]


def forty_people() -> list[list[str]]:
    rows = []
    for i in range(20):
        slug, headline, text = SUBJECTS[i % len(SUBJECTS)]
        rows.append([f"mentor{i}@young{i}.example", f"Mentor {i}", "mentor", f"Young Company {i}",
                     f"I explain: {headline}", text, slug, "de;en", "1", ""])
        rows.append([f"exec{i}@old{i}.example", f"Executive {i}", "mentee", f"Old Company {i}",
                     f"Learn about {headline.lower()}", f"I want to understand this: {text}", slug, "de;en", "", ""])
    return rows


def sign_in(client, user: User, password: str = DEFAULT_PASSWORD) -> None:
    client.post("/auth/logout")
    assert client.post("/auth/login", data={"email": user.email, "password": password}).status_code == 302


def test_create_import_match_swap_publish_meet_close_survey_report(app, client):
    manager = make_user(is_manager=True, company="Tandem e.V.")
    sign_in(client, manager)
    start = date.today() - timedelta(days=40)
    created = client.post("/cohorts/new", data={"name": "Rhineland 2027", "starts_on": start.isoformat(),
                                                "ends_on": (start + timedelta(days=182)).isoformat(),
                                                "meeting_target": "6"})
    assert created.status_code == 302
    cohort = db.session.scalars(select(Cohort)).one()

    preview = client.post(f"/cohorts/{cohort.id}/import", content_type="multipart/form-data",
                          data={"file": (io.BytesIO(csv_file(forty_people())), "people.csv")}, follow_redirects=True)
    page = preview.get_data(as_text=True)
    assert page.count('badge success">create') == 40
    token = page.split('id="token" name="token" type="hidden" value="')[1].split('"')[0]
    assert client.post(f"/cohorts/{cohort.id}/import/confirm", data={"token": token},
                       follow_redirects=True).status_code == 200

    client.post(f"/cohorts/{cohort.id}/match")
    db.session.expire_all()
    drafts = review.drafts(cohort)
    assert len(drafts) == 20 and cohort.state == "matching"
    by_topic = {d.goal.topics[0].slug == d.mentor.topics[0].slug for d in drafts}
    assert by_topic == {True}  # every executive got a mentor on their own subject

    first, second = drafts[0], drafts[1]
    swapped = client.post(f"/cohorts/{cohort.id}/drafts/swap", data={"first": first.id, "second": second.id},
                          follow_redirects=True).get_data(as_text=True)
    assert "Mentors swapped." in swapped and "lowest" in swapped

    assert "20 tandems published" in publish_from_page(client, cohort.id).get_data(
        as_text=True)
    tandems = list(db.session.scalars(select(Tandem).where(Tandem.cohort_id == cohort.id)))
    context = rules.rule_context()
    for tandem in tandems:
        assert tandem.status == "active"
        context.existing_pairs.discard((tandem.mentor_user_id, tandem.mentee_user_id))
        assert rules.pair_violations(rules.mentor_facts([tandem.mentor])[0], rules.mentee_facts(tandem.goal),
                                     context, check_capacity=False) == []

    # Partners set a password from their invitation (here: directly) and log meetings.
    for tandem in tandems[:6]:
        mentee = tandem.mentee
        accounts.set_password(mentee, DEFAULT_PASSWORD)
        db.session.commit()
        sign_in(client, mentee)
        assert "Kick-off checklist" in client.get("/dashboard").get_data(as_text=True)
        assert f"/cohorts/tandems/{tandem.id}" in client.get(f"/cohorts/{cohort.id}").get_data(as_text=True)
        assert "Rhineland 2027" in client.get("/cohorts/").get_data(as_text=True)
        logged = client.post(f"/cohorts/tandems/{tandem.id}/meetings", data={
            "status": "held", "starts_at": f"{date.today() - timedelta(days=7)}T18:00", "duration_minutes": "60",
            "topic": "Kick-off", "private_note": ""})
        assert logged.status_code == 302

    sign_in(client, manager)
    behind = client.get(f"/cohorts/{cohort.id}/progress?show=behind").get_data(as_text=True)
    assert behind.count("behind:") == 14
    closed = client.post(f"/cohorts/{cohort.id}/state/close", follow_redirects=True).get_data(as_text=True)
    assert "Closed" in closed

    for tandem in tandems[:6]:
        sign_in(client, tandem.mentee)
        assert "Answer the survey" in client.get("/cohorts/").get_data(as_text=True)
        assert client.post(f"/cohorts/{cohort.id}/survey", data={"satisfaction": "5", "recommend": "9",
                                                                 "improve": "More events"}).status_code == 302

    sign_in(client, manager)
    report = client.get(f"/cohorts/{cohort.id}/report").get_data(as_text=True)
    assert re.search(r"100\s?%", report) and "6 / 120" in report and "6 of 40 participants answered" in report
    for name in ("meetings", "scores", "satisfaction"):
        assert b"<svg" in client.get(f"/cohorts/{cohort.id}/charts/{name}.svg").data
