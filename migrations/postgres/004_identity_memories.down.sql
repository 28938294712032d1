-- 004_identity_memories.down.sql
-- Reverts 004: indexes, constraints and the trigger go with the table.
DROP TABLE IF EXISTS identity_memories;
