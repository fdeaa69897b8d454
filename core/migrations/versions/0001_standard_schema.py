"""standard schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-21 23:34:47.301877
"""
from alembic import op
import sqlalchemy as sa
import core.db
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = ('core',)
depends_on = None


def upgrade() -> None:

    op.create_table('organisation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('acronym', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organisation')),
    sa.UniqueConstraint('code', name=op.f('uq_organisation_code'))
    )
    op.create_table('policy_group',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_group')),
    sa.UniqueConstraint('code', name=op.f('uq_policy_group_code'))
    )
    op.create_table('territory',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('grid', sa.String(length=40), nullable=False),
    sa.Column('level', sa.String(length=40), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('population', sa.Integer(), nullable=True),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['parent_id'], ['territory.id'], name=op.f('fk_territory_parent_id_territory')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_territory')),
    sa.UniqueConstraint('grid', 'level', 'code', 'valid_from', name=op.f('uq_territory_grid_level_code_valid_from'))
    )
    with op.batch_alter_table('territory', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_territory_level'), ['level'], unique=False)
        batch_op.create_index('ix_territory_parent', ['parent_id'], unique=False)

    op.create_table('user_account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('password_hash', sa.String(length=300), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('is_service_account', sa.Boolean(), nullable=False),
    sa.Column('locale', sa.String(length=10), nullable=True),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_account')),
    sa.UniqueConstraint('email', name=op.f('uq_user_account_email'))
    )
    op.create_table('audit_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_label', sa.String(length=254), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('entity', sa.String(length=80), nullable=False),
    sa.Column('entity_id', sa.String(length=80), nullable=False),
    sa.Column('changes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['user_account.id'], name=op.f('fk_audit_entry_actor_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_entry'))
    )
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_entry_at'), ['at'], unique=False)
        batch_op.create_index('ix_audit_entry_entity', ['entity', 'entity_id'], unique=False)

    op.create_table('policy',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('short_name', sa.String(length=120), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('status', sa.Enum('draft', 'published', 'archived', name='policystatus', native_enum=False, length=20), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=True),
    sa.Column('organisation_id', sa.Integer(), nullable=True),
    sa.Column('territory_id', sa.Integer(), nullable=True),
    sa.Column('is_territorialised', sa.Boolean(), nullable=False),
    sa.Column('is_public', sa.Boolean(), nullable=False),
    sa.Column('targets_expected', sa.Boolean(), nullable=False),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['policy_group.id'], name=op.f('fk_policy_group_id_policy_group')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_policy_organisation_id_organisation')),
    sa.ForeignKeyConstraint(['territory_id'], ['territory.id'], name=op.f('fk_policy_territory_id_territory')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policy')),
    sa.UniqueConstraint('code', name=op.f('uq_policy_code'))
    )
    with op.batch_alter_table('policy', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_policy_group_id'), ['group_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_policy_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_policy_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('user_grant',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.Enum('admin', 'central_steering', 'ministry_referent', 'prefect', 'territorial_coordinator', 'local_contributor', 'reader', name='role', native_enum=False, length=40), nullable=False),
    sa.Column('territory_id', sa.Integer(), nullable=True),
    sa.Column('organisation_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=40), nullable=False),
    sa.Column('expires_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_user_grant_created_by_id_user_account')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_user_grant_organisation_id_organisation')),
    sa.ForeignKeyConstraint(['territory_id'], ['territory.id'], name=op.f('fk_user_grant_territory_id_territory')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_user_grant_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_grant'))
    )
    with op.batch_alter_table('user_grant', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_grant_user_id'), ['user_id'], unique=False)

    op.create_table('comment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('policy_id', sa.Integer(), nullable=False),
    sa.Column('territory_id', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=40), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['user_account.id'], name=op.f('fk_comment_author_id_user_account')),
    sa.ForeignKeyConstraint(['parent_id'], ['comment.id'], name=op.f('fk_comment_parent_id_comment'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['policy_id'], ['policy.id'], name=op.f('fk_comment_policy_id_policy'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['territory_id'], ['territory.id'], name=op.f('fk_comment_territory_id_territory')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_comment'))
    )
    with op.batch_alter_table('comment', schema=None) as batch_op:
        batch_op.create_index('ix_comment_target', ['policy_id', 'territory_id', 'created_at'], unique=False)

    op.create_table('grant_policy',
    sa.Column('grant_id', sa.Integer(), nullable=False),
    sa.Column('policy_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['grant_id'], ['user_grant.id'], name=op.f('fk_grant_policy_grant_id_user_grant'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['policy_id'], ['policy.id'], name=op.f('fk_grant_policy_policy_id_policy'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('grant_id', 'policy_id', name=op.f('pk_grant_policy'))
    )
    op.create_table('indicator',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('policy_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('unit', sa.String(length=60), nullable=False),
    sa.Column('decimals', sa.Integer(), nullable=False),
    sa.Column('direction', sa.Enum('increase', 'decrease', name='direction', native_enum=False, length=20), nullable=False),
    sa.Column('periodicity', sa.Enum('monthly', 'quarterly', 'semiannual', 'annual', 'biennial', 'triennial', 'sexennial', 'other', name='periodicity', native_enum=False, length=20), nullable=False),
    sa.Column('availability_delay_months', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=300), nullable=False),
    sa.Column('source_url', sa.String(length=500), nullable=True),
    sa.Column('calculation_method', sa.Text(), nullable=False),
    sa.Column('aggregation_method', sa.String(length=40), nullable=False),
    sa.Column('prefer_entered_values', sa.Boolean(), nullable=False),
    sa.Column('category', sa.Enum('impact', 'realisation', 'service_quality', 'context', 'financial', name='indicatorcategory', native_enum=False, length=20), nullable=False),
    sa.Column('is_public', sa.Boolean(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['policy_id'], ['policy.id'], name=op.f('fk_indicator_policy_id_policy'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_indicator')),
    sa.UniqueConstraint('code', name=op.f('uq_indicator_code'))
    )
    with op.batch_alter_table('indicator', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_indicator_policy_id'), ['policy_id'], unique=False)

    op.create_table('policy_contact',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('policy_id', sa.Integer(), nullable=False),
    sa.Column('territory_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('role', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.ForeignKeyConstraint(['policy_id'], ['policy.id'], name=op.f('fk_policy_contact_policy_id_policy'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['territory_id'], ['territory.id'], name=op.f('fk_policy_contact_territory_id_territory')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_policy_contact_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_contact'))
    )
    with op.batch_alter_table('policy_contact', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_policy_contact_policy_id'), ['policy_id'], unique=False)

    op.create_table('weather_report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('policy_id', sa.Integer(), nullable=False),
    sa.Column('territory_id', sa.Integer(), nullable=False),
    sa.Column('weather', sa.Enum('secured', 'achievable', 'support_needed', 'compromised', 'not_set', name='weather', native_enum=False, length=20), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['user_account.id'], name=op.f('fk_weather_report_author_id_user_account')),
    sa.ForeignKeyConstraint(['policy_id'], ['policy.id'], name=op.f('fk_weather_report_policy_id_policy'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['territory_id'], ['territory.id'], name=op.f('fk_weather_report_territory_id_territory')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_weather_report'))
    )
    with op.batch_alter_table('weather_report', schema=None) as batch_op:
        batch_op.create_index('ix_weather_report_target', ['policy_id', 'territory_id', 'created_at'], unique=False)

    op.create_table('indicator_value',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('indicator_id', sa.Integer(), nullable=False),
    sa.Column('territory_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('baseline', 'actual', 'target', name='valuekind', native_enum=False, length=20), nullable=False),
    sa.Column('target_scope', sa.Enum('annual', 'final', name='targetscope', native_enum=False, length=20), nullable=True),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('value', core.db.ExactDecimal(precision=28, scale=8), nullable=True),
    sa.Column('source', sa.String(length=300), nullable=False),
    sa.Column('channel', sa.Enum('form', 'import', 'api', 'seed', 'computed', name='channel', native_enum=False, length=20), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['user_account.id'], name=op.f('fk_indicator_value_author_id_user_account')),
    sa.ForeignKeyConstraint(['indicator_id'], ['indicator.id'], name=op.f('fk_indicator_value_indicator_id_indicator'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['territory_id'], ['territory.id'], name=op.f('fk_indicator_value_territory_id_territory')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_indicator_value')),
    sa.UniqueConstraint('indicator_id', 'territory_id', 'kind', 'date', name=op.f('uq_indicator_value_indicator_id_territory_id_kind_date'))
    )
    with op.batch_alter_table('indicator_value', schema=None) as batch_op:
        batch_op.create_index('ix_indicator_value_territory', ['territory_id', 'indicator_id'], unique=False)

    op.create_table('indicator_weight',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('indicator_id', sa.Integer(), nullable=False),
    sa.Column('level', sa.String(length=40), nullable=False),
    sa.Column('weight', core.db.ExactDecimal(precision=28, scale=8), nullable=False),
    sa.ForeignKeyConstraint(['indicator_id'], ['indicator.id'], name=op.f('fk_indicator_weight_indicator_id_indicator'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_indicator_weight')),
    sa.UniqueConstraint('indicator_id', 'level', name=op.f('uq_indicator_weight_indicator_id_level'))
    )
    op.create_table('indicator_value_revision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('value_id', sa.Integer(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('value', core.db.ExactDecimal(precision=28, scale=8), nullable=True),
    sa.Column('source', sa.String(length=300), nullable=False),
    sa.Column('channel', sa.Enum('form', 'import', 'api', 'seed', 'computed', name='channel', native_enum=False, length=20), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['user_account.id'], name=op.f('fk_indicator_value_revision_author_id_user_account')),
    sa.ForeignKeyConstraint(['value_id'], ['indicator_value.id'], name=op.f('fk_indicator_value_revision_value_id_indicator_value'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_indicator_value_revision'))
    )
    with op.batch_alter_table('indicator_value_revision', schema=None) as batch_op:
        batch_op.create_index('ix_indicator_value_revision_value', ['value_id', 'revision'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('indicator_value_revision', schema=None) as batch_op:
        batch_op.drop_index('ix_indicator_value_revision_value')

    op.drop_table('indicator_value_revision')
    op.drop_table('indicator_weight')
    with op.batch_alter_table('indicator_value', schema=None) as batch_op:
        batch_op.drop_index('ix_indicator_value_territory')

    op.drop_table('indicator_value')
    with op.batch_alter_table('weather_report', schema=None) as batch_op:
        batch_op.drop_index('ix_weather_report_target')

    op.drop_table('weather_report')
    with op.batch_alter_table('policy_contact', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_policy_contact_policy_id'))

    op.drop_table('policy_contact')
    with op.batch_alter_table('indicator', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_indicator_policy_id'))

    op.drop_table('indicator')
    op.drop_table('grant_policy')
    with op.batch_alter_table('comment', schema=None) as batch_op:
        batch_op.drop_index('ix_comment_target')

    op.drop_table('comment')
    with op.batch_alter_table('user_grant', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_grant_user_id'))

    op.drop_table('user_grant')
    with op.batch_alter_table('policy', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_policy_organisation_id'))
        batch_op.drop_index(batch_op.f('ix_policy_kind'))
        batch_op.drop_index(batch_op.f('ix_policy_group_id'))

    op.drop_table('policy')
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entry_entity')
        batch_op.drop_index(batch_op.f('ix_audit_entry_at'))

    op.drop_table('audit_entry')
    op.drop_table('user_account')
    with op.batch_alter_table('territory', schema=None) as batch_op:
        batch_op.drop_index('ix_territory_parent')
        batch_op.drop_index(batch_op.f('ix_territory_level'))

    op.drop_table('territory')
    op.drop_table('policy_group')
    op.drop_table('organisation')

