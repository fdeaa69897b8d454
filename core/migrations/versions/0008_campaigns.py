"""review campaigns and their frozen snapshots

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401
from sqlalchemy.dialects import postgresql
import core.db  # noqa: F401


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('campaign',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.Enum('monthly', 'quarterly', 'one_off', name='campaignkind', native_enum=False, length=20), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('due_dates', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('remind_days_before', sa.Integer(), nullable=False),
    sa.Column('escalate_days_after', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('open', 'closed', name='campaignstatus', native_enum=False, length=20), nullable=False),
    sa.Column('opened_by_id', sa.Integer(), nullable=True),
    sa.Column('opened_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.Column('closed_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['closed_by_id'], ['user_account.id'], name=op.f('fk_campaign_closed_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['opened_by_id'], ['user_account.id'], name=op.f('fk_campaign_opened_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign')),
    sa.UniqueConstraint('code', name=op.f('uq_campaign_code'))
    )
    with op.batch_alter_table('campaign', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaign_status'), ['status'], unique=False)

    op.create_table('campaign_policy',
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('policy_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_campaign_policy_campaign_id_campaign'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['policy_id'], ['policy.id'], name=op.f('fk_campaign_policy_policy_id_policy'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('campaign_id', 'policy_id', name=op.f('pk_campaign_policy'))
    )
    op.create_table('campaign_snapshot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('territory_id', sa.Integer(), nullable=False),
    sa.Column('policy_id', sa.Integer(), nullable=False),
    sa.Column('expected', sa.Integer(), nullable=False),
    sa.Column('received', sa.Integer(), nullable=False),
    sa.Column('late', sa.Integer(), nullable=False),
    sa.Column('progress', core.db.ExactDecimal(precision=28, scale=8), nullable=True),
    sa.Column('weather', sa.String(length=20), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_campaign_snapshot_campaign_id_campaign'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['policy_id'], ['policy.id'], name=op.f('fk_campaign_snapshot_policy_id_policy'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['territory_id'], ['territory.id'], name=op.f('fk_campaign_snapshot_territory_id_territory'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_snapshot')),
    sa.UniqueConstraint('campaign_id', 'territory_id', 'policy_id', name=op.f('uq_campaign_snapshot_campaign_id_territory_id_policy_id'))
    )
    with op.batch_alter_table('campaign_snapshot', schema=None) as batch_op:
        batch_op.create_index('ix_campaign_snapshot_campaign', ['campaign_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('campaign_snapshot', schema=None) as batch_op:
        batch_op.drop_index('ix_campaign_snapshot_campaign')
    op.drop_table('campaign_snapshot')
    op.drop_table('campaign_policy')
    with op.batch_alter_table('campaign', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaign_status'))
    op.drop_table('campaign')
