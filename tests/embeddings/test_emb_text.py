"""content_hash and highlight_phrases."""

from __future__ import annotations

import random

from embeddings import content_hash, highlight_phrases


def test_content_hash_ignores_cosmetic_whitespace() -> None:
    a = content_hash("Personal branding\n on  LinkedIn ", "st:all-MiniLM-L6-v2")
    assert a == content_hash("Personal branding on LinkedIn", "st:all-MiniLM-L6-v2")
    assert len(a) == 64 and int(a, 16) >= 0


def test_content_hash_depends_on_text_case_and_config() -> None:
    base = content_hash("TikTok", "st:all-MiniLM-L6-v2")
    assert base != content_hash("TikTok", "use:multilingual-v3")
    assert base != content_hash("tiktok", "st:all-MiniLM-L6-v2")
    assert base != content_hash("TikTok!", "st:all-MiniLM-L6-v2")


def test_content_hash_unicode_normalised() -> None:
    composed = "F\u00fchrung"
    decomposed = "Fu\u0308hrung"
    assert content_hash(composed, "c") == content_hash(decomposed, "c")


def test_highlight_english_phrase_and_casing() -> None:
    doc = "I help executives build a personal brand on LinkedIn and TikTok."
    assert highlight_phrases("LinkedIn personal branding", doc) == ["personal brand", "LinkedIn"]


def test_highlight_stem_prefix_match() -> None:
    doc = "Leaders of engineering teams: Kubernetes clusters, leadership coaching"
    phrases = highlight_phrases("leadership for engineers", doc)
    assert phrases[0] == "leadership coaching"
    assert set(phrases) == {"leadership coaching", "Leaders", "engineering teams"}


def test_highlight_german() -> None:
    doc = "Coaching für Führungskräfte in Banken; moderne Leadership-Formate, agile Führung."
    phrases = highlight_phrases("Ich möchte Führung und Leadership lernen", doc, max_phrases=3)
    assert "Führungskräfte" in phrases
    assert "agile Führung" in phrases
    assert "moderne Leadership-Formate" in phrases


def test_highlight_phrase_prefers_more_query_words() -> None:
    doc = "Social media basics. Instagram marketing for brands. We also do Instagram."
    phrases = highlight_phrases("instagram marketing", doc, max_phrases=2)
    assert phrases == ["Instagram marketing", "Instagram"]


def test_highlight_stops_at_punctuation_and_stop_words() -> None:
    doc = "Python, data science and TikTok analytics dashboards for the board"
    assert highlight_phrases("tiktok", doc) == ["TikTok analytics dashboards"]
    assert highlight_phrases("python", doc) == ["Python"]


def test_highlight_ignores_stop_words_and_short_prefixes() -> None:
    assert highlight_phrases("the and of für", "The board of the bank and für uns") == []
    assert highlight_phrases("communication", "Kubernetes community") == ["Kubernetes community"]  # shared 'commun'
    assert highlight_phrases("data", "database design") == []  # 'data' is a 4-letter prefix only
    assert highlight_phrases("app", "Apps for Gen Z") == ["Apps"]


def test_highlight_limits_and_dedupes() -> None:
    doc = "TikTok. TikTok! tiktok; TikTok trends"
    assert highlight_phrases("tiktok", doc, max_phrases=5) == ["TikTok", "TikTok trends"]
    assert highlight_phrases("tiktok", doc, max_phrases=1) == ["TikTok"]
    assert highlight_phrases("tiktok", doc, max_phrases=0) == []
    assert highlight_phrases("", doc) == []
    assert highlight_phrases("tiktok", "") == []


def test_highlight_is_deterministic() -> None:
    doc = "Mentoring on AI tools, ChatGPT prompts and AI ethics for leaders"
    first = highlight_phrases("AI tools for leadership", doc)
    assert first == highlight_phrases("AI tools for leadership", doc)
    assert first[0] == "AI tools"


def _reference_strength(word: str, term: str) -> int:
    """The documented rule, word by word: 2 same word; 1 one is the other plus <= 2 letters (the shorter
    has >= 3) or they share a prefix of >= 5 letters; else 0."""
    if word == term:
        return 2
    short, long_ = sorted((word, term), key=len)
    if len(short) >= 3 and long_.startswith(short) and len(long_) - len(short) <= 2:
        return 1
    return 1 if len(word) >= 5 and len(term) >= 5 and word[:5] == term[:5] else 0


def test_term_matching_follows_the_documented_rule_for_every_pair() -> None:
    from embeddings.text import _TermMatcher

    rng = random.Random(3)
    stems = ["lead", "leader", "team", "führung", "app", "data", "datum", "brand", "branding", "ki", "kis"]
    words = sorted({stem + "".join(rng.choice("aeilnrs") for _ in range(rng.randint(0, 4))) for stem in stems
                    for _ in range(12)} | set(stems))
    terms = rng.sample(words, len(words))  # every word is a term too, in random order
    match = _TermMatcher(terms)
    for word in words:
        expected = {i: s for i, term in enumerate(terms) if (s := _reference_strength(word, term))}
        assert match(word) == expected, word


def test_highlight_phrases_are_whole_not_fragments() -> None:
    """Issue 16: no "Gen" cut from "Gen Z", no phrase grown into an adverb ("young candidates actually")."""
    doc = "I know what young candidates actually expect from employers: Gen Z wants purpose."
    phrases = highlight_phrases("Gen Z expectations of young candidates", doc)
    assert "Gen Z" in phrases
    assert "young candidates" in phrases
    assert not any(p in ("Gen", "young candidates actually") for p in phrases)
