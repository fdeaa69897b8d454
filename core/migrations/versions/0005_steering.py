"""steering (roadmaps, structuring projects)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401
import core.db  # noqa: F401


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('roadmap_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('territory_id', sa.Integer(), nullable=False),
    sa.Column('policy_id', sa.Integer(), nullable=False),
    sa.Column('added_by_id', sa.Integer(), nullable=True),
    sa.Column('added_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['added_by_id'], ['user_account.id'], name=op.f('fk_roadmap_entry_added_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['policy_id'], ['policy.id'], name=op.f('fk_roadmap_entry_policy_id_policy'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['territory_id'], ['territory.id'], name=op.f('fk_roadmap_entry_territory_id_territory'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_roadmap_entry')),
    sa.UniqueConstraint('territory_id', 'policy_id', name=op.f('uq_roadmap_entry_territory_id_policy_id'))
    )
    op.create_index('ix_roadmap_entry_policy', 'roadmap_entry', ['policy_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_roadmap_entry_policy', table_name='roadmap_entry')
    op.drop_table('roadmap_entry')
