"""Why a cohort pair was proposed: built as codes with parameters when matching, worded when read.

`Tandem.reasons` holds `{"code": ..., "params": {...}}` items whose parameters name nothing in a language
(topic ids, language codes, the matching words as written), so the review page, the API and an e-mail each
word them in their reader's language with `reason_texts`, the one home of the wording. Drafts matched
before reasons were stored this way hold plain text, shown as it was written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from embeddings import highlight_phrases

from ...extensions import db
from ...models import Goal, MentorProfile, Topic
from ..fields import language_name
from ..matching import taxonomy
from ..matching.search import goal_words, mentor_words, weak_pair

WEAK_MATCH, SHARED_TOPICS, MENTIONED_TOPICS, MATCHING_WORDS, SHARED_LANGUAGES = (
    "weak_match", "shared_topics", "mentioned_topics", "matching_words", "shared_languages")
WORDING = {
    WEAK_MATCH: _l("Weak match: below the relevance floor of suggestions. Check this pair."),
    SHARED_TOPICS: _l("Shared topics: %(topics)s"),
    MENTIONED_TOPICS: _l("Also mentions: %(topics)s"),
    MATCHING_WORDS: _l("Matching words: %(phrases)s"),
    SHARED_LANGUAGES: _l("Shared languages: %(languages)s"),
}

Reason = dict[str, Any]  # {"code": one of WORDING, "params": {...}}; older rows: a text


def _reason(code: str, **params: Any) -> Reason:
    return {"code": code, "params": params}


def explain(
    goal: Goal, profile: MentorProfile, goal_topics: set[int], mentor_topics: set[int], score: float,
    detect: taxonomy.TopicDetector | None = None,
) -> list[Reason]:
    """Why this pair: shared topics (chosen on the profile), topics the mentor's text only mentions, the words
    that matched, shared languages; first a warning when the pair is below the relevance floor."""
    reasons = []
    if weak_pair(score, goal, profile, detect):
        reasons.append(_reason(WEAK_MATCH))
    chosen = {t.id for t in profile.topics}
    if goal_topics & chosen:
        reasons.append(_reason(SHARED_TOPICS, topics=sorted(goal_topics & chosen)))
    mentioned = (goal_topics & mentor_topics) - chosen
    if mentioned:
        reasons.append(_reason(MENTIONED_TOPICS, topics=sorted(mentioned)))
    phrases = highlight_phrases(goal_words(goal), mentor_words(profile), max_phrases=3)
    if phrases:
        reasons.append(_reason(MATCHING_WORDS, phrases=list(phrases)))
    languages = sorted(set(goal.language_list) & set(profile.language_list))
    if languages:
        reasons.append(_reason(SHARED_LANGUAGES, languages=languages))
    return reasons


def topic_names(reason_lists: Iterable[Sequence[Reason | str] | None]) -> dict[int, str]:
    """The names, in the reader's language, of every topic these reasons name: one query for a whole page."""
    ids = {topic_id for reasons in reason_lists for reason in reasons or () if isinstance(reason, dict)
           for topic_id in reason.get("params", {}).get("topics", ())}
    if not ids:
        return {}
    locale = str(get_locale() or "en")
    return {t.id: t.display_name(locale) for t in db.session.scalars(select(Topic).where(Topic.id.in_(ids)))}


def reason_texts(reasons: Sequence[Reason | str] | None, names: Mapping[int, str] | None = None) -> list[str]:
    """A pair's reasons as its reader reads them, in the current language; `names` from `topic_names` saves
    the query when a page shows many pairs. A topic deleted since is left out."""
    names = topic_names([reasons]) if names is None else names
    texts = []
    for reason in reasons or ():
        if isinstance(reason, str):  # matched before reasons were stored as codes
            texts.append(reason)
            continue
        code, params = reason.get("code"), reason.get("params", {})
        if code in (SHARED_TOPICS, MENTIONED_TOPICS):
            topics = sorted(names[i] for i in params.get("topics", ()) if i in names)
            if topics:
                texts.append(str(WORDING[code]) % {"topics": ", ".join(topics)})
        elif code == MATCHING_WORDS:
            texts.append(str(WORDING[code]) % {"phrases": ", ".join(f"“{p}”" for p in params.get("phrases", ()))})
        elif code == SHARED_LANGUAGES:
            languages = ", ".join(map(language_name, params.get("languages", ())))
            texts.append(str(WORDING[code]) % {"languages": languages})
        elif code in WORDING:
            texts.append(str(WORDING[code]))
    return texts
