"""Portfolio preferences: risk tolerance, target allocations and rebalancing rules per portfolio.

Revision ID: postgres_007
Revises: postgres_006
"""

from polyalembic.pairs import migration_files

revision = "postgres_007"
down_revision = "postgres_006"
branch_labels = None
depends_on = None
store = "postgres"

upgrade, downgrade = migration_files(__file__)
