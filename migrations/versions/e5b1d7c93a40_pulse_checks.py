"""pulse checks: each partner asked how useful the tandem is (30 days in, every second meeting held)

Revision ID: e5b1d7c93a40
Revises: e5b2c7a91f04
Create Date: 2026-12-01 12:40:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'e5b1d7c93a40'
down_revision = 'e5b2c7a91f04'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'pulse_check',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('tandem_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('role', sa.String(length=10), nullable=False),
        sa.Column('occasion', sa.String(length=40), nullable=False),
        sa.Column('asked_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('usefulness', sa.Integer(), nullable=True),
        sa.Column('collaboration', sa.Integer(), nullable=True),
        sa.Column('comment', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['tandem_id'], ['tandem.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('tandem_id', 'user_id', 'occasion'),
    )
    with op.batch_alter_table('pulse_check', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pulse_check_tandem_id'), ['tandem_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_pulse_check_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('pulse_check', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pulse_check_user_id'))
        batch_op.drop_index(batch_op.f('ix_pulse_check_tandem_id'))
    op.drop_table('pulse_check')
