"""tandem.mentor_id becomes mentor_profile_id: it holds a mentor profile's id, beside mentor_user_id

Revision ID: f3a8c1d5e7b2
Revises: e5b1c7a3d9f4
Create Date: 2026-12-02 09:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'f3a8c1d5e7b2'
down_revision = 'e5b1c7a3d9f4'
branch_labels = None
depends_on = None


def _rename(old: str, new: str) -> None:
    """Rename the column with its index and foreign key, named after it; on SQLite the table is rebuilt.

    Two batches: inside one, Alembic still knows the renamed column by its old name and cannot index it."""
    with op.batch_alter_table('tandem', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f(f'ix_tandem_{old}'))
        batch_op.drop_constraint(batch_op.f(f'fk_tandem_{old}_mentor_profile'), type_='foreignkey')
        batch_op.alter_column(old, new_column_name=new, existing_type=sa.Integer(), existing_nullable=True)
    with op.batch_alter_table('tandem', schema=None) as batch_op:
        batch_op.create_foreign_key(batch_op.f(f'fk_tandem_{new}_mentor_profile'), 'mentor_profile', [new], ['id'],
                                    ondelete='SET NULL')
        batch_op.create_index(batch_op.f(f'ix_tandem_{new}'), [new], unique=False)


def upgrade():
    _rename('mentor_id', 'mentor_profile_id')


def downgrade():
    _rename('mentor_profile_id', 'mentor_id')
