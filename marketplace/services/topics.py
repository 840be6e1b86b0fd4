"""Topics: the taxonomy's pick list, free tags typed by people, and the one `slugify` that names them.

Mentor profiles and goals set their topics through `plan_topics` (checks, writes nothing) and `set_topics`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from flask_babel import gettext as _
from sqlalchemy import select

from ..extensions import db
from ..models import Goal, MentorProfile, Topic
from .fields import ProfileError, split_entries

TOPIC_MAX_LENGTH = 60
MAX_TOPICS = 10
SLUG_MAX = 80


def slugify(text: str) -> str:
    """A URL-safe key for a free tag, so "AI Ethics" and "ai  ethics" end up as one topic."""
    folded = text.casefold().replace("+", " plus ").replace("#", " sharp ")
    for umlaut, spelled in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        folded = folded.replace(umlaut, spelled)
    folded = "".join(c for c in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(c))
    return re.sub(r"[\W_]+", "-", folded).strip("-")[:SLUG_MAX].strip("-")



def unique_slug(base: str) -> str:
    """`base`, or `base-2`, `base-3`... whichever no topic has yet."""
    taken = set(db.session.scalars(select(Topic.slug).where(Topic.slug.startswith(base))))
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


def by_slug(slug: str) -> Topic | None:
    return db.session.scalar(select(Topic).where(Topic.slug == slug))


def taxonomy_topics() -> list[Topic]:
    """The seed taxonomy (no free tags), for pick lists."""
    return list(db.session.scalars(select(Topic).where(Topic.is_free_tag.is_(False)).order_by(Topic.name_en)))


def plan_topics(entries: str | Iterable[str] | None) -> list[Topic | tuple[str, str]]:
    """Existing topics, or (slug, text) for free tags still to create; checks the limits, writes nothing."""
    texts = split_entries(entries, ",;\n")
    too_long = [text for text in texts if len(text) > TOPIC_MAX_LENGTH]
    if too_long:
        raise ProfileError.invalid({"topics": _("A topic can have at most %(n)d characters.", n=TOPIC_MAX_LENGTH)})
    # The taxonomy is small; comparing in Python folds case the same way on SQLite and PostgreSQL.
    taxonomy = taxonomy_topics()
    by_key: dict[str, Topic] = {}
    for topic in taxonomy:
        for synonym in topic.synonyms or []:
            by_key.setdefault(synonym.casefold(), topic)
    for topic in taxonomy:
        by_key[topic.name_de.casefold()] = topic
        by_key[topic.name_en.casefold()] = topic
        by_key[topic.slug.casefold()] = topic
    plan: list[Topic | tuple[str, str]] = []
    seen: set[str] = set()
    for text in texts:
        topic = by_key.get(text.casefold())
        slug = topic.slug if topic else slugify(text)
        if not slug or slug in seen:
            continue
        if topic is None:
            topic = by_slug(slug)
        seen.add(slug)
        plan.append(topic if topic is not None else (slug, text))
    if len(plan) > MAX_TOPICS:
        raise ProfileError.invalid({"topics": _("Choose at most %(n)d topics.", n=MAX_TOPICS)})
    return plan


def _materialise(plan: list[Topic | tuple[str, str]]) -> list[Topic]:
    topics: list[Topic] = []
    for entry in plan:
        if isinstance(entry, Topic):
            topics.append(entry)
            continue
        slug, text = entry
        topic = Topic(slug=slug, name_en=text, name_de=text, synonyms=[], is_free_tag=True)
        db.session.add(topic)
        topics.append(topic)
    db.session.flush()
    return topics


def resolve_topics(slugs_and_free_tags: list[str]) -> list[Topic]:
    """Taxonomy topics by slug or English/German name (any case); anything else becomes a free tag.

    At most MAX_TOPICS topics of at most TOPIC_MAX_LENGTH characters each; raises ProfileError.
    """
    return _materialise(plan_topics(slugs_and_free_tags))


def planned_topics(slugs_and_free_tags: list[str]) -> list[Topic]:
    """What `resolve_topics` would answer, without writing: free tags still to create come as unsaved topics."""
    return [
        entry if isinstance(entry, Topic) else Topic(slug=entry[0], name_en=entry[1], name_de=entry[1])
        for entry in plan_topics(slugs_and_free_tags)
    ]


def set_topics(entity: MentorProfile | Goal, plan: list[Topic | tuple[str, str]]) -> None:
    topics = _materialise(plan)
    if {t.id for t in topics} != {t.id for t in entity.topics}:
        entity.topics = topics
    db.session.flush()
    # Reload in the database's order, so the embedded text (and its hash) does not depend on form order.
    db.session.expire(entity, ["topics"])

