"""report housekeeping: interrupted requests, start time and expired PDFs

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-24
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401
import core.db  # noqa: F401


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('report_request', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failure', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('started_at', core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('expired_at', core.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('report_request', schema=None) as batch_op:
        batch_op.drop_column('expired_at')
        batch_op.drop_column('started_at')
        batch_op.drop_column('failure')
