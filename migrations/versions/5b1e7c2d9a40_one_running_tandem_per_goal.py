"""one running tandem per goal: cancel the newer of two running tandems on a goal, then a partial unique index

Revision ID: 5b1e7c2d9a40
Revises: 74378a332969
Create Date: 2026-12-01 09:10:00.000000

"""
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '5b1e7c2d9a40'
down_revision = 'd2363e44351f'
branch_labels = None
depends_on = None

RUNNING = "active"
CANCELLED = "cancelled"
# Written in English: a migration runs outside any request, and the text must not change with the catalogue.
NOTICE = ("Your tandem on “{title}” was cancelled: the goal had two running tandems, and only the one "
          "accepted first can stay.")

tandem = sa.table(
    "tandem",
    sa.column("id", sa.Integer), sa.column("goal_id", sa.Integer), sa.column("status", sa.String),
    sa.column("created_at", sa.DateTime(timezone=True)), sa.column("ended_at", sa.DateTime(timezone=True)),
    sa.column("mentee_user_id", sa.Integer), sa.column("mentor_user_id", sa.Integer),
)
goal = sa.table("goal", sa.column("id", sa.Integer), sa.column("title", sa.String))
notification = sa.table(
    "notification",
    sa.column("user_id", sa.Integer), sa.column("kind", sa.String), sa.column("message", sa.Text),
    sa.column("link", sa.String), sa.column("created_at", sa.DateTime(timezone=True)),
)


def cancel_second_running_tandems(connection) -> int:
    """On every goal with several running tandems keep the oldest and cancel the others, telling both
    partners of each; answers how many were cancelled."""
    rows = connection.execute(
        sa.select(tandem.c.id, tandem.c.goal_id, tandem.c.mentee_user_id, tandem.c.mentor_user_id, goal.c.title)
        .join(goal, goal.c.id == tandem.c.goal_id)
        .where(tandem.c.status == RUNNING)
        .order_by(tandem.c.goal_id, tandem.c.created_at, tandem.c.id)
    ).all()
    now = datetime.now(UTC)
    seen: set[int] = set()
    cancelled = 0
    for row in rows:
        if row.goal_id not in seen:
            seen.add(row.goal_id)
            continue
        connection.execute(
            sa.update(tandem).where(tandem.c.id == row.id).values(status=CANCELLED, ended_at=now)
        )
        for user_id in {row.mentee_user_id, row.mentor_user_id} - {None}:
            connection.execute(sa.insert(notification).values(
                user_id=user_id, kind="tandem_cancelled", message=NOTICE.format(title=row.title),
                link=f"/tandems/{row.id}", created_at=now,
            ))
        cancelled += 1
    return cancelled


def upgrade():
    cancel_second_running_tandems(op.get_bind())
    with op.batch_alter_table('tandem', schema=None) as batch_op:
        batch_op.create_index(
            'uq_tandem_running_goal', ['goal_id'], unique=True,
            sqlite_where=sa.text("status = 'active'"), postgresql_where=sa.text("status = 'active'"),
        )


def downgrade():
    with op.batch_alter_table('tandem', schema=None) as batch_op:
        batch_op.drop_index('uq_tandem_running_goal')
