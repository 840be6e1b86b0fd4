"""Small builders for test data and shared test helpers, so tests say what matters and not how rows are made."""

from __future__ import annotations

import csv
import io
import itertools
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from marketplace.extensions import db
from marketplace.models import Goal, Meeting, MentorProfile, Tandem, Topic, User, utcnow
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
    return _stored(MentorProfile, topic_slugs, vectors.refresh_mentor, user=user, headline=headline,
                   teaching_text=text, languages=languages, capacity=capacity, is_open=is_open,
                   meeting_format=meeting_format)


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
    return _stored(Goal, topic_slugs, vectors.refresh_goal, owner=owner, title=title, description=description,
                   languages=languages, discoverable=discoverable, status=status,
                   excluded_companies=excluded_companies)


def _stored(model, topic_slugs: tuple[str, ...], refresh, **columns):
    """A mentor profile or goal with its topics, embedded and committed as the app would store it."""
    with db.session.no_autoflush:  # the topic query must not flush the half-built row
        row = model(**columns)
        row.topics = topics(*topic_slugs) if topic_slugs else []
    db.session.add(row)
    refresh(row)
    db.session.commit()
    return row


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


def make_cohort_tandem(cohort, name: str = "Pia", status: str = "active", mentee_locale: str | None = None) -> Tandem:
    """A tandem of the cohort over its dates: a new mentor and mentee named after `name`, each of their own company."""
    mentor = make_mentor(user=make_user(name=f"{name} Mentor", company=f"{name} Young"))
    goal = make_goal(owner=make_user(name=f"{name} Mentee", company=f"{name} Old"), title=f"{name}'s goal")
    goal.owner.locale = mentee_locale
    tandem = Tandem(goal=goal, mentor=mentor, mentee_user_id=goal.owner_id, mentor_user_id=mentor.user_id,
                    cohort_id=cohort.id, status=status, starts_on=cohort.starts_on, ends_on=cohort.ends_on)
    db.session.add(tandem)
    db.session.commit()
    return tandem


def form_data(defaults: dict, **changes) -> dict:
    """A form post: `defaults` with `changes` applied; a field changed to None is left out."""
    data = {**defaults, **changes}
    return {key: value for key, value in data.items() if value is not None}


class Clock:
    """The app's clock (`TANDEM_CLOCK`), moved by the test instead of waiting."""

    def __init__(self, moment: datetime | None = None) -> None:
        self.moment: datetime = moment or utcnow()

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


def set_clock(app: Flask, moment: datetime | None = None) -> Clock:
    """Give the app a test clock standing at `moment` (now if None)."""
    app.config["TANDEM_CLOCK"] = clock = Clock(moment)
    return clock


def at_once(work: Callable[[int], object], count: int) -> list[object]:
    """`work(index)` in `count` threads (each its own connection) released together; their results by index,
    an unexpected error as its repr (what a page would answer with a 500)."""
    db.session.remove()
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = work(index)
        except Exception as problem:
            results[index] = repr(problem)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return results


def publish_from_page(client: FlaskClient, cohort_id: int):
    """Publish a cohort's drafts as a manager does: the confirmation page, then its form (which carries the draft
    pairs it showed); answers the POST's response, redirects followed."""
    page = client.get(f"/cohorts/{cohort_id}/publish").get_data(as_text=True)
    found = re.search(r'name="drafts" type="hidden" value="([0-9a-f]+)"', page)
    return client.post(f"/cohorts/{cohort_id}/publish", data={"drafts": found.group(1) if found else ""},
                       follow_redirects=True)
