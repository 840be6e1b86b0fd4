"""Shared fixtures: an app on a clean database per test (SQLite, or PostgreSQL via DATABASE_URL)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import flask_babel
import psycopg
import pytest
from flask import Flask, g, request_started
from flask.testing import FlaskClient
from sqlalchemy import make_url, text

from marketplace import create_app
from marketplace.extensions import db, limiter
from marketplace.services import setup
from marketplace.services.matching import vectors
from tests.builders import DEFAULT_PASSWORD

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def pytest_collection_modifyitems(config, items) -> None:
    """CI runs the slow `once` checks (fuzz, browser, load) in its PostgreSQL pass only."""
    if os.environ.get("TANDEM_SKIP_ONCE") != "1":
        return
    skip = pytest.mark.skip(reason="TANDEM_SKIP_ONCE=1: runs in the other CI pass")
    for item in items:
        if "once" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        return _worker_database(url)
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'tandem-test.sqlite3'}"


def _worker_database(url: str) -> str:
    """Under pytest-xdist each worker empties and fills its own PostgreSQL database (`test_gw0`, ...), created
    beside DATABASE_URL's on first use; a run without workers uses DATABASE_URL's database itself."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    parsed = make_url(url)
    name = f"{parsed.database}_{worker}"
    admin = parsed.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            connection.execute(f'CREATE DATABASE "{name}"')
    return parsed.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def _schema(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Create the schema once per run; each test then starts from empty tables."""
    app = create_app(_test_config(database_url, str(tmp_path_factory.mktemp("index"))))
    with app.app_context():
        db.drop_all()
        # A version row left by an older run would make init-db replay newer migrations onto these tables.
        db.session.execute(text("DROP TABLE IF EXISTS alembic_version"))
        db.session.commit()
        db.create_all()
        db.session.remove()
        db.engine.dispose()


def _test_config(database_url: str, index_dir: str, **overrides) -> dict:
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": vectors_url(database_url),
        "TANDEM_INDEX_DIR": index_dir,
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "SESSION_COOKIE_SECURE": False,
        "REMEMBER_COOKIE_SECURE": False,
        "MAIL_BACKEND": "locmem",
        "TANDEM_JOBS_IMMEDIATE": True,  # an enqueued import runs in the test itself (Huey's immediate mode)
        "MAIL_SERVER": None,
        "SERVER_NAME": None,
    }
    config.update(overrides)
    return config


def vectors_url(url: str) -> str:
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def _empty_all_tables() -> None:
    tables = list(reversed(db.metadata.sorted_tables))
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(f'"{t.name}"' for t in tables)
        db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in tables:
            db.session.execute(table.delete())
    db.session.commit()


def _fresh_request_globals(sender, **extra) -> None:
    for key in ("_login_user", "csrf_token"):
        g.pop(key, None)
    flask_babel.refresh()


@pytest.fixture
def make_app(_schema, database_url: str, tmp_path) -> Iterator:
    """Build extra app instances on the same database (e.g. two workers); the first call empties it."""
    apps: list[Flask] = []

    def factory(**overrides) -> Flask:
        index_dir = str(tmp_path / f"index-{len(apps)}")
        app = create_app(_test_config(database_url, index_dir, **overrides))
        # Tests hold an app context open across requests, so `g` would carry one client's user
        # (and CSRF token) into the next request. Each request starts clean, as in production.
        request_started.connect(_fresh_request_globals, app, weak=False)
        if not apps:
            with app.app_context():
                _empty_all_tables()
                setup.initialise_database()
        apps.append(app)
        return app

    yield factory
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    vectors.forget_live_indexes()


@pytest.fixture
def app(make_app) -> Iterator[Flask]:
    app = make_app()
    with app.app_context():
        yield app
        db.session.remove()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask):
    return app.test_cli_runner()


@pytest.fixture
def login_as(client: FlaskClient):
    """Log the test client in as a user made by a builder (their password is DEFAULT_PASSWORD)."""

    def login(user, password: str = DEFAULT_PASSWORD):
        response = client.post("/auth/login", data={"email": user.email, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return client

    return login


@pytest.fixture
def csrf_app(make_app) -> Iterator[Flask]:
    """An app with CSRF protection switched on, as in production."""
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        yield app
        db.session.remove()


@pytest.fixture
def rate_limited_app(make_app) -> Iterator[Flask]:
    app = make_app(RATELIMIT_ENABLED=True)
    limiter.reset()
    with app.app_context():
        yield app
        db.session.remove()
