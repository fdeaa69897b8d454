"""help pages and FAQ, versioned

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-22
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401
import core.db  # noqa: F401


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('help_page',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=120), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('category', sa.String(length=120), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('current_version', sa.Integer(), nullable=False),
    sa.Column('published', sa.Boolean(), nullable=False),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('deleted_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_help_page')),
    sa.UniqueConstraint('slug', name=op.f('uq_help_page_slug'))
    )
    op.create_table('help_page_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('page_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('body_markdown', sa.Text(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['user_account.id'], name=op.f('fk_help_page_version_author_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['page_id'], ['help_page.id'], name=op.f('fk_help_page_version_page_id_help_page'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_help_page_version')),
    sa.UniqueConstraint('page_id', 'number', name=op.f('uq_help_page_version_page_id_number'))
    )
    with op.batch_alter_table('help_page_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_help_page_version_page_id'), ['page_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('help_page_version', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_help_page_version_page_id'))
    op.drop_table('help_page_version')
    op.drop_table('help_page')
