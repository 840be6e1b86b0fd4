"""The bilingual topic taxonomy: find topics named in free text, in English or German."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

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


# Words of the taxonomy's terms at least this long are recognised with one typo in a query (one letter missing,
# extra, wrong or swapped with its neighbour): "feedbak culture", "recuiting", "Suchmaschinenoptimirung".
FUZZY_MIN_LENGTH = 5
# Searches and goals are read with that typo tolerance (TopicDetector(typos=...)); bench/ranking_eval.py --typos.
TYPOS_IN_QUERIES = True
_WORD_RE = re.compile(r"[^\W\d_]+")


Vocabulary = tuple[frozenset[str], dict[str, tuple[str, ...]]]
Signature = tuple[tuple[int, tuple[str, ...]], ...]  # per topic: its id and its sorted names and synonyms


@lru_cache(maxsize=8)
def _vocabulary(signature: tuple[tuple[int, tuple[str, ...]], ...]) -> Vocabulary:
    """The taxonomy's long words, and each one-letter deletion of them -> the words it came from."""
    words = frozenset(
        w.casefold() for _, terms in signature for term in terms for w in _WORD_RE.findall(term)
        if len(w) >= FUZZY_MIN_LENGTH
    )
    deletions: dict[str, set[str]] = defaultdict(set)
    for word in words:
        for i in range(len(word)):
            deletions[word[:i] + word[i + 1:]].add(word)
    return words, {key: tuple(sorted(found)) for key, found in deletions.items()}


@lru_cache(maxsize=8)
def _joined_terms(signature: Signature) -> dict[str, str]:
    """Each taxonomy term by its letters alone, casefolded ("tiktok" -> "TikTok", "viertagewoche" ->
    "Vier-Tage-Woche"), for the terms of at least FUZZY_MIN_LENGTH letters."""
    joined = {}
    for _, terms in signature:
        for term in terms:
            key = "".join(_WORD_RE.findall(term)).casefold()
            if len(key) >= FUZZY_MIN_LENGTH:
                joined.setdefault(key, term)
    return joined


_GAP_RE = re.compile(r"[ \t-]+")
JOINED_WORDS_MAX = 3  # "Vier Tage Woche"


def _joined(text: str, joined_terms: dict[str, str]) -> str:
    """`text` with two or three words that spell a taxonomy term when written together ("Tik Tok", "Chat GPT",
    "Vier Tage Woche", "Linked In") replaced by that term; only spaces or hyphens may stand between them."""
    words = list(_WORD_RE.finditer(text))
    parts, position, i = [], 0, 0
    while i < len(words):
        for count in range(min(JOINED_WORDS_MAX, len(words) - i), 1, -1):
            run = words[i:i + count]
            gaps = (text[a.end():b.start()] for a, b in zip(run, run[1:], strict=False))
            term = joined_terms.get("".join(w.group() for w in run).casefold())
            if term is not None and all(_GAP_RE.fullmatch(gap) for gap in gaps):
                parts += [text[position:run[0].start()], term]
                position, i = run[-1].end(), i + count
                break
        else:
            i += 1
    return "".join(parts) + text[position:] if parts else text


def _one_edit(a: str, b: str) -> bool:
    """Whether a and b differ by exactly one inserted, deleted or substituted letter, or one swap of neighbours."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]
                                  and a[diff[1]] == b[diff[0]])
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return any(long[:i] + long[i + 1:] == short for i in range(len(long)))


def _corrected(word: str, vocabulary: Vocabulary) -> str:
    """`word`, or the taxonomy word one typo away from it (the first in alphabetical order if several are)."""
    words, deletions = vocabulary
    folded = word.casefold()
    if len(folded) < FUZZY_MIN_LENGTH or folded in words:
        return word
    candidates = set(deletions.get(folded, ()))
    for i in range(len(folded)):
        shorter = folded[:i] + folded[i + 1:]
        if shorter in words:
            candidates.add(shorter)
        candidates.update(deletions.get(shorter, ()))
    matching = sorted(c for c in candidates if _one_edit(folded, c))
    return matching[0] if matching else word


def _taxonomy_rows() -> list:
    # Plain rows, not Topic objects: this runs on every search and suggestion.
    return list(db.session.execute(
        select(Topic.id, Topic.slug, Topic.name_en, Topic.name_de, Topic.synonyms)
        .where(Topic.is_free_tag.is_(False))
        .order_by(Topic.id)
    ))


def _signature(rows) -> tuple[tuple[int, tuple[str, ...]], ...]:
    return tuple((topic.id, tuple(sorted(_terms(topic)))) for topic in rows)


def taxonomy_signature() -> tuple[tuple[int, tuple[str, ...]], ...]:
    return _signature(_taxonomy_rows())


def topic_label(topic) -> str:
    """A topic's names as embedded texts carry them (vectors.topic_names): "English (Deutsch)", or the one name
    when both are the same; `topic` is a Topic or a row with its name columns."""
    return topic.name_en if topic.name_en == topic.name_de else f"{topic.name_en} ({topic.name_de})"


# (topic, text) results and word corrections a TopicDetector keeps, each: at most ~100 bytes an entry (a word of
# up to KEPT_WORD_LENGTH letters, a phrase of a taxonomy term), so ~20 MB a detector at most, whatever is searched.
MENTIONS_KEPT = 100_000
KEPT_WORD_LENGTH = 40


class TopicDetector:
    """The taxonomy's patterns, read from the database once and reused for many texts."""

    def __init__(self) -> None:
        rows = _taxonomy_rows()
        self.signature: Signature = _signature(rows)  # the topics' ids and terms: what caches key on
        self._patterns = _compiled(self.signature)
        # id, name_en and name_de of every taxonomy topic: what vectors.topic_names reads, without a query.
        self.topics = {row.id: row for row in rows}
        self.labels = {row.id: topic_label(row) for row in rows}  # each topic's topic_label
        # What each pattern found in each text seen, by (topic id, hash of the text): a mentor's text is searched
        # for the same few topics by every ranking that fetches it; and each word's typo correction. A detector
        # lives as long as the taxonomy it was read from (reference.matching_state), so nothing kept outlives a
        # change of the taxonomy.
        self._found: dict[tuple[int, int], str | None] = {}
        self._corrections: dict[str, str] = {}  # each word's `_corrected`

    def __call__(self, text: str, topic_ids: set[int] | None = None, typos: bool = False) -> list[TopicMention]:
        """Mentions in `text`; with `topic_ids`, only those topics are looked for (a ranking needs no others).

        With `typos` (what a person typed: a search, a goal), a taxonomy word written with one typo counts too;
        such a mention's phrase is the corrected word. Never for mentors' texts: their mentions are shown."""
        patterns = self._patterns if topic_ids is None else [(i, p) for i, p in self._patterns if i in topic_ids]
        found = _detect(patterns, text, self._found)
        if typos and text:
            corrected = self._corrected_text(text)
            if corrected != text:
                seen = {m.topic_id for m in found}
                found += [m for m in _detect(patterns, corrected, self._found) if m.topic_id not in seen]
        return found

    def _corrected_text(self, text: str) -> str:
        """`text` with words that spell a taxonomy term apart written as that term ("Tik Tok": `_joined`) and each
        word one typo away from a taxonomy word replaced by that word. Each word's correction is kept: words recur
        across goals and searches, so a text never seen before is corrected from kept words."""
        vocabulary = _vocabulary(self.signature)
        text = _joined(text, _joined_terms(self.signature))

        def corrected(match: re.Match) -> str:
            word = match.group()
            found = self._corrections.get(word)
            if found is None:
                found = _corrected(word, vocabulary)
                if len(word) <= KEPT_WORD_LENGTH:  # the memory bound: a longer word is corrected each time
                    _keep(self._corrections, word, found)
            return found

        return _WORD_RE.sub(corrected, text)


DESCRIPTIONS_FILE = Path(__file__).resolve().parents[2] / "data" / "topic_descriptions.json"


@cache
def descriptions() -> dict[str, list[str]]:
    """One sentence in English and one in German describing each seed topic, by slug (written from the
    taxonomy's names and synonyms only): what a topic's vector embeds (vectors.topic_text)."""
    return json.loads(DESCRIPTIONS_FILE.read_text(encoding="utf-8"))


def detect_topics(text: str) -> list[TopicMention]:
    """Taxonomy topics mentioned in `text` by name or synonym, each with the phrase that named it."""
    return _detect(_compiled(taxonomy_signature()), text, {})  # one text: nothing worth keeping


_UNSEEN = object()  # a pattern not yet tried on a text (None: tried, nothing found)


def _detect(
    patterns: list[tuple[int, re.Pattern]], text: str, kept: dict[tuple[int, int], str | None]
) -> list[TopicMention]:
    """The patterns' mentions in `text`; what each pattern found is looked up in `kept` (a TopicDetector's store)
    by (topic id, hash of the text) and kept there (a hash collision of two texts under 64-bit SipHash is left
    out of account)."""
    if not text:
        return []
    text_key = hash(text)
    found = []
    for topic_id, pattern in patterns:
        key = (topic_id, text_key)
        # One lookup, not `in` and then `[]`: another thread may empty the store in between.
        phrase = kept.get(key, _UNSEEN)
        if phrase is _UNSEEN:
            match = pattern.search(text)
            phrase = match.group(1) if match else None
            _keep(kept, key, phrase)
        if phrase is not None:
            found.append(TopicMention(topic_id, phrase))
    return found


def _keep(store: dict, key, value) -> None:
    """Keep `value` in one of a TopicDetector's bounded stores: emptied when MENTIONS_KEPT entries are reached."""
    if len(store) >= MENTIONS_KEPT:
        store.clear()
    store[key] = value


def seed_topics(locale: str | None = None) -> list[Topic]:
    """The taxonomy (no free tags), by name in `locale`'s language: what a search that found nobody offers."""
    topics = db.session.scalars(select(Topic).where(Topic.is_free_tag.is_(False)).order_by(Topic.name_en))
    return sorted(topics, key=lambda t: t.display_name(locale).casefold()) if locale else list(topics)
