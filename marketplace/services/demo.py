"""The demo data set behind `flask seed-demo`: realistic, bilingual, and safe to load twice."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import select

from ..extensions import db
from ..models import Cohort, User
from ..states import CohortState
from . import accounts, companies, setup
from .cohorts import imports

DEMO_FILE = Path(__file__).resolve().parent.parent / "data" / "demo.json"
DEMO_PASSWORD = "tandem-demo-password"
MANAGER_EMAIL = "manager@tandem.example"


def _demo() -> dict:
    return json.loads(DEMO_FILE.read_text(encoding="utf-8"))


def _logins(data: dict) -> dict[str, str]:
    return {
        "community manager": MANAGER_EMAIL,
        "mentor": data["mentors"][0]["email"],
        "mentee (executive)": data["goals"][0]["email"],
    }


DEMO_LOGINS = _logins(_demo()) if DEMO_FILE.exists() else {}


def _as_csv(data: dict) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(imports.COLUMNS)
    for m in data["mentors"]:
        writer.writerow([m["email"], m["name"], "mentor", m["company"], m["headline"], m["text"],
                         ";".join(m["topics"]), ";".join(m["languages"]), m.get("capacity", 1),
                         ";".join(m.get("exclude_companies", []))])
    for g in data["goals"]:
        writer.writerow([g["email"], g["name"], "mentee", g["company"], g["title"], g["description"],
                         ";".join(g["topics"]), ";".join(g["languages"]), "",
                         ";".join(g.get("exclude_companies", []))])
    return out.getvalue().encode("utf-8")


def seed_demo() -> dict:
    """Create or refresh the demo companies, people, goals and cohort; answers what is there."""
    setup.initialise_database()
    data = _demo()
    for entry in data["companies"]:
        company = companies.get_or_create_company(entry["name"])
        companies.set_domains(company, entry.get("domains", []))
    db.session.flush()
    for entry in data["companies"]:
        company = companies.find_company(entry["name"])
        for rival in entry.get("competitors", []):
            companies.link_competitors(company, companies.get_or_create_company(rival))
    db.session.commit()

    result = imports.import_participants(_as_csv(data), invite=False)
    if not result.ok:
        raise RuntimeError("demo data is invalid: " + "; ".join(f"row {p.row}: {p.message}" for p in result.errors))

    by_email = {m["email"]: m for m in data["mentors"]}
    for user in db.session.scalars(select(User).where(User.email.in_(list(by_email)))):
        extra = by_email[user.email]
        profile = user.mentor_profile
        profile.meetings_per_month = extra.get("meetings_per_month", 1)
        profile.meeting_format = extra.get("format", "remote")
        profile.city = extra.get("city")
    emails = [m["email"] for m in data["mentors"]] + [g["email"] for g in data["goals"]]
    for user in db.session.scalars(select(User).where(User.email.in_(emails))):
        if not user.password_hash:
            user.password_hash = accounts.hash_password(DEMO_PASSWORD)
    if accounts.find_user_by_email(MANAGER_EMAIL) is None:
        accounts.create_user(MANAGER_EMAIL, "Maren Community", DEMO_PASSWORD, is_manager=True)

    cohort_data = data["cohort"]
    cohort = db.session.scalar(select(Cohort).where(Cohort.name == cohort_data["name"]))
    if cohort is None:
        start = date.today() + timedelta(days=30)
        cohort = Cohort(name=cohort_data["name"], description=cohort_data.get("description", ""),
                        starts_on=start, ends_on=start + timedelta(days=182),
                        meeting_target=cohort_data.get("meeting_target", 6), enrolment_open=True,
                        state=CohortState.ENROLLING)
        from . import topics

        cohort.focus_topics = topics.resolve_topics(cohort_data.get("focus_topics", []))
        db.session.add(cohort)
    db.session.commit()
    return {
        "companies": len(data["companies"]),
        "mentors": len(data["mentors"]),
        "goals": len(data["goals"]),
        "cohort": cohort.name,
    }
