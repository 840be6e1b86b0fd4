"""import jobs heartbeat while they run, so a job whose worker died (kill -9) is queued again

Revision ID: e5b1c7a3d9f4
Revises: e5b1d7c93a40
Create Date: 2026-12-01 12:40:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'e5b1c7a3d9f4'
down_revision = 'e5b1d7c93a40'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('import_job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('import_job', schema=None) as batch_op:
        batch_op.drop_column('attempts')
        batch_op.drop_column('heartbeat_at')
