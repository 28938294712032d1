-- 003_semantic_memories.down.sql
-- Reverts 003. Indexes, constraints and the trigger go with the table; the trigger function
-- belongs to 002. The vectors in Chroma are the chromadb store's migrations' business.
DROP TABLE IF EXISTS semantic_memories;
