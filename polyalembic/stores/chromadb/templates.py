"""What `polyalembic generate chromadb NAME` writes: a Python revision using the Chroma ops."""

REVISION = '''"""{title}

Revision ID: {revision}
Revises: {down_revision}
"""

from polyalembic import op

revision = {revision!r}
down_revision = {down_revision!r}
branch_labels = None
depends_on = None
store = "chromadb"

# Best practices: set the hnsw space explicitly (it is immutable after creation; changing it
# later needs op.rebuild_collection); never rely on Chroma's default embedding function (it
# downloads a model): add records with their embeddings.
HNSW = {{"space": "cosine", "ef_construction": 128, "max_neighbors": 32, "ef_search": 64}}


def upgrade() -> None:
    op.create_collection({name!r}, configuration={{"hnsw": HNSW}}, metadata={{"description": {title!r}}})


def downgrade() -> None:
    op.delete_collection({name!r})
'''
