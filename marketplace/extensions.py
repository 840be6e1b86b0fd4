"""Every Flask extension object lives here, so modules import them without cycles."""

import logging

from flask import Flask
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_mailman import Mail
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

# Named constraints keep Alembic migrations portable between SQLite and PostgreSQL.
naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=naming_convention))
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
mail = Mail()
babel = Babel()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000
# An execution option: the transaction this connection begins takes SQLite's write lock at once.
IMMEDIATE = "tandem_begin_immediate"


def _is_sqlite(dbapi_connection) -> bool:
    return type(dbapi_connection).__module__.startswith("sqlite3")


@event.listens_for(Engine, "connect")
def _sqlite_settings(dbapi_connection, connection_record) -> None:
    """SQLite: apply ON DELETE rules (PostgreSQL always does), WAL so reads never wait for a writer, and
    wait up to 30 s for a lock instead of failing.

    pysqlite begins a transaction only before the first INSERT/UPDATE/DELETE, here with BEGIN IMMEDIATE:
    reads before it see the latest commit, and a write takes the write lock at its start (waiting for it).
    A plain BEGIN at the first read would pin a WAL snapshot, and a later write in that transaction fails
    at once ("database is locked") whenever another connection committed in between, which under
    gunicorn's threads is often (a token's last-used stamp is one such connection).
    """
    if not _is_sqlite(dbapi_connection):
        return
    dbapi_connection.isolation_level = "IMMEDIATE"
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(connection) -> None:
    if connection.dialect.name == "sqlite" and connection.get_execution_options().get(IMMEDIATE):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def begin_serialised_write() -> None:
    """Start a unit of work that takes a mentor's slot or changes a goal's pairing, serialised on SQLite.

    SQLite has no row locks (FOR UPDATE is ignored), so there the whole unit runs under the database's
    write lock: the session's transaction is ended (committing the caller's pending changes, which by
    the services' convention belong to the same request) and the next one begins with BEGIN IMMEDIATE
    before its first read, so a second acceptance waits and then reads what the first committed.
    PostgreSQL uses row locks.
    """
    if db.engine.dialect.name != "sqlite":
        return
    db.session.commit()
    db.session.connection(execution_options={IMMEDIATE: True})


# Set on a connection by any statement other than a plain SELECT and by any failed statement; cleared when
# its transaction begins.
NOT_READ_ONLY = "tandem_transaction_not_read_only"


@event.listens_for(Engine, "begin")
def _forget_writes(connection) -> None:
    connection.info.pop(NOT_READ_ONLY, None)


@event.listens_for(Engine, "before_cursor_execute")
def _note_writes(connection, cursor, statement, parameters, context, executemany) -> None:
    if executemany or statement.lstrip()[:6].upper() != "SELECT":
        connection.info[NOT_READ_ONLY] = True


@event.listens_for(Engine, "handle_error")
def _note_failures(context) -> None:
    if context.connection is not None:  # a failed read leaves PostgreSQL's transaction aborted
        context.connection.info[NOT_READ_ONLY] = True


def commit_read_only_transactions(app: Flask) -> None:
    """End a request's (or job's) transaction that only read with COMMIT instead of the session's ROLLBACK.

    For such a transaction the two are the same, but psycopg forgets every prepared statement on a ROLLBACK
    (and sends DEALLOCATE ALL), so PostgreSQL planned each of a search's statements again on every request:
    the candidates' query alone spent 2 ms planning. With COMMIT a pooled connection keeps the statements
    psycopg prepared after their fifth use. Anything written, flushed or pending, a savepoint, a failed
    statement (even one the view caught) or an error still ends in the ROLLBACK. A SELECT is taken to change
    nothing: the app's own never call set_config() or SELECT ... INTO. Registered after Flask-SQLAlchemy, so it
    runs before its session removal.
    """

    @app.teardown_appcontext
    def _commit_if_read_only(error: BaseException | None) -> None:
        session = db.session()
        transaction = session.get_transaction()
        if error is not None or transaction is None or not transaction.is_active:
            return  # an exception, nothing begun, or a failed flush the view caught: the removal rolls back
        if session.new or session.dirty or session.deleted or session.connection().info.get(NOT_READ_ONLY):
            return
        session.expire_on_commit = False  # objects used after the context keep their values, as after a rollback
        try:
            session.commit()
        except SQLAlchemyError:  # never raise here: Flask-SQLAlchemy's removal must still release the connection
            log.exception("Ending a read-only transaction failed; it is rolled back")
            session.rollback()
