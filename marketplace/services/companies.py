"""Companies: one row per company key, e-mail domains, and competitor links that work both ways."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from sqlalchemy import ColumnElement, delete, func, insert, or_, select, update

from ..extensions import db
from ..input_checks import single_line
from ..models import (
    Company,
    CompanyDomain,
    Goal,
    MentorProfile,
    Tandem,
    User,
    competitor_links,
    goal_excluded_companies,
    mentor_excluded_companies,
)
from .fields import split_entries

KEY_MAX = 200  # the column's width; NFKC can lengthen a 200-character name ("㈱" is "(株)")

# Legal forms, as the words they split into, abbreviated or spelled out. Only trailing ones are dropped,
# repeatedly, so "GmbH & Co. KG" goes word by word; a name that is only a legal form keeps its last word.
# A form is recognised by its letters alone, so "A.G.", "e. V.", "G.m.b.H." and "S. A." are "ag",
# "ev", "gmbh" and "sa".
LEGAL_FORMS = frozenset(
    tuple(form.split())
    for form in (
        # German-speaking countries
        "gmbh", "mbh", "gesmbh", "ag", "kg", "kgaa", "ohg", "gbr", "ug", "haftungsbeschränkt", "eg", "ev",
        "se", "co", "cie", "und co", "partg", "partgmbb", "stiftung", "aktiengesellschaft",
        "gesellschaft mit beschränkter haftung", "gesellschaft mbh", "kommanditgesellschaft",
        "kommanditgesellschaft auf aktien", "offene handelsgesellschaft", "gesellschaft bürgerlichen rechts",
        "unternehmergesellschaft", "eingetragener verein", "eingetragene genossenschaft",
        "partnerschaftsgesellschaft", "societas europaea", "und compagnie",
        # English-speaking countries
        "inc", "incorporated", "corp", "corporation", "company", "ltd", "limited", "llc", "llp", "lp", "plc",
        "pty", "pte", "holdings", "limited liability company", "limited liability partnership",
        "limited partnership", "public limited company", "proprietary limited",
        # elsewhere in Europe
        "sa", "sas", "sarl", "sàrl", "spa", "srl", "sl", "bv", "nv", "vof", "ab", "as", "asa", "aps", "oy", "oyj",
        "sro", "kft", "zrt", "sp z o o", "doo", "société anonyme", "société par actions simplifiée",
        "société à responsabilité limitée", "società per azioni", "società a responsabilità limitata",
        "sociedad anónima", "sociedad limitada", "besloten vennootschap", "naamloze vennootschap", "aktiebolag",
    )
)

# German letters and their spelling without them are one company: "Präzision" is "Praezision".
GERMAN_FOLDS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})

# Each form as its letters only (umlauts folded like names), and the most words it can be written in
# (one letter a word: "G. m. b. H.").
_FORM_LETTERS = frozenset("".join(form).translate(GERMAN_FOLDS) for form in LEGAL_FORMS)
_FORM_WORDS_MAX = max(len(letters) for letters in _FORM_LETTERS)


def company_key(name: str) -> str:
    """The one key a company is found by: spelling, case, spacing, punctuation, invisible characters,
    look-alike letters from other scripts, umlauts written as "ae"/"oe"/"ue"/"ss" and the legal form
    (abbreviated, dotted or spelled out) do not make another company."""
    text = unicodedata.normalize("NFKC", name or "")
    # Zero-width and other format characters (U+200B, soft hyphen, bidi marks) vanish, not split words.
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf").casefold().translate(GERMAN_FOLDS)
    words, word = [], []
    for ch in text + " ":
        if unicodedata.category(ch)[0] in "LNM":  # letters, digits, combining marks (Devanagari vowels)
            word.append(ch)
        elif word:
            words.append(_as_latin("".join(word)))
            word = []
    stripped = True
    while stripped:
        stripped = False
        for size in range(min(_FORM_WORDS_MAX, len(words) - 1), 0, -1):
            if "".join(words[-size:]) in _FORM_LETTERS:
                words, stripped = words[:-size], True
                break
    return "".join(words)[:KEY_MAX]


def _as_latin(word: str) -> str:
    """A (case-folded) word whose every letter is Latin or looks like one, spelled in Latin letters.

    "hаnsekauf" with a Cyrillic "а" is how a look-alike name is made, so it becomes "hansekauf"; a
    real Cyrillic or Greek word ("газпром") has letters with no Latin twin and stays as it is, so
    "ГАЗПРОМ" and "Газпром" keep one key.
    """
    look_alikes = _look_alikes()
    if all(ch in look_alikes or ch.isascii() or _script(ch) in _KEPT_SCRIPTS for ch in word):
        return "".join(look_alikes.get(ch, ch) for ch in word)
    return word


_KEPT_SCRIPTS = frozenset({"LATIN", "COMMON", "INHERITED"})


def _script(ch: str) -> str:
    from confusable_homoglyphs import categories

    return categories.alias(ch)


@cache
def _look_alikes() -> dict[str, str]:
    """Case-folded letters of other scripts that look like a Latin letter, mapped to it ("а" -> "a").

    From Unicode's confusables list (UTS #39) as shipped by confusable-homoglyphs, pinned in
    requirements.txt because stored keys depend on it. Latin and common characters are left alone,
    so "0"/"o" and "l"/"i" stay distinct: only another script can pretend to be a Latin name. A
    letter is looked up by its capital first, so both cases of one letter fold alike (Cyrillic
    "н" is only a small-capital H, but "Н" is an H).
    """
    from confusable_homoglyphs import confusables

    twins = {}
    for ch, groups in confusables.confusables_data.items():
        if len(ch) != 1 or _script(ch) in _KEPT_SCRIPTS:
            continue
        targets = [g["c"] for g in groups if len(g["c"]) == 1 and g["c"].isascii() and g["c"].isalpha()]
        if targets:
            # The list files capital I only under its look-alike "l"; a capital Ι or І looks like "I".
            twins[ch] = "i" if ch.isupper() and targets == ["l"] else targets[0].casefold()
    folded = {}
    for ch in {c.casefold() for c in twins}:
        target = twins.get(ch.upper()) or twins.get(ch)
        if len(ch) == 1 and target:
            folded[ch] = target
    return folded


def find_company(name: str) -> Company | None:
    """The company whose key is `name`'s key, if there is one."""
    key = company_key(name)
    if not key:
        return None
    return db.session.scalar(select(Company).where(Company.normalised_name == key))


def name_contains(term: str) -> ColumnElement[bool]:
    """Companies whose name holds `term` as written ("GmbH", which keys leave out) or whose key holds its key
    ("mueller" for "Müller"); a term with no key at all ("%", "-") matches by its characters only, not every
    company."""
    matches = [Company.name.icontains(term, autoescape=True)]
    if key := company_key(term):
        matches.append(Company.normalised_name.icontains(key, autoescape=True))
    return or_(*matches)


def companies_named_like(term: str, limit: int = 3) -> list[Company]:
    """A few companies whose name holds `term` (name_contains), shortest name first: what someone who typed part
    of a name probably meant."""
    if not term.strip():
        return []
    return list(db.session.scalars(
        select(Company).where(name_contains(term.strip())).order_by(func.length(Company.name), Company.name)
        .limit(limit)
    ))


def one_per_company(names: Iterable[str]) -> list[str]:
    """`names` with each company once however it is spelled ("foo, FOO": the first spelling), in order; a name
    with no key ("%") counts once by its letters."""
    first: dict[str, str] = {}
    for name in names:
        first.setdefault(company_key(name) or name.casefold(), name)
    return list(first.values())


@dataclass(frozen=True)
class LeftOut:
    """What a search's "leave out companies" names: the companies found, and each name that is no company with up
    to three companies it may have meant."""

    company_ids: list[int]
    unknown: dict[str, list[str]]


def left_out_companies(text: str | None, viewer: User) -> LeftOut:
    """The companies a search is to leave out, from the comma-separated names typed (fields.split_entries, once
    per company); a name that is no company gets suggestions, never the viewer's own company (never shown)."""
    found = {name: find_company(name) for name in one_per_company(split_entries(text, ","))}
    own = {viewer.company_id, viewer.verified_company_id}
    return LeftOut(
        company_ids=[company.id for company in found.values() if company is not None],
        unknown={name: [c.name for c in companies_named_like(name) if c.id not in own]
                 for name, company in found.items() if company is None},
    )


def unknown_company_names(names: Iterable[str]) -> list[str]:
    """The names that match no company anyone works at or that owns an e-mail domain: an exclusion of
    such a name is kept, but excludes nobody until someone joins from that company."""
    unknown = []
    for name in names:
        company = find_company(name)
        known = company is not None and (
            company.domains
            or db.session.scalar(
                select(func.count(User.id)).where(
                    or_(User.company_id == company.id, User.verified_company_id == company.id,
                        User.domain_company_id == company.id)
                )
            )
        )
        if not known:
            unknown.append(name)
    return unknown


def get_or_create_company(name: str) -> Company | None:
    """The company called `name` (however it is spelled), created when new; None for a name without
    a letter or digit ("—"), which names no company."""
    cleaned = single_line(name or "")
    key = company_key(cleaned)
    if not key:
        return None
    company = find_company(cleaned)
    if company is None:
        company = Company(name=cleaned, normalised_name=key)
        db.session.add(company)
        db.session.flush()
    return company


def company_for_email(email: str) -> Company | None:
    """The company owning the address's domain, if a manager registered it."""
    return db.session.scalar(
        select(Company).join(CompanyDomain).where(CompanyDomain.domain == email_domain(email))
    )


def set_domains(company: Company, domains: list[str]) -> list[str]:
    """Replace a company's domains; answers the domains already taken by another company."""
    wanted = sorted({unicodedata.normalize("NFKC", d).strip().lower().lstrip("@") for d in domains if d.strip()})
    taken = [
        row.domain
        for row in db.session.scalars(select(CompanyDomain).where(CompanyDomain.domain.in_(wanted)))
        if row.company_id != company.id
    ]
    if taken:
        return taken
    before = {d.domain for d in company.domains}
    company.domains = [d for d in company.domains if d.domain in wanted]
    for domain in wanted:
        if domain not in before:
            company.domains.append(CompanyDomain(domain=domain))
    db.session.flush()
    changed = before.symmetric_difference(wanted)
    if changed:
        _refresh_domain_companies(changed)
        _recheck_open_pairings([company.id])
    return []


def email_domain(email: str) -> str:
    """The part of an address after the last "@", as domains are stored (lower case)."""
    return email.rsplit("@", 1)[-1].lower()


def refresh_domain_company(user: User) -> None:
    """Point `user.domain_company_id` at the company owning the address's domain; call it whenever
    the address is set. Unlike the verified company it needs no proof: it only restricts pairing."""
    company = company_for_email(user.email)
    user.domain_company_id = company.id if company else None


def _refresh_domain_companies(domains: set[str]) -> None:
    """Refresh the domain company of everyone whose address is at one of these domains."""
    for domain in domains:
        pattern = "%@" + domain.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        for user in db.session.scalars(select(User).where(func.lower(User.email).like(pattern, escape="\\"))):
            if email_domain(user.email) == domain:
                refresh_domain_company(user)
    db.session.flush()


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
    """The company a person states: self-declared, whatever the e-mail domain says.

    A registered domain verifies the company only once the person proves the mailbox
    (`accounts.confirm_company`), or a community manager vouches for them (an import).
    """
    if company_name:
        user.company = get_or_create_company(company_name)


def unconfirmed_domain_company(user: User) -> Company | None:
    """The company owning the user's e-mail domain, while the user has no verified company.

    A verified company (a manager's decision, or an earlier proof) is never replaced by a mailbox link.
    """
    if user.verified_company_id is not None:
        return None
    return company_for_email(user.email)


def set_verified_company(user: User, company: Company | None) -> None:
    """The one place a person's verified company changes (manager, import, mailbox proof); the caller commits."""
    if user.verified_company_id == (company.id if company else None):
        return
    before = user.effective_company_id
    user.verified_company = company
    db.session.flush()
    _recheck_open_pairings([before, user.effective_company_id])


def verify_company(user: User, company_name: str) -> Company | None:
    """A community manager confirms or corrects a person's company; hard rules use this one."""
    company = get_or_create_company(company_name)
    if company is not None:
        set_verified_company(user, company)
    return company


# Merging --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MergeSummary:
    """What a merge moves from the company that goes to the one that stays (shown before confirming)."""

    people: int
    goal_exclusions: int
    mentor_exclusions: int
    competitor_links: int
    domains: int


def merge_summary(other: Company) -> MergeSummary:
    """How many people, exclusions, competitor links and domains a merge would move away from `other`."""
    links = competitor_links.c

    def count(query) -> int:
        return db.session.scalar(query) or 0

    return MergeSummary(
        people=count(select(func.count(User.id)).where(
            or_(User.company_id == other.id, User.verified_company_id == other.id,
                User.domain_company_id == other.id))),
        goal_exclusions=count(select(func.count()).select_from(goal_excluded_companies).where(
            goal_excluded_companies.c.company_id == other.id)),
        mentor_exclusions=count(select(func.count()).select_from(mentor_excluded_companies).where(
            mentor_excluded_companies.c.company_id == other.id)),
        competitor_links=count(select(func.count()).select_from(competitor_links).where(
            or_(links.company_id == other.id, links.competitor_id == other.id))),
        domains=count(select(func.count(CompanyDomain.id)).where(CompanyDomain.company_id == other.id)),
    )


def running_tandems_sharing_after_merge(survivor_id: int, other_id: int) -> list[Tandem]:
    """Running tandems whose two people would count as working at one company once `other` is merged
    into `survivor` (shown before the merge; managers decide what happens to them, nothing ends itself)."""
    ids = [survivor_id, other_id]
    people = select(User.id).where(
        or_(User.company_id.in_(ids), User.verified_company_id.in_(ids), User.domain_company_id.in_(ids))
    )
    running = db.session.scalars(
        select(Tandem)
        .where(Tandem.status == Tandem.RUNNING, Tandem.mentee_user_id.in_(people), Tandem.mentor_user_id.in_(people))
        .order_by(Tandem.id)
    )

    def merged(user: User) -> set[int]:
        return {survivor_id if c == other_id else c for c in (user.effective_company_id, user.domain_company_id) if c}

    return [t for t in running if merged(t.mentee) & merged(t.mentor_user)]


def merge_companies(survivor: Company, other: Company) -> None:
    """Move everything of `other` to `survivor` and delete `other`; commits, all or nothing.

    People (stated and verified), goal and mentor exclusions, competitor links and e-mail domains
    move; what would then repeat collapses, and what would become pointless is not created: an
    exclusion of the owner's own company, a company competing with itself.
    """
    if survivor.id == other.id:
        raise ValueError("a company cannot be merged with itself")
    # Lock both rows, in id order like every other writer, so nobody links or excludes `other`
    # between our reads and its deletion (the cascade would silently drop that row).
    db.session.execute(
        select(Company.id).where(Company.id.in_([survivor.id, other.id])).order_by(Company.id).with_for_update()
    )
    try:
        inside = running_tandems_sharing_after_merge(survivor.id, other.id)
        _notify_running_tandems_inside(survivor, other, inside)
        _move_people(survivor.id, other.id)
        _move_exclusions(goal_excluded_companies, goal_excluded_companies.c.goal_id,
                         select(Goal.id).join(User, Goal.owner_id == User.id), survivor.id, other.id)
        _move_exclusions(mentor_excluded_companies, mentor_excluded_companies.c.mentor_id,
                         select(MentorProfile.id).join(User, MentorProfile.user_id == User.id),
                         survivor.id, other.id)
        _move_competitor_links(survivor.id, other.id)
        db.session.execute(
            update(CompanyDomain).where(CompanyDomain.company_id == other.id).values(company_id=survivor.id)
        )
        db.session.execute(delete(Company).where(Company.id == other.id))
        db.session.flush()
        db.session.expire_all()
        # The merged company's people now share one company: pending requests and drafts between them go.
        _recheck_open_pairings([survivor.id], tell_running=False)  # told above, in the merge's own words
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    db.session.expire_all()


def _notify_running_tandems_inside(survivor: Company, other: Company, inside: list[Tandem]) -> None:
    """Tell the community managers which running tandems the merge leaves inside one company."""
    if not inside:
        return
    from . import notifications
    from .cohorts import enrolment  # both import this module (through tandems and rules)

    pairs = "; ".join(
        f"{t.mentee.name} – {t.mentor_user.name}" + (f" (“{t.goal.title}”)" if t.goal else "") for t in inside
    )
    enrolment.notify_managers(
        "company_merge", "merge_tandems_inside_company",
        {"old": other.name, "new": survivor.name, "n": len(inside), "tandems": pairs},
        notifications.link_to("admin.company", company_id=survivor.id), ("company", other.id),
    )


def _move_people(survivor_id: int, other_id: int) -> None:
    for column in (User.company_id, User.verified_company_id, User.domain_company_id):
        db.session.execute(update(User).where(column == other_id).values({column: survivor_id}))


def _move_exclusions(table, owner_column, owners_query, survivor_id: int, other_id: int) -> None:
    """Point `other`'s exclusions at the survivor, except where the survivor is excluded already, and
    drop exclusions of the owner's own company (people of both companies now work at the survivor)."""
    company = table.c.company_id
    own_company = owners_query.where(func.coalesce(User.verified_company_id, User.company_id) == survivor_id)
    db.session.execute(delete(table).where(company.in_([survivor_id, other_id]), owner_column.in_(own_company)))
    already = select(owner_column).where(company == survivor_id)
    db.session.execute(delete(table).where(company == other_id, owner_column.in_(already)))
    db.session.execute(update(table).where(company == other_id).values(company_id=survivor_id))


def _move_competitor_links(survivor_id: int, other_id: int) -> None:
    """Re-create `other`'s links from the survivor, once each, never survivor-with-itself."""
    links = competitor_links.c
    rivals = competitor_ids(other_id) - competitor_ids(survivor_id) - {survivor_id, other_id}
    db.session.execute(
        delete(competitor_links).where(or_(links.company_id == other_id, links.competitor_id == other_id))
    )
    if rivals:
        db.session.execute(
            insert(competitor_links), [{"company_id": survivor_id, "competitor_id": r} for r in sorted(rivals)]
        )


def _recheck_open_pairings(company_ids: list[int | None], tell_running: bool = True) -> None:
    # tandems imports rules, which imports this module: import at call time.
    from . import tandems

    tandems.recheck_open_pairings([c for c in company_ids if c is not None], tell_running=tell_running)
