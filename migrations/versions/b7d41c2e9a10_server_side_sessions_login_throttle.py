"""server-side sessions, login throttle; e-mail addresses in NFKC

Revision ID: b7d41c2e9a10
Revises: 74378a332969
Create Date: 2026-12-01 09:40:00.000000

"""
import unicodedata

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b7d41c2e9a10'
down_revision = '5b1e7c2d9a40'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('user_session',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_user_session_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_session'))
    )
    with op.batch_alter_table('user_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_session_user_id'), ['user_id'], unique=False)
    op.create_table('login_throttle',
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('window_started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_failed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('blocked_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_login_throttle'))
    )
    # Sessions now live in user_session: every existing cookie stops working, everyone logs in once more.
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('session_token')
    _normalise_emails()


def _normalise_emails():
    """Stored addresses in the form the app now compares (NFKC, lower case); a clash is left for a manager."""
    connection = op.get_bind()
    user = sa.table('user', sa.column('id', sa.Integer), sa.column('email', sa.String))
    rows = connection.execute(sa.select(user.c.id, user.c.email)).all()
    taken = {email for _id, email in rows}
    for user_id, email in rows:
        normalised = unicodedata.normalize('NFKC', email).strip().lower()
        if normalised != email and normalised not in taken:
            connection.execute(user.update().where(user.c.id == user_id).values(email=normalised))
            taken.add(normalised)


def downgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_token', sa.String(length=64), nullable=False, server_default=''))
    op.drop_table('login_throttle')
    with op.batch_alter_table('user_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_session_user_id'))
    op.drop_table('user_session')
