"""company keys: recompute every company's key and merge the companies whose new keys collide

"Hansekauf" and "Hansekauf GmbH" were two companies under the old key (case and spacing only);
under the new one (no legal forms however written, punctuation, invisible characters, look-alike
letters or umlaut spellings) they are one. The oldest row of each colliding group stays and takes everything of the others, with
the same rules as a manager's merge: people, goal and mentor exclusions, competitor links and
domains move, repeats collapse, nobody excludes their own company, no company competes with itself.

Revision ID: aff4897f258e
Revises: 74378a332969
Create Date: 2026-12-01 09:20:00

"""
import unicodedata

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "aff4897f258e"
down_revision = "74378a332969"
branch_labels = None
depends_on = None

company = sa.table("company", sa.column("id", sa.Integer), sa.column("name", sa.String),
                   sa.column("normalised_name", sa.String))
user = sa.table("user", sa.column("id", sa.Integer), sa.column("company_id", sa.Integer),
                sa.column("verified_company_id", sa.Integer))
goal = sa.table("goal", sa.column("id", sa.Integer), sa.column("owner_id", sa.Integer))
mentor_profile = sa.table("mentor_profile", sa.column("id", sa.Integer), sa.column("user_id", sa.Integer))
goal_excluded = sa.table("goal_excluded_company", sa.column("goal_id", sa.Integer), sa.column("company_id", sa.Integer))
mentor_excluded = sa.table("mentor_excluded_company", sa.column("mentor_id", sa.Integer),
                           sa.column("company_id", sa.Integer))
links = sa.table("competitor_link", sa.column("company_id", sa.Integer), sa.column("competitor_id", sa.Integer))
domains = sa.table("company_domain", sa.column("company_id", sa.Integer))

# The key as this revision defines it (marketplace.services.companies.company_key on the day it was
# written), frozen here: a migration must compute the same keys whenever it runs, whatever the app's
# function becomes later. The look-alike table comes from confusable-homoglyphs, pinned to 3.3.1.
_LEGAL_FORMS = frozenset(tuple(form.split()) for form in (
    "gmbh", "mbh", "gesmbh", "ag", "kg", "kgaa", "ohg", "gbr", "ug", "haftungsbeschränkt", "eg", "ev", "se", "co",
    "cie", "und co", "partg", "partgmbb", "stiftung", "aktiengesellschaft", "gesellschaft mit beschränkter haftung",
    "gesellschaft mbh", "kommanditgesellschaft", "kommanditgesellschaft auf aktien", "offene handelsgesellschaft",
    "gesellschaft bürgerlichen rechts", "unternehmergesellschaft", "eingetragener verein",
    "eingetragene genossenschaft", "partnerschaftsgesellschaft", "societas europaea", "und compagnie", "inc",
    "incorporated", "corp", "corporation", "company", "ltd", "limited", "llc", "llp", "lp", "plc", "pty", "pte",
    "holdings", "limited liability company", "limited liability partnership", "limited partnership",
    "public limited company", "proprietary limited", "sa", "sas", "sarl", "sàrl", "spa", "srl", "sl", "bv", "nv",
    "vof", "ab", "as", "asa", "aps", "oy", "oyj", "sro", "kft", "zrt", "sp z o o", "doo", "société anonyme",
    "société par actions simplifiée", "société à responsabilité limitée", "società per azioni",
    "società a responsabilità limitata", "sociedad anónima", "sociedad limitada", "besloten vennootschap",
    "naamloze vennootschap", "aktiebolag",
))
_GERMAN_FOLDS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
_FORM_LETTERS = frozenset("".join(form).translate(_GERMAN_FOLDS) for form in _LEGAL_FORMS)
_FORM_WORDS_MAX = max(len(letters) for letters in _FORM_LETTERS)
_KEPT_SCRIPTS = {"LATIN", "COMMON", "INHERITED"}


def _look_alikes() -> dict[str, str]:
    from confusable_homoglyphs import categories, confusables

    twins = {}
    for ch, groups in confusables.confusables_data.items():
        if len(ch) != 1 or categories.alias(ch) in _KEPT_SCRIPTS:
            continue
        targets = [g["c"] for g in groups if len(g["c"]) == 1 and g["c"].isascii() and g["c"].isalpha()]
        if targets:
            twins[ch] = "i" if ch.isupper() and targets == ["l"] else targets[0].casefold()
    return {ch: twins.get(ch.upper()) or twins[ch] for ch in {c.casefold() for c in twins}
            if len(ch) == 1 and (twins.get(ch.upper()) or twins.get(ch))}


def _key(name: str, look_alikes: dict[str, str]) -> str:
    from confusable_homoglyphs import categories

    text = unicodedata.normalize("NFKC", name or "")
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf").casefold().translate(_GERMAN_FOLDS)
    words, word = [], []
    for ch in text + " ":
        if unicodedata.category(ch)[0] in "LNM":
            word.append(ch)
        elif word:
            spelled = "".join(word)
            if all(c in look_alikes or c.isascii() or categories.alias(c) in _KEPT_SCRIPTS for c in spelled):
                spelled = "".join(look_alikes.get(c, c) for c in spelled)
            words.append(spelled)
            word = []
    stripped = True
    while stripped:
        stripped = False
        for size in range(min(_FORM_WORDS_MAX, len(words) - 1), 0, -1):
            if "".join(words[-size:]) in _FORM_LETTERS:
                words, stripped = words[:-size], True
                break
    return "".join(words)[:200]


def _merge(bind, survivor: int, other: int) -> None:
    """Everything of company `other` to `survivor`, then `other` goes (as services.companies does)."""
    for column in ("company_id", "verified_company_id"):
        bind.execute(user.update().where(user.c[column] == other).values({column: survivor}))
    effective = sa.func.coalesce(user.c.verified_company_id, user.c.company_id)
    for table, owner, owners in (
        (goal_excluded, goal_excluded.c.goal_id, sa.select(goal.c.id).join(user, goal.c.owner_id == user.c.id)),
        (mentor_excluded, mentor_excluded.c.mentor_id,
         sa.select(mentor_profile.c.id).join(user, mentor_profile.c.user_id == user.c.id)),
    ):
        excluded = table.c.company_id
        own = owners.where(effective == survivor)
        bind.execute(table.delete().where(excluded.in_([survivor, other]), owner.in_(own)))
        bind.execute(table.delete().where(excluded == other, owner.in_(sa.select(owner).where(excluded == survivor))))
        bind.execute(table.update().where(excluded == other).values(company_id=survivor))

    def rivals(company_id: int) -> set[int]:
        rows = bind.execute(sa.select(links.c.company_id, links.c.competitor_id).where(
            sa.or_(links.c.company_id == company_id, links.c.competitor_id == company_id)))
        return {b if a == company_id else a for a, b in rows}

    moving = rivals(other) - rivals(survivor) - {survivor, other}
    bind.execute(links.delete().where(sa.or_(links.c.company_id == other, links.c.competitor_id == other)))
    for rival in sorted(moving):
        bind.execute(links.insert().values(company_id=survivor, competitor_id=rival))
    bind.execute(domains.update().where(domains.c.company_id == other).values(company_id=survivor))
    bind.execute(company.delete().where(company.c.id == other))


def upgrade():
    bind = op.get_bind()
    look_alikes = _look_alikes()
    groups: dict[str, list[int]] = {}
    for company_id, name in bind.execute(sa.select(company.c.id, company.c.name).order_by(company.c.id)):
        # A name with no letters or digits has no key; it keeps a placeholder no name can produce.
        groups.setdefault(_key(name, look_alikes) or f"#{company_id}", []).append(company_id)
    for ids in groups.values():
        for other in ids[1:]:
            _merge(bind, ids[0], other)
    # Two passes, because a survivor's new key may still be another survivor's old one.
    bind.execute(company.update().values(normalised_name="#" + sa.cast(company.c.id, sa.String)))
    for key, ids in groups.items():
        bind.execute(company.update().where(company.c.id == ids[0]).values(normalised_name=key))


def downgrade():
    # Merged companies cannot be split again; the new keys stay unique, which is all the old schema needs.
    pass
