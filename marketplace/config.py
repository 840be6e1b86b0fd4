"""Configuration, read from the environment so one build serves every deployment."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

# The multilingual Universal Sentence Encoder alone, chosen on quality and latency together (bench/README.md,
# "Encoder choice"): on the 318 labelled queries the former blend with 5 % MiniLM ranks the same (held-out
# nDCG@5 0.872 both; all queries +0.002, 95 % CI spanning 0) while MiniLM cost most of a search's encode;
# int8 ONNX MiniLM in the blend ranks the same too but still doubles the encode. Changing it re-embeds
# everything on `index rebuild`.
DEFAULT_ENCODER = "use"


def _flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _persistent_secret_key(instance_path: Path) -> str:
    """A key generated once and kept in instance/, so sessions survive restarts without a secret in the repo."""
    instance_path.mkdir(parents=True, exist_ok=True)
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    key = secrets.token_hex(32)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


def _database_url(instance_path: Path) -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        instance_path.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{instance_path / 'tandem.sqlite3'}"
    return sqlalchemy_url(url)


def sqlalchemy_url(url: str) -> str:
    """A database URL as SQLAlchemy wants it."""
    # Heroku-style URLs and a bare postgresql:// both go through psycopg 3.
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def from_environment(instance_path: Path) -> dict:
    """Settings for create_app; every value can be overridden by the config mapping given to it."""
    development = os.environ.get("FLASK_DEBUG") == "1" or _flag("TANDEM_DEVELOPMENT")
    mail_server = os.environ.get("MAIL_SERVER")
    return {
        "SECRET_KEY": os.environ.get("SECRET_KEY") or _persistent_secret_key(instance_path),
        "SQLALCHEMY_DATABASE_URI": _database_url(instance_path),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        # A read replica of the primary, for the vector index's catch-up and rebuild reads (README
        # "Scaling out"); None: everything reads the primary.
        "TANDEM_REPLICA_URL": sqlalchemy_url(os.environ["DATABASE_REPLICA_URL"])
        if os.environ.get("DATABASE_REPLICA_URL") else None,
        "TANDEM_EMBEDDING_MODEL": os.environ.get("TANDEM_EMBEDDING_MODEL", DEFAULT_ENCODER),
        "TANDEM_INDEX_DIR": os.environ.get("TANDEM_INDEX_DIR", str(instance_path / "index")),
        "TANDEM_BASE_URL": os.environ.get("TANDEM_BASE_URL", "http://127.0.0.1:5000"),
        "MAIL_SERVER": mail_server,
        "MAIL_PORT": int(os.environ.get("MAIL_PORT", "25")),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME"),
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD"),
        "MAIL_USE_TLS": _flag("MAIL_USE_TLS"),
        "MAIL_USE_SSL": _flag("MAIL_USE_SSL"),
        "MAIL_DEFAULT_SENDER": os.environ.get("MAIL_DEFAULT_SENDER", "Tandem <no-reply@tandem.example>"),
        # Without a mail server, messages go to the log and the outbox page instead of SMTP.
        "MAIL_BACKEND": "smtp" if mail_server else "locmem",
        "RATELIMIT_STORAGE_URI": os.environ.get("REDIS_URL", "memory://"),
        "REDIS_URL": os.environ.get("REDIS_URL"),
        # Background jobs (marketplace/jobs.py) and the outbox (services/outbox.py).
        "TANDEM_JOB_INTERVAL_SECONDS": float(os.environ.get("TANDEM_JOB_INTERVAL_SECONDS", "30")),
        "TANDEM_JOB_STORE": os.environ.get("TANDEM_JOB_STORE", str(instance_path / "jobs.sqlite3")),
        # Run enqueued jobs at once in the web process (tests, or a deployment without a worker).
        "TANDEM_JOBS_IMMEDIATE": _flag("TANDEM_JOBS_IMMEDIATE"),
        "TANDEM_MAIL_RETRY_SECONDS": float(os.environ.get("TANDEM_MAIL_RETRY_SECONDS", "60")),
        "TANDEM_MAIL_CLAIM_TIMEOUT_SECONDS": float(os.environ.get("TANDEM_MAIL_CLAIM_TIMEOUT_SECONDS", "300")),
        "TANDEM_DIGEST_HOUR": int(os.environ.get("TANDEM_DIGEST_HOUR", "7")),
        # Staged uploads (services/cohorts/upload.py): a folder every web process and worker can read.
        "TANDEM_UPLOAD_DIR": os.environ.get("TANDEM_UPLOAD_DIR", str(instance_path / "imports")),
        # An import job whose worker has not beaten for this long is queued again (services/cohorts/import_jobs.py).
        "TANDEM_IMPORT_STALE_SECONDS": float(os.environ.get("TANDEM_IMPORT_STALE_SECONDS", "120")),
        # Requests and reminders (services/request_expiry.py, services/reminders.py).
        "TANDEM_REQUEST_EXPIRY_HOURS": float(os.environ.get("TANDEM_REQUEST_EXPIRY_HOURS", "72")),
        "TANDEM_NO_MEETING_NUDGE_DAYS": int(os.environ.get("TANDEM_NO_MEETING_NUDGE_DAYS", "28")),
        "TANDEM_SURVEY_REMINDER_DAYS": int(os.environ.get("TANDEM_SURVEY_REMINDER_DAYS", "7")),
        # Pair health (services/health.py): weeks without activity before a tandem needs a check-in.
        "TANDEM_HEALTH_QUIET_WEEKS": int(os.environ.get("TANDEM_HEALTH_QUIET_WEEKS", "4")),
        "RATELIMIT_HEADERS_ENABLED": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": not development and not _flag("TANDEM_INSECURE_COOKIES"),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": not development and not _flag("TANDEM_INSECURE_COOKIES"),
        "MAX_CONTENT_LENGTH": int(os.environ.get("TANDEM_MAX_CONTENT_LENGTH", str(4 * 1024 * 1024))),
        "WTF_CSRF_TIME_LIMIT": None,
        "PASSWORD_RESET_HOURS": 2,
        "INVITATION_DAYS": 14,
        "COMPANY_CONFIRMATION_HOURS": 48,
        "BABEL_DEFAULT_LOCALE": "en",
        "LANGUAGES": ["en", "de"],
    }
