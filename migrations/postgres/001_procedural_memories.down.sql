-- 001_procedural_memories.down.sql
DROP TABLE IF EXISTS procedural_memories;
