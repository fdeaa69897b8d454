"""featured local comments (Réussites locales)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-22
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401
import core.db  # noqa: F401


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('featured_comment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('comment_id', sa.Integer(), nullable=False),
    sa.Column('featured_by_id', sa.Integer(), nullable=True),
    sa.Column('featured_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['comment_id'], ['comment.id'], name=op.f('fk_featured_comment_comment_id_comment'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['featured_by_id'], ['user_account.id'], name=op.f('fk_featured_comment_featured_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_featured_comment')),
    sa.UniqueConstraint('comment_id', name=op.f('uq_featured_comment_comment_id'))
    )


def downgrade() -> None:
    op.drop_table('featured_comment')
