"""Small builders for test data, so tests say what matters and not how rows are made."""

from __future__ import annotations

import csv
import io
import itertools
import re
from datetime import UTC, datetime, time
from functools import lru_cache

from flask.testing import FlaskClient
from sqlalchemy import select

from marketplace.extensions import db
from marketplace.models import Goal, Meeting, MentorProfile, Topic, User
from marketplace.services import accounts, companies
from marketplace.services.cohorts import imports
from marketplace.services.matching import vectors

DEFAULT_PASSWORD = "correct horse battery staple"
_counter = itertools.count(1)


@lru_cache(maxsize=1)
def _default_password_hash() -> str:
    # scrypt is deliberately slow; hash the shared test password once per run.
    return accounts.hash_password(DEFAULT_PASSWORD)


def make_user(
    email: str | None = None,
    name: str | None = None,
    company: str | None = "Acme AG",
    is_manager: bool = False,
    password: str | None = None,
) -> User:
    n = next(_counter)
    user = User(
        email=(email or f"user{n}@example.com").lower(),
        name=name or f"Test User {n}",
        password_hash=accounts.hash_password(password) if password else _default_password_hash(),
        is_manager=is_manager,
    )
    db.session.add(user)
    if company:
        user.company = companies.get_or_create_company(company)
    db.session.commit()
    return user


def topics(*slugs: str) -> list[Topic]:
    found = list(db.session.scalars(select(Topic).where(Topic.slug.in_(slugs))))
    assert len(found) == len(slugs), f"unknown topic among {slugs}"
    return found


def make_mentor(
    user: User | None = None,
    headline: str = "I help leaders use LinkedIn well",
    text: str = "Personal branding, posting routines and growing a professional network on LinkedIn.",
    topic_slugs: tuple[str, ...] = (),
    languages: str = "en,de",
    capacity: int = 1,
    company: str = "Young Digital GmbH",
    is_open: bool = True,
    meeting_format: str = "remote",
) -> MentorProfile:
    user = user or make_user(company=company)
    with db.session.no_autoflush:
        profile = _new_mentor(user, headline, text, languages, capacity, is_open, meeting_format, topic_slugs)
    db.session.add(profile)
    vectors.refresh_mentor(profile)
    db.session.commit()
    return profile


def _new_mentor(user, headline, text, languages, capacity, is_open, meeting_format, topic_slugs) -> MentorProfile:
    profile = MentorProfile(
        user=user,
        headline=headline,
        teaching_text=text,
        languages=languages,
        capacity=capacity,
        is_open=is_open,
        meeting_format=meeting_format,
    )
    profile.topics = topics(*topic_slugs) if topic_slugs else []
    return profile


def make_goal(
    owner: User | None = None,
    title: str = "Understand what AI means for our business",
    description: str = "I lead a mid-sized company and want to know how generative AI changes our work.",
    topic_slugs: tuple[str, ...] = (),
    languages: str = "en,de",
    company: str = "Old Industry AG",
    discoverable: bool = True,
    excluded: tuple[str, ...] = (),
    status: str = "open",
) -> Goal:
    owner = owner or make_user(company=company)
    excluded_companies = [companies.get_or_create_company(name) for name in excluded]
    with db.session.no_autoflush:
        goal = _new_goal(owner, title, description, languages, discoverable, status, topic_slugs, excluded_companies)
    db.session.add(goal)
    vectors.refresh_goal(goal)
    db.session.commit()
    return goal


def _new_goal(owner, title, description, languages, discoverable, status, topic_slugs, excluded) -> Goal:
    goal = Goal(
        owner=owner,
        title=title,
        description=description,
        languages=languages,
        discoverable=discoverable,
        status=status,
    )
    goal.topics = topics(*topic_slugs) if topic_slugs else []
    goal.excluded_companies = list(excluded)
    return goal


def sign_in(client: FlaskClient, user) -> FlaskClient:
    """Log in through the session cookie, without a login form (for tests that care about other forms)."""
    accounts.begin_login_session(user)  # the server-side record the cookie's id must name
    db.session.commit()
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
        session["_fresh"] = True
    return client


def csrf_token_from(client: FlaskClient, path: str) -> str:
    """The CSRF token a page hands out, as a browser would read it from the form."""
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="[\w-]*csrf_token"[^>]*value="([^"]+)"', page).group(1)


def participants_csv(rows: list[list[str]]) -> str:
    """A participants import file: the header, then the rows (in the column order of imports.COLUMNS)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(imports.COLUMNS)
    writer.writerows(rows)
    return out.getvalue()


def make_meeting(tandem, day, status: str = "held", author=None, minutes: int = 60, **fields) -> Meeting:
    """A meeting row as stored (no checks, no invites); a date means noon UTC on that day."""
    starts_at = day if isinstance(day, datetime) else datetime.combine(day, time(12, 0), tzinfo=UTC)
    meeting = Meeting(tandem=tandem, author_id=author.id if author is not None else None, starts_at=starts_at,
                      held_on=starts_at.astimezone(UTC).date(), minutes=minutes, status=status, **fields)
    db.session.add(meeting)
    return meeting
