"""The bilingual topic taxonomy: find topics named in free text, in English or German."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import select

from ...extensions import db
from ...models import Topic


@dataclass(frozen=True)
class TopicMention:
    topic_id: int
    phrase: str


def _terms(topic) -> list[str]:
    """Names and synonyms of a topic (a Topic or a row with the same columns)."""
    return [term for term in {topic.name_en, topic.name_de, *(topic.synonyms or [])} if term and len(term) >= 2]


@lru_cache(maxsize=8)
def _compiled(signature: tuple[tuple[int, tuple[str, ...]], ...]) -> list[tuple[int, re.Pattern]]:
    patterns = []
    for topic_id, terms in signature:
        # Short terms ("KI", "AI") must stand alone; longer ones may start a German compound or
        # carry an ending ("Fehlerkultur" in "Fehlerkulturen").
        alternatives = [
            re.escape(term) + (r"(?!\w)" if len(term) <= 4 else "")
            for term in sorted(terms, key=len, reverse=True)
        ]
        patterns.append((topic_id, re.compile(r"(?<!\w)(" + "|".join(alternatives) + r")", re.IGNORECASE)))
    return patterns


def taxonomy_signature() -> tuple[tuple[int, tuple[str, ...]], ...]:
    # Plain rows, not Topic objects: this runs on every search and suggestion.
    rows = db.session.execute(
        select(Topic.id, Topic.name_en, Topic.name_de, Topic.synonyms)
        .where(Topic.is_free_tag.is_(False))
        .order_by(Topic.id)
    )
    return tuple((topic.id, tuple(sorted(_terms(topic)))) for topic in rows)


class TopicDetector:
    """The taxonomy's patterns, read from the database once and reused for many texts."""

    def __init__(self) -> None:
        self._patterns = _compiled(taxonomy_signature())

    def __call__(self, text: str, topic_ids: set[int] | None = None) -> list[TopicMention]:
        """Mentions in `text`; with `topic_ids`, only those topics are looked for (a ranking needs no others)."""
        if topic_ids is None:
            return _detect(self._patterns, text)
        return _detect([(topic_id, pattern) for topic_id, pattern in self._patterns if topic_id in topic_ids], text)


def detect_topics(text: str) -> list[TopicMention]:
    """Taxonomy topics mentioned in `text` by name or synonym, each with the phrase that named it."""
    return _detect(_compiled(taxonomy_signature()), text)


def _detect(patterns: list[tuple[int, re.Pattern]], text: str) -> list[TopicMention]:
    if not text:
        return []
    found = []
    for topic_id, pattern in patterns:
        match = pattern.search(text)
        if match:
            found.append(TopicMention(topic_id, match.group(1)))
    return found


def seed_topics(locale: str | None = None) -> list[Topic]:
    """The taxonomy (no free tags), by name in `locale`'s language: what a search that found nobody offers."""
    topics = db.session.scalars(select(Topic).where(Topic.is_free_tag.is_(False)).order_by(Topic.name_en))
    return sorted(topics, key=lambda t: t.display_name(locale).casefold()) if locale else list(topics)
