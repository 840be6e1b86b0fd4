"""The index reads a replica (DATABASE_REPLICA_URL) for catch-up and rebuild, never trusting it past the primary.

A second database on the same PostgreSQL server stands in for a streaming replica: the test copies the
primary's rows into it whenever the "replica" should catch up, and leaves it behind to simulate lag.
"""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import create_engine, delete, insert, make_url, select

from marketplace.extensions import db
from marketplace.models import AppMeta, MentorProfile
from marketplace.services.matching import vectors
from tests.builders import make_mentor

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def replica_url(make_app, database_url: str) -> str:
    url = make_url(database_url)
    if not url.get_backend_name().startswith("postgres"):
        pytest.skip("needs PostgreSQL: the stand-in replica is a second database on the same server")
    name = f"{url.database}_replica"
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    replica = url.set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False)
    engine = create_engine(replica)
    db.metadata.create_all(engine)
    engine.dispose()
    yield replica
    vectors.forget_live_indexes()  # closes the replica's connections too
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def replicate(replica_url: str) -> None:
    """The replica replays everything the primary has committed (a copy of every row)."""
    engine = create_engine(replica_url)
    with engine.begin() as replica:
        for table in reversed(db.metadata.sorted_tables):
            replica.execute(delete(table))
        for table in db.metadata.sorted_tables:
            rows = [dict(row) for row in db.session.execute(select(table)).mappings()]
            if rows:
                replica.execute(insert(table), rows)
    engine.dispose()


def indexed(app) -> set[int]:
    with app.app_context():
        index = vectors.live_index(vectors.MENTOR).current()
        found = {i for i in range(1, 10_000) if i in index}
        db.session.remove()
        return found


def test_catch_up_reads_the_replica_up_to_the_primarys_version_and_the_lag_from_the_primary(make_app, replica_url):
    primary_only = make_app()
    with primary_only.app_context():
        agile = make_mentor(headline="Agile coach", text="Scrum for leaders.", company="Sprint AG").id
        excel = make_mentor(headline="Excel pivot tables", text="Spreadsheets.", company="Calc GmbH").id
        replicate(replica_url)
        # Only the replica's copy is closed: an index that holds `agile` did not read the replica.
        with create_engine(replica_url).begin() as replica:
            replica.execute(MentorProfile.__table__.update().where(MentorProfile.id == agile).values(is_open=False))
    worker = make_app(TANDEM_REPLICA_URL=replica_url)
    assert indexed(worker) == {excel}

    # The replica lags: a profile saved through another worker is in no replica row yet, and is found.
    with primary_only.app_context():
        tiktok = make_mentor(headline="TikTok for brands", text="Short videos.", company="Clip AG").id
    assert indexed(worker) == {excel, tiktok}

    # The replica replays a change that the primary then overrides: the primary's row wins.
    with primary_only.app_context():
        profile = db.session.get(MentorProfile, excel)
        profile.is_open = False
        vectors.refresh_mentor(profile)
        db.session.commit()
        replicate(replica_url)
        profile.is_open = True
        vectors.refresh_mentor(profile)
        db.session.commit()
    assert indexed(worker) == {excel, tiktok}

    # A change the replica has replayed is read there: its copy of `tiktok` is closed, the primary's not.
    with primary_only.app_context():
        vectors.refresh_mentor(db.session.get(MentorProfile, tiktok))
        db.session.commit()
        replicate(replica_url)
    with create_engine(replica_url).begin() as replica:
        replica.execute(MentorProfile.__table__.update().where(MentorProfile.id == tiktok).values(is_open=False))
    assert indexed(worker) == {excel}
    # ...while a worker without a replica sees the primary: the stand-in's doctored row proves the read.
    assert indexed(primary_only) == {agile, excel, tiktok}


def test_a_replica_ahead_of_the_primary_is_not_trusted(make_app, replica_url):
    app = make_app()
    with app.app_context():
        make_mentor(headline="Agile coach", text="Scrum for leaders.", company="Sprint AG")
        replicate(replica_url)
    with create_engine(replica_url).begin() as replica:  # another database's counter, far ahead
        replica.execute(AppMeta.__table__.update().where(AppMeta.key == vectors.VERSION_KEY)
                        .values(value="999"))
        replica.execute(delete(MentorProfile.__table__))
    worker = make_app(TANDEM_REPLICA_URL=replica_url)
    assert len(indexed(worker)) == 1
