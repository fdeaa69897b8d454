"""unsubscribe link of an e-mail (List-Unsubscribe header)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401
import core.db  # noqa: F401


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('mail_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unsubscribe_url', sa.String(length=1000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('mail_message', schema=None) as batch_op:
        batch_op.drop_column('unsubscribe_url')
