"""one import job per staged upload: a unique token, so that a confirm clicked twice lands on the same job

Revision ID: b8d2f4a6c1e3
Revises: a7c3e9f1b2d4
Create Date: 2026-12-03 15:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b8d2f4a6c1e3'
down_revision = 'a7c3e9f1b2d4'
branch_labels = None
depends_on = None


def upgrade():
    # Jobs confirmed twice before this revision: keep the first of each token (the later ones failed).
    op.execute(sa.text(
        "DELETE FROM import_job WHERE id NOT IN (SELECT MIN(id) FROM import_job GROUP BY token)"
    ))
    with op.batch_alter_table('import_job', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_import_job_token'), ['token'])


def downgrade():
    with op.batch_alter_table('import_job', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_import_job_token'), type_='unique')
