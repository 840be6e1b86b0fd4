"""`flask --app wsgi ...` commands: the contract other tools rely on (see DESIGN.md).

Each command is a module-level click command; `register_commands` adds them to the app (cookiecutter-flask's
`commands.py`). Groups are `AppGroup`s and top-level commands use `with_appcontext`, so every command runs
inside the application context, however it is invoked.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from flask_migrate import stamp, upgrade
from sqlalchemy import inspect
from tqdm import tqdm

from .extensions import db
from .services import accounts, setup

users = AppGroup("users", help="Manage user accounts.")
tokens = AppGroup("tokens", help="Manage API tokens.")
participants = AppGroup("participants", help="Import participants.")
index = AppGroup("index", help="Maintain the vector index.")


@click.command("init-db")
@with_appcontext
def init_db() -> None:
    """Create or upgrade the schema and seed the topic taxonomy; safe to run twice."""
    tables = set(inspect(db.engine).get_table_names())
    if "user" in tables and "alembic_version" not in tables:
        # Built by db.create_all() (tests, early installs): record it as current instead of re-creating.
        stamp()
    else:
        upgrade()
    setup.initialise_database()
    click.echo("Database is ready.")


@click.command("worker")
@with_appcontext
def worker() -> None:
    """Run a job worker with the periodic jobs (due mail, digests) until SIGTERM."""
    from .jobs import run_worker

    run_worker(current_app._get_current_object())


@click.command("seed-demo")
@with_appcontext
def seed_demo() -> None:
    """Load the demo data set (companies, mentors, goals, a cohort); idempotent."""
    from .services import demo

    if "user" not in inspect(db.engine).get_table_names():
        raise click.ClickException("The database has no schema yet: run `flask --app wsgi init-db` first.")
    summary = demo.seed_demo()
    click.echo(
        "Demo data: {companies} companies, {mentors} mentors, {goals} goals, cohort {cohort!r}.".format(**summary)
    )
    url = os.environ.get("TANDEM_URL", current_app.config["TANDEM_BASE_URL"])
    click.echo(f"Open {url} and log in as (password {demo.DEMO_PASSWORD}):")
    for role, email in demo.DEMO_LOGINS.items():
        click.echo(f"  {role:<20} {email}")


@users.command("create-manager")
@click.argument("email")
@click.option("--name", required=True)
@click.option("--password", required=True)
def create_manager(email: str, name: str, password: str) -> None:
    """Create a community manager (or give an existing user the manager role)."""
    user = accounts.find_user_by_email(email)
    try:
        if user is None:
            user = accounts.create_user(email, name, password, is_manager=True)
        else:
            user.is_manager = True
            accounts.set_password(user, password)
    except accounts.AccountError as problem:
        db.session.rollback()
        raise click.ClickException(str(problem)) from None
    db.session.commit()
    click.echo(f"Community manager {user.email} is ready.")


@tokens.command("create")
@click.argument("email")
@click.option("--name", default="CLI token")
def create_token(email: str, name: str) -> None:
    """Print a new API token for that user, nothing else."""
    user = accounts.find_user_by_email(email)
    if user is None:
        raise click.ClickException(f"No user with e-mail {email}.")
    token = accounts.create_api_token(user, name)
    db.session.commit()
    click.echo(token)


@participants.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--cohort", "cohort_name", default=None, help="Enrol everyone in this existing cohort.")
def import_participants(csv_file: Path, cohort_name: str | None) -> None:
    """Import mentors and goals from a CSV or .xlsx file: every row or none."""
    from .services.cohorts import imports

    bar = tqdm(total=0, unit="text", desc="Embedding", file=sys.stderr, disable=None)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        result = imports.import_participants_file(csv_file, cohort_name=cohort_name, progress=progress)
    except imports.ImportConflict as conflict:
        raise click.ClickException(str(conflict)) from None
    finally:
        bar.close()
    if not result.ok:
        for problem in result.errors:
            whose = f"{problem.email}: " if problem.email else ""
            where = f"row {problem.row}: " if problem.row else ""  # row 0: the file or the cohort, not a row
            click.echo(f"{where}{whose}{problem.message}", err=True)
        raise SystemExit(1)
    click.echo(result.summary())


@index.command("rebuild")
def rebuild_index() -> None:
    """Embed missing or stale vectors, then rebuild and save the indexes."""
    from .services.matching import vectors

    bars: dict[str, tqdm] = {}

    def progress(kind: str, done: int, total: int) -> None:
        bar = bars.setdefault(kind, tqdm(total=total, unit="text", desc=f"Embedding {kind}s", file=sys.stderr))
        bar.n = done
        bar.refresh()

    counts = vectors.rebuild_all(progress=progress)
    for bar in bars.values():
        bar.close()
    click.echo(
        "Embedded {mentors_embedded} mentor profiles and {goals_embedded} goals; "
        "index holds {mentors_indexed} mentors and {goals_indexed} goals.".format(**counts)
    )


COMMANDS = (init_db, worker, seed_demo, users, tokens, participants, index)


def register_commands(app: Flask) -> None:
    """Add every command to `app.cli`."""
    for command in COMMANDS:
        app.cli.add_command(command)
