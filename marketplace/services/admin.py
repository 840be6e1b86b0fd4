"""What the community-manager area reads and changes: people, companies, topics and the outbox.

Each change commits its own unit of work (the views in admin/ never commit); a refusal (AdminError) is
raised before anything is written, so there is nothing to commit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask_babel import gettext as _
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import func, or_, select

from ..extensions import db
from ..input_checks import has_visible_text, single_line
from ..models import (
    Company,
    CompanyDomain,
    Goal,
    MentorProfile,
    OutgoingEmail,
    Tandem,
    Topic,
    User,
    goal_topics,
    mentor_topics,
)
from ..states import EmailStatus, GoalStatus, TandemStatus
from . import companies, paging, tandems, topics
from .errors import AdminError
from .matching import taxonomy as taxonomy_service
from .matching import vectors

PEOPLE_PER_PAGE = 25
COMPANIES_PER_PAGE = 50
OUTBOX_PER_PAGE = 30
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
DOMAIN_PATTERN = re.compile(rf"^(?=.{{1,200}}$){_LABEL}(?:\.{_LABEL})+$")


def _count(query) -> int:
    return db.session.scalar(query) or 0


def summary() -> dict[str, int]:
    """Headline numbers for the manager overview and the dashboard."""
    return {
        "people": _count(select(func.count(User.id))),
        "mentors": _count(select(func.count(MentorProfile.id))),
        "open_mentors": _count(select(func.count(MentorProfile.id)).where(MentorProfile.is_open.is_(True))),
        "goals": _count(select(func.count(Goal.id))),
        "open_goals": _count(select(func.count(Goal.id)).where(Goal.status == GoalStatus.OPEN)),
        "open_requests": _count(select(func.count(Tandem.id)).where(Tandem.status == Tandem.OPEN_REQUEST)),
        "active_tandems": _count(select(func.count(Tandem.id)).where(Tandem.status == TandemStatus.ACTIVE)),
        "companies": _count(select(func.count(Company.id))),
        "free_tags": _count(select(func.count(Topic.id)).where(Topic.is_free_tag.is_(True))),
        "unsent_emails": _count(select(func.count(OutgoingEmail.id)).where(OutgoingEmail.status != EmailStatus.SENT)),
    }


# People ---------------------------------------------------------------------------------------


def people(search: str = "", page: int = 1, per_page: int = PEOPLE_PER_PAGE) -> Pagination:
    """Everyone, by name, optionally filtered by a piece of their name or e-mail address."""
    query = select(User).order_by(func.lower(User.name), User.id)
    term = search.strip()
    if term:
        query = query.where(
            or_(User.name.icontains(term, autoescape=True), User.email.icontains(term, autoescape=True))
        )
    return paging.page_of(query, page, per_page)


def goal_counts(user_ids: list[int]) -> dict[int, int]:
    if not user_ids:
        return {}
    rows = db.session.execute(
        select(Goal.owner_id, func.count(Goal.id)).where(Goal.owner_id.in_(user_ids)).group_by(Goal.owner_id)
    )
    return {owner_id: count for owner_id, count in rows}


def verify_company(user: User, company_name: str) -> Company:
    """Confirm or correct a person's company (open pairings are re-checked); commits."""
    company = companies.verify_company(user, company_name)
    if company is None:
        raise AdminError.on_field("company", _("Enter the company's name."))
    db.session.commit()
    return company


def clear_verified_company(user: User) -> None:
    """The person's stated company counts again; commits."""
    companies.set_verified_company(user, None)
    db.session.commit()


# Companies ------------------------------------------------------------------------------------


@dataclass
class CompanyRow:
    company: Company
    people: int
    competitors: list[Company]


def companies_page(
    search: str = "", page: int = 1, per_page: int = COMPANIES_PER_PAGE
) -> tuple[Pagination, list[CompanyRow]]:
    """A page of companies with how many people state or are verified at each and their competitors."""
    query = select(Company).order_by(Company.normalised_name)
    term = search.strip()
    if term:
        query = query.where(companies.name_contains(term))
    pagination = paging.page_of(query, page, per_page)
    ids = [company.id for company in pagination.items]
    people_by_company: dict[int, int] = {}
    if ids:
        effective = func.coalesce(User.verified_company_id, User.company_id)
        rows = db.session.execute(select(effective, func.count(User.id)).where(effective.in_(ids)).group_by(effective))
        people_by_company = {company_id: count for company_id, count in rows}
    pairs = companies.all_competitor_pairs()
    wanted = {b for a, b in pairs if a in ids}
    names = {c.id: c for c in db.session.scalars(select(Company).where(Company.id.in_(wanted)))} if wanted else {}
    rows_out = []
    for company in pagination.items:
        rivals = sorted((names[b] for a, b in pairs if a == company.id), key=lambda c: c.normalised_name)
        rows_out.append(CompanyRow(company, people_by_company.get(company.id, 0), rivals))
    return pagination, rows_out


def people_at(company: Company, limit: int = 100) -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .where(or_(User.verified_company_id == company.id, User.company_id == company.id))
            .order_by(func.lower(User.name))
            .limit(limit)
        )
    )


def rename_company(company: Company, name: str) -> None:
    """Rename a company; refused when another company already has that (normalised) name. Commits."""
    cleaned = single_line(name or "")
    key = companies.company_key(cleaned)
    if not key:
        raise AdminError.on_field("name", _("Enter the company's name."))
    other = companies.find_company(cleaned)
    if other is not None and other.id != company.id:
        raise AdminError.on_field("name", _("Another company is already called “%(name)s”.", name=other.name))
    company.name = cleaned
    company.normalised_name = key
    db.session.commit()


def parse_domains(text: str) -> list[str]:
    """E-mail domains from free text (one per line, commas or spaces also work); refuses malformed ones."""
    domains: list[str] = []
    bad: list[str] = []
    for raw in re.split(r"[\s,;]+", text or ""):
        domain = raw.strip().lower().lstrip("@").rstrip(".")
        if not domain:
            continue
        if not DOMAIN_PATTERN.match(domain):
            bad.append(raw.strip())
        elif domain not in domains:
            domains.append(domain)
    if bad:
        raise AdminError.on_field("domains", _("Not an e-mail domain: %(domains)s", domains=", ".join(bad)))
    return domains


def set_domains(company: Company, text: str) -> list[str]:
    """Replace the company's e-mail domains; a domain owned by another company refuses the whole change.
    Commits."""
    domains = parse_domains(text)
    taken = companies.set_domains(company, domains)
    if taken:
        owners = db.session.execute(
            select(CompanyDomain.domain, Company.name).join(Company).where(CompanyDomain.domain.in_(taken))
        )
        described = ", ".join(f"{domain} ({owner})" for domain, owner in owners)
        raise AdminError.on_field("domains", _("Already used by another company: %(domains)s", domains=described))
    db.session.commit()
    return domains


def add_competitor(company: Company, other_name: str) -> Company:
    """Link the two as competitors (created by name if new) and re-check their open pairings; commits."""
    other = companies.get_or_create_company(other_name)
    if other is None:
        raise AdminError.on_field("name", _("Enter the competitor's name."))
    if other.id == company.id:
        raise AdminError.on_field("name", _("A company cannot be its own competitor."))
    companies.link_competitors(company, other)
    db.session.flush()
    tandems.recheck_open_pairings([company.id, other.id])
    db.session.commit()
    return other


def remove_competitor(company: Company, other: Company) -> None:
    """The two are no longer competitors; commits."""
    companies.unlink_competitors(company, other)
    db.session.commit()


def merge_target(company: Company, name: str) -> Company:
    """The existing company that `company` would be merged into; refused when it is unknown or itself."""
    survivor = companies.find_company(name)
    if survivor is None:
        message = _("No company is called “%(name)s”. Merge into an existing company.", name=name)
        raise AdminError.on_field("into", message)
    if survivor.id == company.id:
        raise AdminError.on_field("into", _("A company cannot be merged with itself."))
    return survivor


# Topics ---------------------------------------------------------------------------------------


def taxonomy() -> list[Topic]:
    return taxonomy_service.seed_topics()


def free_tags() -> list[tuple[Topic, int]]:
    """Tags people typed themselves, most used first, so managers see what to promote."""
    mentor_uses = (
        select(mentor_topics.c.topic_id, func.count().label("n")).group_by(mentor_topics.c.topic_id).subquery()
    )
    goal_uses = select(goal_topics.c.topic_id, func.count().label("n")).group_by(goal_topics.c.topic_id).subquery()
    uses = func.coalesce(mentor_uses.c.n, 0) + func.coalesce(goal_uses.c.n, 0)
    rows = db.session.execute(
        select(Topic, uses)
        .outerjoin(mentor_uses, mentor_uses.c.topic_id == Topic.id)
        .outerjoin(goal_uses, goal_uses.c.topic_id == Topic.id)
        .where(Topic.is_free_tag.is_(True))
        .order_by(uses.desc(), Topic.name_en)
    )
    return [(topic, int(count)) for topic, count in rows]


def parse_synonyms(text: str) -> list[str]:
    """One synonym per line; blank lines and repeats (ignoring case) are dropped, order kept."""
    seen: set[str] = set()
    synonyms: list[str] = []
    for line in (text or "").splitlines():
        synonym = " ".join(line.split())
        if synonym and synonym.casefold() not in seen:
            seen.add(synonym.casefold())
            synonyms.append(synonym)
    return synonyms


def _check_name_free(name_en: str, topic: Topic | None = None) -> None:
    clash = db.session.scalar(select(Topic).where(func.lower(Topic.name_en) == name_en.lower()))
    if clash is not None and (topic is None or clash.id != topic.id):
        raise AdminError.on_field("name_en", _("A topic called “%(name)s” already exists.", name=clash.name_en))


def _topic_names(name_en: str, name_de: str | None) -> tuple[str, str]:
    """A topic's names as stored (single lines, whitespace collapsed); the German one is the English one
    when it shows nothing; refused when the English one shows nothing."""
    name_en, name_de = (single_line(name or "") for name in (name_en, name_de))
    if not has_visible_text(name_en):
        raise AdminError.on_field("name_en", _("Please fill in this field."))
    return name_en, name_de if has_visible_text(name_de) else name_en


def create_topic(name_en: str, name_de: str, synonyms_text: str) -> Topic:
    """A new taxonomy topic; its slug comes from the English name. Commits."""
    name_en, name_de = _topic_names(name_en, name_de)
    _check_name_free(name_en)
    topic = Topic(
        slug=topics.unique_slug(topics.slugify(name_en) or "topic"),
        name_en=name_en,
        name_de=name_de,
        synonyms=parse_synonyms(synonyms_text),
        is_free_tag=False,
    )
    db.session.add(topic)
    db.session.commit()
    return topic


def update_topic(topic: Topic, name_en: str, name_de: str, synonyms_text: str) -> None:
    """Rename a topic and replace its synonyms. Topic names are part of every profile's and goal's
    embedded text, so a rename re-embeds the profiles and goals that carry the topic. Commits."""
    name_en, name_de = _topic_names(name_en, name_de)
    _check_name_free(name_en, topic)
    renamed = (name_en, name_de) != (topic.name_en, topic.name_de)
    topic.name_en, topic.name_de = name_en, name_de
    topic.synonyms = parse_synonyms(synonyms_text)
    if renamed:
        _reembed_topic_users(topic)
    db.session.commit()


def promote_topic(topic: Topic) -> None:
    """A free tag joins the taxonomy (and can then carry a German name and synonyms); commits."""
    topic.is_free_tag = False
    db.session.commit()


def _reembed_topic_users(topic: Topic) -> None:
    db.session.flush()
    mentor_ids = list(db.session.scalars(select(mentor_topics.c.mentor_id).where(mentor_topics.c.topic_id == topic.id)))
    goal_ids = list(db.session.scalars(select(goal_topics.c.goal_id).where(goal_topics.c.topic_id == topic.id)))
    if mentor_ids:
        vectors.embed_stale(vectors.MENTOR, ids=mentor_ids)
    if goal_ids:
        vectors.embed_stale(vectors.GOAL, ids=goal_ids)


# Outbox ---------------------------------------------------------------------------------------


def outbox(page: int = 1, per_page: int = OUTBOX_PER_PAGE) -> Pagination:
    query = select(OutgoingEmail).order_by(OutgoingEmail.created_at.desc(), OutgoingEmail.id.desc())
    return paging.page_of(query, page, per_page)
