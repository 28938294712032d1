"""TimescaleDB: hypertables, policies and continuous aggregates on PostgreSQL."""
