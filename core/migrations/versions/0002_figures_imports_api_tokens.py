"""figures, imports, api tokens

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 00:05:51.640044
"""
from alembic import op
import sqlalchemy as sa
import core.db
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('api_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('token_hash', sa.String(length=128), nullable=False),
    sa.Column('read_only', sa.Boolean(), nullable=False),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('expires_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_api_token_created_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_api_token_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_token')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_token_token_hash'))
    )
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_token_user_id'), ['user_id'], unique=False)

    op.create_table('import_batch',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('format', sa.String(length=40), nullable=False),
    sa.Column('filename', sa.String(length=300), nullable=False),
    sa.Column('file_hash', sa.String(length=80), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('author_label', sa.String(length=254), nullable=False),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('counts', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('reverted_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reverted_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['user_account.id'], name=op.f('fk_import_batch_author_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reverted_by_id'], ['user_account.id'], name=op.f('fk_import_batch_reverted_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_batch'))
    )
    op.create_table('policy_figure',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('policy_id', sa.Integer(), nullable=False),
    sa.Column('territory_id', sa.Integer(), nullable=False),
    sa.Column('overall', core.db.ExactDecimal(precision=28, scale=8), nullable=True),
    sa.Column('annual', core.db.ExactDecimal(precision=28, scale=8), nullable=True),
    sa.Column('previous_overall', core.db.ExactDecimal(precision=28, scale=8), nullable=True),
    sa.Column('trend', sa.String(length=10), nullable=True),
    sa.Column('gap_to_median', core.db.ExactDecimal(precision=28, scale=8), nullable=True),
    sa.Column('reason', sa.String(length=60), nullable=True),
    sa.Column('last_value_date', sa.Date(), nullable=True),
    sa.Column('computed_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('explanation', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['policy_id'], ['policy.id'], name=op.f('fk_policy_figure_policy_id_policy'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['territory_id'], ['territory.id'], name=op.f('fk_policy_figure_territory_id_territory'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_figure')),
    sa.UniqueConstraint('policy_id', 'territory_id', name=op.f('uq_policy_figure_policy_id_territory_id'))
    )
    with op.batch_alter_table('policy_figure', schema=None) as batch_op:
        batch_op.create_index('ix_policy_figure_territory', ['territory_id'], unique=False)

    op.create_table('aggregated_value',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('indicator_id', sa.Integer(), nullable=False),
    sa.Column('territory_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('baseline', 'actual', 'target', name='valuekind', native_enum=False, length=20), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('value', core.db.ExactDecimal(precision=28, scale=8), nullable=True),
    sa.Column('method', sa.String(length=40), nullable=False),
    sa.Column('inputs', sa.Integer(), nullable=False),
    sa.Column('computed_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['indicator_id'], ['indicator.id'], name=op.f('fk_aggregated_value_indicator_id_indicator'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['territory_id'], ['territory.id'], name=op.f('fk_aggregated_value_territory_id_territory'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_aggregated_value')),
    sa.UniqueConstraint('indicator_id', 'territory_id', 'kind', 'date', name=op.f('uq_aggregated_value_indicator_id_territory_id_kind_date'))
    )
    op.create_table('indicator_figure',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('indicator_id', sa.Integer(), nullable=False),
    sa.Column('territory_id', sa.Integer(), nullable=False),
    sa.Column('baseline', core.db.ExactDecimal(precision=28, scale=8), nullable=True),
    sa.Column('baseline_date', sa.Date(), nullable=True),
    sa.Column('actual', core.db.ExactDecimal(precision=28, scale=8), nullable=True),
    sa.Column('actual_date', sa.Date(), nullable=True),
    sa.Column('annual_target', core.db.ExactDecimal(precision=28, scale=8), nullable=True),
    sa.Column('annual_target_date', sa.Date(), nullable=True),
    sa.Column('final_target', core.db.ExactDecimal(precision=28, scale=8), nullable=True),
    sa.Column('final_target_date', sa.Date(), nullable=True),
    sa.Column('annual', core.db.ExactDecimal(precision=28, scale=8), nullable=True),
    sa.Column('overall', core.db.ExactDecimal(precision=28, scale=8), nullable=True),
    sa.Column('previous_overall', core.db.ExactDecimal(precision=28, scale=8), nullable=True),
    sa.Column('origin', sa.String(length=20), nullable=False),
    sa.Column('next_update_due', sa.Date(), nullable=True),
    sa.Column('computed_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('explanation', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['indicator_id'], ['indicator.id'], name=op.f('fk_indicator_figure_indicator_id_indicator'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['territory_id'], ['territory.id'], name=op.f('fk_indicator_figure_territory_id_territory'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_indicator_figure')),
    sa.UniqueConstraint('indicator_id', 'territory_id', name=op.f('uq_indicator_figure_indicator_id_territory_id'))
    )
    with op.batch_alter_table('indicator', schema=None) as batch_op:
        batch_op.add_column(sa.Column('min_value', core.db.ExactDecimal(precision=28, scale=8), nullable=True))
        batch_op.add_column(sa.Column('max_value', core.db.ExactDecimal(precision=28, scale=8), nullable=True))

    with op.batch_alter_table('indicator_value_revision', schema=None) as batch_op:
        batch_op.add_column(sa.Column('import_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_indicator_value_revision_import_id'), ['import_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_indicator_value_revision_import_id_import_batch'), 'import_batch', ['import_id'], ['id'], ondelete='SET NULL')




def downgrade() -> None:

    with op.batch_alter_table('indicator_value_revision', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_indicator_value_revision_import_id_import_batch'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_indicator_value_revision_import_id'))
        batch_op.drop_column('import_id')

    with op.batch_alter_table('indicator', schema=None) as batch_op:
        batch_op.drop_column('max_value')
        batch_op.drop_column('min_value')

    op.drop_table('indicator_figure')
    op.drop_table('aggregated_value')
    with op.batch_alter_table('policy_figure', schema=None) as batch_op:
        batch_op.drop_index('ix_policy_figure_territory')

    op.drop_table('policy_figure')
    op.drop_table('import_batch')
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_token_user_id'))

    op.drop_table('api_token')

