"""Open the barometre branch.

Revision ID: barometre_0001
Revises:
Create Date: 2026-11-22
"""

revision = "barometre_0001"
down_revision = None
branch_labels = ("barometre",)
depends_on = "0001"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
