"""Open the datapass branch (its tables come in later revisions of this branch).

Revision ID: datapass_0001
Revises:
Create Date: 2026-11-21
"""

revision = "datapass_0001"
down_revision = None
branch_labels = ("datapass",)
depends_on = "0001"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
