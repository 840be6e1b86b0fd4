"""Pure text helpers: embedding cache keys and match explanations."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache

__all__ = ["content_hash", "highlight_phrases", "normalize_text", "STOP_WORDS", "term_coverage"]

_WS_RE = re.compile(r"\s+")
# Words, keeping inner hyphens/apostrophes ("cross-company", "don't").
_WORD_RE = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*", re.UNICODE)
_MIN_PREFIX = 5  # shared prefix that counts as "same stem": leadership/leaders, Führungskräfte/Führung
_MAX_SUFFIX = 2  # a short word also matches itself plus <= 2 letters: app/apps, team/teams
_PHRASE_NEIGHBOURS = 2

_EN_STOP = """
a about above after again against all also am an and any are as at be because been before being below
between both but by can could did do does doing down during each etc few for from further get got had has
have having he her here hers herself him himself his how i if in into is it its itself just let me more
most much my myself no nor not now of off on once only or other our ours ourselves out over own per same
she should so some such than that the their theirs them themselves then there these they this those
through to too under until up us very via was we well were what when where which while who whom why will
with within without would you your yours yourself yourselves want wants like need needs help helps using
use new way ways make one two lot lots really actually basically often always never quite still even maybe
perhaps usually simply especially
"""

_DE_STOP = """
aber alle allem allen aller alles als also am an ander andere anderen anderer anderes auch auf aus bei
beim bin bis bist da damit dann das dass dein deine dem den denn der des dich die dies diese diesem diesen
dieser dieses dir doch dort du durch ein eine einem einen einer eines er es etwas euch euer eure für gegen
gewesen hab habe haben hat hatte hatten hier hin hinter ich ihm ihn ihnen ihr ihre ihrem ihren ihrer ihres
im in ins ist jede jedem jeden jeder jedes jetzt kann kein keine keinem keinen keiner können könnte man
manche mehr mein meine mich mir mit muss möchte nach nicht nichts noch nun nur ob oder ohne sehr sein
seine seinem seinen seiner sich sie sind so solche soll sollte sondern über um und uns unser unsere unter
vom von vor war waren was weil welche welchem welchen welcher wenn wer werde werden wie wieder will wir
wird wo wollen würde zu zum zur zwischen bzw gerne lernen möchten eigentlich wirklich oft immer schon gar
eher etwa ganz genau dabei dazu eben halt quasi
"""

#: Lowercased English and German words ignored when explaining a match.
STOP_WORDS: frozenset[str] = frozenset((_EN_STOP + _DE_STOP).split())


def normalize_text(text: str) -> str:
    """NFC-normalise and collapse whitespace, so cosmetic edits keep one hash."""
    return _WS_RE.sub(" ", unicodedata.normalize("NFC", text)).strip()


def content_hash(text: str, config: str) -> str:
    """sha256 hex of normalised ``text`` and the encoder ``config``.

    Stored next to a cached embedding: a row is re-encoded only when its
    text or the encoder changed.
    """
    payload = config.encode("utf-8") + b"\x00" + normalize_text(text).encode("utf-8")
    return hashlib.sha256(payload).hexdigest()


def _fold(word: str) -> str:
    return unicodedata.normalize("NFC", word).casefold()


def _is_stop(folded: str) -> bool:
    return folded in STOP_WORDS or len(folded) < 2


class _TermMatcher:
    """Which query terms a document word matches, and how strongly: 2 = same word, 1 = same stem (one word
    is the other plus <= 2 letters, the shorter having >= 3; or a shared prefix of >= 5 letters).

    Dictionary lookups instead of comparing every word with every term: explaining five matches of a
    long goal took ~10 ms of a suggestions request that way.
    """

    def __init__(self, terms: list[str]) -> None:
        self.exact = {term: i for i, term in enumerate(terms)}
        self.by_prefix: dict[str, list[int]] = {}
        self.by_stem: dict[str, list[int]] = {}  # a term minus its last 1-2 letters
        for i, term in enumerate(terms):
            if len(term) >= _MIN_PREFIX:
                self.by_prefix.setdefault(term[:_MIN_PREFIX], []).append(i)
            for cut in range(1, _MAX_SUFFIX + 1):
                if len(term) - cut >= 3:
                    self.by_stem.setdefault(term[:-cut], []).append(i)

    def __call__(self, word: str) -> dict[int, int]:
        found = dict.fromkeys(self.by_stem.get(word, ()), 1)  # the term is this word plus 1-2 letters
        if len(word) >= _MIN_PREFIX:
            found.update(dict.fromkeys(self.by_prefix.get(word[:_MIN_PREFIX], ()), 1))
        for cut in range(1, _MAX_SUFFIX + 1):  # this word is a term plus 1-2 letters
            if len(word) - cut >= 3 and word[:-cut] in self.exact:
                found[self.exact[word[:-cut]]] = 1
        if word in self.exact:
            found[self.exact[word]] = 2
        return found

    def covered(self, words: Iterable[str], wanted: int) -> int:
        """How many distinct terms `words` match (as __call__ would, strength aside), stopping once all `wanted`
        are found: term_coverage's loop without a dictionary built per word (it reads ~10 documents a request)."""
        found: set[int] = set()
        exact, by_stem, by_prefix = self.exact, self.by_stem, self.by_prefix
        for word in words:
            if word in exact:
                found.add(exact[word])
            if word in by_stem:
                found.update(by_stem[word])
            if len(word) >= _MIN_PREFIX and word[:_MIN_PREFIX] in by_prefix:
                found.update(by_prefix[word[:_MIN_PREFIX]])
            for cut in range(1, _MAX_SUFFIX + 1):
                if len(word) - cut >= 3 and word[:-cut] in exact:
                    found.add(exact[word[:-cut]])
            if len(found) == wanted:
                break
        return len(found)


def _query_terms(query: str) -> list[str]:
    terms = []
    for m in _WORD_RE.finditer(query):
        folded = _fold(m.group())
        if not _is_stop(folded) and folded not in terms:
            terms.append(folded)
    return terms


@lru_cache(maxsize=256)
def _query_matcher(query: str) -> tuple[int, _TermMatcher]:
    """(number of terms, matcher) of a query: a ranking asks term_coverage about ~50 documents per query,
    and building them each time was a third of its cost. Read-only once built, so threads share them."""
    terms = _query_terms(query)
    return len(terms), _TermMatcher(terms)


_Token = tuple[int, int, str]  # a document word: start, end, casefolded text


@lru_cache(maxsize=4096)
def _document_words(document: str) -> tuple[tuple[_Token, ...], frozenset[str]]:
    """A document's words (start, end, casefolded) and its distinct content words. Kept for the documents
    read most: a ranking reads the same mentors' texts query after query, twice each (term_coverage and
    highlight_phrases), and splitting and folding them was most of that work."""
    tokens = tuple((m.start(), m.end(), _fold(m.group())) for m in _WORD_RE.finditer(document))
    return tokens, frozenset(folded for _, _, folded in tokens if not _is_stop(folded))


def term_coverage(query: str, document: str) -> float:
    """Share of the query's content words that ``document`` contains (same word or stem, as highlights
    match): lexical evidence that a document is about the query, 0.0 when nothing of it is there."""
    count, match = _query_matcher(query)
    if not count:
        return 0.0
    return match.covered(_document_words(document)[1], count) / count


def highlight_phrases(query: str, document: str, max_phrases: int = 3) -> list[str]:
    """Short phrases of ``document`` that explain why it matched ``query``.

    Lexical: a document word matches a query word when equal after
    casefolding, or sharing a stem (prefix of >= 5 letters, or one word is the
    other plus <= 2 letters). Stop words (English, German) never match. Each
    match grows into a phrase with up to 2 neighbouring non-stop words of the
    same clause, preferring neighbours that match too. Phrases keep the
    document's casing and come best first: more distinct query words, then
    more exact matches, then earlier in the document.
    """
    if max_phrases < 1:
        return []
    count, match = _query_matcher(query)
    if not count:
        return []

    tokens = _document_words(document)[0]
    if not tokens:
        return []
    # matches[i] = {query term index: strength} for document token i
    matches = [{} if _is_stop(folded) else match(folded) for _, _, folded in tokens]
    joined = _joiner(document, tokens)

    candidates = []
    for i, found in enumerate(matches):
        if found:
            lo, hi = _grow_phrase(i, matches, joined)
            candidates.append((_phrase_rank(matches, lo, hi), lo, hi))
    return _best_phrases(document, tokens, candidates, max_phrases)


def _joiner(document: str, tokens: Sequence[_Token]) -> Callable[[int], bool]:
    """`joined(i)`: tokens i-1 and i are in one run, both content words with only whitespace between them."""

    # A one-character capital or digit ends a name rather than being a stop word: "Gen Z", "Industrie 4".
    def content(i: int) -> bool:
        start, end, folded = tokens[i]
        return not _is_stop(folded) or (end - start == 1 and (document[start].isupper() or document[start].isdigit()))

    def joined(i: int) -> bool:
        gap = document[tokens[i - 1][1] : tokens[i][0]]
        return gap.strip() == "" and content(i - 1) and content(i)

    return joined


def _grow_phrase(i: int, matches: list[dict[int, int]], joined: Callable[[int], bool]) -> tuple[int, int]:
    """The token span (lo, hi) a match at token i grows into: up to _PHRASE_NEIGHBOURS words of its run."""
    lo = hi = i
    for _ in range(_PHRASE_NEIGHBOURS):
        left = lo - 1 if lo > 0 and joined(lo) else None
        right = hi + 1 if hi + 1 < len(matches) and joined(hi + 1) else None
        # grow toward a matching neighbour first, else to the right (reads naturally)
        if left is not None and matches[left] and not (right is not None and matches[right]):
            lo = left
        elif right is not None:
            hi = right
        elif left is not None:
            lo = left
        else:
            break
    return lo, hi


def _phrase_rank(matches: list[dict[int, int]], lo: int, hi: int) -> tuple[int, int, int, int]:
    """Sort key of a phrase, best first: more distinct query terms, more exact matches, earlier."""
    covered: dict[int, int] = {}
    for j in range(lo, hi + 1):
        for t, strength in matches[j].items():
            covered[t] = max(covered.get(t, 0), strength)
    exact = sum(1 for s in covered.values() if s == 2)
    return -len(covered), -exact, lo, hi


def _best_phrases(
    document: str, tokens: Sequence[_Token], candidates: list[tuple[tuple[int, ...], int, int]], max_phrases: int
) -> list[str]:
    """The best candidates' texts, skipping any that overlaps a chosen one or repeats its text."""
    chosen: list[tuple[int, int]] = []
    seen: set[str] = set()
    phrases = []
    for _, lo, hi in sorted(candidates):
        if any(lo <= c_hi and c_lo <= hi for c_lo, c_hi in chosen):
            continue
        text = _WS_RE.sub(" ", document[tokens[lo][0] : tokens[hi][1]])
        key = text.casefold()
        if key in seen:
            continue
        seen.add(key)
        chosen.append((lo, hi))
        phrases.append(text)
        if len(phrases) == max_phrases:
            break
    return phrases
