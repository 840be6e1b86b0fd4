"""The database's plan for the statements a piece of code sends: to check a lookup reads an index, not a table."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import event

from marketplace.extensions import db


def plans(run: Callable[[], object], sent_if: Callable[[str], bool]) -> list[list[str]]:
    """Run `run()`, then answer the plan of each statement it sent for which `sent_if(statement)` holds.

    The tables of a test hold a handful of rows, where PostgreSQL rightly prefers reading the table: its plans are
    taken with sequential scans off, so they name an index whenever one can answer the statement."""
    sent: list[tuple[str, object]] = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        if sent_if(statement):
            sent.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", keep)
    try:
        run()
    finally:
        event.remove(db.engine, "before_cursor_execute", keep)
    found = []
    with db.engine.connect() as connection:
        postgres = connection.dialect.name == "postgresql"
        if postgres:
            connection.exec_driver_sql("SET enable_seqscan = off")
        for statement, parameters in sent:
            if postgres:
                found.append(list(connection.exec_driver_sql("EXPLAIN " + statement, parameters).scalars()))
            else:
                found.append([row[-1] for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement,
                                                                            parameters)])
        connection.rollback()
    return found
