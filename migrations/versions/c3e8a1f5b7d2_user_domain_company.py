"""user.domain_company_id: the company owning a person's e-mail domain, for the hard rules

Revision ID: c3e8a1f5b7d2
Revises: b7d41c2e9a10
Create Date: 2026-12-01 11:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c3e8a1f5b7d2'
down_revision = 'c4e8a1f05d62'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('domain_company_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_user_domain_company_id_company'), 'company',
                                    ['domain_company_id'], ['id'], ondelete='SET NULL')
    _backfill()


def _backfill():
    """Every existing person gets the company their address's domain belongs to (if any)."""
    connection = op.get_bind()
    user = sa.table('user', sa.column('id', sa.Integer), sa.column('email', sa.String),
                    sa.column('domain_company_id', sa.Integer))
    domain = sa.table('company_domain', sa.column('domain', sa.String), sa.column('company_id', sa.Integer))
    owners = dict(connection.execute(sa.select(domain.c.domain, domain.c.company_id)).all())
    if not owners:
        return
    for user_id, email in connection.execute(sa.select(user.c.id, user.c.email)).all():
        company_id = owners.get(email.rsplit('@', 1)[-1].lower())
        if company_id is not None:
            connection.execute(user.update().where(user.c.id == user_id).values(domain_company_id=company_id))


def downgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_user_domain_company_id_company'), type_='foreignkey')
        batch_op.drop_column('domain_company_id')
