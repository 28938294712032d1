"""Notes, embedded for search (cosine space).

Revision ID: chromadb_001
Revises: neo4j_002
"""

from alembic import op

revision = "chromadb_001"
down_revision = "neo4j_002"
branch_labels = None
depends_on = None
store = "chromadb"


def upgrade() -> None:
    op.create_collection("notes", configuration={"hnsw": {"space": "cosine"}}, metadata={"purpose": "notes"})


def downgrade() -> None:
    op.delete_collection("notes")
