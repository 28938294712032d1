"""Look people up by lower-cased name: the key is backfilled for the people already stored.

Revision ID: neo4j_002
Revises: neo4j_001
"""

from alembic import op

revision = "neo4j_002"
down_revision = "neo4j_001"
branch_labels = None
depends_on = None
store = "neo4j"


def upgrade() -> None:
    op.run_cypher("MATCH (p:Person) WHERE p.name IS NOT NULL SET p.name_key = toLower(p.name)",
                  "MATCH (p:Person) REMOVE p.name_key")
    op.create_graph_index("person_name_key", "Person", ["name_key"])


def downgrade() -> None:
    op.drop_graph_index("person_name_key")
    op.run_cypher("MATCH (p:Person) REMOVE p.name_key")
