-- 004_identity_memories.up.sql
-- Identity memory: what the agent holds true about itself (name, persona, values, beliefs,
-- preferences, goals, boundaries). One row per (agent, kind, key), versioned in place like
-- procedural_memories; every change bumps version. Core entries (is_core) are the designer's
-- anchors that self-reflection must not rewrite: the application enforces that, the flag and
-- its index make the anchors cheap to load into every prompt.

CREATE TABLE IF NOT EXISTS identity_memories (
    id            UUID          PRIMARY KEY DEFAULT gen_random_uuid(),
    agent_id      VARCHAR(64)   NOT NULL,
    kind          VARCHAR(16)   NOT NULL,
    -- Stable name of the entry within its kind, e.g. 'name', 'tone', 'honesty', 'risk_appetite'.
    key           VARCHAR(200)  NOT NULL,
    -- Any JSON value but null: a string, a number, a list or a structured object.
    value         JSONB         NOT NULL,
    description   TEXT,
    -- How central the entry is to the agent's self-image (ranks what goes into the prompt)...
    importance    NUMERIC(4,3)  NOT NULL DEFAULT 0.5,
    -- ...and how sure the agent is of it (self-reflection may revise it).
    confidence    NUMERIC(4,3)  NOT NULL DEFAULT 1,
    is_core       BOOLEAN       NOT NULL DEFAULT false,
    source        VARCHAR(16)   NOT NULL DEFAULT 'designer',
    -- References to the memories that justify the entry: [{"store": "semantic_memories", "id": "..."}].
    evidence      JSONB         NOT NULL DEFAULT '[]'::jsonb,
    version       INTEGER       NOT NULL DEFAULT 1,
    created_at    TIMESTAMPTZ   NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ   NOT NULL DEFAULT now(),
    CONSTRAINT uq_identity_memories_agent_kind_key UNIQUE (agent_id, kind, key),
    CONSTRAINT ck_identity_memories_kind CHECK (
        kind IN ('core', 'persona', 'value', 'belief', 'preference', 'goal', 'boundary', 'trait')),
    CONSTRAINT ck_identity_memories_key_not_blank CHECK (btrim(key) <> ''),
    CONSTRAINT ck_identity_memories_value_not_null CHECK (jsonb_typeof(value) <> 'null'),
    CONSTRAINT ck_identity_memories_importance_range CHECK (importance BETWEEN 0 AND 1),
    CONSTRAINT ck_identity_memories_confidence_range CHECK (confidence BETWEEN 0 AND 1),
    CONSTRAINT ck_identity_memories_source CHECK (
        source IN ('designer', 'user', 'self_reflection', 'feedback', 'inference')),
    CONSTRAINT ck_identity_memories_evidence_array CHECK (jsonb_typeof(evidence) = 'array'),
    CONSTRAINT ck_identity_memories_version_positive CHECK (version >= 1)
);

-- (agent_id, kind, key) is indexed by its unique constraint and serves per-agent and per-kind reads.
-- The prompt's self-description: the agent's entries by importance.
CREATE INDEX IF NOT EXISTS idx_identity_memories_agent_importance
    ON identity_memories (agent_id, importance DESC);
-- The immutable anchors.
CREATE INDEX IF NOT EXISTS idx_identity_memories_agent_core
    ON identity_memories (agent_id) WHERE is_core;

CREATE OR REPLACE TRIGGER trg_identity_memories_updated_at
    BEFORE UPDATE ON identity_memories
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION relational_set_updated_at();

COMMENT ON TABLE identity_memories IS
    'The agent''s self-model: persona, values, beliefs, preferences, goals and boundaries.';
COMMENT ON COLUMN identity_memories.is_core IS
    'Designer-set anchor that self-reflection must not change.';
COMMENT ON COLUMN identity_memories.version IS
    'Starts at 1 and is incremented by the application on every change of value.';
