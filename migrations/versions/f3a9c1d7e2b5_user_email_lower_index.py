"""an index on lower(email): every lookup by address compares lower(email), which read the whole user table

Revision ID: f3a9c1d7e2b5
Revises: e5b1c7a3d9f4
Create Date: 2026-12-01 17:10:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'f3a9c1d7e2b5'
down_revision = 'e5b1c7a3d9f4'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_user_email_lower', 'user', [sa.text('lower(email)')], unique=False)


def downgrade():
    op.drop_index('ix_user_email_lower', table_name='user')
