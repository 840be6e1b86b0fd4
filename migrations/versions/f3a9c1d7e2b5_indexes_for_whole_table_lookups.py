"""indexes for lookups that read whole tables: lower(email) (every lookup by address), the outbox's next due
message and its claimed row (every message sent)

Revision ID: f3a9c1d7e2b5
Revises: f3a8c1d5e7b2
Create Date: 2026-12-01 17:10:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'f3a9c1d7e2b5'
down_revision = 'f3a8c1d5e7b2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_user_email_lower', 'user', [sa.text('lower(email)')], unique=False)
    with op.batch_alter_table('outgoing_email', schema=None) as batch_op:
        batch_op.create_index('ix_outgoing_email_due', ['status', 'next_attempt_at', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outgoing_email_claim_token'), ['claim_token'], unique=False)


def downgrade():
    with op.batch_alter_table('outgoing_email', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outgoing_email_claim_token'))
        batch_op.drop_index('ix_outgoing_email_due')
    op.drop_index('ix_user_email_lower', table_name='user')
