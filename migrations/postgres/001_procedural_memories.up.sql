-- 001_procedural_memories.up.sql
-- Procedural memory: "how to do X". One row per learned procedure, versioned in place.

CREATE TABLE IF NOT EXISTS procedural_memories (
    id              UUID PRIMARY KEY,
    agent_id        VARCHAR(64)  NOT NULL,
    name            VARCHAR(200) NOT NULL,
    description     TEXT,
    steps           JSONB        NOT NULL DEFAULT '[]'::jsonb,
    success_count   INTEGER      NOT NULL DEFAULT 0,
    failure_count   INTEGER      NOT NULL DEFAULT 0,
    created_at      TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT uq_procedural_memories_agent_name UNIQUE (agent_id, name),
    CONSTRAINT ck_procedural_memories_steps_array CHECK (jsonb_typeof(steps) = 'array'),
    CONSTRAINT ck_procedural_memories_counts CHECK (success_count >= 0 AND failure_count >= 0)
);

CREATE INDEX IF NOT EXISTS idx_procedural_memories_agent ON procedural_memories (agent_id);
CREATE INDEX IF NOT EXISTS idx_procedural_memories_steps ON procedural_memories USING GIN (steps);
