"""What `polyalembic generate timescaledb NAME` writes: an .up.sql / .down.sql pair."""

UP = """-- {filename}
-- {title}
-- Best practices: IF NOT EXISTS everywhere; a hypertable's unique keys include its time column;
-- compression after the hypertable exists. Continuous aggregates WITH DATA and
-- refresh_continuous_aggregate can't run in a transaction: put them in a migration whose first
-- line is "-- polyalembic: no-transaction" (or use op.create_continuous_aggregate in a .py one).

CREATE TABLE IF NOT EXISTS {name} (
    time        TIMESTAMPTZ NOT NULL,
    source_id   VARCHAR(64) NOT NULL,
    value       DOUBLE PRECISION NOT NULL
);

SELECT create_hypertable('{name}', by_range('time', INTERVAL '7 days'), if_not_exists => TRUE);

CREATE INDEX IF NOT EXISTS idx_{name}_source_time ON {name} (source_id, time DESC);

ALTER TABLE {name} SET (timescaledb.compress, timescaledb.compress_segmentby = 'source_id');
SELECT add_compression_policy('{name}', INTERVAL '30 days', if_not_exists => TRUE);
-- Retention (configure as needed):
-- SELECT add_retention_policy('{name}', INTERVAL '365 days', if_not_exists => TRUE);
"""

DOWN = """-- {filename}
-- Reverts {up_filename}. Dropping the hypertable also removes its chunks and policies.

SELECT remove_compression_policy('{name}', if_exists => TRUE);
DROP TABLE IF EXISTS {name};
"""

STUB = """-- polyalembic: no downgrade written
-- {filename}: {tool} had no undo for {source}. Rolling {up_filename} back is refused until this
-- file holds the statements that revert it: write them here and delete the first line.
"""
