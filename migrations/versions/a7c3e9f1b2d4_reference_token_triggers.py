"""reference token triggers: a new random app_meta 'reference_token' with every change to a taxonomy topic or a
competitor link, so workers may keep the taxonomy and the competitor links while it is unchanged

Revision ID: a7c3e9f1b2d4
Revises: f3a9c1d7e2b5
Create Date: 2026-12-02 03:30:00.000000

"""
import uuid

import sqlalchemy as sa
from alembic import op

from marketplace.models import REFERENCE_TOKEN_KEY, drop_reference_token_ddl, reference_token_ddl

# revision identifiers, used by Alembic.
revision = 'a7c3e9f1b2d4'
down_revision = 'f3a9c1d7e2b5'
branch_labels = None
depends_on = None


def upgrade():
    connection = op.get_bind()
    for statement in reference_token_ddl(connection.dialect.name):
        connection.exec_driver_sql(statement)
    # Changes made without the triggers (before them, or after a downgrade) renewed nothing: what a worker kept
    # under the old token must not be trusted. init-db adds the row where it is missing.
    connection.execute(
        sa.text("UPDATE app_meta SET value = :token WHERE key = :key"),
        {"token": uuid.uuid4().hex, "key": REFERENCE_TOKEN_KEY},
    )


def downgrade():
    connection = op.get_bind()
    for statement in drop_reference_token_ddl(connection.dialect.name):
        connection.exec_driver_sql(statement)
    # Without the triggers nothing renews the token: without the row, workers keep nothing.
    connection.execute(sa.text("DELETE FROM app_meta WHERE key = :key"), {"key": REFERENCE_TOKEN_KEY})
