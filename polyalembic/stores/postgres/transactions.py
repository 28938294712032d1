"""The first line that makes a PostgreSQL pair file run outside a transaction, statement by
statement (a leaf module: the store and Flyway's reader both name it)."""

NO_TRANSACTION = "-- polyalembic: no-transaction"
