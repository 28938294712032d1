"""Portfolio holdings: one position per portfolio and symbol (quantity, cost basis, currency).

Revision ID: postgres_005
Revises: postgres_004
"""

from polyalembic.pairs import migration_files

revision = "postgres_005"
down_revision = "postgres_004"
branch_labels = None
depends_on = None
store = "postgres"

upgrade, downgrade = migration_files(__file__)
