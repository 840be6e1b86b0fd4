"""`init-db` applies the Alembic migrations, is safe to run twice, and the migrations match the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from marketplace import create_app
from marketplace.extensions import db


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


def test_the_one_running_tandem_migration_keeps_the_older_and_tells_both_of_the_newer(tmp_path):
    from flask_migrate import upgrade
    from sqlalchemy import text

    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True, "TANDEM_INDEX_DIR": str(tmp_path / "i")})
    with app.app_context():
        upgrade(revision="74378a332969")
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
