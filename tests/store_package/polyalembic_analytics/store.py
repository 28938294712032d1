"""analytics: a second PostgreSQL database, on ANALYTICS_DSN: the whole store is this class."""

from polyalembic.stores.postgres.store import PostgresStore


class AnalyticsStore(PostgresStore):
    name = "analytics"
    dsn_variables = ("ANALYTICS_DSN",)
    env_keys = ("ANALYTICS_DSN",)
