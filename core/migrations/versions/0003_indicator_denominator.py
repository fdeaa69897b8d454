"""indicator denominator

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 00:58:55.096770
"""
from alembic import op
import sqlalchemy as sa
import core.db


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:

    with op.batch_alter_table('indicator', schema=None) as batch_op:
        batch_op.add_column(sa.Column('denominator_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_indicator_denominator_id_indicator'), 'indicator', ['denominator_id'], ['id'], ondelete='SET NULL')




def downgrade() -> None:

    with op.batch_alter_table('indicator', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_indicator_denominator_id_indicator'), type_='foreignkey')
        batch_op.drop_column('denominator_id')


