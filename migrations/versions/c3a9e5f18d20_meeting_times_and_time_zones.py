"""meetings with a start instant, video link, status and invite sequence; time zones; invites in the outbox

Existing meetings had a date only: each becomes that date at 12:00 in the time zone of its tandem's mentee,
or in UTC where the mentee has none (before this revision nobody has one). Noon UTC keeps the date the same
for everyone between UTC-11 and UTC+11. A planned meeting stays `planned`, every other one is `held`.

Revision ID: c3a9e5f18d20
Revises: b7d41c2e9a10
Create Date: 2026-12-01 10:40:00.000000

"""
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c3a9e5f18d20'
down_revision = 'c3e8a1f5b7d2'
branch_labels = None
depends_on = None


def _zone(name):
    try:
        return ZoneInfo(name) if name else UTC
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def upgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('time_zone', sa.String(length=64), nullable=True))
    with op.batch_alter_table('outgoing_email', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ics', sa.Text(), nullable=True))
    with op.batch_alter_table('meeting', schema=None) as batch_op:
        batch_op.add_column(sa.Column('starts_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('video_url', sa.String(length=500), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('status', sa.String(length=10), nullable=False, server_default='held'))
        batch_op.add_column(sa.Column('sequence', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('reminded_for', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('outcome_asked_for', sa.DateTime(timezone=True), nullable=True))

    connection = op.get_bind()
    meeting = sa.table('meeting', sa.column('id', sa.Integer), sa.column('tandem_id', sa.Integer),
                       sa.column('held_on', sa.Date), sa.column('planned', sa.Boolean),
                       sa.column('starts_at', sa.DateTime(timezone=True)), sa.column('status', sa.String))
    tandem = sa.table('tandem', sa.column('id', sa.Integer), sa.column('mentee_user_id', sa.Integer))
    user = sa.table('user', sa.column('id', sa.Integer), sa.column('time_zone', sa.String))
    rows = connection.execute(
        sa.select(meeting.c.id, meeting.c.held_on, meeting.c.planned, user.c.time_zone)
        .select_from(meeting.join(tandem, tandem.c.id == meeting.c.tandem_id)
                     .outerjoin(user, user.c.id == tandem.c.mentee_user_id))
    ).all()
    for meeting_id, held_on, planned, zone in rows:
        held_on = held_on if not isinstance(held_on, str) else datetime.fromisoformat(held_on).date()
        starts_at = datetime.combine(held_on, time(12, 0), tzinfo=_zone(zone)).astimezone(UTC)
        connection.execute(meeting.update().where(meeting.c.id == meeting_id).values(
            starts_at=starts_at, status='planned' if planned else 'held'))

    with op.batch_alter_table('meeting', schema=None) as batch_op:
        batch_op.alter_column('starts_at', existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.alter_column('status', existing_type=sa.String(length=10), server_default=None)
        batch_op.alter_column('video_url', existing_type=sa.String(length=500), server_default=None)
        batch_op.alter_column('sequence', existing_type=sa.Integer(), server_default=None)
        batch_op.drop_column('planned')
        batch_op.create_index(batch_op.f('ix_meeting_starts_at'), ['starts_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_meeting_status'), ['status'], unique=False)


def downgrade():
    with op.batch_alter_table('meeting', schema=None) as batch_op:
        batch_op.add_column(sa.Column('planned', sa.Boolean(), nullable=False, server_default=sa.false()))
    meeting = sa.table('meeting', sa.column('planned', sa.Boolean), sa.column('status', sa.String))
    op.execute(meeting.update().where(meeting.c.status == 'planned').values(planned=True))
    with op.batch_alter_table('meeting', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_meeting_status'))
        batch_op.drop_index(batch_op.f('ix_meeting_starts_at'))
        batch_op.drop_column('outcome_asked_for')
        batch_op.drop_column('reminded_for')
        batch_op.drop_column('sequence')
        batch_op.drop_column('status')
        batch_op.drop_column('video_url')
        batch_op.drop_column('starts_at')
    with op.batch_alter_table('outgoing_email', schema=None) as batch_op:
        batch_op.drop_column('ics')
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('time_zone')
