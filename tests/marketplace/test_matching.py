"""Search by topic and suggestions for goals, with the real bundled model."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import delete

from marketplace.extensions import db
from marketplace.models import MentorProfile, mentor_topics
from marketplace.services import companies, topics
from marketplace.services.matching import search, taxonomy, vectors
from tests.builders import make_goal, make_mentor, make_user


@pytest.fixture
def mentors(app):
    """A handful of mentors on clearly different subjects, each at its own company."""
    return {
        "linkedin": make_mentor(
            headline="LinkedIn and personal branding for executives",
            text="I help leaders build a professional presence on LinkedIn: profile, posting rhythm, network.",
            topic_slugs=("digital-reputation",),
            company="Brandwerk Studio",
        ),
        "ai": make_mentor(
            headline="Generative AI explained for managers",
            text="I demystify generative AI and ChatGPT for executives and show practical use cases.",
            topic_slugs=("artificial-intelligence",),
            company="Neuronal GmbH",
        ),
        "agile": make_mentor(
            headline="Agile teams and Scrum in practice",
            text="Scrum, Kanban and retrospectives: how agile teams plan and learn together.",
            topic_slugs=("agile-organisations",),
            company="Sprintwerk AG",
        ),
    }


def test_search_ranks_the_fitting_mentor_first_and_explains_why(app, mentors):
    viewer = make_user(company="Old Industry AG")
    results = search.search_mentors("how to grow on LinkedIn", viewer, k=3)
    assert results[0].mentor.id == mentors["linkedin"].id
    best = results[0]
    assert 0 <= best.score <= 1
    assert any("LinkedIn" in phrase for phrase in best.highlights)
    assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)


def test_german_query_finds_the_english_ai_mentor(app, mentors):
    viewer = make_user(company="Old Industry AG")
    results = search.search_mentors("KI für Führungskräfte", viewer, k=3)
    assert results[0].mentor.id == mentors["ai"].id
    assert [t.slug for t in results[0].matched_topics] == ["artificial-intelligence"]


def test_a_full_width_query_finds_what_the_plain_one_finds(app, mentors):
    viewer = make_user(company="Old Industry AG")
    plain = search.search_mentors("KI für Führungskräfte", viewer, k=3)
    wide = search.search_mentors("ＫＩ ｆüｒ Ｆüｈｒｕｎｇｓｋｒäｆｔｅ", viewer, k=3)
    assert [(m.mentor.id, m.score, [t.slug for t in m.matched_topics]) for m in wide] == [
        (m.mentor.id, m.score, [t.slug for t in m.matched_topics]) for m in plain]


def test_search_never_shows_the_viewers_own_company_or_competitors(app, mentors):
    viewer = make_user(company="Brandwerk Studio")
    rival = companies.find_company("Neuronal GmbH")
    companies.link_competitors(companies.find_company("Brandwerk Studio"), rival)
    db.session.commit()
    shown = {r.mentor.id for r in search.search_mentors("LinkedIn and AI", viewer, k=10)}
    assert mentors["linkedin"].id not in shown
    assert mentors["ai"].id not in shown
    assert mentors["agile"].id in shown


def test_search_filters_by_language_and_rejects_empty_queries(app, mentors):
    german_only = make_mentor(headline="Social Media für den Mittelstand", text="Instagram und TikTok verstehen.",
                              languages="de", company="Klickfabrik")
    viewer = make_user(company="Old Industry AG")
    assert {r.mentor.id for r in search.search_mentors("social media", viewer, k=10, language="en")}.isdisjoint(
        {german_only.id}
    )
    with pytest.raises(search.MatchingError):
        search.search_mentors("   ", viewer)


def test_paused_and_full_mentors_are_not_suggested(app, mentors):
    mentors["ai"].is_open = False
    vectors.refresh_mentor(mentors["ai"])
    db.session.commit()
    viewer = make_user(company="Old Industry AG")
    shown = {r.mentor.id for r in search.search_mentors("generative AI", viewer, k=10)}
    assert mentors["ai"].id not in shown


def test_goal_suggestions_apply_every_hard_rule(app, mentors):
    other_ai = make_mentor(headline="KI-Strategie für den Mittelstand",
                           text="Ich zeige Familienunternehmen, wo künstliche Intelligenz heute schon hilft.",
                           topic_slugs=("artificial-intelligence",), company="Denkfabrik KG")
    goal = make_goal(
        title="Ich möchte verstehen, was KI für unseren Mittelstand bedeutet",
        description="Wir sind ein Familienunternehmen und wissen nicht, wo wir mit künstlicher Intelligenz anfangen.",
        company="Neuronal GmbH",  # the AI mentor's own company
        excluded=("Sprintwerk AG",),
    )
    shown = [m.mentor.id for m in search.suggestions_for_goal(goal, k=5)]
    assert mentors["ai"].id not in shown  # same company
    assert mentors["agile"].id not in shown  # excluded by the goal
    assert shown == [other_ai.id]  # the LinkedIn mentor is allowed but unrelated: not shown to fill the list


def test_a_mentor_already_asked_or_mentoring_the_goals_owner_is_no_suggestion_but_still_found(app):
    """The pair rule in suggestions: a mentor whom the goal's owner has a request pending with (for another goal)
    or a tandem running with is not suggested; a mentor paired with someone else is; a search still finds all
    three (it judges no pairs: the request step refuses the existing one)."""
    from marketplace.services import tandems

    def ai_mentor(name: str):
        return make_mentor(headline=f"Generative AI for executives ({name})",
                           text="I explain generative AI and ChatGPT to executives with practical use cases.",
                           topic_slugs=("artificial-intelligence",), company=f"{name} GmbH", capacity=2)

    asked, mentoring, elsewhere = ai_mentor("Asked"), ai_mentor("Mentoring"), ai_mentor("Elsewhere")
    first = make_goal(title="AI for my board", description="Generative AI for our board meetings.",
                      company="Old Industry AG")
    owner = first.owner
    tandems.request_tandem(first, asked, owner)
    running = make_goal(title="ChatGPT at work", description="ChatGPT for my daily work.", owner=owner)
    tandems.accept(tandems.request_tandem(running, mentoring, owner), mentoring.user)
    someone = make_goal(title="AI basics", description="Generative AI basics.", company="Other Industry AG")
    tandems.request_tandem(someone, elsewhere, someone.owner)
    goal = make_goal(title="Generative AI for executives", description="What ChatGPT can do for executives.",
                     owner=owner)
    db.session.commit()
    suggested = {m.mentor.id for m in search.suggestions_for_goal(goal, k=5)}
    assert elsewhere.id in suggested
    assert asked.id not in suggested and mentoring.id not in suggested
    found = {m.mentor.id for m in search.search_mentors("generative AI for executives", owner, k=10)}
    assert {asked.id, mentoring.id, elsewhere.id} <= found


def test_over_fetching_fills_the_list_when_many_candidates_are_filtered(app):
    blocked_company = "Same Company AG"
    for i in range(30):
        make_mentor(headline=f"AI strategy coach {i}", text="Generative AI strategy for executives.",
                    company=blocked_company)
    others = [make_mentor(headline=f"AI adviser {i}", text="Generative AI strategy and tools for executives.",
                          company=f"Other {i}") for i in range(6)]
    goal = make_goal(title="AI strategy", description="Generative AI strategy for my company.",
                     company=blocked_company)
    shown = [m.mentor.id for m in search.suggestions_for_goal(goal, k=5)]
    assert len(shown) == 5
    assert set(shown) <= {p.id for p in others}


def test_goals_for_mentor_only_lists_discoverable_open_goals(app, mentors):
    visible = make_goal(title="Use AI in our sales team", description="How could ChatGPT help our sales people?")
    hidden = make_goal(title="AI for my board", description="Explain generative AI to my board.", discoverable=False)
    closed = make_goal(title="AI ethics", description="Responsible AI in banking.", status="closed")
    listed = [m.goal.id for m in search.goals_for_mentor(mentors["ai"], k=10)]
    assert visible.id in listed
    assert hidden.id not in listed and closed.id not in listed


def test_suggestions_for_a_saved_goal_rank_from_its_stored_vector(app, mentors, monkeypatch):
    """A goal that names a topic it is not tagged with is embedded with that topic's names when saved, as a
    search would be; opening its suggestions then encodes nothing (issue 17: no encode per request)."""
    title, description = "KI im Vertrieb", "Wie kann uns ChatGPT im Vertrieb helfen?"
    goal = make_goal(title=title, description=description)  # names artificial intelligence, no tags
    searched = search.expand_query(f"{title}\n{description}", {t.id for t in mentors["ai"].topics})
    assert vectors.goal_text(goal) == searched
    vectors.topic_vectors(taxonomy.TopicDetector())  # encoded once per worker, at its warm-up
    encoder = vectors.encoder()
    encoded: list[list[str]] = []
    real_encode = encoder.encode
    monkeypatch.setattr(encoder, "encode", lambda texts, *a, **kw: encoded.append(list(texts)) or real_encode(
        texts, *a, **kw))
    shown = search.suggestions_for_goal(goal, k=3)
    assert encoded == []
    assert shown[0].mentor.id == mentors["ai"].id


def test_a_search_encodes_only_its_query_and_moves_it_towards_its_nearest_topic(app, mentors, monkeypatch):
    """Semantic topic expansion (issue 16): the query vector plus TOPIC_EXPANSION times its nearest taxonomy
    topic's vector (at length 1), so every mentor's similarity is its cosine plus that much of its cosine to the
    topic, from the vectors the index already holds. The topic vectors are encoded once; a search encodes its
    query only."""
    viewer = make_user(company="Old Industry AG")
    search.search_mentors("warm-up", viewer, k=1)  # the topic vectors, once
    encoder = vectors.encoder()
    encoded: list[list[str]] = []
    real_encode = encoder.encode
    monkeypatch.setattr(encoder, "encode", lambda texts, *a, **kw: encoded.append(list(texts)) or real_encode(
        texts, *a, **kw))
    query = "what smart assistants can do for executives"
    assert taxonomy.TopicDetector()(query, typos=True) == []  # names no taxonomy word: embedded as it is
    shown = search.search_mentors(query, viewer, k=3)
    assert encoded == [[query]]
    assert shown[0].mentor.id == mentors["ai"].id
    topics = vectors.topic_vectors(taxonomy.TopicDetector())
    plain = real_encode([query])[0]
    moved = plain + search.TOPIC_EXPANSION * topics[int((topics @ plain).argmax())]
    assert search.TOPIC_EXPANSION > 0
    for match in shown:
        mentor = vectors.from_blob(db.session.get(MentorProfile, match.mentor.id).vector)
        assert match.similarity == pytest.approx(moved @ mentor / np.linalg.norm(moved), abs=1e-5)


def test_a_topic_vector_embeds_its_description_and_a_topic_added_later_its_synonyms(app):
    """The seed taxonomy's topics are embedded with their one-sentence descriptions; a topic a community manager
    adds has none and is embedded with its names and synonyms; the topic vectors follow the taxonomy."""
    from marketplace.services import admin

    ai = next(t for t in taxonomy.TopicDetector().topics.values() if t.slug == "artificial-intelligence")
    assert vectors.topic_text(ai) == "Artificial intelligence (Künstliche Intelligenz)\n" + "\n".join(
        taxonomy.descriptions()["artificial-intelligence"])
    before = len(vectors.topic_vectors(taxonomy.TopicDetector()))
    admin.create_topic("Sustainability", "Nachhaltigkeit", "ESG\nCSR reporting")
    detect = taxonomy.TopicDetector()
    added = next(t for t in detect.topics.values() if t.slug == "sustainability")
    assert vectors.topic_text(added) == "Sustainability (Nachhaltigkeit)\nESG, CSR reporting"
    assert len(vectors.topic_vectors(detect)) == before + 1


def test_a_detector_answers_a_repeated_text_as_the_first_time_also_past_what_it_keeps(app, monkeypatch):
    """What a detector keeps of the texts it searched changes no answer: the same mentions on a repeat, another
    text its own, a topic subset only its topics, a typo corrected, and still so once the kept results were
    dropped at the bound."""
    monkeypatch.setattr(taxonomy, "MENTIONS_KEPT", 3)
    detect = taxonomy.TopicDetector()
    texts = ["Generative KI und ChatGPT für Führungskräfte", "Scrum and Kanban for agile teams",
             "LinkedIn personal branding", "nothing of the kind", "Generative KI und ChatGPT für Führungskräfte"]
    fresh = [taxonomy.TopicDetector()(text) for text in texts]
    assert [detect(text) for text in texts] == fresh
    assert [detect(text) for text in reversed(texts)] == list(reversed(fresh))
    ai = {m.topic_id for m in fresh[0]}
    assert ai and detect(texts[1], ai) == [] and detect(texts[0], ai) == fresh[0]
    assert {m.topic_id for m in detect("Srcum for teams", typos=True)} == {
        m.topic_id for m in taxonomy.TopicDetector()("Srcum for teams", typos=True)} != set()
    assert detect("Kanbna boards") == []
    assert [m.phrase for m in detect("Kanbna boards", typos=True)] == ["kanban"]  # the corrected word
    assert len(detect._found) <= 3 and len(detect._corrections) <= 3
    detect("Kanbna " + "x" * 500, typos=True)  # what is kept stays small, whatever is searched
    assert detect._corrections and all(len(word) <= taxonomy.KEPT_WORD_LENGTH for word in detect._corrections)


def _statements(run) -> int:
    """How many SQL statements `run()` sends, with the session's objects expired."""
    from sqlalchemy import event

    db.session.expire_all()
    sent = []

    def count(*_args) -> None:
        sent.append(1)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        run()
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return len(sent)


def test_search_and_suggestions_read_the_database_a_fixed_number_of_times(app):
    """Issue 17: each round trip costs milliseconds under load, so a search or a suggestion reads its ~50
    candidates' facts in one query and loads only the shown profiles, whatever the number of candidates.
    The facts read that way still apply every rule: the mentor who excludes the searcher's company and
    the paused one are never shown."""
    viewer = make_user(company="Old Industry AG")
    excluding = make_mentor(headline="AI strategy for boards", text="Generative AI strategy for executives.",
                            topic_slugs=("artificial-intelligence",), company="Excluding AG")
    excluding.excluded_companies = [companies.find_company("Old Industry AG")]
    paused = make_mentor(headline="AI strategy coach", text="Generative AI strategy for executives.",
                         topic_slugs=("artificial-intelligence",), company="Paused AG", is_open=False)
    goal = make_goal(title="AI strategy", description="Generative AI strategy for my company.",
                     topic_slugs=("artificial-intelligence",))
    db.session.commit()
    counts = []
    for batch in range(2):  # then twice as many candidates
        for i in range(12 * (batch + 1)):
            make_mentor(headline=f"AI adviser {batch}-{i}", text="Generative AI strategy and tools for executives.",
                        topic_slugs=("artificial-intelligence", "agile-organisations"), company=f"Other {batch}-{i}")
        shown: dict[str, set[int]] = {}

        def run_search(shown=shown) -> None:
            shown["search"] = {m.mentor.id for m in search.search_mentors("AI strategy", viewer, k=10)}

        def run_suggest(shown=shown) -> None:
            fresh = db.session.get(type(goal), goal.id)
            shown["suggest"] = {m.mentor.id for m in search.suggestions_for_goal(fresh, k=5)}

        run_search(), run_suggest()  # the index catches up with the new mentors first
        counts.append((_statements(run_search), _statements(run_suggest)))
        assert shown["search"] and shown["suggest"]
        assert excluding.id not in shown["search"] and excluding.id not in shown["suggest"]
        assert paused.id not in shown["search"] and paused.id not in shown["suggest"]
    assert counts[0] == counts[1]
    search_count, suggest_count = counts[0]
    assert search_count <= 6
    assert suggest_count <= 7


def test_a_free_tag_names_a_topic_as_the_mentors_text_does(app):
    """A free tag is part of what the mentor's vector embeds, so a query topic it names is a mentioned topic
    (not a chosen one), like a topic named in the teaching text."""
    viewer = make_user(company="Old Industry AG")
    reels = make_mentor(headline="Short videos that people watch", text="Filming, cutting and posting clips.",
                        company="Clip AG")
    topics.set_topics(reels, topics.plan_topics(["Instagram Reels"]))
    vectors.refresh_mentor(reels)
    db.session.commit()
    assert [t.is_free_tag for t in reels.topics] == [True]
    found = {m.mentor.id: m for m in search.search_mentors("social media", viewer, k=10)}
    assert reels.id in found
    assert [t.slug for t in found[reels.id].mentioned_topics] == ["social-media"]
    assert found[reels.id].matched_topics == []


def test_feedback_pulls_scores_towards_the_best_match_and_never_above_it():
    # Mentor 0 is the best match (0.6); mentors 1 and 2 score the same (0.36) on their own, but only mentor 1 is
    # like mentor 0 (cosine 0.6; mentor 2: 0). A second query's best match is mentor 2.
    mentor_vectors = np.array([[1.0, 0.0, 0.0], [0.6, 0.0, 0.8], [0.0, 0.45, 0.8930286]], dtype=np.float32)
    scores = np.array([[0.6, 0.36, 0.36], [0.1, 0.2, 0.3]])
    moved = search.with_feedback(scores, mentor_vectors, np.array([0, 2]))
    share = search.FEEDBACK_SHARE
    assert moved[0] == pytest.approx([0.6, (1 - share) * 0.36 + share * 0.6 * 0.6, (1 - share) * 0.36], abs=1e-6)
    assert moved[0, 0] > moved[0, 1] > moved[0, 2]  # the one like the best match goes ahead of its equal
    assert moved[1, 2] == pytest.approx(0.3)  # the best keeps its own score ...
    assert moved.max(axis=1) == pytest.approx(scores.max(axis=1))  # ... and nobody rises above it


def test_the_feedback_never_shows_a_match_better_than_the_best_one_on_its_own(app, mentors):
    """The feedback reorders a list; it never makes its best match look better than it is on its own (an
    earlier form moved the query's vector, and a poor best match showed as 62 %)."""
    viewer = make_user(company="Old Industry AG")
    query = "agile Teams und LinkedIn"
    shown = search.search_mentors(query, viewer, k=5)
    before = search.FEEDBACK_SHARE
    try:
        search.FEEDBACK_SHARE = 0.0
        own = {m.mentor.id: m.score for m in search.search_mentors(query, viewer, k=5)}
    finally:
        search.FEEDBACK_SHARE = before
    assert len(shown) >= 2
    assert shown[0].score == pytest.approx(max(own.values()), abs=1e-6)
    assert all(m.score <= max(own.values()) + 1e-6 for m in shown)
    assert [m.score for m in shown] == sorted((m.score for m in shown), reverse=True)


def test_a_mentor_deleted_before_the_index_caught_up_is_left_out_not_an_error(app, mentors):
    # The index still holds the deleted profile's vector (its change not yet read, as on another worker);
    # the candidates' one query no longer finds its row, and everything a match shows comes from that query.
    viewer = make_user(company="Old Industry AG")
    assert mentors["linkedin"].id in {m.mentor.id for m in search.search_mentors("LinkedIn", viewer, k=3)}
    gone = mentors["linkedin"].id
    db.session.execute(mentor_topics.delete().where(mentor_topics.c.mentor_id == gone))
    db.session.execute(delete(MentorProfile).where(MentorProfile.id == gone).execution_options(
        synchronize_session=False))  # no ORM event: the index hears nothing
    db.session.commit()
    assert gone in vectors.live_index(vectors.MENTOR).current()
    shown = search.search_mentors("LinkedIn, agile teams and generative AI", viewer, k=3)
    assert shown and gone not in {m.mentor.id for m in shown}
