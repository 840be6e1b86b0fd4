"""The taxonomy and the competitor links are kept per process between searches: every change to them, from any
worker and through any code or SQL, reaches the next search everywhere (the database's reference token)."""

from __future__ import annotations

from sqlalchemy import select, text

from marketplace.extensions import db
from marketplace.models import REFERENCE_TOKEN_KEY, AppMeta, Topic, User
from marketplace.services import admin, companies, topics
from marketplace.services.matching import reference, search
from tests.builders import make_mentor, make_user


def search_ids(app, query: str, viewer_id: int) -> list[int]:
    with app.app_context():
        viewer = db.session.get(User, viewer_id)
        return [m.mentor.id for m in search.search_mentors(query, viewer, k=5)]


def token() -> str | None:
    return db.session.scalar(select(AppMeta.value).where(AppMeta.key == REFERENCE_TOKEN_KEY))


def test_a_competitor_link_made_on_one_worker_hides_the_mentor_from_the_next_search_on_another(make_app):
    worker_a, worker_b = make_app(), make_app()
    with worker_a.app_context():
        viewer_id = make_user(company="Old Industry AG").id
        tiktok = make_mentor(headline="TikTok for brands", text="Short videos that make a brand known on TikTok.",
                             company="Clip AG").id
    assert search_ids(worker_b, "TikTok for brands", viewer_id) == [tiktok]  # b has read the links now

    with worker_a.app_context():
        admin.add_competitor(companies.find_company("Old Industry AG"), "Clip AG")
    assert search_ids(worker_b, "TikTok for brands", viewer_id) == []

    with worker_a.app_context():  # plain SQL, past every service: the database itself renews the token
        db.session.execute(text("DELETE FROM competitor_link"))
        db.session.commit()
    assert search_ids(worker_b, "TikTok for brands", viewer_id) == [tiktok]


def test_a_synonym_given_to_a_topic_on_one_worker_is_read_by_the_next_search_on_another(make_app):
    worker_a, worker_b = make_app(), make_app()
    query = "Zeitgeistkommunikation"
    with worker_a.app_context():
        viewer_id = make_user(company="Old Industry AG").id
        make_mentor(headline="Posting for leaders", text="Routines for posting as a leader.",
                    topic_slugs=("social-media",), company="Clip AG")
    with worker_b.app_context():
        viewer = db.session.get(User, viewer_id)
        before = search.search_mentors(query, viewer, k=5)
    assert not any(m.matched_topics for m in before)

    with worker_a.app_context():
        topic = topics.by_slug("social-media")
        admin.update_topic(topic, topic.name_en, topic.name_de, "\n".join([*topic.synonyms, query]))
    with worker_b.app_context():
        viewer = db.session.get(User, viewer_id)
        after = search.search_mentors(query, viewer, k=5)
    assert [t.slug for t in after[0].matched_topics] == ["social-media"]


def test_the_token_changes_with_the_taxonomy_and_the_links_but_not_with_free_tags(app):
    with app.app_context():
        first = token()
        assert first
        profile = make_mentor()
        topics.set_topics(profile, topics.plan_topics("Kite surfing"))  # a free tag is no part of the taxonomy
        db.session.commit()
        assert db.session.scalar(select(Topic.is_free_tag).where(Topic.slug == "kite-surfing")) is True
        assert token() == first

        topic = topics.by_slug("social-media")
        topic.synonyms = [*topic.synonyms, "Netzwerkpflege"]
        db.session.commit()
        second = token()
        assert second != first

        companies.link_competitors(companies.get_or_create_company("A AG"), companies.get_or_create_company("B AG"))
        db.session.commit()
        assert token() != second


def test_what_a_rolled_back_change_showed_is_never_served_afterwards(app):
    with app.app_context():
        query_topics = lambda: {t for t in (m.topic_id for m in reference.matching_state().detect("Netzwerkpflege"))}  # noqa: E731
        assert query_topics() == set()
        topic = topics.by_slug("social-media")
        topic.synonyms = [*topic.synonyms, "Netzwerkpflege"]
        db.session.flush()
        assert query_topics() == {topic.id}  # the transaction sees its own change
        db.session.rollback()
        assert query_topics() == set()
