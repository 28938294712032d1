"""Portfolio transactions: the append-only ledger of buys, sells, dividends, fees and cash moves.

Revision ID: postgres_006
Revises: postgres_005
"""

from polyalembic.pairs import migration_files

revision = "postgres_006"
down_revision = "postgres_005"
branch_labels = None
depends_on = None
store = "postgres"

upgrade, downgrade = migration_files(__file__)
