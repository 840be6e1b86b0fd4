"""Several worker processes on one database: each index catches up with the others' changes."""

from __future__ import annotations

from marketplace.extensions import db
from marketplace.models import MentorProfile
from marketplace.services.matching import search, vectors
from tests.builders import make_mentor, make_user


def search_ids(app, query: str, viewer_id: int) -> list[int]:
    with app.app_context():
        from marketplace.models import User

        viewer = db.session.get(User, viewer_id)
        return [m.mentor.id for m in search.search_mentors(query, viewer, k=5)]


def test_a_profile_saved_through_one_app_is_found_by_another(make_app):
    worker_a, worker_b = make_app(), make_app()
    with worker_a.app_context():
        viewer_id = make_user(company="Old Industry AG").id
        make_mentor(headline="Excel pivot tables", text="Spreadsheets and pivot tables.", company="Calc GmbH")
    # b builds its index now; the spreadsheet mentor is no match (below the relevance floor)
    assert search_ids(worker_b, "TikTok for brands", viewer_id) == []

    with worker_a.app_context():
        tiktok = make_mentor(headline="TikTok for brands", text="Short videos that make a brand known on TikTok.",
                             company="Clip AG").id
    assert search_ids(worker_b, "TikTok for brands", viewer_id)[0] == tiktok

    with worker_a.app_context():
        profile = db.session.get(MentorProfile, tiktok)
        profile.is_open = False
        vectors.refresh_mentor(profile)
        db.session.commit()
    assert tiktok not in search_ids(worker_b, "TikTok for brands", viewer_id)

    with worker_a.app_context():
        vectors.forget(vectors.MENTOR, tiktok)
        db.session.delete(db.session.get(MentorProfile, tiktok))
        db.session.commit()
        assert tiktok not in vectors.live_index(vectors.MENTOR).current()


def test_a_saved_index_file_is_reused_and_a_foreign_one_is_rebuilt(make_app, tmp_path):
    app = make_app()
    with app.app_context():
        make_mentor(headline="Agile coach", text="Scrum and Kanban for leaders.", company="Sprint AG")
        live = vectors.live_index(vectors.MENTOR)
        live.rebuild()
        saved_version = live.index.version
        assert live.path().exists()
        vectors.forget_live_indexes()
        reopened = vectors.live_index(vectors.MENTOR).current()
        assert len(reopened) == 1 and reopened.version == saved_version

        # A file from another database (another identity) must never be trusted.
        from marketplace.models import AppMeta

        db.session.get(AppMeta, vectors.DATABASE_ID_KEY).value = "another-database"
        db.session.commit()
        vectors.forget_live_indexes()
        rebuilt = vectors.live_index(vectors.MENTOR).current()
        assert rebuilt.metadata["database_id"] == "another-database"
        assert len(rebuilt) == 1


def test_a_version_read_before_another_thread_caught_the_index_up_rebuilds_nothing(make_app):
    """A search reads the index version before it takes the index's lock; when another request of the same worker
    caught the index up further meanwhile, the older version is no database gone backwards."""
    app = make_app()
    with app.app_context():
        make_mentor(headline="Excel pivot tables", text="Spreadsheets and pivot tables.", company="Calc GmbH")
        live = vectors.live_index(vectors.MENTOR)
        read_before = vectors.current_version()
        make_mentor(headline="TikTok for brands", text="Short videos on TikTok.", company="Clip AG")
        index = live.current()  # another thread catches up
        assert index.version > read_before
        assert live.current(read_before) is index
        assert index.version == vectors.current_version() and len(index) == 2
