"""Tandem: a cross-company reverse-mentoring marketplace."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask, g, has_request_context, request
from flask_babel import lazy_gettext
from flask_login import current_user
from werkzeug.routing import IntegerConverter

from . import config as config_module
from .extensions import babel, commit_read_only_transactions, csrf, db, limiter, login_manager, mail, migrate
from .models import MAX_ID

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app: settings from the environment, then anything the caller overrides."""
    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder="static",
    )
    instance_path = Path(app.instance_path)
    app.config.update(config_module.from_environment(instance_path))
    if config:
        app.config.update(config)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("faiss", "sentence_transformers", "httpx", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    # Ids beyond a 32-bit integer cannot exist in the database: answer 404, not an overflow error or a 405.
    app.url_map.converters["int"] = DatabaseIdConverter
    register_extensions(app)
    register_blueprints(app)
    register_cli(app)
    register_errors(app)
    register_template_helpers(app)
    register_request_hooks(app)
    return app


class DatabaseIdConverter(IntegerConverter):
    """An id too large for the database becomes 0, which names no row, so the view answers 404. Refusing it
    in the converter (`max=`) made Werkzeug answer 405 where two rules share a path (GET and POST)."""

    def to_python(self, value: str) -> int:
        number = super().to_python(value)
        return number if number <= MAX_ID else 0


def select_locale() -> str | None:
    """The user's own setting wins, then the session's choice, then the browser's Accept-Language."""
    from flask import session

    languages = ["en", "de"]
    if not has_request_context():  # CLI commands and background work
        return None
    # Set by code only (tests render pages in a pseudo-locale), never from user input.
    if getattr(g, "locale_override", None):
        return g.locale_override
    if current_user and current_user.is_authenticated and current_user.locale in languages:
        return current_user.locale
    if session.get("locale") in languages:
        return session["locale"]
    return request.accept_languages.best_match(languages) or "en"


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    commit_read_only_transactions(app)
    # Batch mode lets Alembic alter SQLite tables (it copies them), and is a no-op on PostgreSQL.
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    mail.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    limiter.init_app(app)

    from .services import accounts

    login_manager.user_loader(accounts.load_user_from_session)
    login_manager.login_view = "auth.login"
    login_manager.login_message_category = "info"
    # Flask-Login's own English text is not in our catalogue: a lazy string of ours is, and str() translates
    # it when the message is flashed, in that request's language.
    login_manager.login_message = lazy_gettext("Please log in to access this page.")
    login_manager.localize_callback = str


def register_blueprints(app: Flask) -> None:
    from .admin.routes import bp as admin_bp
    from .api import bp as api_bp
    from .auth.routes import bp as auth_bp
    from .cohorts.routes import bp as cohorts_bp
    from .goals.routes import bp as goals_bp
    from .main.routes import bp as main_bp
    from .mentors.routes import bp as mentors_bp
    from .preferences.routes import back, unsubscribe
    from .preferences.routes import bp as preferences_bp
    from .search.routes import bp as search_bp
    from .tandems.routes import bp as tandems_bp

    for blueprint in (main_bp, auth_bp, mentors_bp, goals_bp, search_bp, tandems_bp, cohorts_bp, admin_bp,
                      preferences_bp):
        app.register_blueprint(blueprint)
    # One-click unsubscribe (RFC 8058) is POSTed by mail clients without a session; the signed token is the proof.
    csrf.exempt(unsubscribe)
    csrf.exempt(back)  # "I'm back" from a paused mentor's e-mail, the same way
    # The API authenticates with Bearer tokens only (no cookies), so CSRF does not apply to it.
    csrf.exempt(api_bp)
    app.register_blueprint(api_bp)


def register_cli(app: Flask) -> None:
    from .cli import register_commands

    register_commands(app)


def register_errors(app: Flask) -> None:
    from .errors import register_error_handlers

    register_error_handlers(app)


def register_template_helpers(app: Flask) -> None:
    """The filters and globals templates use: dates, labels, the states by name, match scores."""
    from flask_babel import format_date, format_datetime

    from .services import labels
    from .services.cohorts import reports
    from .services.fields import language_name
    from .services.labels import match_label, score_percent
    from .services.notifications import text as notification_text
    from .services.tandems import mentee_name
    from .states import ENUMS, GROUPS

    app.add_template_filter(format_date, "format_date")
    app.add_template_filter(format_datetime, "format_datetime")
    for name, label in labels.TEMPLATE_GLOBALS.items():
        app.add_template_global(label, name)
    for states_enum in ENUMS:
        app.add_template_global(states_enum, states_enum.__name__)
    for group_name, group in GROUPS.items():
        app.add_template_global(group, group_name)
    app.add_template_filter(match_label, "match_label")
    app.add_template_filter(score_percent, "score_percent")
    app.add_template_global(language_name, "language_name")
    app.add_template_global(notification_text, "notification_text")
    app.add_template_global(lambda tandem: mentee_name(tandem, current_user), "mentee_name")
    app.add_template_filter(reports.month_label, "month_label")
    app.add_template_filter(reports.score_bin_label, "score_bin_label")


def register_request_hooks(app: Flask) -> None:
    from .forms import use_tandem_catalogue_for_form_messages
    from .input_checks import check_query_string
    from .services.notifications import mark_read_by_link, unread_count

    # Before any view: a NUL byte in a search term or filter used to reach PostgreSQL and end in a 500.
    app.before_request(check_query_string)
    app.before_request(use_tandem_catalogue_for_form_messages)

    @app.before_request
    def read_notifications_of_this_page() -> None:
        """Opening the page a notification links to marks it read, however one got there; before the view,
        so the header's unread count is already right."""
        if request.method != "GET" or request.endpoint == "static" or request.blueprint == "api":
            return
        if current_user.is_authenticated:
            mark_read_by_link(current_user._get_current_object(), (request.path, request.full_path.rstrip("?")))

    @app.context_processor
    def inject_globals() -> dict[str, Any]:
        from flask_babel import get_locale

        count = unread_count(current_user) if current_user.is_authenticated else 0
        return {"unread_notifications": count, "current_locale": str(get_locale())}

    @app.after_request
    def security_headers(response):
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'; form-action 'self'; base-uri 'self'",
        )
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response
