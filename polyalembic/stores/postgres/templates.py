"""What `polyalembic generate postgres NAME` writes: an .up.sql / .down.sql pair."""

UP = """-- {filename}
-- {title}
-- Best practices: one logical change; IF NOT EXISTS so a rerun is harmless; name every
-- constraint (pk_/uq_/fk_/ck_) and index (idx_); JSONB for flexible attributes.
-- Needs to run outside a transaction (CREATE INDEX CONCURRENTLY)? Make the first line:
--   -- polyalembic: no-transaction
-- (then each statement commits on its own and is recorded when done: after an interruption,
-- `polyalembic repair resume` continues after the last completed statement; IF NOT EXISTS keeps
-- a statement that was cut off half way safe to run again.)

CREATE TABLE IF NOT EXISTS {name} (
    id          BIGINT GENERATED ALWAYS AS IDENTITY,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT pk_{name} PRIMARY KEY (id)
);
"""

DOWN = """-- {filename}
-- Reverts {up_filename}: drop exactly what it created, in reverse order.

DROP TABLE IF EXISTS {name};
"""

STUB = """-- polyalembic: no downgrade written
-- {filename}: {tool} had no undo for {source}. Rolling {up_filename} back is refused until this
-- file holds the statements that revert it: write them here and delete the first line.
"""
