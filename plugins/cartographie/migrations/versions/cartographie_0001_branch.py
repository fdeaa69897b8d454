"""Open the cartographie branch (its tables come in later revisions of this branch).

Revision ID: cartographie_0001
Revises:
Create Date: 2026-11-21
"""

revision = "cartographie_0001"
down_revision = None
branch_labels = ("cartographie",)
depends_on = "0001"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
