"""`init-db` applies the Alembic migrations, is safe to run twice, and the migrations match the models."""

from __future__ import annotations

import importlib.util
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, select, text

from marketplace import create_app
from marketplace.extensions import db
from marketplace.models import REFERENCE_TOKEN_KEY, AppMeta
from marketplace.services import companies
from tests.conftest import vectors_url


def test_init_db_builds_the_schema_from_migrations_twice_without_change(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True, "TANDEM_INDEX_DIR": str(tmp_path / "i")})
    runner = app.test_cli_runner()
    first = runner.invoke(args=["init-db"])
    assert first.exit_code == 0, first.output
    tables = set(inspect(create_engine(url)).get_table_names())
    assert {"user", "mentor_profile", "goal", "tandem", "cohort", "alembic_version"} <= tables
    second = runner.invoke(args=["init-db"])
    assert second.exit_code == 0, second.output

    with app.app_context(), db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), db.metadata)
    assert differences == [], "models changed without a migration: run `flask --app wsgi db migrate`"


MIGRATION = Path(__file__).resolve().parents[2] / "migrations" / "versions" / "aff4897f258e_company_keys.py"


@pytest.fixture
def empty_database(database_url: str, tmp_path) -> Iterator[str]:
    """A database without tables on the engine under test: a new file on SQLite, a new schema on PostgreSQL."""
    if not database_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'migrate.sqlite3'}"
        return
    schema = f"migration_{uuid.uuid4().hex[:10]}"
    engine = create_engine(vectors_url(database_url))
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{vectors_url(database_url)}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@contextmanager
def migrated_to(tmp_path, revision: str, url: str | None = None) -> Iterator[None]:
    """An app context on an empty database (a new SQLite file unless `url` names one) at an old revision, to
    write rows the old way before `upgrade()`."""
    url = url or f"sqlite:///{tmp_path / 'old.sqlite3'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True, "TANDEM_INDEX_DIR": str(tmp_path / "i")})
    with app.app_context():
        upgrade(revision=revision)
        yield
        db.engine.dispose()


def _insert(connection, table: str, *rows: dict) -> None:
    connection.execute(sa.table(table, *(sa.column(name) for name in rows[0])).insert(), list(rows))


def test_company_key_migration_merges_companies_whose_new_keys_collide(empty_database, tmp_path):
    """'Hansekauf', 'Hansekauf GmbH' and 'Hаnsekauf' (Cyrillic а) were three companies with people,
    exclusions and links on each; after the migration they are one, and nothing points nowhere."""
    now = datetime.now(UTC)
    with migrated_to(tmp_path, "74378a332969", empty_database):
        with db.engine.begin() as connection:
            _insert(connection, "company", *({"id": i, "name": name, "normalised_name": key, "created_at": now}
                                             for i, name, key in ((1, "Hansekauf", "hansekauf"),
                                                                  (2, "Hansekauf GmbH", "hansekauf gmbh"),
                                                                  (3, "Rival AG", "rival ag"),
                                                                  (4, "H\u0430nsekauf", "h\u0430nsekauf"),
                                                                  (5, "Elsewhere", "elsewhere"),
                                                                  (6, "Other Rival", "other rival"))))
            _insert(connection, "user", *({"id": i, "email": f"u{i}@example.com", "name": f"U {i}",
                                           "is_manager": False, "company_id": c, "verified_company_id": v,
                                           "session_token": f"t{i}", "created_at": now}
                                          for i, c, v in ((1, 1, None), (2, 2, 2), (3, 5, None), (4, 1, None),
                                                          (5, 2, None), (6, 5, 4))))
            _insert(connection, "goal", *({"id": i, "owner_id": owner, "title": f"Goal {i}", "description": "",
                                           "languages": "en", "status": "open", "discoverable": True,
                                           "created_at": now, "updated_at": now}
                                          for i, owner in ((1, 3), (2, 2), (3, 3))))
            _insert(connection, "goal_excluded_company", {"goal_id": 1, "company_id": 1},
                    {"goal_id": 1, "company_id": 2},  # collapses to one
                    {"goal_id": 2, "company_id": 1},  # its owner's own company once merged: goes
                    {"goal_id": 3, "company_id": 2})  # moves
            _insert(connection, "mentor_profile", *({"id": i, "user_id": u, "headline": "h", "teaching_text": "t",
                                                     "languages": "en", "capacity": 1, "meetings_per_month": 1,
                                                     "meeting_format": "remote", "is_open": True, "created_at": now,
                                                     "updated_at": now} for i, u in ((1, 5), (2, 4))))
            _insert(connection, "mentor_excluded_company", {"mentor_id": 1, "company_id": 3},
                    {"mentor_id": 2, "company_id": 4})  # own company once merged: goes
            _insert(connection, "competitor_link", {"company_id": 1, "competitor_id": 3},
                    {"company_id": 3, "competitor_id": 2},  # the same link once merged
                    {"company_id": 2, "competitor_id": 1},  # Hansekauf with itself
                    {"company_id": 4, "competitor_id": 6})  # moves
            _insert(connection, "company_domain", {"id": 1, "company_id": 2, "domain": "hansekauf.example"})

        upgrade(revision="aff4897f258e")

        with db.engine.connect() as connection:
            def rows(query: str) -> list[tuple]:
                return [tuple(row) for row in connection.execute(text(query))]

            assert rows("SELECT id, name, normalised_name FROM company ORDER BY id") == [
                (1, "Hansekauf", "hansekauf"), (3, "Rival AG", "rival"), (5, "Elsewhere", "elsewhere"),
                (6, "Other Rival", "otherrival")]
            assert rows('SELECT id, company_id, verified_company_id FROM "user" ORDER BY id') == [
                (1, 1, None), (2, 1, 1), (3, 5, None), (4, 1, None), (5, 1, None), (6, 5, 1)]
            assert rows("SELECT goal_id, company_id FROM goal_excluded_company ORDER BY goal_id") == [(1, 1), (3, 1)]
            assert rows("SELECT mentor_id, company_id FROM mentor_excluded_company") == [(1, 3)]
            assert sorted(rows("SELECT company_id, competitor_id FROM competitor_link")) == [(1, 3), (1, 6)]
            assert rows("SELECT company_id, domain FROM company_domain") == [(1, "hansekauf.example")]


def test_the_migration_computes_the_apps_company_key():
    """The migration keeps a frozen copy of the key; today both must agree on every kind of name."""
    spec = importlib.util.spec_from_file_location("company_keys_migration", MIGRATION)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    look_alikes = migration._look_alikes()
    for name in ("Hansekauf GmbH & Co. KG", "H\u0430nsekauf", "Hanse\u200bkauf", "ΗΑΝSEKAUF", "Газпром",
                 "Müller Bau e. V.", "Foo Sp. z o.o.", "ＡＣＭＥ Inc.", "शक्ति AG", "—", "AG",
                 "Hansekauf Handels A.G.", "Hansekauf Handels Aktiengesellschaft", "Foo G.m.b.H.",
                 "Vogtmann Praezisionsteile GmbH & Co. KG", "Vogtmann Präzisionsteile Gesellschaft mit beschränkter "
                 "Haftung & Co. Kommanditgesellschaft", "Straße S. A."):
        assert migration._key(name, look_alikes) == companies.company_key(name), name


def test_the_one_running_tandem_migration_keeps_the_older_and_tells_both_of_the_newer(tmp_path):
    with migrated_to(tmp_path, "74378a332969"):
        with db.engine.begin() as connection:
            for user_id in (1, 2, 3):
                connection.execute(text(
                    "INSERT INTO user (id, email, name, is_manager, session_token, created_at) "
                    "VALUES (:id, :email, 'P', 0, 't', '2026-01-01')"),
                    {"id": user_id, "email": f"p{user_id}@x.example"})
            connection.execute(text(
                "INSERT INTO goal (id, owner_id, title, description, languages, status, discoverable, created_at, "
                "updated_at) VALUES (1, 1, 'Lead with AI', 'd', 'en', 'matched', 1, '2026-01-01', '2026-01-01')"))
            for tandem_id, mentor_user, created in ((1, 2, "2026-02-01"), (2, 3, "2026-03-01")):
                connection.execute(text(
                    "INSERT INTO tandem (id, goal_id, mentee_user_id, mentor_user_id, status, request_message, "
                    "response_message, end_reason, reasons, locked, created_at) VALUES (:id, 1, 1, :mentor, "
                    "'active', '', '', '', '[]', 0, :created)"), {"id": tandem_id, "mentor": mentor_user,
                                                                  "created": created})
        upgrade()
        with db.engine.connect() as connection:
            statuses = dict(connection.execute(text("SELECT id, status FROM tandem")).all())
            told = sorted(connection.execute(text("SELECT user_id FROM notification")).scalars())
    assert statuses == {1: "active", 2: "cancelled"}
    assert told == [1, 3]


def test_the_mentor_profile_id_rename_keeps_every_tandems_mentor_both_ways(empty_database, tmp_path):
    """`tandem.mentor_id` becomes `mentor_profile_id` and back; each tandem keeps its mentor profile, and its
    meeting survives the table being rebuilt on SQLite."""
    now = datetime.now(UTC)
    with migrated_to(tmp_path, "e5b1c7a3d9f4", empty_database):
        with db.engine.begin() as connection:
            _insert(connection, "user", *({"id": i, "email": f"u{i}@example.com", "name": f"U {i}",
                                           "is_manager": False, "created_at": now} for i in (1, 2, 3)))
            _insert(connection, "mentor_profile", *({"id": i, "user_id": u, "headline": "h", "teaching_text": "t",
                                                     "languages": "en", "capacity": 2, "meetings_per_month": 1,
                                                     "meeting_format": "remote", "is_open": True, "created_at": now,
                                                     "updated_at": now} for i, u in ((7, 2), (8, 3))))
            _insert(connection, "goal", {"id": 1, "owner_id": 1, "title": "Lead with AI", "description": "",
                                         "languages": "en", "status": "matched", "discoverable": True,
                                         "created_at": now, "updated_at": now})
            _insert(connection, "tandem", *({"id": t, "goal_id": 1, "mentor_id": m, "mentee_user_id": 1,
                                             "mentor_user_id": u, "status": s, "request_message": "",
                                             "response_message": "", "end_reason": "", "reasons": "[]",
                                             "locked": False, "created_at": now}
                                            for t, m, u, s in ((1, 7, 2, "active"), (2, 8, 3, "declined"),
                                                               (3, None, None, "cancelled"))))
            _insert(connection, "meeting", {"id": 1, "tandem_id": 1, "held_on": now.date(), "minutes": 60,
                                            "topics_covered": "", "private_note": "", "created_at": now,
                                            "starts_at": now, "video_url": "", "status": "held", "sequence": 0})

        def links(column: str) -> list[tuple]:
            with db.engine.connect() as connection:
                return [tuple(row) for row in connection.execute(text(f"SELECT id, {column} FROM tandem ORDER BY id"))]

        def meetings() -> list[int]:
            with db.engine.connect() as connection:
                return list(connection.execute(text("SELECT tandem_id FROM meeting")).scalars())

        upgrade()
        assert links("mentor_profile_id") == [(1, 7), (2, 8), (3, None)]
        assert meetings() == [1]
        downgrade(revision="e5b1c7a3d9f4")
        assert links("mentor_id") == [(1, 7), (2, 8), (3, None)]
        assert meetings() == [1]


def test_a_migrated_database_renews_the_reference_token_with_every_taxonomy_change(empty_database, tmp_path):
    """The triggers that tell workers the taxonomy or the competitor links changed come with init-db too, not
    only with create_all (matching.reference)."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": empty_database, "TESTING": True,
                      "TANDEM_INDEX_DIR": str(tmp_path / "i")})
    result = app.test_cli_runner().invoke(args=["init-db"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        def token() -> str | None:
            return db.session.scalar(select(AppMeta.value).where(AppMeta.key == REFERENCE_TOKEN_KEY))

        first = token()
        db.session.execute(text("UPDATE topic SET name_de = 'Soziale Netzwerke' WHERE slug = 'social-media'"))
        assert first and token() != first
        second = token()
        db.session.execute(text("INSERT INTO company (name, normalised_name, created_at) "
                                "VALUES ('A AG', 'a', CURRENT_TIMESTAMP), ('B AG', 'b', CURRENT_TIMESTAMP)"))
        db.session.execute(text("INSERT INTO competitor_link (company_id, competitor_id) SELECT a.id, b.id "
                                "FROM company a, company b WHERE a.normalised_name = 'a' AND b.normalised_name = 'b'"))
        assert token() != second
        db.session.rollback()
        assert token() == first

        # Changed while downgraded (no triggers): the token is gone, so nobody keeps anything; init-db brings the
        # triggers back with a token no worker has kept anything under.
        downgrade(revision="f3a9c1d7e2b5")
        assert token() is None
        db.session.execute(text("UPDATE topic SET name_de = 'Soziale Netzwerke' WHERE slug = 'social-media'"))
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["init-db"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert token() not in (None, first)
        db.session.remove()
        db.engine.dispose()
