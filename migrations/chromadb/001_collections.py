"""Vector collections for the agent's memories, each with an explicit hnsw space.

Revision ID: chromadb_001
Revises: neo4j_001
"""

from alembic import op

revision = "chromadb_001"
down_revision = "neo4j_001"
branch_labels = None
depends_on = None
store = "chromadb"

HNSW = {"space": "cosine", "ef_construction": 128, "max_neighbors": 32, "ef_search": 64}
COLLECTIONS = {
    "episodic_memories": "What happened: events and conversations, embedded for recall.",
    "semantic_memories": "Facts the agent knows, embedded for retrieval.",
}


def upgrade() -> None:
    for name, description in COLLECTIONS.items():
        op.create_collection(name, configuration={"hnsw": HNSW},
                             metadata={"description": description, "embedding_dim": 384})


def downgrade() -> None:
    for name in reversed(COLLECTIONS):
        op.delete_collection(name)
