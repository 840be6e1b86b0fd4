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
