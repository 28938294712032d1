"""Every note's language: the notes stored so far are English.

Revision ID: chromadb_002
Revises: chromadb_001
"""

from alembic import op

from polyalembic.stores.chromadb.ops import BackfillMetadataOp

revision = "chromadb_002"
down_revision = "chromadb_001"
branch_labels = None
depends_on = None
store = "chromadb"

BACKFILL = BackfillMetadataOp("notes", values={"language": "en"})


def upgrade() -> None:
    op.invoke(BACKFILL)


def downgrade() -> None:
    op.invoke(BACKFILL.reverse())  # removes the key again
