"""meeting proposals (up to three slots, one picked) and weekly availability windows

Revision ID: d7f2b9c41e06
Revises: c3a9e5f18d20
Create Date: 2026-12-01 12:40:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'd7f2b9c41e06'
down_revision = 'c3a9e5f18d20'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'availability_window',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('weekday', sa.Integer(), nullable=False),
        sa.Column('starts_minute', sa.Integer(), nullable=False),
        sa.Column('ends_minute', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_availability_window_user_id_user'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_availability_window')),
    )
    with op.batch_alter_table('availability_window', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_availability_window_user_id'), ['user_id'], unique=False)

    op.create_table(
        'meeting_proposal',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('tandem_id', sa.Integer(), nullable=False),
        sa.Column('proposer_id', sa.Integer(), nullable=True),
        sa.Column('responder_id', sa.Integer(), nullable=True),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('meeting_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_meeting_proposal_meeting_id_meeting'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['proposer_id'], ['user.id'], name=op.f('fk_meeting_proposal_proposer_id_user'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['responder_id'], ['user.id'], name=op.f('fk_meeting_proposal_responder_id_user'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['tandem_id'], ['tandem.id'], name=op.f('fk_meeting_proposal_tandem_id_tandem'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_meeting_proposal')),
    )
    with op.batch_alter_table('meeting_proposal', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meeting_proposal_proposer_id'), ['proposer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_meeting_proposal_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_meeting_proposal_tandem_id'), ['tandem_id'], unique=False)
        batch_op.create_index('uq_meeting_proposal_open_tandem', ['tandem_id'], unique=True,
                              sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))

    op.create_table(
        'proposal_slot',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('proposal_id', sa.Integer(), nullable=False),
        sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('minutes', sa.Integer(), nullable=False),
        sa.Column('video_url', sa.String(length=500), nullable=False),
        sa.Column('topic', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(['proposal_id'], ['meeting_proposal.id'],
                                name=op.f('fk_proposal_slot_proposal_id_meeting_proposal'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_proposal_slot')),
    )
    with op.batch_alter_table('proposal_slot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_proposal_slot_proposal_id'), ['proposal_id'], unique=False)


def downgrade():
    op.drop_table('proposal_slot')
    op.drop_table('meeting_proposal')
    op.drop_table('availability_window')
