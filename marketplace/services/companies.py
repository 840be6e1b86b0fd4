"""Companies: one row per normalised name, e-mail domains, and competitor links that work both ways."""

from __future__ import annotations

from sqlalchemy import or_, select

from ..extensions import db
from ..models import Company, CompanyDomain, User, competitor_links, normalise_company_name


def find_company(name: str) -> Company | None:
    key = normalise_company_name(name or "")
    if not key:
        return None
    return db.session.scalar(select(Company).where(Company.normalised_name == key))


def get_or_create_company(name: str) -> Company | None:
    """The company called `name` (however it is spelled or spaced), created when new."""
    cleaned = " ".join((name or "").split())
    if not normalise_company_name(cleaned):  # no letter or digit (e.g. a lone soft hyphen): names no company
        return None
    company = find_company(cleaned)
    if company is None:
        company = Company(name=cleaned, normalised_name=normalise_company_name(cleaned))
        db.session.add(company)
        db.session.flush()
    return company


def company_for_email(email: str) -> Company | None:
    domain = email.rsplit("@", 1)[-1].lower()
    return db.session.scalar(
        select(Company).join(CompanyDomain).where(CompanyDomain.domain == domain)
    )


def set_domains(company: Company, domains: list[str]) -> list[str]:
    """Replace a company's domains; answers the domains already taken by another company."""
    wanted = sorted({d.strip().lower().lstrip("@") for d in domains if d.strip()})
    taken = [
        row.domain
        for row in db.session.scalars(select(CompanyDomain).where(CompanyDomain.domain.in_(wanted)))
        if row.company_id != company.id
    ]
    if taken:
        return taken
    company.domains = [d for d in company.domains if d.domain in wanted]
    existing = {d.domain for d in company.domains}
    for domain in wanted:
        if domain not in existing:
            company.domains.append(CompanyDomain(domain=domain))
    return []


def competitor_ids(company_id: int | None) -> set[int]:
    """Competitors of a company in either direction of the stored link."""
    if company_id is None:
        return set()
    rows = db.session.execute(
        select(competitor_links.c.company_id, competitor_links.c.competitor_id).where(
            or_(competitor_links.c.company_id == company_id, competitor_links.c.competitor_id == company_id)
        )
    )
    return {b if a == company_id else a for a, b in rows}


def all_competitor_pairs() -> set[tuple[int, int]]:
    """Every competitor link in both directions, for vectorised rule checks."""
    pairs = set()
    for a, b in db.session.execute(select(competitor_links.c.company_id, competitor_links.c.competitor_id)):
        pairs.add((a, b))
        pairs.add((b, a))
    return pairs


def link_competitors(company: Company, other: Company) -> None:
    if company.id == other.id or other.id in competitor_ids(company.id):
        return
    company.competitors.append(other)


def unlink_competitors(company: Company, other: Company) -> None:
    db.session.execute(
        competitor_links.delete().where(
            or_(
                (competitor_links.c.company_id == company.id) & (competitor_links.c.competitor_id == other.id),
                (competitor_links.c.company_id == other.id) & (competitor_links.c.competitor_id == company.id),
            )
        )
    )
    db.session.expire(company, ["competitors"])
    db.session.expire(other, ["competitors"])


def all_competitors(company: Company) -> list[Company]:
    ids = competitor_ids(company.id)
    if not ids:
        return []
    return list(db.session.scalars(select(Company).where(Company.id.in_(ids)).order_by(Company.name)))


def assign_company(user: User, company_name: str | None) -> None:
    """The company a person states; a registered e-mail domain sets the verified company too."""
    domain_company = company_for_email(user.email)
    if domain_company is not None:
        user.verified_company = domain_company
        user.company = domain_company
        return
    if company_name:
        user.company = get_or_create_company(company_name)


def verify_company(user: User, company_name: str) -> Company | None:
    """A community manager confirms or corrects a person's company; hard rules use this one."""
    company = get_or_create_company(company_name)
    user.verified_company = company
    return company
